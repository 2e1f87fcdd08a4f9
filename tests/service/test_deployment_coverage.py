"""Coverage plans, automatic deployment, and election morning: check-ins, no-shows and
their replacements, as a coordinator sees them through GraphQL."""
import json
from datetime import datetime, timedelta, timezone

from nameko.standalone.rpc import ServiceRpcProxy

from tests.service.conftest import eventually, projections_caught_up
from tests.service.deployment_world import (COVERAGE, assign, codes,  # noqa: F401
                                            world)

PLAN = """mutation($input: SetCoveragePlanInput!) { setCoveragePlan(input: $input) {
  plan { region minimumObservers priorityStations } errors { code field message } } }"""
AUTO_DEPLOY = """mutation($input: AutoDeployInput!) { autoDeploy(input: $input) {
  deployment { applied minimumObservers proposedCount unfilledCount
    proposals { stationCode observerId district sameDistrict assigned }
    unfilled { stationCode missing code reason } }
  errors { code field message } } }"""
UNCOVERED = """query($region: String!, $priorityOnly: Boolean, $first: Int, $after: String) {
  uncoveredStations(region: $region, priorityOnly: $priorityOnly, first: $first,
                    after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { code district } } } }"""
CHECK_IN = """mutation($input: CheckInInput!) { checkIn(input: $input) {
  checkIn { assignmentId observerId stationCode assigned flag } errors { code field } } }"""
ELECTION = """mutation($input: ConfigureElectionInput!) { configureElection(input: $input) {
  errors { code } } }"""
ASSIGNMENTS = """query($station: String!) { assignments(station: $station) {
  observerId checkedInAt noShow } checkIns(station: $station) { observerId assigned flag } }"""
REPLACEMENTS = """query($station: String!) { replacementProposals(station: $station) {
  observerId district } }"""
OBSERVER_ASSIGNMENTS = """query($observer: ID!) { observerAssignments(observer: $observer) {
  stationCode active } }"""


def mutate(gateway, query, input, **viewer):
    body = gateway(query, {"input": input}, **viewer)
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


def test_a_plan_names_stations_of_its_region(world, gateway):
    plan = mutate(gateway, PLAN, {"region": "KG-C", "minimumObservers": 2,
                                  "priorityStations": ["1101", "1101"]})
    assert plan["plan"] == {"region": "KG-C", "minimumObservers": 2,
                            "priorityStations": ["1101"]}
    refused = mutate(gateway, PLAN, {"region": "KG-C", "priorityStations": ["2001", "9"]})
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("STATION_NOT_IN_REGION", "priorityStations.0"),
        ("UNKNOWN_STATION", "priorityStations.1")]
    other = gateway(PLAN, {"input": {"region": "KG-Y"}}, role="regional_coordinator",
                    region="KG-C")
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_auto_deploy_proposes_then_applies_and_explains_the_rest(world, gateway,
                                                                 deployment_db):
    world.observer("o-c1-a", district="C-01", organization="org")
    world.observer("o-c1-b", district="C-01", organization="org")
    world.observer("o-c2", district="C-02")
    mutate(gateway, PLAN, {"region": "KG-C", "minimumObservers": 2,
                           "priorityStations": ["1101"]})
    coordinator = {"role": "regional_coordinator", "region": "KG-C"}
    proposed = mutate(gateway, AUTO_DEPLOY, {"region": "KG-C"}, **coordinator)
    deployment = proposed["deployment"]
    assert deployment["applied"] is False
    # The priority station first, each its first observer before any its second, from
    # its own district while one is left.
    assert [(p["stationCode"], p["observerId"], p["sameDistrict"])
            for p in deployment["proposals"]] == [
        ("1101", "o-c2", True), ("1001", "o-c1-a", True), ("1101", "o-c1-b", False)]
    assert [(u["stationCode"], u["missing"], u["code"]) for u in deployment["unfilled"]] == [
        ("1001", 1, "NO_OBSERVERS_LEFT")]
    assert mutate(gateway, AUTO_DEPLOY, {"region": "KG-C"}, **coordinator) == proposed
    assert deployment_db["events"].count_documents({"type": "ObserverAssigned"}) == 0

    applied = mutate(gateway, AUTO_DEPLOY, {"region": "KG-C", "apply": True},
                     **coordinator)["deployment"]
    assert applied["applied"] and all(p["assigned"] for p in applied["proposals"]), json.dumps(applied)
    assert deployment_db["events"].count_documents({"type": "ObserverAssigned"}) == 3
    assert eventually(lambda: gateway(COVERAGE, {"region": "KG-C"})["data"]["coverage"][
        "covered"] == 2)
    # Once assigned, they are not proposed again.
    assert eventually(lambda: mutate(gateway, AUTO_DEPLOY, {"region": "KG-C"})[
        "deployment"]["proposedCount"] == 0)


