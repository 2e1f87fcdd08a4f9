"""Deployment's part of the GraphQL schema: who observes where, coverage, check-in."""
import graphene

from gateway.access import COORDINATORS, allow, own_region, region_scope, require_region
from gateway.common import (ClientMutationId, Payload, Timestamp, command_input,
                            connection, connection_type, key_from_cursor, page_size,
                            run_command, selects)
from gateway.errors import FORBIDDEN, GatewayError

AUTO_DEPLOY_TIMEOUT = 120.0


class Role(graphene.Enum):
    IN_STATION = "in_station"
    LONG_TERM = "long_term"
    MOBILE_GROUP = "mobile_group"


class Shift(graphene.Enum):
    WHOLE_DAY = "whole_day"
    MORNING = "morning"
    AFTERNOON = "afternoon"
    COUNTING = "counting"


class Assignment(graphene.ObjectType):
    id = graphene.ID(required=True)
    observer_id = graphene.ID(required=True)
    station_code = graphene.String(required=True)
    region = graphene.String(required=True)
    district = graphene.String(required=True)
    role = graphene.String(required=True)
    shift = graphene.String(required=True)
    organization_id = graphene.ID()
    active = graphene.Boolean(required=True)
    checked_in_at = Timestamp()
    no_show = graphene.Boolean(required=True)


class CheckIn(graphene.ObjectType):
    assignment_id = graphene.ID(description="null when the observer is not assigned here")
    observer_id = graphene.ID(required=True)
    station_code = graphene.String(required=True)
    at = Timestamp(required=True)
    assigned = graphene.Boolean(required=True)
    flag = graphene.String(description="NOT_ASSIGNED_HERE for an arrival at a station "
                                       "the observer is not assigned to")


class Coverage(graphene.ObjectType):
    scope = graphene.String(required=True, description="country, a region or a district")
    stations = graphene.Int(required=True)
    covered = graphene.Int(required=True, description="stations with an active observer")
    uncovered = graphene.Int(required=True)
    priority_stations = graphene.Int(required=True)
    priority_uncovered = graphene.Int(required=True)
    checked_in = graphene.Int(required=True)
    unassigned_check_ins = graphene.Int(required=True)
    no_shows = graphene.Int(required=True)


class CoverageView(Coverage):
    parts = graphene.List(graphene.NonNull(Coverage), required=True,
                          description="per region of the country, per district of a "
                                      "region")


class UncoveredStation(graphene.ObjectType):
    code = graphene.String(required=True)
    district = graphene.String(required=True)
    number = graphene.Int()


UncoveredStationConnection = connection_type(UncoveredStation)


class CoveragePlan(graphene.ObjectType):
    region = graphene.String(required=True)
    minimum_observers = graphene.Int(required=True)
    priority_stations = graphene.List(graphene.NonNull(graphene.String), required=True)


class ReserveObserver(graphene.ObjectType):
    observer_id = graphene.ID(required=True)
    district = graphene.String()
    organization_id = graphene.ID()


class Proposal(graphene.ObjectType):
    station_code = graphene.String(required=True)
    observer_id = graphene.ID(required=True)
    district = graphene.String(required=True)
    same_district = graphene.Boolean(required=True)
    assigned = graphene.Boolean(description="when applied: whether it was assigned")


class Unfilled(graphene.ObjectType):
    station_code = graphene.String(required=True)
    missing = graphene.Int(required=True)
    code = graphene.String(required=True)
    reason = graphene.String(required=True)


class AutoDeployment(graphene.ObjectType):
    region = graphene.String(required=True)
    shift = graphene.String(required=True)
    role = graphene.String(required=True)
    applied = graphene.Boolean(required=True)
    minimum_observers = graphene.Int(required=True)
    proposed_count = graphene.Int(required=True)
    unfilled_count = graphene.Int(required=True)
    proposals = graphene.List(graphene.NonNull(Proposal), required=True)
    unfilled = graphene.List(graphene.NonNull(Unfilled), required=True)

    @staticmethod
    def resolve_proposed_count(deployment, info):
        return len(deployment["proposals"])

    @staticmethod
    def resolve_unfilled_count(deployment, info):
        return len(deployment["unfilled"])


class Election(graphene.ObjectType):
    observers_per_organization = graphene.Int(required=True)
    observers_per_station = graphene.Int(required=True)
    check_in_deadline = Timestamp()


def _scope(info):
    """The region a regional coordinator's command is confined to."""
    return region_scope(info.context.viewer)


class AssignObserverInput(ClientMutationId, graphene.InputObjectType):
    observer_id = graphene.ID(required=True)
    station_code = graphene.String(required=True)
    role = Role(description="in_station (default), long_term or mobile_group")
    shift = Shift(description="whole_day (default), morning, afternoon or counting")
    allow_other_region = graphene.Boolean(
        description="assign an observer of another region to this station")


