"""Deployment's aggregates, events and rules: which observer stands at which polling
station, the coverage a region aims for, and who arrived on election morning.

Which aggregate guards which rule:
- a station's stream (StationDeployment) guards what is about one station: its maximum
  number of observers and the observers per organization. Two coordinators assigning
  to one station at once clash on its version; the second decides again.
- one active station per observer per shift spans stations, so each assignment claims
  (observer, shift part) in the event store, atomically with its event; a second
  station's claim of the same part is refused by the store.
- certification, suspension and region come from deployment's read models of the
  registry's and training's events, handed to the decision as ObserverFacts.
"""
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime

from shared.aggregate import Aggregate
from shared.errors import Problem, Rejected

ROLES = ("in_station", "long_term", "mobile_group")
"""Short-term in a station on election day; long-term for the campaign period; a
mobile group visiting several stations (assigned to each, exempt from the one-station
rule)."""

SHIFT_PARTS = {
    "whole_day": ("morning", "afternoon", "counting"),
    "morning": ("morning",),
    "afternoon": ("afternoon",),
    "counting": ("counting",),
}
SHIFTS = tuple(SHIFT_PARTS)
CHECKED_AT_OPENING = ("whole_day", "morning")
"""Shifts whose observer must have checked in by the election's check-in deadline."""

OBSERVER_SLOT = "observer-shift"
"""Claim namespace: (observer, shift part) belongs to one station's stream."""
ASSIGNMENT_SEPARATOR = "#"
"""An assignment's id is its station's code and its number there: `1001#3`."""


@dataclass(frozen=True)
class ObserverFacts:
    """What deployment knows of an observer, from registry and training events."""
    observer_id: str
    region: str
    district: str | None = None
    organization_id: str | None = None
    certified: bool = False
    suspended: bool = False


@dataclass(frozen=True)
class StationFacts:
    code: str
    region: str
    district: str


@dataclass(frozen=True)
class Rules:
    """Per election: how many observers of one organization may stand at a station at
    a time (electoral law commonly says one), how many observers a station takes, and
    when observers of opening shifts must have checked in."""
    observers_per_organization: int = 1
    observers_per_station: int = 10
    check_in_deadline: datetime | None = None


@dataclass(frozen=True)
class ObserverAssigned:
    assignment_id: str
    observer_id: str
    station_code: str
    region: str
    district: str
    role: str
    shift: str
    organization_id: str | None = None


@dataclass(frozen=True)
class AssignmentWithdrawn:
    assignment_id: str
    observer_id: str
    station_code: str
    reason: str


@dataclass(frozen=True)
class ObserverCheckedIn:
    """`assigned` false: the observer is not assigned here; recorded, and flagged.
    Region and district (beyond the agreed contract) let coverage count it."""
    assignment_id: str | None
    observer_id: str
    station_code: str
    at: str
    assigned: bool
    region: str | None = None
    district: str | None = None


def check_in_flag(arrival):
    """What a coordinator is warned of about an arrival, if anything."""
    return None if arrival["assigned"] else "NOT_ASSIGNED_HERE"


@dataclass(frozen=True)
class ObserverNoShow:
    assignment_id: str
    observer_id: str
    station_code: str
    region: str | None = None
    district: str | None = None


def require_eligible(observer, station, allow_other_region=False):
    """The rules about the observer alone; each refusal names the rule and the record."""
    if observer.suspended:
        raise Rejected(Problem("OBSERVER_SUSPENDED", f"observer {observer.observer_id} "
                               "is suspended", "observer_id"))
    if not observer.certified:
        raise Rejected(Problem("OBSERVER_NOT_CERTIFIED", f"observer "
                               f"{observer.observer_id} holds no valid certification",
                               "observer_id"))
    if observer.region != station.region and not allow_other_region:
        raise Rejected(Problem(
            "OUTSIDE_REGION", f"station {station.code} is in region {station.region}, "
            f"observer {observer.observer_id} in {observer.region}; allow it explicitly "
            "to assign across regions", "station_code"))


