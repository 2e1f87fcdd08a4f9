"""Assigning observers to stations: every rule refuses with its code, concurrent
coordinators cannot break one, and deployment learns only from events."""
import eventlet
from nameko.standalone.rpc import ClusterRpcProxy

from tests.service.conftest import eventually
from tests.service.deployment_world import (COVERAGE, WITHDRAW, announce, assign, codes,
                                            world)  # noqa: F401 a fixture

ELECTION = """mutation($input: ConfigureElectionInput!) { configureElection(input: $input) {
  election { observersPerOrganization observersPerStation } errors { code field } } }"""


def test_an_assignment_is_recorded_published_and_counted(world, gateway, deployment_db):
    world.observer("o-1", organization="org-a")
    payload = assign(gateway, "o-1", shift="MORNING")
    assert payload["errors"] == []
    assignment = payload["assignment"]
    assert (assignment["stationCode"], assignment["region"], assignment["district"],
            assignment["shift"], assignment["role"], assignment["organizationId"]) == (
        "1001", "KG-C", "C-01", "morning", "in_station", "org-a")
    [event] = deployment_db["events"].find({"type": "ObserverAssigned"})
    assert event["data"]["assignment_id"] == assignment["id"]
    assert event["metadata"]["role"] == "regional_coordinator"

    def coverage():
        return gateway(COVERAGE, {"region": "KG-C"})["data"]["coverage"]
    assert eventually(lambda: coverage()["covered"] == 1)
    view = coverage()
    assert (view["stations"], view["covered"], view["uncovered"]) == (2, 1, 1)
    assert {p["scope"]: p["covered"] for p in view["parts"]} == {"C-01": 1, "C-02": 0}
    country = gateway(COVERAGE)["data"]["coverage"]
    assert (country["scope"], country["stations"], country["covered"]) == ("country", 3, 1)


def test_each_rule_refuses_with_its_code_and_the_conflicting_record(world, gateway,
                                                                   deployment_db):
    world.observer("o-1", organization="org-a")
    world.observer("o-2", organization="org-a")
    world.observer("o-new", certified=False)
    world.observer("o-y", region="KG-Y", district="Y-01")
    first = assign(gateway, "o-1")["assignment"]

    refused = assign(gateway, "o-new")
    assert codes(refused) == ["OBSERVER_NOT_CERTIFIED"] and refused["assignment"] is None
    outside = assign(gateway, "o-y")
    assert codes(outside) == ["OUTSIDE_REGION"] and "KG-Y" in outside["errors"][0]["message"]
    twice = assign(gateway, "o-1", station="1101", shift="COUNTING")
    assert codes(twice) == ["OBSERVER_ALREADY_ASSIGNED"]
    assert "1001" in twice["errors"][0]["message"]
    colleague = assign(gateway, "o-2")
    assert codes(colleague) == ["ORGANIZATION_LIMIT"]
    assert first["id"] in colleague["errors"][0]["message"]
    assert codes(assign(gateway, "nobody")) == ["UNKNOWN_OBSERVER"]
    assert codes(assign(gateway, "o-2", station="9999")) == ["UNKNOWN_STATION"]
    # Another region's station answers as a missing one to a regional coordinator.
    assert codes(assign(gateway, "o-y", station="2001")) == ["UNKNOWN_STATION"]

    announce(world.amqp_uri, "registry", "ObserverSuspended",
             {"observer_id": "o-2", "reason": "campaigning"})
    assert eventually(lambda: deployment_db["observers"].find_one({"_id": "o-2"})[
        "suspended"])
    assert codes(assign(gateway, "o-2", station="1101")) == ["OBSERVER_SUSPENDED"]
    assert deployment_db["events"].count_documents({"type": "ObserverAssigned"}) == 1


def test_exceptions_a_coordinator_may_make(world, gateway):
    world.observer("o-y", region="KG-Y", district="Y-01")
    allowed = assign(gateway, "o-y", allowOtherRegion=True)
    assert allowed["errors"] == [] and allowed["assignment"]["region"] == "KG-C"
    world.observer("o-m")
    for station in ("1001", "1101"):
        assert assign(gateway, "o-m", station=station, viewer="national_coordinator",
                      role="MOBILE_GROUP")["errors"] == []


