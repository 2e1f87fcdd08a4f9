"""Reporting's command handlers: from a validated request to aggregates decided and
appended. Plain Python over the injected event log and read models."""
import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from services.reporting.domain import (DEFAULT_SEVERITY, LOCATED, PLACE, PREFIX_CLAIM,
                                       Form, Incident, Protocol, PvtSample,
                                       StationReport, Turnout, TurnoutPlan, prefix_key,
                                       pvt_estimate, status)
from shared.commands import (Command, execute, execute_all, execute_one,
                             replay_stream)
from shared.errors import Problem, Rejected
from shared.eventstore import UniquenessError
from shared.ids import new_id


def publish_form(log, command, idempotency_key=None):
    """A new form, or the next version of `form_id`; returns the form."""
    command = dict(command)
    form_id = command.pop("form_id") or new_id()
    try:
        return execute(log, Form, Form.stream(form_id),
                       lambda form: form.publish(form_id, **command), idempotency_key)
    except UniquenessError as exc:
        raise Rejected(Problem("SMS_PREFIX_TAKEN", f"the SMS prefix "
                               f"{command['sms_prefix']} belongs to another form "
                               f"({exc.owner.partition(':')[2]})", "sms_prefix"))


def published_form(log, form_id=None, sms_prefix=None, incident=False):
    """The published form named by id, or by SMS prefix; refuses UNKNOWN_FORM."""
    stream = (Form.stream(form_id) if form_id
              else log.owner_of(PREFIX_CLAIM, prefix_key(sms_prefix, incident)))
    form = replay_stream(log, Form, stream) if stream else None
    if form is None or not form.exists:
        named = (f"id {form_id}" if form_id else
                 f"SMS prefix {prefix_key(sms_prefix, incident)}")
        raise Rejected(Problem("UNKNOWN_FORM", f"no published form has the {named}",
                               "form_id" if form_id else "sms_prefix"))
    return form


def submit_together(log, reporting, requests):
    """The submissions of several callers in one round: requests are (caller's
    metadata, command, idempotency key scoped to the caller); answers as
    submit_reports does."""
    metadata, commands, keys = zip(*requests)
    return submit_reports(log, reporting, commands, keys, metadata)


def submit_reports(log, reporting, commands, idempotency_keys, metadata=None):
    """A burst of submissions with one round of reads and one group-committed append
    (so each is durable before its reply); returns, in order, each one's reply facts
    or the exception that refused it. An incident, turnout or protocol form feeds,
    besides its observer copy, the same aggregate report_incident, submit_turnout or
    submit_protocol does, in the same append. `metadata`, one per command, says who
    sent each when they came from several callers."""
    reporters = Reporters(reporting, commands)
    forms, reads = {}, Reads(log, reporting)
    outcomes, prepared = [None] * len(commands), []
    for i, (command, key, sender) in enumerate(zip(
            commands, idempotency_keys, metadata or [None] * len(commands))):
        try:
            form = _cached_form(log, forms, command)
            station, assigned = reporters.station_of(command)
        except Rejected as exc:
            outcomes[i] = exc
            continue
        values, unknown, invalid = form.read(command["answers"])
        received_at = command["received_at"] and command["received_at"].isoformat()
        copy = StationReport.stream(form.facts["form_id"], station["code"])
        feeds = _fed_by_form(reads, form, values, Reporter(
            station, assigned, command["observer_id"], command["channel"],
            command["sender_verified"]), command, copy)
        if feeds:
            feeds.metadata = sender
        prepared.append((i, form, Command(
            StationReport, copy,
            functools.partial(_submit, form=form, observer_id=command["observer_id"],
                              station=station, channel=command["channel"], values=values,
                              unknown=unknown, invalid=invalid, assigned=assigned,
                              sender_verified=command["sender_verified"],
                              comment=command["comment"], received_at=received_at,
                              serial=command["serial"]), key, metadata=sender), feeds))
    fed = [(n, f) for n, (*_, f) in enumerate(prepared) if f]
    done = execute_all(log, [c for _, _, c, _ in prepared] + [f for _, f in fed])
    reports, fed_outcomes = done[:len(prepared)], dict(zip(
        (n for n, _ in fed), done[len(prepared):]))
    for n, ((i, form, _, feeds), report) in enumerate(zip(prepared, reports)):
        outcomes[i] = report if isinstance(report, Exception) else _merged(
            {"form_name": form.facts["name"], **report.outcome}, form, feeds,
            fed_outcomes.get(n))
    return outcomes


def _fed_by_form(reads, form, values, reporter, command, copy):
    """The incident, turnout or protocol command a form's answers make, or None."""
    facts = form.facts_of(values)
    if facts is None:
        return None
    kind = form.facts["kind"]
    if kind == "incident":
        # One incident per observer copy (a serial tells several apart), so a resend
        # finds it made already.
        incident_id = str(uuid.uuid5(uuid.NAMESPACE_URL, copy + ":" + (
            command["serial"] or "") + ":" + command["observer_id"]))
        occurred_at = command["received_at"] or datetime.now(timezone.utc)
        return incident_command(reporter, incident_id, {
            "severity": DEFAULT_SEVERITY, "occurred_at": occurred_at,
            "description": command["comment"] or f"{form.facts['name']}: "
                                                 f"{facts['category']}", **facts})
    if kind == "turnout":
        return turnout_command(reads, reporter, facts["checkpoint"], facts["voters"])
    return protocol_command(reporter, **facts)