class StationDeployment(Aggregate):
    """The observers assigned to one polling station, and their arrivals."""

    events = (ObserverAssigned, AssignmentWithdrawn, ObserverCheckedIn, ObserverNoShow)

    def __init__(self, id):
        super().__init__(id)
        self.assignments = {}
        self.arrivals = {}
        self.no_shows = set()

    @staticmethod
    def stream(code):
        return f"station:{code}"

    @property
    def active(self):
        return [a for a in self.assignments.values() if a["active"]]

    @staticmethod
    def station_of(assignment_id):
        """The code of the station whose stream holds the assignment."""
        return assignment_id.rpartition(ASSIGNMENT_SEPARATOR)[0]

    def assign(self, observer, station, role, shift, rules, allow_other_region=False):
        """Records the assignment, numbered within the station; returns its id."""
        require_eligible(observer, station, allow_other_region)
        parts = set(SHIFT_PARTS[shift])
        overlapping = [a for a in self.active if parts & set(SHIFT_PARTS[a["shift"]])]
        same = next((a for a in overlapping
                     if a["observer_id"] == observer.observer_id), None)
        if same:
            raise Rejected(Problem(
                "OBSERVER_ALREADY_ASSIGNED", f"observer {observer.observer_id} is already "
                f"at station {station.code} for the {same['shift']} shift (assignment "
                f"{same['assignment_id']})", "observer_id"))
        organization = observer.organization_id
        if organization:
            colleagues = [a for a in overlapping if a["organization_id"] == organization]
            if len(colleagues) >= rules.observers_per_organization:
                raise Rejected(Problem(
                    "ORGANIZATION_LIMIT", f"station {station.code} already has "
                    f"{len(colleagues)} observer(s) of organization {organization} in "
                    f"that shift (assignment {colleagues[0]['assignment_id']}); at most "
                    f"{rules.observers_per_organization}", "observer_id"))
        for part in sorted(parts):
            present = [a for a in overlapping if part in SHIFT_PARTS[a["shift"]]]
            if len(present) >= rules.observers_per_station:
                raise Rejected(Problem(
                    "STATION_FULL", f"station {station.code} already has {len(present)} "
                    f"observers in the {part}; at most {rules.observers_per_station}",
                    "station_code"))
        if role != "mobile_group":
            for part in sorted(parts):
                self.claim(OBSERVER_SLOT, f"{observer.observer_id}:{part}")
        assignment_id = f"{station.code}{ASSIGNMENT_SEPARATOR}{len(self.assignments) + 1}"
        self.record(ObserverAssigned(
            assignment_id, observer.observer_id, station.code, station.region,
            station.district, role, shift, organization))
        return assignment_id

    def withdraw(self, assignment_id, reason, within_region=None):
        """Ends the assignment; one outside `within_region` is refused in the same words
        as a missing one."""
        assignment = self.assignments.get(assignment_id)
        if assignment is None or within_region not in (None, assignment["region"]):
            raise Rejected(Problem("NOT_FOUND", f"there is no assignment {assignment_id}",
                                   "assignment_id"))
        if not assignment["active"]:
            raise Rejected(Problem("ALREADY_WITHDRAWN", f"assignment {assignment_id} "
                                   "was already withdrawn", "assignment_id"))
        if assignment["role"] != "mobile_group":
            for part in SHIFT_PARTS[assignment["shift"]]:
                self.release(OBSERVER_SLOT, f"{assignment['observer_id']}:{part}")
        self.record(AssignmentWithdrawn(assignment_id, assignment["observer_id"],
                                        self.code, reason))

    def check_in(self, observer_id, station, at):
        """Records the arrival; at a station the observer is not assigned to it is
        recorded all the same, flagged `assigned` false. Arriving twice records once."""
        if observer_id in self.arrivals:
            return
        mine = next((a for a in self.active if a["observer_id"] == observer_id), None)
        self.record(ObserverCheckedIn(mine and mine["assignment_id"], observer_id,
                                      station.code, at, mine is not None, station.region,
                                      station.district))

    def record_no_shows(self):
        """Each active opening-shift observer who has not checked in (called once the
        check-in deadline has passed); each is recorded once."""
        for a in self.active:
            if (a["shift"] in CHECKED_AT_OPENING and a["observer_id"] not in self.arrivals
                    and a["assignment_id"] not in self.no_shows):
                self.record(ObserverNoShow(a["assignment_id"], a["observer_id"], self.code,
                                           a["region"], a["district"]))

    @property
    def code(self):
        return self.id.split(":", 1)[1]

    def on_observer_assigned(self, event):
        self.assignments[event.assignment_id] = {
            "assignment_id": event.assignment_id, "observer_id": event.observer_id,
            "organization_id": event.organization_id, "role": event.role,
            "shift": event.shift, "region": event.region, "district": event.district,
            "active": True}

    def on_assignment_withdrawn(self, event):
        self.assignments[event.assignment_id]["active"] = False

    def on_observer_checked_in(self, event):
        self.arrivals[event.observer_id] = event

    def on_observer_no_show(self, event):
        self.no_shows.add(event.assignment_id)


@dataclass(frozen=True)
class CoveragePlanSet:
    region: str
    minimum_observers: int
    priority_stations: list


class CoveragePlan(Aggregate):
    """A region's targets: observers per station, and the stations to cover first."""

    events = (CoveragePlanSet,)

    def __init__(self, id):
        super().__init__(id)
        self.minimum_observers = 1
        self.priority_stations = []

    @staticmethod
    def stream(region):
        return f"plan:{region}"

    def set(self, region, minimum_observers, priority_stations):
        priority = sorted(set(priority_stations))
        if (self.exists and minimum_observers == self.minimum_observers
                and priority == self.priority_stations):
            return
        self.record(CoveragePlanSet(region, minimum_observers, priority))

    def on_coverage_plan_set(self, event):
        self.minimum_observers = event.minimum_observers
        self.priority_stations = list(event.priority_stations)