def test_the_election_sets_the_limits(world, gateway):
    payload = gateway(ELECTION, {"input": {"observersPerOrganization": 2,
                                           "observersPerStation": 2}})["data"][
        "configureElection"]
    assert payload["election"] == {"observersPerOrganization": 2, "observersPerStation": 2}
    assert codes(gateway(ELECTION, {"input": {"observersPerStation": 0}})["data"][
        "configureElection"]) == ["INVALID"]
    assert gateway(ELECTION, {"input": {}}, role="regional_coordinator",
                   region="KG-C")["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for i in range(3):
        world.observer(f"o-{i}", organization=f"org-{i}")
    assert assign(gateway, "o-0")["errors"] == []
    assert assign(gateway, "o-1")["errors"] == []
    full = assign(gateway, "o-2")
    assert codes(full) == ["STATION_FULL"] and "1001" in full["errors"][0]["message"]


def test_withdrawal_frees_the_observer_and_uncovers_the_station(world, gateway,
                                                                deployment_db):
    world.observer("o-1")
    assignment = assign(gateway, "o-1")["assignment"]
    other_region = gateway(WITHDRAW, {"input": {"assignmentId": assignment["id"],
                                                "reason": "moved"}},
                           role="regional_coordinator", region="KG-Y")
    assert codes(other_region["data"]["withdrawAssignment"]) == ["NOT_FOUND"]
    body = gateway(WITHDRAW, {"input": {"assignmentId": assignment["id"],
                                        "reason": "fell ill"}})
    assert body["data"]["withdrawAssignment"]["assignment"]["active"] is False
    again = gateway(WITHDRAW, {"input": {"assignmentId": assignment["id"],
                                         "reason": "fell ill"}})
    assert codes(again["data"]["withdrawAssignment"]) == ["ALREADY_WITHDRAWN"]
    assert assign(gateway, "o-1", station="1101")["errors"] == []
    assert eventually(lambda: [p["covered"] for p in gateway(COVERAGE, {"region": "KG-C"})[
        "data"]["coverage"]["parts"]] == [0, 1])


def test_concurrent_coordinators_cannot_break_a_rule(world, service_config, deployment_db):
    for i in range(6):
        world.observer(f"o-{i}", organization="org-a" if i else None)
    with ClusterRpcProxy(service_config) as rpc:
        # One observer sent to two stations at once: one station gets them.
        calls = [rpc.deployment.assign_observer.call_async(
            {"observer_id": "o-0", "station_code": code}) for code in ("1001", "1101") * 3]
        replies = [c.result() for c in calls]
        assert sum(r["ok"] for r in replies) == 1
        assert {e["code"] for r in replies if not r["ok"] for e in r["errors"]} == {
            "OBSERVER_ALREADY_ASSIGNED"}
        # Five observers of one organization sent to one station at once: one stays.
        calls = [rpc.deployment.assign_observer.call_async(
            {"observer_id": f"o-{i}", "station_code": "1101"}) for i in range(1, 6)]
        replies = [c.result() for c in calls]
    assert sum(r["ok"] for r in replies) == 1
    assert {e["code"] for r in replies if not r["ok"] for e in r["errors"]} == {
        "ORGANIZATION_LIMIT"}
    assert deployment_db["events"].count_documents({"type": "ObserverAssigned"}) == 2


def test_certifications_follow_training_in_any_order_and_once(world, deployment_db,
                                                              gateway):
    world.observer("o-1")
    announce(world.amqp_uri, "training", "CertificationRevoked", {
        "certification_id": "cert-o-1", "observer_id": "o-1", "course_id": "basic",
        "reason": "cheated"})
    assert eventually(lambda: not deployment_db["observers"].find_one({"_id": "o-1"})[
        "certified"])
    assert codes(assign(gateway, "o-1")) == ["OBSERVER_NOT_CERTIFIED"]
    # A revocation that overtakes its certification still wins.
    announce(world.amqp_uri, "training", "CertificationExpired", {
        "certification_id": "late", "observer_id": "o-1", "course_id": "basic"})
    world.certify("o-1", "late")
    envelope = world.certify("o-1", "renewed")
    announce(world.amqp_uri, "training", "ObserverCertified", envelope["data"],
             event_id=envelope["id"])  # redelivered
    assert eventually(lambda: deployment_db["observers"].find_one({"_id": "o-1"})[
        "certifications"] == ["renewed"])
    eventlet.sleep(0.3)
    assert deployment_db["observers"].find_one({"_id": "o-1"})["certifications"] == [
        "renewed"]
    assert assign(gateway, "o-1")["errors"] == []
