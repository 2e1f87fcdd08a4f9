"""Reporting's part of the GraphQL schema: forms, checklists, incidents, turnout,
protocols, station master copies and the statistics coordinators publish.

An observer submits only as themselves; a coordinator may enter a report on an
observer's behalf. A regional coordinator sees and decides in their region only."""
import graphene

from gateway.access import COORDINATORS, EVERYONE, allow, region_scope, require_region
from gateway.common import (ClientMutationId, Payload, Timestamp, command_input,
                            run_command)
from gateway.errors import BAD_USER_INPUT, FORBIDDEN, GatewayError

NATIONAL = ("admin", "national_coordinator")
REPORTERS = (*COORDINATORS, "observer")


class QuestionType(graphene.Enum):
    INTEGER = "integer"
    YES_NO = "yes_no"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    TEXT = "text"


class FormKind(graphene.Enum):
    CHECKLIST = "checklist"
    INCIDENT = "incident"
    TURNOUT = "turnout"
    PROTOCOL = "protocol"


class Range(graphene.ObjectType):
    min = graphene.Int(required=True)
    max = graphene.Int(required=True)


OPTION_VALUE = "the incident category, severity or turnout checkpoint the option " \
               "stands for, on a question the form's roles name"


class Option(graphene.ObjectType):
    code = graphene.Int(required=True)
    label = graphene.String(required=True)
    value = graphene.String(description=OPTION_VALUE)


class Question(graphene.ObjectType):
    tag = graphene.String(required=True, description="letters, as SMS sends them")
    text = graphene.String(required=True)
    type = graphene.String(required=True)
    required = graphene.Boolean(required=True)
    range = graphene.Field(Range)
    options = graphene.List(graphene.NonNull(Option))


class QuestionGroup(graphene.ObjectType):
    name = graphene.String(required=True)
    questions = graphene.List(graphene.NonNull(Question), required=True)


class ControlRelation(graphene.ObjectType):
    name = graphene.String(required=True)
    left = graphene.List(graphene.NonNull(graphene.String), required=True)
    op = graphene.String(required=True, description="<=, <, =, >= or >")
    right = graphene.List(graphene.NonNull(graphene.String), required=True)


class Form(graphene.ObjectType):
    id = graphene.ID(required=True)
    version = graphene.Int(required=True)
    name = graphene.String(required=True)
    kind = graphene.String(required=True)
    phase = graphene.String()
    sms_prefix = graphene.String(required=True)
    groups = graphene.List(graphene.NonNull(QuestionGroup), required=True)
    control_relations = graphene.List(graphene.NonNull(ControlRelation), required=True)
    roles = graphene.Field(lambda: FormRoles)

    @staticmethod
    def resolve_id(form, info):
        return form["form_id"]


class InvalidAnswer(graphene.ObjectType):
    tag = graphene.String(required=True)
    reason = graphene.String(required=True)


class Submission(graphene.ObjectType):
    submission_id = graphene.ID(required=True)
    form_id = graphene.ID(required=True)
    form_name = graphene.String(required=True)
    kind = graphene.String(required=True)
    status = graphene.String(required=True,
                             description="accepted, partial, invalid_values or "
                                         "unknown_codes")
    accepted = graphene.List(graphene.NonNull(graphene.String), required=True)
    missing = graphene.List(graphene.NonNull(graphene.String), required=True,
                            description="required questions not answered yet")
    unknown = graphene.List(graphene.NonNull(graphene.String), required=True)
    invalid = graphene.List(graphene.NonNull(InvalidAnswer), required=True)
    flags = graphene.List(graphene.NonNull(graphene.String), required=True)
    verified = graphene.Boolean(required=True,
                                description="false: kept out of statistics")
    changed = graphene.Boolean(required=True, description="false for an identical resend")


class ObserverCopy(graphene.ObjectType):
    observer_id = graphene.ID(required=True)
    answers = graphene.JSONString(required=True)
    verified = graphene.Boolean(required=True)
    flags = graphene.List(graphene.NonNull(graphene.String), required=True)
    channel = graphene.String(required=True)
    comment = graphene.String()


