"""Deployment's command handlers: from a validated request to aggregates decided and
appended, over the injected event log and read models."""
from dataclasses import asdict
from datetime import datetime, timezone

from services.deployment.domain import (SHIFT_PARTS, CoveragePlan, Election,
                                        StationDeployment, StationFacts, allocate,
                                        check_in_flag)
from shared.commands import (CHUNK, Command, execute, execute_all, in_chunks,
                             replay_stream)
from shared.errors import Problem, Rejected
from shared.eventstore import UniquenessError

APPLY_ATTEMPTS = 5


def rules(log):
    """The election's rules as its stream stands now (not a read model: a rule must not
    lag behind the coordinator who just changed it)."""
    return replay_stream(log, Election, Election.STREAM).rules


def configure_election(log, command, idempotency_key=None):
    return execute(log, Election, Election.STREAM, lambda e: e.configure(**command),
                   idempotency_key).rules


def assign_observer(log, reader, command, idempotency_key=None):
    station = _station(reader, command["station_code"], command["within_region"])
    observer = reader.observer(command["observer_id"])
    if observer is None:
        raise Rejected(Problem("UNKNOWN_OBSERVER",
                               f"there is no observer {command['observer_id']}",
                               "observer_id"))
    election = rules(log)

    def decide(deployment):
        deployment.assign(observer, station, command["role"], command["shift"], election,
                          command["allow_other_region"])
    try:
        deployment = execute(log, StationDeployment, StationDeployment.stream(station.code),
                             decide, idempotency_key)
    except UniquenessError as clash:
        raise _already_assigned(clash)
    # A retry answers with the first request's assignment: the last one it recorded.
    return _view(deployment, list(deployment.assignments)[-1])


def _already_assigned(clash):
    observer_id, part = clash.value.rsplit(":", 1)
    station = clash.owner.split(":", 1)[1]
    return Rejected(Problem("OBSERVER_ALREADY_ASSIGNED", f"observer {observer_id} is "
                            f"already assigned to station {station} in the {part}",
                            "observer_id"))


def withdraw_assignment(log, command, idempotency_key=None):
    assignment_id = command["assignment_id"]
    deployment = execute(log, StationDeployment, StationDeployment.stream(
        StationDeployment.station_of(assignment_id)), lambda d: d.withdraw(
            assignment_id, command["reason"], command["within_region"]), idempotency_key)
    return _view(deployment, assignment_id)


def _station(reader, code, within_region=None):
    """The station as deployment knows it; one outside the caller's region is refused
    in the same words as a missing one."""
    station = reader.station(code)
    if station is None or within_region not in (None, station.region):
        raise Rejected(Problem("UNKNOWN_STATION", f"there is no polling station {code}",
                               "station_code"))
    return station


def _view(deployment, assignment_id):
    """An assignment as the station's stream has it, in the read model's shape."""
    assignment = deployment.assignments[assignment_id]
    arrival = deployment.arrivals.get(assignment["observer_id"])
    return {**assignment, "_id": assignment_id, "station_code": deployment.code,
            "checked_in_at": arrival.at if arrival and arrival.assigned else None,
            "no_show": assignment_id in deployment.no_shows}


def set_coverage_plan(log, reader, command, idempotency_key=None):
    region = command["region"]
    problems = []
    known = reader.stations(command["priority_stations"])
    for i, code in enumerate(command["priority_stations"]):
        station = known.get(code)
        if station is None:
            problems.append(Problem("UNKNOWN_STATION", f"there is no polling station "
                                    f"{code}", f"priority_stations.{i}"))
        elif station.region != region:
            problems.append(Problem("STATION_NOT_IN_REGION", f"station {code} is in "
                                    f"region {station.region}, not {region}",
                                    f"priority_stations.{i}"))
    if problems:
        raise Rejected(*problems)
    plan = execute(log, CoveragePlan, CoveragePlan.stream(region), lambda p: p.set(
        region, command["minimum_observers"], command["priority_stations"]),
        idempotency_key)
    return {"region": region, "minimum_observers": plan.minimum_observers,
            "priority_stations": plan.priority_stations}