def test_uncovered_stations_page_by_page(world, gateway):
    world.observer("o-1")
    mutate(gateway, PLAN, {"region": "KG-C", "priorityStations": ["1001"]})
    page = gateway(UNCOVERED, {"region": "KG-C", "first": 1})["data"]["uncoveredStations"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    assert [e["node"]["code"] for e in page["edges"]] == ["1001"]
    rest = gateway(UNCOVERED, {"region": "KG-C", "after": page["pageInfo"]["endCursor"]})
    assert [e["node"]["code"] for e in rest["data"]["uncoveredStations"]["edges"]] == [
        "1101"]
    assert eventually(lambda: gateway(UNCOVERED, {"region": "KG-C", "priorityOnly": True})[
        "data"]["uncoveredStations"]["totalCount"] == 1)
    assign(gateway, "o-1")

    def priority():
        view = gateway(COVERAGE, {"region": "KG-C"})["data"]["coverage"]
        return view["priorityStations"], view["priorityUncovered"]
    assert eventually(lambda: priority() == (1, 0))
    assert gateway(UNCOVERED, {"region": "KG-C", "priorityOnly": True})["data"][
        "uncoveredStations"]["totalCount"] == 0
    elsewhere = gateway(UNCOVERED, {"region": "KG-C"}, role="regional_coordinator",
                        region="KG-Y")
    assert elsewhere["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_election_morning(world, gateway, service_config, deployment_db):
    for observer_id in ("o-1", "o-2", "o-3", "o-reserve"):
        world.observer(observer_id)
    world.observer("o-far", district="C-02")
    assign(gateway, "o-1")
    assign(gateway, "o-2", station="1101")
    assign(gateway, "o-3", station="1101", shift="AFTERNOON")

    arrived = mutate(gateway, CHECK_IN, {"stationCode": "1001"}, role="observer",
                     observer="o-1")
    assert arrived["checkIn"]["assigned"] and arrived["checkIn"]["flag"] is None
    stray = mutate(gateway, CHECK_IN, {"stationCode": "1001", "observerId": "o-2"},
                   role="hotline_operator")
    assert (stray["checkIn"]["assigned"], stray["checkIn"]["flag"]) == (
        False, "NOT_ASSIGNED_HERE")
    assert codes(mutate(gateway, CHECK_IN, {"stationCode": "9", "observerId": "o-2"})) == [
        "UNKNOWN_STATION"]
    someone_else = gateway(CHECK_IN, {"input": {"stationCode": "1001",
                                                "observerId": "o-3"}},
                           role="observer", observer="o-1")
    assert someone_else["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    deadline = datetime.now(timezone.utc) - timedelta(minutes=1)
    mutate(gateway, ELECTION, {"checkInDeadline": deadline.isoformat()})
    # Who is awaited comes from a read model; the deadline passes long after in life.
    assert eventually(lambda: projections_caught_up(deployment_db))
    with ServiceRpcProxy("deployment", service_config) as rpc:
        assert rpc.detect_no_shows() == 1  # o-2 at 1101; o-3 comes in the afternoon
        assert rpc.detect_no_shows() == 0

    def coverage():
        return gateway(COVERAGE, {"region": "KG-C"})["data"]["coverage"]
    assert eventually(lambda: coverage()["noShows"] == 1)
    view = coverage()
    assert (view["checkedIn"], view["unassignedCheckIns"]) == (1, 1)
    assert {p["scope"]: (p["checkedIn"], p["noShows"]) for p in view["parts"]} == {
        "C-01": (1, 0), "C-02": (0, 1)}
    assert eventually(lambda: {(a["observerId"], a["noShow"]) for a in gateway(
        ASSIGNMENTS, {"station": "1101"})["data"]["assignments"]} == {
        ("o-2", True), ("o-3", False)})
    assert gateway(ASSIGNMENTS, {"station": "1001"})["data"]["checkIns"] == [
        {"observerId": "o-1", "assigned": True, "flag": None},
        {"observerId": "o-2", "assigned": False, "flag": "NOT_ASSIGNED_HERE"}]
    # The reserve: free certified observers of the station's district.
    assert gateway(REPLACEMENTS, {"station": "1101"})["data"][
        "replacementProposals"] == [{"observerId": "o-far", "district": "C-02"}]
    assert gateway(REPLACEMENTS, {"station": "1001"})["data"][
        "replacementProposals"] == [{"observerId": "o-reserve", "district": "C-01"}]


def test_who_sees_which_assignments(world, gateway):
    world.observer("o-1")
    assign(gateway, "o-1")
    eventually(lambda: gateway(OBSERVER_ASSIGNMENTS, {"observer": "o-1"})["data"][
        "observerAssignments"])
    own = gateway(OBSERVER_ASSIGNMENTS, {"observer": "o-1"}, role="observer",
                  observer="o-1")["data"]["observerAssignments"]
    assert own == [{"stationCode": "1001", "active": True}]
    assert gateway(OBSERVER_ASSIGNMENTS, {"observer": "o-1"}, role="observer",
                   observer="o-2")["data"]["observerAssignments"] == []
    assert gateway(OBSERVER_ASSIGNMENTS, {"observer": "o-1"}, role="regional_coordinator",
                   region="KG-Y")["data"]["observerAssignments"] == []
    assert gateway(ASSIGNMENTS, {"station": "1001"}, role="regional_coordinator",
                   region="KG-Y")["data"]["assignments"] == []
    assert gateway(COVERAGE, {"region": "KG-C"}, role="regional_coordinator",
                   region="KG-Y")["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_the_read_models_rebuild_from_the_log(world, gateway, deployment_db):
    from shared.rebuild import main as rebuild
    world.observer("o-1")
    assign(gateway, "o-1")
    mutate(gateway, CHECK_IN, {"stationCode": "1001", "observerId": "o-1"})
    assert eventually(lambda: gateway(COVERAGE)["data"]["coverage"]["checkedIn"] == 1)
    before = gateway(COVERAGE, {"region": "KG-C"}), gateway(ASSIGNMENTS, {"station": "1001"})
    deployment_db["covered_stations"].delete_many({})  # a lost read model
    observers = list(deployment_db["observers"].find())
    rebuild(["deployment"])
    assert (gateway(COVERAGE, {"region": "KG-C"}),
            gateway(ASSIGNMENTS, {"station": "1001"})) == before
    # What the registry and training told deployment is not in its log: left as it was.
    assert list(deployment_db["observers"].find()) == observers