@dataclass(frozen=True)
class ElectionConfigured:
    observers_per_organization: int
    observers_per_station: int
    check_in_deadline: str | None = None


class Election(Aggregate):
    """The election's rules; until configured, the defaults of Rules."""

    events = (ElectionConfigured,)
    STREAM = "election"

    def __init__(self, id):
        super().__init__(id)
        self.rules = Rules()

    def configure(self, observers_per_organization, observers_per_station,
                  check_in_deadline=None):
        self.record(ElectionConfigured(
            observers_per_organization, observers_per_station,
            check_in_deadline.isoformat() if check_in_deadline else None))

    def on_election_configured(self, event):
        deadline = event.check_in_deadline
        self.rules = Rules(event.observers_per_organization, event.observers_per_station,
                           datetime.fromisoformat(deadline) if deadline else None)


# -- automatic deployment ----------------------------------------------------------------

@dataclass(frozen=True)
class StationNeed:
    """A station as the allocation sees it: who is there now (observer ids by
    organization, for the per-organization rule) and whether the plan names it."""
    code: str
    district: str
    priority: bool = False
    present: int = 0
    organizations: tuple = ()


@dataclass(frozen=True)
class Proposal:
    station_code: str
    observer_id: str
    district: str
    same_district: bool


@dataclass(frozen=True)
class Unfilled:
    station_code: str
    missing: int
    code: str
    reason: str


@dataclass
class Allocation:
    proposals: list = field(default_factory=list)
    unfilled: list = field(default_factory=list)


def allocate(stations, observers, minimum, rules):
    """Proposes observers for stations below `minimum`, deterministically.

    stations: StationNeed; observers: available ObserverFacts of the region (certified,
    not suspended, free for the shift). Priority stations first, then by code; in
    rounds, so every station gets its first observer before any gets its second (load
    balanced); each observer from the station's own district when one is left, else
    from the district with the most observers left. The same input gives the same
    allocation whatever order it came in.
    """
    target = min(minimum, rules.observers_per_station)
    order = sorted(stations, key=lambda s: (not s.priority, s.code))
    pools = defaultdict(lambda: defaultdict(deque))
    for observer in sorted(observers, key=lambda o: o.observer_id):
        pools[observer.district][observer.organization_id].append(observer)
    left = defaultdict(int, {d: sum(map(len, p.values())) for d, p in pools.items()})
    organizations = {s.code: defaultdict(int) for s in order}
    for s in order:
        for organization in s.organizations:
            organizations[s.code][organization] += 1
    have = {s.code: s.present for s in order}
    result = Allocation()
    blocked = {}
    for _ in range(target):
        for station in order:
            if have[station.code] >= target or station.code in blocked:
                continue
            chosen = _take(station, pools, left, organizations[station.code], rules)
            if chosen is None:
                blocked[station.code] = _why_unfilled(left)
                continue
            have[station.code] += 1
            if chosen.organization_id:
                organizations[station.code][chosen.organization_id] += 1
            result.proposals.append(Proposal(station.code, chosen.observer_id,
                                             station.district,
                                             chosen.district == station.district))
    for station in order:
        missing = target - have[station.code]
        if missing > 0:
            code, reason = blocked.get(station.code) or _why_unfilled(left)
            result.unfilled.append(Unfilled(station.code, missing, code, reason))
    if minimum > rules.observers_per_station:
        for station in order:
            result.unfilled.append(Unfilled(
                station.code, minimum - max(target, have[station.code]), "STATION_FULL",
                f"the plan asks for {minimum} observers; a station takes at most "
                f"{rules.observers_per_station}"))
    return result


def _take(station, pools, left, organizations, rules):
    """The observer with the lowest id in the station's district, else in the district
    with the most observers left, whose organization still has room at the station."""
    others = sorted((d for d in pools if d != station.district and left[d]),
                    key=lambda d: (-left[d], d or ""))
    for district in [station.district, *others]:
        heads = [(queue[0].observer_id, organization)
                 for organization, queue in pools.get(district, {}).items()
                 if queue and (not organization or organizations[organization]
                               < rules.observers_per_organization)]
        if heads:
            left[district] -= 1
            return pools[district][min(heads)[1]].popleft()
    return None


def _why_unfilled(left):
    if any(left.values()):
        return ("ORGANIZATION_LIMIT", "every observer left belongs to an organization "
                "that already has its maximum at this station")
    return ("NO_OBSERVERS_LEFT", "no certified, unsuspended observer of the region is "
            "free for this shift")
