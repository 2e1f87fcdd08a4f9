"""Deployment's rules and automatic allocation, without any I/O."""
import random

import pytest

from services.deployment.domain import (ObserverFacts, Rules, StationDeployment,
                                        StationFacts, StationNeed, allocate)
from shared.aggregate import event_type
from shared.errors import Rejected

STATION = StationFacts("1001", "KG-C", "C-01")
RULES = Rules(observers_per_organization=1, observers_per_station=3)


def observer(observer_id, region="KG-C", district="C-01", organization=None, **facts):
    return ObserverFacts(observer_id, region, district, organization,
                         **{"certified": True, **facts})


def station(*assignments, code="1001"):
    """A station's deployment with `assignments` ((observer, shift, role)) recorded."""
    deployment = StationDeployment(StationDeployment.stream(code))
    for facts, shift, role in assignments:
        deployment.assign(facts, STATION, role, shift, RULES)
    return deployment


def refusal(decide):
    with pytest.raises(Rejected) as refused:
        decide()
    [problem] = refused.value.problems
    return problem


def test_an_assignment_records_the_event_and_claims_the_shift():
    deployment = station()
    deployment.assign(observer("o-1", organization="org"), STATION, "in_station",
                      "morning", RULES)
    assert [event_type(e) for e in deployment.pending] == ["ObserverAssigned"]
    assigned = deployment.pending[0]
    assert (assigned.station_code, assigned.region, assigned.district,
            assigned.organization_id) == ("1001", "KG-C", "C-01", "org")
    assert assigned.assignment_id == "1001#1"
    assert deployment.claims == [("observer-shift", "o-1:morning")]


@pytest.mark.parametrize("facts,code", [
    (observer("o-1", certified=False), "OBSERVER_NOT_CERTIFIED"),
    (observer("o-1", suspended=True), "OBSERVER_SUSPENDED"),
    (observer("o-1", region="KG-Y"), "OUTSIDE_REGION"),
])
def test_only_certified_unsuspended_observers_of_the_region(facts, code):
    deployment = station()
    problem = refusal(lambda: deployment.assign(facts, STATION, "in_station",
                                                "whole_day", RULES))
    assert problem.code == code and "o-1" in problem.message
    assert not deployment.pending


def test_another_region_when_explicitly_allowed():
    deployment = station()
    deployment.assign(observer("o-1", region="KG-Y"), STATION, "in_station",
                      "whole_day", RULES, allow_other_region=True)
    assert deployment.pending


def test_one_station_per_observer_per_shift_but_mobile_groups_are_free():
    deployment = station((observer("o-1"), "morning", "in_station"))
    problem = refusal(lambda: deployment.assign(observer("o-1"), STATION,
                                                "in_station", "whole_day", RULES))
    assert problem.code == "OBSERVER_ALREADY_ASSIGNED" and "1001#1" in problem.message
    # The afternoon does not overlap the morning.
    deployment.assign(observer("o-1"), STATION, "in_station", "afternoon", RULES)
    mobile = station()
    mobile.assign(observer("o-2"), STATION, "mobile_group", "whole_day", RULES)
    assert not [c for c in mobile.claims if c[0] == "observer-shift"]


def test_at_most_n_observers_of_one_organization_at_a_time():
    deployment = station((observer("o-1", organization="org"), "morning", "in_station"))
    problem = refusal(lambda: deployment.assign(
        observer("o-2", organization="org"), STATION, "in_station", "whole_day", RULES))
    assert problem.code == "ORGANIZATION_LIMIT"
    assert "org" in problem.message and "1001#1" in problem.message
    deployment.assign(observer("o-3", organization="org"), STATION, "in_station",
                      "afternoon", RULES)
    two = Rules(observers_per_organization=2, observers_per_station=3)
    deployment.assign(observer("o-4", organization="org"), STATION, "in_station",
                      "morning", two)


def test_a_station_takes_at_most_its_maximum():
    deployment = station(*[(observer(f"o-{i}"), "whole_day", "in_station")
                           for i in range(3)])
    problem = refusal(lambda: deployment.assign(observer("o-9"), STATION,
                                                "in_station", "counting", RULES))
    assert problem.code == "STATION_FULL" and "1001" in problem.message