def _merged(outcome, form, feeds, fed):
    """A copy's reply with what its incident, turnout or protocol made of it."""
    if feeds is None:
        return outcome
    if isinstance(fed, Rejected):
        tags = {role: tag for tag, role in form.role_tags.items()}
        invalid = outcome["invalid"] + [
            {"tag": tags.get(p.field, p.field), "reason": p.message} for p in fed.problems]
        return {**outcome, "invalid": invalid,
                "status": status(outcome["missing"], outcome["unknown"], invalid)}
    if isinstance(fed, Exception):
        return fed  # a store failure: the caller retries
    return {**outcome, "changed": outcome["changed"] or bool(fed.pending),
            "flags": outcome["flags"] + [f for f in getattr(fed, "flags", [])
                                         if f not in outcome["flags"]]}


def _submit(report, **submission):
    report.submit(**submission)


def _cached_form(log, forms, command):
    """The form a submission names, read once per burst (a refusal too)."""
    key = command["form_id"] or prefix_key(command["sms_prefix"], command["incident"])
    if key not in forms:
        try:
            forms[key] = published_form(log, command["form_id"], command["sms_prefix"],
                                        command["incident"])
        except Rejected as exc:
            forms[key] = exc
    if isinstance(forms[key], Rejected):
        raise forms[key]
    return forms[key]


class Reporters:
    """What the directory knows of the observers of some reports, read at once."""

    def __init__(self, reporting, commands):
        self.known, self.assigned, self.stations = reporting.reporters(
            {c["observer_id"] for c in commands},
            {c["station_code"] for c in commands if c.get("station_code")})

    def station_of(self, command):
        """(station, assigned) for an observer's report: the named station or the one
        they are assigned to."""
        observer_id = command["observer_id"]
        if observer_id not in self.known:
            raise Rejected(Problem("UNKNOWN_OBSERVER", f"no observer {observer_id} is "
                                   "known", "observer_id"))
        assigned = self.assigned.get(observer_id, [])
        code = command.get("station_code") or _assigned_station(observer_id, assigned)
        if code not in self.stations:
            raise _unknown_station(code)
        return self.stations[code], code in assigned


def _unknown_station(code):
    return Rejected(Problem("VALIDATION", f"no polling station {code} is known",
                            "station_code"))


def override_master_value(log, reporting, command, actor, idempotency_key=None):
    """A coordinator sets one question of a station's master copy, with a reason."""
    form = published_form(log, command["form_id"])
    station = _station(reporting, command["station_code"])
    return execute(log, StationReport, StationReport.stream(
        command["form_id"], station["code"]), lambda r: r.override(
        form, station, command["tag"], command["value"], command["reason"], actor),
        idempotency_key)


def _station(reporting, code):
    station = reporting.stations({code}).get(code)
    if station is None:
        raise _unknown_station(code)
    return station


def _assigned_station(observer_id, assigned):
    if len(assigned) == 1:
        return assigned[0]
    raise Rejected(Problem("NO_STATION", f"observer {observer_id} is " + (
        "assigned to no station" if not assigned else
        f"assigned to several stations ({', '.join(assigned)}): name one"),
        "station_code"))


def form_view(form):
    return {**form.facts, "questions": list(form.questions.values())}


def _reporter(reporting, command):
    return Reporters(reporting, [command]).station_of(command)


@dataclass(frozen=True)
class Reporter:
    """Who reports from which station, through what, and whether it counts."""
    station: dict
    assigned: bool
    observer_id: str
    channel: str
    sender_verified: bool

    @property
    def verified(self):
        return bool(self.sender_verified and self.assigned)

    @classmethod
    def of(cls, reporting, command, channel):
        station, assigned = _reporter(reporting, command)
        return cls(station, assigned, command["observer_id"], channel,
                   command["sender_verified"])


class Reads:
    """What deciding turnout needs besides its stream, read once per burst."""

    def __init__(self, log, reporting):
        self.log, self.reporting = log, reporting

    @functools.cached_property
    def checkpoints(self):
        return replay_stream(self.log, TurnoutPlan, TurnoutPlan.STREAM).checkpoints

    @functools.cached_property
    def _means(self):
        # Nothing of the burst is appended yet: every region's curves in one look-up.
        return self.reporting.region_mean_shares()

    def region_mean(self, region, checkpoint):
        return self._means.get((region, checkpoint))


def report_incident(log, reporting, command, channel, idempotency_key=None):
    command = dict(command)
    reporter = Reporter.of(reporting, command, channel)
    facts = {k: command[k] for k in ("category", "severity", "description",
                                     "occurred_at", "evidence")}
    return execute_one(log, incident_command(reporter, new_id(), facts,
                                             idempotency_key, new=True))