class MasterCopy(graphene.ObjectType):
    form_id = graphene.ID(required=True)
    station_code = graphene.String(required=True)
    region = graphene.String()
    district = graphene.String()
    master = graphene.JSONString(required=True, description="the agreed answers")
    conflicts = graphene.List(graphene.NonNull(graphene.String), required=True,
                              description="questions the observers disagree on")
    overrides = graphene.JSONString(description="{tag: {value, reason, by}}")
    status = graphene.String(required=True,
                             description="complete, partial, conflict or missing")
    copies = graphene.List(graphene.NonNull(ObserverCopy),
                           description="null in a mutation's payload")

    @staticmethod
    def resolve_status(report, info):
        return report.get("station_status") or report.get("status")


class IncidentChange(graphene.ObjectType):
    status = graphene.String(required=True)
    by = graphene.String()
    reason = graphene.String(required=True)


class StationAppeal(graphene.ObjectType):
    """A hotline appeal on an incident's station."""
    id = graphene.ID(required=True)
    category = graphene.String(required=True)
    status = graphene.String(required=True)
    opened_at = Timestamp(required=True)


class Incident(graphene.ObjectType):
    id = graphene.ID(required=True)
    category = graphene.String(required=True)
    severity = graphene.String(required=True)
    description = graphene.String(required=True)
    station_code = graphene.String(required=True)
    region = graphene.String(required=True)
    district = graphene.String(required=True)
    occurred_at = Timestamp(required=True)
    evidence = graphene.String()
    observer_id = graphene.ID(required=True)
    verified = graphene.Boolean(required=True)
    status = graphene.String(required=True,
                             description="reported, verified, rejected or escalated")
    history = graphene.List(graphene.NonNull(IncidentChange))
    appeals = graphene.List(graphene.NonNull(StationAppeal),
                            description="the hotline's appeals on the same station")


class TurnoutPoint(graphene.ObjectType):
    checkpoint = graphene.String(required=True)
    voters = graphene.Int(required=True)
    registered_voters = graphene.Int(required=True)
    stations = graphene.Int(required=True, description="stations counted")
    share = graphene.Float(required=True)


class StationTurnout(graphene.ObjectType):
    station_code = graphene.String(required=True)
    checkpoints = graphene.JSONString(required=True)
    flags = graphene.List(graphene.NonNull(graphene.String), required=True)


class CandidateVotes(graphene.ObjectType):
    candidate = graphene.String(required=True)
    votes = graphene.Int(required=True)


class VoteShare(graphene.ObjectType):
    candidate = graphene.String(required=True)
    share = graphene.Float(required=True)
    margin = graphene.Float(required=True, description="95 % margin of error")


class Pvt(graphene.ObjectType):
    stations = graphene.Int(required=True, description="sampled stations counted")
    shares = graphene.List(graphene.NonNull(VoteShare), required=True)

    @staticmethod
    def resolve_shares(pvt, info):
        return [{"candidate": c, **s} for c, s in sorted(pvt["shares"].items())]


class Results(graphene.ObjectType):
    scope = graphene.String(required=True)
    stations = graphene.Int(required=True, description="protocols counted")
    votes = graphene.List(graphene.NonNull(CandidateVotes), required=True)
    invalid_ballots = graphene.Int(required=True)
    flagged = graphene.Int(required=True,
                           description="protocols kept out for a broken control line")
    pvt = graphene.Field(Pvt)

    @staticmethod
    def resolve_votes(results, info):
        return [{"candidate": c, "votes": v} for c, v in sorted(results["votes"].items())]


class Protocol(graphene.ObjectType):
    station_code = graphene.String(required=True)
    votes = graphene.List(graphene.NonNull(CandidateVotes), required=True)
    ballots_issued = graphene.Int(required=True)
    ballots_in_boxes = graphene.Int(required=True)
    invalid_ballots = graphene.Int(required=True)
    flags = graphene.List(graphene.NonNull(graphene.String), required=True)
    counted = graphene.Boolean(required=True)

    resolve_votes = Results.resolve_votes


class FormFigures(graphene.ObjectType):
    form_id = graphene.ID(required=True)
    complete = graphene.Int(required=True)
    partial = graphene.Int(required=True)
    conflict = graphene.Int(required=True)
    missing = graphene.Int(required=True)


class IncidentFigures(graphene.ObjectType):
    category = graphene.String(required=True)
    severity = graphene.String(required=True)
    count = graphene.Int(required=True)


