"""Reporting's command handlers: from a validated request to aggregates decided and
appended. Plain Python over the injected event log and read models."""
import functools
import uuid

from services.reporting.domain import (PREFIX_CLAIM, Form, Incident, Protocol,
                                       PvtSample, StationReport, Turnout, TurnoutPlan,
                                       prefix_key, pvt_estimate)
from shared.commands import Command, execute, execute_all, replay_stream
from shared.errors import Problem, Rejected
from shared.eventstore import UniquenessError


def publish_form(log, command, idempotency_key=None):
    """A new form, or the next version of `form_id`; returns the form."""
    command = dict(command)
    form_id = command.pop("form_id") or str(uuid.uuid4())
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


def submit_report(log, reporting, command, idempotency_key=None):
    """Saves a submission into its observer copy and the station's master copy;
    returns the reply's facts."""
    [outcome] = submit_reports(log, reporting, [command], [idempotency_key])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def submit_reports(log, reporting, commands, idempotency_keys):
    """A burst of submissions with one round of reads and one group-committed append
    (so each is durable before its reply); returns, in order, each one's reply facts
    or the exception that refused it."""
    reporters = Reporters(reporting, commands)
    forms = {}
    outcomes, prepared = [None] * len(commands), []
    for i, (command, key) in enumerate(zip(commands, idempotency_keys)):
        try:
            form = _cached_form(log, forms, command)
            station, assigned = reporters.station_of(command)
        except Rejected as exc:
            outcomes[i] = exc
            continue
        values, unknown, invalid = form.read(command["answers"])
        received_at = command["received_at"] and command["received_at"].isoformat()
        prepared.append((i, form, Command(
            StationReport, StationReport.stream(form.facts["form_id"], station["code"]),
            functools.partial(_submit, form=form, observer_id=command["observer_id"],
                              station=station, channel=command["channel"], values=values,
                              unknown=unknown, invalid=invalid, assigned=assigned,
                              sender_verified=command["sender_verified"],
                              comment=command["comment"], received_at=received_at,
                              serial=command["serial"]), key)))
    reports = execute_all(log, [command for _, _, command in prepared])
    for (i, form, _), report in zip(prepared, reports):
        outcomes[i] = report if isinstance(report, Exception) else {
            "form_name": form.facts["name"], **report.outcome}
    return outcomes


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
        ids = {c["observer_id"] for c in commands}
        self.known = reporting.known_observers(ids)
        self.assigned = reporting.assigned_stations(ids)
        codes = {c.get("station_code") for c in commands} | {
            code for codes in self.assigned.values() for code in codes}
        self.stations = reporting.stations(codes - {None})

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


def report_incident(log, reporting, command, channel, idempotency_key=None):
    command = dict(command)
    station, assigned = _reporter(reporting, command)
    command.pop("station_code")
    verified = command.pop("sender_verified") and assigned
    incident_id = str(uuid.uuid4())
    return execute(log, Incident, Incident.stream(incident_id), lambda i: i.report(
        incident_id, station, channel=channel, verified=verified,
        occurred_at=command.pop("occurred_at").isoformat(), **command),
        idempotency_key, new=True)


def move_incident(log, command, by, idempotency_key=None):
    """Verifies, rejects or escalates an incident, saying who and why."""
    incident = replay_stream(log, Incident, Incident.stream(command["incident_id"]))
    # One outside the caller's region answers as a missing one.
    if not incident.exists or command["within_region"] not in (None,
                                                               incident.facts["region"]):
        raise Rejected(Problem("UNKNOWN_INCIDENT",
                               f"no incident {command['incident_id']}", "incident_id"))
    return execute(log, Incident, incident.id,
                   lambda i: i.move(command["status"], by, command["reason"]),
                   idempotency_key)


def set_turnout_checkpoints(log, command, idempotency_key=None):
    return execute(log, TurnoutPlan, TurnoutPlan.STREAM,
                   lambda plan: plan.set(command["checkpoints"]), idempotency_key)


def submit_turnout(log, reporting, command, channel, idempotency_key=None):
    station, assigned = _reporter(reporting, command)
    plan = replay_stream(log, TurnoutPlan, TurnoutPlan.STREAM)
    mean = reporting.region_mean_share(station["region"], command["checkpoint"])
    return execute(log, Turnout, Turnout.stream(station["code"]), lambda t: t.report(
        plan.checkpoints, station, command["checkpoint"], command["voters"],
        command["observer_id"], channel, assigned and command["sender_verified"], mean),
        idempotency_key)


def submit_protocol(log, reporting, command, channel, idempotency_key=None):
    station, assigned = _reporter(reporting, command)
    return execute(log, Protocol, Protocol.stream(station["code"]), lambda p: p.submit(
        station, command["votes"], command["ballots_issued"], command["ballots_in_boxes"],
        command["invalid_ballots"], command["observer_id"], channel,
        assigned and command["sender_verified"]), idempotency_key)


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