def auto_deploy(log, reader, command):
    """Proposes observers for the region's stations below its plan's minimum; with
    `apply`, assigns them. Returns what it proposed (or assigned) and what it could not
    fill, and why."""
    region, shift, role = command["region"], command["shift"], command["role"]
    plan = replay_stream(log, CoveragePlan, CoveragePlan.stream(region))
    election = rules(log)
    parts = SHIFT_PARTS[shift]
    needs = reader.needs(region, plan.priority_stations, parts)
    observers = reader.available(region=region, parts=parts)
    allocation = allocate(needs, observers, plan.minimum_observers, election)
    proposals = [asdict(p) for p in allocation.proposals]
    unfilled = [asdict(u) for u in allocation.unfilled]
    if command["apply"]:
        stations = {n.code: StationFacts(n.code, region, n.district) for n in needs}
        refused = _apply(log, stations, {o.observer_id: o for o in observers},
                         allocation.proposals, role, shift, election)
        for proposal in proposals:
            problem = refused.get((proposal["station_code"], proposal["observer_id"]))
            proposal["assigned"] = problem is None
            if problem:
                unfilled.append({"station_code": proposal["station_code"], "missing": 1,
                                 "code": problem.code, "reason": problem.message})
    return {"region": region, "shift": shift, "role": role, "applied": command["apply"],
            "minimum_observers": plan.minimum_observers, "proposals": proposals,
            "unfilled": unfilled}


def _apply(log, stations, observers, proposals, role, shift, election):
    """Assigns the proposals, a station's at once; returns {(station, observer):
    Problem} for those refused (the read models lagged behind another assignment)."""
    by_station = {}
    for p in proposals:
        by_station.setdefault(p.station_code, []).append(p.observer_id)
    refused = {}

    def assign_chunk(chunk):
        """Assigns a chunk of stations; returns those to decide again."""
        commands = [Command(StationDeployment, StationDeployment.stream(code),
                            _assign_all(code, by_station, stations, observers, role, shift,
                                        election, refused))
                    for code in chunk]
        retry = []
        for code, outcome in zip(chunk, execute_all(log, commands)):
            if isinstance(outcome, UniquenessError):
                observer_id = outcome.value.rsplit(":", 1)[0]
                refused[(code, observer_id)] = _already_assigned(outcome).problems[0]
                by_station[code].remove(observer_id)
                retry.append(code)
            elif isinstance(outcome, Exception):
                raise outcome
        return retry

    todo = sorted(by_station)
    for _ in range(APPLY_ATTEMPTS):
        todo = [code for retry in in_chunks(todo, assign_chunk) for code in retry]
        if not todo:
            break
    return refused


def _assign_all(code, by_station, stations, observers, role, shift, election, refused):
    def decide(deployment):
        # Decided afresh on every attempt: forget what an earlier attempt refused.
        for observer_id in by_station[code]:
            refused.pop((code, observer_id), None)
        for observer_id in by_station[code]:
            try:
                deployment.assign(observers[observer_id], stations[code], role, shift,
                                  election)
            except Rejected as exc:
                refused[(code, observer_id)] = exc.problems[0]
    return decide


def check_in(log, reader, command, idempotency_key=None):
    station = _station(reader, command["station_code"], command["within_region"])
    observer_id = command["observer_id"]
    if reader.observer(observer_id) is None:
        raise Rejected(Problem("UNKNOWN_OBSERVER", f"there is no observer {observer_id}",
                               "observer_id"))
    at = (command["at"] or datetime.now(timezone.utc)).isoformat()
    deployment = execute(log, StationDeployment, StationDeployment.stream(station.code),
                         lambda d: d.check_in(observer_id, station, at), idempotency_key)
    arrival = asdict(deployment.arrivals[observer_id])
    return {**arrival, "flag": check_in_flag(arrival)}


def detect_no_shows(log, reader, now=None):
    """Once the election's check-in deadline has passed, records a no-show for every
    opening-shift observer who has not checked in; returns how many."""
    deadline = rules(log).check_in_deadline
    if deadline is None or (now or datetime.now(timezone.utc)) < deadline:
        return 0
    codes = reader.awaited_stations()
    recorded = 0
    for start in range(0, len(codes), CHUNK):
        outcomes = execute_all(log, [
            Command(StationDeployment, StationDeployment.stream(code),
                    lambda d: d.record_no_shows()) for code in codes[start:start + CHUNK]])
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
            recorded += len(outcome.pending)
    return recorded


def replacements(reader, station_code, shift="whole_day", within_region=None, first=10):
    """Reserve observers for a station: certified, unsuspended, free for the shift, of
    the station's district, lowest ids first."""
    station = _station(reader, station_code, within_region)
    available = reader.available(district=station.district, parts=SHIFT_PARTS[shift])
    return [asdict(o) for o in sorted(available, key=lambda o: o.observer_id)[:first]]