class RegionStats(graphene.ObjectType):
    region = graphene.String()
    stations = graphene.Int(required=True)
    forms = graphene.List(graphene.NonNull(FormFigures), required=True)
    incidents = graphene.List(graphene.NonNull(IncidentFigures), required=True)


class MissingReport(graphene.ObjectType):
    observer_id = graphene.ID(required=True)
    station_codes = graphene.List(graphene.NonNull(graphene.String), required=True)


# -- mutations ---------------------------------------------------------------------


class RangeInput(graphene.InputObjectType):
    min = graphene.Int(required=True)
    max = graphene.Int(required=True)


class OptionInput(graphene.InputObjectType):
    code = graphene.Int(required=True)
    label = graphene.String(required=True)
    value = graphene.String(description=OPTION_VALUE)


class QuestionInput(graphene.InputObjectType):
    tag = graphene.String(required=True)
    text = graphene.String(required=True)
    type = QuestionType(required=True)
    required = graphene.Boolean()
    range = RangeInput()
    options = graphene.List(graphene.NonNull(OptionInput))


class GroupInput(graphene.InputObjectType):
    name = graphene.String(required=True)
    questions = graphene.List(graphene.NonNull(QuestionInput), required=True)


class ControlRelationInput(graphene.InputObjectType):
    name = graphene.String(required=True)
    left = graphene.List(graphene.NonNull(graphene.String), required=True)
    op = graphene.String(required=True)
    right = graphene.List(graphene.NonNull(graphene.String), required=True)


ROLE_TAGS = ("category", "severity", "description", "evidence", "checkpoint", "voters",
             "ballots_issued", "ballots_in_boxes", "invalid_ballots")


def _roles_type(base, suffix=""):
    """The tags of the questions an incident, turnout or protocol form's facts come
    from, as an output type and (suffix Input) an input type."""
    vote = type(f"CandidateQuestion{suffix}", (base,), {
        "tag": graphene.String(required=True),
        "candidate": graphene.String(required=True)})
    return type(f"FormRoles{suffix}", (base,), {
        **{role: graphene.String() for role in ROLE_TAGS},
        "votes": graphene.List(graphene.NonNull(vote)),
        "__doc__": "Which question gives each fact."})


FormRoles = _roles_type(graphene.ObjectType)
FormRolesInput = _roles_type(graphene.InputObjectType, "Input")


class PublishFormInput(ClientMutationId, graphene.InputObjectType):
    form_id = graphene.ID(description="publish a new version of this form")
    name = graphene.String(required=True)
    kind = FormKind(required=True)
    phase = graphene.String(description="opening, voting, closing or counting")
    sms_prefix = graphene.String(required=True)
    groups = graphene.List(graphene.NonNull(GroupInput), required=True)
    control_relations = graphene.List(graphene.NonNull(ControlRelationInput))
    roles = FormRolesInput(description="for an incident, turnout or protocol form")


class FormPayload(Payload, graphene.ObjectType):
    form = graphene.Field(Form)


class PublishForm(graphene.Mutation):
    class Arguments:
        input = PublishFormInput(required=True)

    Output = FormPayload

    @staticmethod
    @allow(*NATIONAL)
    def mutate(root, info, input):
        return run_command(info, FormPayload, "form", "reporting", "publish_form",
                           command_input(input), input)


def _reporter(info, observer_id):
    """The observer a report is for: an observer reports only as themselves."""
    viewer = info.context.viewer
    if viewer.role == "observer":
        if observer_id not in (None, viewer.observer):
            raise GatewayError(FORBIDDEN, "an observer submits only their own reports")
        return viewer.observer
    if observer_id is None:
        raise GatewayError(FORBIDDEN, "name the observer whose report this is")
    return observer_id


def _in_scope(info, station_code):
    """A regional coordinator enters reports for their region's stations only."""
    scope = region_scope(info.context.viewer)
    if scope and station_code:
        station = info.context.call("reporting", "station", station_code)
        if station is None or station["region"] != scope:
            raise GatewayError(FORBIDDEN, f"station {station_code} is outside your scope")


class ReportInput:
    observer_id = graphene.ID(description="for a coordinator entering a report; an "
                                          "observer's own id otherwise")
    station_code = graphene.String(description="default: the observer's assigned station")


class SubmitChecklistInput(ReportInput, ClientMutationId, graphene.InputObjectType):
    form_id = graphene.ID(required=True)
    answers = graphene.JSONString(required=True, description='{"TAG": value}')
    comment = graphene.String()
    serial = graphene.String()