def test_withdrawal_releases_the_shift():
    deployment = station((observer("o-1"), "whole_day", "in_station"))
    deployment.withdraw("1001#1", "fell ill")
    assert event_type(deployment.pending[-1]) == "AssignmentWithdrawn"
    assert ("observer-shift", "o-1:counting") in deployment.releases
    assert refusal(lambda: deployment.withdraw("1001#1", "again")).code == "ALREADY_WITHDRAWN"
    assert refusal(lambda: deployment.withdraw("nope", "why")).code == "NOT_FOUND"
    elsewhere = station((observer("o-1"), "whole_day", "in_station"))
    assert refusal(lambda: elsewhere.withdraw("1001#1", "why", "KG-Y")).code == "NOT_FOUND"


def test_check_in_elsewhere_is_recorded_and_flagged_and_once():
    deployment = station((observer("o-1"), "whole_day", "in_station"))
    deployment.check_in("o-1", STATION, "2026-03-01T07:10:00+06:00")
    deployment.check_in("o-2", STATION, "2026-03-01T07:12:00+06:00")
    deployment.check_in("o-2", STATION, "2026-03-01T07:13:00+06:00")
    arrivals = [e for e in deployment.pending if event_type(e) == "ObserverCheckedIn"]
    assert [(e.observer_id, e.assigned, e.assignment_id) for e in arrivals] == [
        ("o-1", True, "1001#1"), ("o-2", False, None)]


def test_no_shows_are_opening_shift_observers_who_did_not_arrive():
    deployment = station((observer("o-1"), "whole_day", "in_station"),
                         (observer("o-2"), "morning", "in_station"),
                         (observer("o-3"), "counting", "in_station"))
    deployment.check_in("o-1", STATION, "2026-03-01T07:10:00+06:00")
    deployment.record_no_shows()
    deployment.record_no_shows()
    no_shows = [e for e in deployment.pending if event_type(e) == "ObserverNoShow"]
    assert [e.observer_id for e in no_shows] == ["o-2"]


def needs(count, priority=()):
    return [StationNeed(f"S{i:03}", f"D{i % 3}", f"S{i:03}" in priority)
            for i in range(count)]


def pool(count, districts=3, organizations=0):
    return [observer(f"o-{i:03}", district=f"D{i % districts}",
                     organization=f"org{i % organizations}" if organizations else None)
            for i in range(count)]


def test_priority_stations_first_and_the_rest_explained():
    result = allocate(needs(5, priority={"S004"}), pool(2), 1, RULES)
    assert [p.station_code for p in result.proposals] == ["S004", "S000"]
    assert {u.station_code for u in result.unfilled} == {"S001", "S002", "S003"}
    assert {u.code for u in result.unfilled} == {"NO_OBSERVERS_LEFT"}


def test_same_district_observers_are_preferred():
    result = allocate(needs(6), pool(6), 1, RULES)
    assert all(p.same_district for p in result.proposals)
    result = allocate(needs(3), pool(3, districts=1), 1, RULES)
    assert [p.same_district for p in result.proposals] == [True, False, False]


def test_every_station_gets_one_before_any_gets_two():
    result = allocate(needs(4), pool(5), 2, RULES)
    firsts = [p.station_code for p in result.proposals[:4]]
    assert sorted(firsts) == ["S000", "S001", "S002", "S003"]
    assert len(result.proposals) == 5
    assert sum(u.missing for u in result.unfilled) == 3


def test_the_organization_limit_is_kept_and_explained():
    result = allocate(needs(1), pool(3, districts=1, organizations=1), 2, RULES)
    assert len(result.proposals) == 1
    [unfilled] = result.unfilled
    assert unfilled.code == "ORGANIZATION_LIMIT"


def test_stations_already_staffed_are_skipped():
    stations = [StationNeed("S000", "D0", present=1), StationNeed("S001", "D0")]
    result = allocate(stations, pool(3, districts=1), 1, RULES)
    assert [p.station_code for p in result.proposals] == ["S001"]


def test_a_minimum_above_the_station_maximum_is_explained():
    result = allocate(needs(1), pool(10, districts=1), 5, RULES)
    assert len(result.proposals) == 3
    assert [u.code for u in result.unfilled] == ["STATION_FULL"]


def test_the_same_input_in_any_order_gives_the_same_allocation():
    stations, observers = needs(200, priority={"S150", "S007"}), pool(
        300, districts=7, organizations=4)
    first = allocate(stations, observers, 2, RULES)
    for seed in range(5):
        random.Random(seed).shuffle(stations)
        random.Random(seed + 1).shuffle(observers)
        assert allocate(stations, observers, 2, RULES) == first
