"""Reporting entrypoints. Commands answer {"ok": true, "data"} or {"ok": false,
"errors"}; queries read the projections. What it knows of stations, observers and
assignments it learns from the registry's and deployment's events."""
from marshmallow import ValidationError
from nameko.rpc import rpc

from services.reporting import commands
from services.reporting.projections import (APPEAL_SOURCES, DIRECTORY_SOURCES, Appeals,
                                            Directory, Forms, Incidents, Reporting,
                                            Reports, Results, Turnouts)
from services.reporting.schemas import (DefineSample, FormView, MoveIncident,
                                        OverrideMasterValue, PublishForm, ReportIncident,
                                        SetTurnoutCheckpoints, SubmitProtocol,
                                        SubmitReport, SubmitTurnout)
from shared.errors import Rejected
from shared.runtime import (Coalesced, EventLog, ReadModel, RequestContext, refusal,
                            replies)

# One of each for every round: a schema made per round is garbage with cycles (its
# fields point back at it), left for the collector's pauses.
SUBMIT_REPORT, SUBMIT_TURNOUT = SubmitReport(), SubmitTurnout()


class ReportingService:
    name = "reporting"

    context = RequestContext()
    log = EventLog(projections=[Forms, Reports, Incidents, Turnouts, Results],
                   # The directory's station moves carry the station's reports along.
                   subscriptions=[(Directory, DIRECTORY_SOURCES, commands.follow_moves),
                                  (Appeals, APPEAL_SOURCES)])
    reporting = ReadModel(Reporting)
    # Callers that send one submission each (the SMS webhook, observers on GraphQL)
    # share a round of reads and one group-committed append.
    submissions = Coalesced(commands.submit_together, Reporting)
    turnouts = Coalesced(commands.turnouts_together, Reporting)

    @property
    def channel(self):
        return self.context.get("channel") or "graphql"

    @rpc
    @replies(PublishForm())
    def publish_form(self, command, idempotency_key=None):
        return FormView().dump(commands.form_view(
            commands.publish_form(self.log, command, idempotency_key)))

    @rpc
    @replies(SUBMIT_REPORT, invalid_code="VALIDATION")  # as the contract agreed
    def submit_report(self, command, idempotency_key=None):
        return self.submissions(command, idempotency_key)

    @rpc
    def submit_reports(self, batch, idempotency_keys=None):
        """A burst of submissions (an SMS queue, a partner's batch) in one call: a
        reply per submission, in order, each as submit_report answers it."""
        keys = idempotency_keys or [None] * len(batch)
        metadata = self.submissions.metadata
        return self.submit_reports_of([[metadata, command, key]
                                       for command, key in zip(batch, keys)])

    @rpc
    def submit_reports_of(self, items):
        """Submissions that a caller gathered from its own callers (the gateway's
        rounds, see shared.runtime.Gathered): items are [metadata, command, key], each
        answered as submit_report answers it, in order."""
        return _answered(self.submissions, SUBMIT_REPORT, items, lambda data: data,
                         invalid_code="VALIDATION")

    @rpc
    @replies(OverrideMasterValue())
    def override_master_value(self, command, idempotency_key=None):
        report = commands.override_master_value(
            self.log, self.reporting, command, self.context.get("actor"), idempotency_key)
        return {"form_id": command["form_id"], "station_code": command["station_code"],
                "master": report.master, "conflicts": report.conflicts,
                "station_status": report.station_status}

    @rpc
    @replies(ReportIncident())
    def report_incident(self, command, idempotency_key=None):
        incident = commands.report_incident(self.log, self.reporting, command,
                                            self.channel, idempotency_key)
        return {**incident.facts, "id": incident.facts["incident_id"],
                "status": incident.status}

    @rpc
    @replies(MoveIncident())
    def move_incident(self, command, idempotency_key=None):
        incident = commands.move_incident(self.log, command, self.context.get("actor"),
                                          idempotency_key)
        return {**incident.facts, "id": incident.facts["incident_id"],
                "status": incident.status}

    @rpc
    @replies(SetTurnoutCheckpoints())
    def set_turnout_checkpoints(self, command, idempotency_key=None):
        plan = commands.set_turnout_checkpoints(self.log, command, idempotency_key)
        return {"checkpoints": plan.checkpoints}

    @rpc
    @replies(SUBMIT_TURNOUT)
    def submit_turnout(self, command, idempotency_key=None):
        return _turnout_view(self.turnouts(command, idempotency_key))

    @rpc
    def submit_turnouts_of(self, items):
        """Turnout figures gathered by a caller, as submit_reports_of takes
        submissions; each answered as submit_turnout answers it."""
        return _answered(self.turnouts, SUBMIT_TURNOUT, items, _turnout_view)

    @rpc
    @replies(SubmitProtocol())
    def submit_protocol(self, command, idempotency_key=None):
        protocol = commands.submit_protocol(self.log, self.reporting, command,
                                            self.channel, idempotency_key)
        return {"station_code": protocol.key, **protocol.last,
                "flags": protocol.flags, "counted": protocol.counted is not None}

    @rpc
    @replies(DefineSample())
    def define_sample(self, command, idempotency_key=None):
        return commands.define_sample(self.log, command, idempotency_key).facts

    @rpc
    def form_by_prefix(self, sms_prefix, incident=False):
        """The published form an SMS prefix names, or None."""
        if not isinstance(sms_prefix, str):
            return None
        try:
            form = commands.published_form(self.log, sms_prefix=sms_prefix.upper(),
                                           incident=incident)
        except Rejected:
            return None
        return FormView(only=("form_id", "name", "kind", "questions")).dump(
            commands.form_view(form))

    @rpc
    def forms(self):
        return FormView(many=True).dump(self.reporting.forms())

    @rpc
    def station(self, station_code):
        return self.reporting.stations({station_code}).get(station_code)

    @rpc
    def station_report(self, station_code):
        return self.reporting.station_report(station_code)

    @rpc
    def region_stats(self, region=None):
        return self.reporting.region_stats(region)

    @rpc
    def missing_reports(self, region, form_id):
        return self.reporting.missing_reports(region, form_id)

    @rpc
    def incidents(self, filter=None):
        return self.reporting.incidents(filter or {})

    @rpc
    def incidents_of_appeal(self, appeal_id):
        """The incidents on the station a hotline appeal names."""
        return self.reporting.incidents_of_appeal(appeal_id)

    @rpc
    def turnout(self, region=None):
        return self.reporting.turnout(region)

    @rpc
    def results(self, region=None):
        return commands.results(self.log, self.reporting, region)

    @rpc
    def ping(self):
        return "pong"


def _answered(coalesced, schema, items, view, invalid_code=None):
    """Replies, in order, to a gathered round's items [metadata, command, key]: each
    validated with `schema`, the valid ones run together in one round of `coalesced`
    and shown with `view`."""
    replies, valid = [None] * len(items), []
    for i, (metadata, command, key) in enumerate(items):
        try:
            valid.append((i, (metadata, schema.load(command), key)))
        except ValidationError as exc:
            replies[i] = _refused(refusal(exc, invalid_code))
    outcomes = coalesced.together([item for _, item in valid])
    for (i, _), outcome in zip(valid, outcomes):
        if isinstance(outcome, Rejected):
            replies[i] = _refused(outcome.problems)
        elif isinstance(outcome, Exception):
            raise outcome  # a store failure: the caller retries the whole batch
        else:
            replies[i] = {"ok": True, "data": view(outcome)}
    return replies


def _turnout_view(turnout):
    return {"station_code": turnout.key, "checkpoints": turnout.reported,
            "flags": turnout.flags}


def _refused(problems):
    return {"ok": False, "errors": [p.as_dict() for p in problems]}