class SubmissionPayload(Payload, graphene.ObjectType):
    submission = graphene.Field(Submission)


def _report_command(info, input):
    command = command_input(input)
    command["observer_id"] = _reporter(info, input.get("observer_id"))
    _in_scope(info, command.get("station_code"))
    return command


class SubmitChecklist(graphene.Mutation):
    """Saves answers into the observer's copy of the form; a resend changes only what
    differs. Partly valid answers are kept and the payload says which were not."""

    class Arguments:
        input = SubmitChecklistInput(required=True)

    Output = SubmissionPayload

    @staticmethod
    @allow(*REPORTERS)
    def mutate(root, info, input):
        command = {**_report_command(info, input), "channel": "graphql"}
        return run_command(info, SubmissionPayload, "submission", "reporting",
                           "submit_report", command, input)


class ReportIncidentInput(ReportInput, ClientMutationId, graphene.InputObjectType):
    category = graphene.String(required=True, description=(
        "ballot_stuffing, carousel_voting, pressure_on_voters, obstruction_of_observers, "
        "campaigning_at_station, vote_buying, secrecy_violated, protocol_falsification, "
        "other"))
    severity = graphene.String(required=True, description="low, medium, high, critical")
    description = graphene.String(required=True)
    occurred_at = graphene.DateTime(required=True)
    evidence = graphene.String(description="a reference to a photo, video or document")


class IncidentPayload(Payload, graphene.ObjectType):
    incident = graphene.Field(Incident)


class ReportIncident(graphene.Mutation):
    class Arguments:
        input = ReportIncidentInput(required=True)

    Output = IncidentPayload

    @staticmethod
    @allow(*REPORTERS)
    def mutate(root, info, input):
        command = _report_command(info, input)
        command["occurred_at"] = command["occurred_at"].isoformat()
        return run_command(info, IncidentPayload, "incident", "reporting",
                           "report_incident", command, input)


class IncidentDecision(graphene.Enum):
    VERIFIED = "verified"
    REJECTED = "rejected"
    ESCALATED = "escalated"


class VerifyIncidentInput(ClientMutationId, graphene.InputObjectType):
    incident_id = graphene.ID(required=True)
    status = IncidentDecision(required=True)
    reason = graphene.String(required=True)


class VerifyIncident(graphene.Mutation):
    """Moves an incident: reported -> verified or rejected -> escalated, with why."""

    class Arguments:
        input = VerifyIncidentInput(required=True)

    Output = IncidentPayload

    @staticmethod
    @allow(*COORDINATORS)
    def mutate(root, info, input):
        command = {**command_input(input),
                   "within_region": region_scope(info.context.viewer)}
        return run_command(info, IncidentPayload, "incident", "reporting",
                           "move_incident", command, input)


class SubmitTurnoutInput(ReportInput, ClientMutationId, graphene.InputObjectType):
    checkpoint = graphene.String(required=True, description="for example 10:00 or close")
    voters = graphene.Int(required=True, description="who had voted by the checkpoint")


class TurnoutPayload(Payload, graphene.ObjectType):
    turnout = graphene.Field(StationTurnout)


class SubmitTurnout(graphene.Mutation):
    class Arguments:
        input = SubmitTurnoutInput(required=True)

    Output = TurnoutPayload

    @staticmethod
    @allow(*REPORTERS)
    def mutate(root, info, input):
        return run_command(info, TurnoutPayload, "turnout", "reporting",
                           "submit_turnout", _report_command(info, input), input)


class VotesInput(graphene.InputObjectType):
    candidate = graphene.String(required=True)
    votes = graphene.Int(required=True)


class SubmitProtocolInput(ReportInput, ClientMutationId, graphene.InputObjectType):
    votes = graphene.List(graphene.NonNull(VotesInput), required=True)
    ballots_issued = graphene.Int(required=True)
    ballots_in_boxes = graphene.Int(required=True)
    invalid_ballots = graphene.Int(required=True)


class ProtocolPayload(Payload, graphene.ObjectType):
    protocol = graphene.Field(Protocol)