class AssignmentPayload(Payload, graphene.ObjectType):
    assignment = graphene.Field(Assignment)


def _enum_values(command):
    # graphene 3 hands enum inputs over as enum members
    return {k: getattr(v, "value", v) for k, v in command.items()}


class AssignObserver(graphene.Mutation):
    """Assigns an observer to a polling station. Refused, each with a code naming the
    rule and the record in conflict: OBSERVER_NOT_CERTIFIED, OBSERVER_SUSPENDED,
    OUTSIDE_REGION, OBSERVER_ALREADY_ASSIGNED, ORGANIZATION_LIMIT, STATION_FULL,
    UNKNOWN_OBSERVER, UNKNOWN_STATION."""

    class Arguments:
        input = AssignObserverInput(required=True)

    Output = AssignmentPayload

    @staticmethod
    @allow(*COORDINATORS)
    def mutate(root, info, input):
        return run_command(info, AssignmentPayload, "assignment", "deployment",
                           "assign_observer", {**_enum_values(command_input(input)),
                                               "within_region": _scope(info)}, input)


class WithdrawAssignmentInput(ClientMutationId, graphene.InputObjectType):
    assignment_id = graphene.ID(required=True)
    reason = graphene.String(required=True)


class WithdrawAssignment(graphene.Mutation):
    class Arguments:
        input = WithdrawAssignmentInput(required=True)

    Output = AssignmentPayload

    @staticmethod
    @allow(*COORDINATORS)
    def mutate(root, info, input):
        return run_command(info, AssignmentPayload, "assignment", "deployment",
                           "withdraw_assignment", {**command_input(input),
                                                   "within_region": _scope(info)}, input)


class SetCoveragePlanInput(ClientMutationId, graphene.InputObjectType):
    region = graphene.String(required=True)
    minimum_observers = graphene.Int(description="observers per station; 1 by default")
    priority_stations = graphene.List(graphene.NonNull(graphene.String),
                                      description="station codes to cover first")


class CoveragePlanPayload(Payload, graphene.ObjectType):
    plan = graphene.Field(CoveragePlan)


class SetCoveragePlan(graphene.Mutation):
    class Arguments:
        input = SetCoveragePlanInput(required=True)

    Output = CoveragePlanPayload

    @staticmethod
    @allow(*COORDINATORS)
    def mutate(root, info, input):
        require_region(info.context.viewer, input.region)
        return run_command(info, CoveragePlanPayload, "plan", "deployment",
                           "set_coverage_plan", command_input(input), input)


class AutoDeployInput(ClientMutationId, graphene.InputObjectType):
    region = graphene.String(required=True)
    role = Role()
    shift = Shift()
    apply = graphene.Boolean(description="assign what it proposes (default: only "
                                         "propose, for a coordinator to confirm)")


class AutoDeployPayload(Payload, graphene.ObjectType):
    deployment = graphene.Field(AutoDeployment)


class AutoDeploy(graphene.Mutation):
    """Fills the region's stations up to its plan's minimum from the certified
    observers who are free: priority stations first, observers of the station's own
    district preferred, one each before any station gets a second; the same input
    gives the same result. Says what it could not fill, and why."""

    class Arguments:
        input = AutoDeployInput(required=True)

    Output = AutoDeployPayload

    @staticmethod
    @allow(*COORDINATORS)
    def mutate(root, info, input):
        require_region(info.context.viewer, input.region)
        return run_command(info, AutoDeployPayload, "deployment", "deployment",
                           "auto_deploy", _enum_values(command_input(input)), input,
                           timeout=AUTO_DEPLOY_TIMEOUT)


class CheckInInput(ClientMutationId, graphene.InputObjectType):
    station_code = graphene.String(required=True)
    observer_id = graphene.ID(description="who arrived; an observer checks in themself")
    at = graphene.DateTime(description="when; now by default")


class CheckInPayload(Payload, graphene.ObjectType):
    check_in = graphene.Field(CheckIn)


class CheckInMutation(graphene.Mutation):
    """Records an observer's arrival at a station. At a station they are not assigned
    to, it is recorded all the same and flagged NOT_ASSIGNED_HERE."""

    class Meta:
        name = "CheckIn"

    class Arguments:
        input = CheckInInput(required=True)

    Output = CheckInPayload

    @staticmethod
    @allow(*COORDINATORS, "hotline_operator", "observer")
    def mutate(root, info, input):
        viewer = info.context.viewer
        command = command_input(input)
        if viewer.role == "observer":
            if command.setdefault("observer_id", viewer.observer) != viewer.observer:
                raise GatewayError(FORBIDDEN, "an observer checks in only themself")
        if command.get("at"):
            command["at"] = command["at"].isoformat()
        return run_command(info, CheckInPayload, "check_in", "deployment", "check_in",
                           {"observer_id": None, **command, "within_region": _scope(info)},
                           input)