def incident_command(reporter, incident_id, facts, idempotency_key=None, new=False):
    facts = {**facts, "occurred_at": facts["occurred_at"].isoformat()}
    return Command(Incident, Incident.stream(incident_id), lambda i: i.report(
        incident_id, reporter.station, reporter.observer_id, reporter.channel,
        reporter.verified, **facts), idempotency_key, new)


def move_incident(log, command, by, idempotency_key=None):
    """Verifies, rejects or escalates an incident, saying who and why."""
    def decide(incident):
        # One outside the caller's region answers as a missing one.
        if not incident.exists or command["within_region"] not in (
                None, incident.facts["region"]):
            raise Rejected(Problem("UNKNOWN_INCIDENT",
                                   f"no incident {command['incident_id']}", "incident_id"))
        incident.move(command["status"], by, command["reason"])
    return execute(log, Incident, Incident.stream(command["incident_id"]), decide,
                   idempotency_key)


def follow_moves(log, events):
    """Moves the reports of each station the registry moved to another region or
    district: each stream about the station records the move (see Located). Runs once
    the directory has taken `events`, so a report that reads it afterwards is placed
    where the station is; each stream takes a change once, whatever arrives twice.
    Not covered: a report that read the directory just before and starts a new stream
    just after the look-up below stays where it read the station."""
    moved = [e for e in events if e.type == "PollingStationChanged" and
             e.data["changes"].keys() & PLACE]
    if not moved:
        return
    streams = log.streams_with("station_code", {e.data["code"] for e in moved})
    moves = []
    for event in moved:
        code = event.data["code"]
        for stream in streams.get(code, []):
            located = LOCATED.get(stream.partition(":")[0])
            if located:  # only these kinds of stream count a station's reports
                moves.append(Command(located, stream, functools.partial(
                    located.follow, station_code=code, changes=event.data["changes"],
                    version=event.version)))
    failed = [o for o in execute_all(log, moves) if isinstance(o, Exception)]
    if failed:
        raise failed[0]  # the events are delivered again, and what moved stays moved


def set_turnout_checkpoints(log, command, idempotency_key=None):
    return execute(log, TurnoutPlan, TurnoutPlan.STREAM,
                   lambda plan: plan.set(command["checkpoints"]), idempotency_key)


def turnouts_together(log, reporting, requests):
    """Turnout figures of several callers in one round: one read of the directory and
    the turnout streams, one group-committed append. requests are (caller's metadata,
    command, scoped idempotency key); answers each Turnout, or what refused it."""
    commands = [command for _, command, _ in requests]
    reporters, reads = Reporters(reporting, commands), Reads(log, reporting)
    outcomes, prepared = [None] * len(requests), []
    for i, (metadata, command, key) in enumerate(requests):
        try:
            station, assigned = reporters.station_of(command)
        except Rejected as exc:
            outcomes[i] = exc
            continue
        reporter = Reporter(station, assigned, command["observer_id"],
                            metadata.get("channel") or "graphql",
                            command["sender_verified"])
        turnout = turnout_command(reads, reporter, command["checkpoint"],
                                  command["voters"], key)
        turnout.metadata = metadata
        prepared.append((i, turnout))
    for (i, _), outcome in zip(prepared, execute_all(log, [c for _, c in prepared])):
        outcomes[i] = outcome
    return outcomes


def turnout_command(reads, reporter, checkpoint, voters, idempotency_key=None):
    station = reporter.station
    mean = reads.region_mean(station["region"], checkpoint)
    return Command(Turnout, Turnout.stream(station["code"]), lambda t: t.report(
        reads.checkpoints, station, checkpoint, voters, reporter.observer_id,
        reporter.channel, reporter.verified, mean), idempotency_key)


def submit_protocol(log, reporting, command, channel, idempotency_key=None):
    return execute_one(log, protocol_command(
        Reporter.of(reporting, command, channel), command["votes"],
        command["ballots_issued"], command["ballots_in_boxes"],
        command["invalid_ballots"], idempotency_key))


def protocol_command(reporter, votes, ballots_issued, ballots_in_boxes, invalid_ballots,
                     idempotency_key=None):
    station = reporter.station
    return Command(Protocol, Protocol.stream(station["code"]), lambda p: p.submit(
        station, votes, ballots_issued, ballots_in_boxes, invalid_ballots,
        reporter.observer_id, reporter.channel, reporter.verified), idempotency_key)


def define_sample(log, command, idempotency_key=None):
    return execute(log, PvtSample, PvtSample.STREAM, lambda s: s.define(
        command["station_codes"], command["population"]), idempotency_key)


def results(log, reporting, region=None):
    """Counted totals of the region (or nation) and, where a sample is defined, the
    parallel vote tabulation's shares with their margins of error."""
    totals = reporting.results(f"region:{region}" if region else "nation")
    sample = replay_stream(log, PvtSample, PvtSample.STREAM).facts
    if sample:
        totals["pvt"] = pvt_estimate(
            reporting.sampled_protocols(sample["station_codes"], region),
            None if region else sample["population"])
    return totals