class SubmitProtocol(graphene.Mutation):
    """A results protocol; one that breaks a control line is flagged and kept out of
    the totals until a corrected one comes."""

    class Arguments:
        input = SubmitProtocolInput(required=True)

    Output = ProtocolPayload

    @staticmethod
    @allow(*REPORTERS)
    def mutate(root, info, input):
        command = _report_command(info, input)
        votes = {}
        for line in input.votes:
            if line.candidate in votes:
                raise GatewayError(BAD_USER_INPUT, f"{line.candidate} is listed twice")
            votes[line.candidate] = line.votes
        return run_command(info, ProtocolPayload, "protocol", "reporting",
                           "submit_protocol", {**command, "votes": votes}, input)


class OverrideMasterValueInput(ClientMutationId, graphene.InputObjectType):
    form_id = graphene.ID(required=True)
    station_code = graphene.String(required=True)
    tag = graphene.String(required=True)
    value = graphene.JSONString(required=True)
    reason = graphene.String(required=True)


class MasterPayload(Payload, graphene.ObjectType):
    master_copy = graphene.Field(MasterCopy)


class OverrideMasterValue(graphene.Mutation):
    """Sets one answer of a station's master copy, resolving a conflict, with why."""

    class Arguments:
        input = OverrideMasterValueInput(required=True)

    Output = MasterPayload

    @staticmethod
    @allow(*COORDINATORS)
    def mutate(root, info, input):
        _in_scope(info, input.station_code)
        return run_command(info, MasterPayload, "master_copy", "reporting",
                           "override_master_value", command_input(input), input)


class IncidentFilter(graphene.InputObjectType):
    region = graphene.String()
    station_code = graphene.String()
    category = graphene.String()
    severity = graphene.String()
    status = graphene.String()
    first = graphene.Int(description="at most this many (default 100)")


def _region(info, region):
    """The region asked for; a regional coordinator's own when none is."""
    viewer = info.context.viewer
    region = region or region_scope(viewer)
    if region:
        require_region(viewer, region)
    return region


class Query(graphene.ObjectType):
    forms = graphene.List(graphene.NonNull(Form), required=True)
    station_report = graphene.List(
        graphene.NonNull(MasterCopy), required=True,
        station=graphene.String(required=True),
        description="each form's master copy at the station, with the observers' copies")
    incidents = graphene.List(graphene.NonNull(Incident), required=True,
                              filter=IncidentFilter())
    turnout = graphene.List(graphene.NonNull(TurnoutPoint), required=True,
                            region=graphene.String())
    results = graphene.Field(Results, required=True, region=graphene.String())
    region_stats = graphene.Field(RegionStats, required=True, region=graphene.String())
    missing_reports = graphene.List(
        graphene.NonNull(MissingReport), required=True,
        region=graphene.String(required=True), form=graphene.ID(required=True),
        description="observers assigned in the region who have not sent the form")

    @staticmethod
    @allow(*EVERYONE)
    def resolve_forms(root, info):
        return info.context.call("reporting", "forms")

    @staticmethod
    @allow(*COORDINATORS)
    def resolve_station_report(root, info, station):
        _in_scope(info, station)
        return info.context.call("reporting", "station_report", station)

    @staticmethod
    @allow(*COORDINATORS)
    def resolve_incidents(root, info, filter=None):
        wanted = {k: v for k, v in (filter or {}).items() if v is not None}
        region = _region(info, wanted.get("region"))
        return info.context.call("reporting", "incidents", {**wanted, "region": region})

    @staticmethod
    @allow(*COORDINATORS)
    def resolve_turnout(root, info, region=None):
        return info.context.call("reporting", "turnout", _region(info, region))

    @staticmethod
    @allow(*COORDINATORS)
    def resolve_results(root, info, region=None):
        return info.context.call("reporting", "results", _region(info, region))

    @staticmethod
    @allow(*COORDINATORS)
    def resolve_region_stats(root, info, region=None):
        return info.context.call("reporting", "region_stats", _region(info, region))

    @staticmethod
    @allow(*COORDINATORS)
    def resolve_missing_reports(root, info, region, form):
        return info.context.call("reporting", "missing_reports", _region(info, region),
                                 form)


class Mutation(graphene.ObjectType):
    publish_form = PublishForm.Field()
    submit_checklist = SubmitChecklist.Field()
    report_incident = ReportIncident.Field()
    verify_incident = VerifyIncident.Field()
    submit_turnout = SubmitTurnout.Field()
    submit_protocol = SubmitProtocol.Field()
    override_master_value = OverrideMasterValue.Field()