class ConfigureElectionInput(ClientMutationId, graphene.InputObjectType):
    observers_per_organization = graphene.Int(description="at one station at a time; 1 "
                                                          "by default")
    observers_per_station = graphene.Int(description="10 by default")
    check_in_deadline = graphene.DateTime(description="opening-shift observers not "
                                                      "checked in by then are no-shows")


class ElectionPayload(Payload, graphene.ObjectType):
    election = graphene.Field(Election)


class ConfigureElection(graphene.Mutation):
    class Arguments:
        input = ConfigureElectionInput(required=True)

    Output = ElectionPayload

    @staticmethod
    @allow("admin", "national_coordinator")
    def mutate(root, info, input):
        command = command_input(input)
        if command.get("check_in_deadline"):
            command["check_in_deadline"] = command["check_in_deadline"].isoformat()
        return run_command(info, ElectionPayload, "election", "deployment",
                           "configure_election", command, input)


def _visible_station(info, code):
    """The station, or None when it does not exist or is outside the viewer's scope."""
    station = info.context.call("deployment", "station", code)
    if station is None or not info.context.viewer.sees_region(station["region"]):
        return None
    return station


class Query(graphene.ObjectType):
    coverage = graphene.Field(
        CoverageView, required=True, region=graphene.String(),
        description="the country's coverage per region, or a region's per district")
    coverage_plan = graphene.Field(CoveragePlan, required=True,
                                   region=graphene.String(required=True))
    assignments = graphene.List(
        graphene.NonNull(Assignment), required=True, station=graphene.String(required=True),
        description="a station's assignments, withdrawn ones included")
    check_ins = graphene.List(graphene.NonNull(CheckIn), required=True,
                              station=graphene.String(required=True))
    observer_assignments = graphene.List(graphene.NonNull(Assignment), required=True,
                                         observer=graphene.ID(required=True))
    uncovered_stations = graphene.Field(
        UncoveredStationConnection, required=True, region=graphene.String(required=True),
        priority_only=graphene.Boolean(), first=graphene.Int(), after=graphene.String(),
        description="stations without an active observer, in code order")
    replacement_proposals = graphene.List(
        graphene.NonNull(ReserveObserver), required=True,
        station=graphene.String(required=True), shift=Shift(),
        description="free certified observers of the station's district, to replace a "
                    "no-show")

    @staticmethod
    @allow(*COORDINATORS, "partner")
    def resolve_coverage(root, info, region=None):
        viewer = info.context.viewer
        region = own_region(viewer, region)  # a regional coordinator's is checked there
        if region or viewer.role == "partner":
            require_region(viewer, region)
        return info.context.call("deployment", "coverage", region)

    @staticmethod
    @allow(*COORDINATORS)
    def resolve_coverage_plan(root, info, region):
        require_region(info.context.viewer, region)
        return info.context.call("deployment", "coverage_plan", region)

    @staticmethod
    @allow(*COORDINATORS, "hotline_operator")
    def resolve_assignments(root, info, station):
        if _visible_station(info, station) is None:
            return []
        return info.context.call("deployment", "assignments", station_code=station)

    @staticmethod
    @allow(*COORDINATORS, "hotline_operator")
    def resolve_check_ins(root, info, station):
        if _visible_station(info, station) is None:
            return []
        return info.context.call("deployment", "check_ins", station)

    @staticmethod
    @allow(*COORDINATORS, "hotline_operator", "observer")
    def resolve_observer_assignments(root, info, observer):
        viewer = info.context.viewer
        if viewer.role == "observer" and viewer.observer != observer:
            return []
        assignments = info.context.call("deployment", "assignments", observer_id=observer)
        return [a for a in assignments if viewer.sees_region(a["region"])]

    @staticmethod
    @allow(*COORDINATORS)
    def resolve_uncovered_stations(root, info, region, priority_only=False, first=None,
                                   after=None):
        require_region(info.context.viewer, region)
        page = info.context.call("deployment", "uncovered_stations", region,
                                 priority_only=bool(priority_only),
                                 after=key_from_cursor("station", after),
                                 first=page_size(first),
                                 count=selects(info, "totalCount"))
        return connection("station", lambda s: s["code"], page["stations"],
                          page["has_next"], page["total"])

    @staticmethod
    @allow(*COORDINATORS)
    def resolve_replacement_proposals(root, info, station, shift=None):
        if _visible_station(info, station) is None:
            return []
        return info.context.call("deployment", "replacements", station,
                                 getattr(shift, "value", shift) or "whole_day")


class Mutation(graphene.ObjectType):
    assign_observer = AssignObserver.Field()
    withdraw_assignment = WithdrawAssignment.Field()
    set_coverage_plan = SetCoveragePlan.Field()
    auto_deploy = AutoDeploy.Field()
    check_in = CheckInMutation.Field()
    configure_election = ConfigureElection.Field()
