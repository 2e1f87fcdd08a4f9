"""Election day through GraphQL: a coordinator publishes forms, observers report,
coordinators see conflicts, flags and statistics, each within their scope."""
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.service.conftest import eventually
from tests.service.test_reporting import OPENING, assign, observer, station

PUBLISH = """mutation($input: PublishFormInput!) { publishForm(input: $input) {
  form { id version smsPrefix groups { questions { tag type range { min max } } } }
  errors { code field message } } }"""
CHECKLIST = """mutation($input: SubmitChecklistInput!) { submitChecklist(input: $input) {
  submission { status accepted missing unknown invalid { tag reason } flags verified
               changed } errors { code field message } } }"""
INCIDENT = """mutation($input: ReportIncidentInput!) { reportIncident(input: $input) {
  incident { id status stationCode region } errors { code message } } }"""
VERIFY = """mutation($input: VerifyIncidentInput!) { verifyIncident(input: $input) {
  incident { id status } errors { code message } } }"""
TURNOUT = """mutation($input: SubmitTurnoutInput!) { submitTurnout(input: $input) {
  turnout { stationCode flags } errors { code message } } }"""
PROTOCOL = """mutation($input: SubmitProtocolInput!) { submitProtocol(input: $input) {
  protocol { counted flags } errors { code message } } }"""
OVERRIDE = """mutation($input: OverrideMasterValueInput!) { overrideMasterValue(
  input: $input) { masterCopy { status conflicts master } errors { code message } } }"""
STATION = """query($station: String!) { stationReport(station: $station) {
  formId status conflicts master copies { observerId answers verified } } }"""
STATS = """query($region: String) { regionStats(region: $region) { region stations
  forms { formId complete partial conflict missing }
  incidents { category severity count } } }"""
RESULTS = """query($region: String) { results(region: $region) { stations flagged
  votes { candidate votes } pvt { stations } } }"""


@pytest.fixture
def day(gateway, reporting_db, amqp_uri):  # noqa: F811
    station(amqp_uri, "1001")
    station(amqp_uri, "2001", "KG-Y", "Y-01")
    for observer_id in ("o-1", "o-2"):
        observer(amqp_uri, observer_id)
        assign(amqp_uri, observer_id, "1001")
    assert eventually(lambda: reporting_db["assignments"].count_documents({}) == 2 and
                      reporting_db["stations"].count_documents({}) == 2 and
                      reporting_db["observers"].count_documents({}) == 2)
    return gateway


def data(reply, field):
    assert "errors" not in reply, reply
    return reply["data"][field]


OPENING_INPUT = {
    "name": OPENING["name"], "phase": OPENING["phase"], "smsPrefix": "OP",
    "controlRelations": OPENING["control_relations"], "kind": "CHECKLIST", "groups": [
        {"name": g["name"], "questions": [{**q, "type": q["type"].upper()}
                                          for q in g["questions"]]}
        for g in OPENING["groups"]]}


def test_election_day_through_graphql(day):
    gql = day
    form_input = OPENING_INPUT
    refused = gql(PUBLISH, {"input": form_input}, role="regional_coordinator",
                  region="KG-C")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused
    form = data(gql(PUBLISH, {"input": form_input}), "publishForm")
    assert form["errors"] == [] and form["form"]["version"] == 1
    form_id = form["form"]["id"]
    turnout_form = data(gql(PUBLISH, {"input": {
        "name": "Turnout", "kind": "TURNOUT", "smsPrefix": "TU", "groups": [
            {"name": "t", "questions": [
                {"tag": "T", "text": "checkpoint", "type": "SINGLE_CHOICE", "options": [
                    {"code": 1, "label": "at ten", "value": "10:00"}]},
                {"tag": "V", "text": "voters", "type": "INTEGER"}]}],
        "roles": {"checkpoint": "T", "voters": "V"}}}), "publishForm")
    assert turnout_form["errors"] == [] and turnout_form["form"]["smsPrefix"] == "TU"

    def checklist(observer_id, answers, **extra):
        return gql(CHECKLIST, {"input": {"formId": form_id, "answers": json.dumps(answers),
                                         **extra}}, role="observer", observer=observer_id)
    first = data(checklist("o-1", {"AA": 1, "AB": 900, "AC": 10}), "submitChecklist")
    assert first["submission"]["status"] == "accepted" and first["submission"]["verified"]
    bad = data(checklist("o-2", {"AA": 1, "AB": 9999, "QQ": 1}), "submitChecklist")
    assert (bad["submission"]["status"], bad["submission"]["unknown"],
            bad["submission"]["invalid"][0]["tag"], bad["submission"]["accepted"]) == (
        "unknown_codes", ["QQ"], "AB", ["AA"])
    data(checklist("o-2", {"AB": 800}), "submitChecklist")
    other = checklist("o-2", {"AA": 1}, observerId="o-1")
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    assert eventually(lambda: [r["conflicts"] for r in data(
        gql(STATION, {"station": "1001"}), "stationReport")] == [["AB"]])
    [report] = data(gql(STATION, {"station": "1001"}), "stationReport")
    assert report["status"] == "conflict" and len(report["copies"]) == 2
    outside = gql(STATION, {"station": "1001"}, role="regional_coordinator", region="KG-Y")
    assert outside["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    resolved = data(gql(OVERRIDE, {"input": {
        "formId": form_id, "stationCode": "1001", "tag": "AB", "value": "900",
        "reason": "the protocol's photo says 900"}}, role="regional_coordinator",
        region="KG-C"), "overrideMasterValue")
    assert resolved["masterCopy"]["status"] == "complete"

    incident = data(gql(INCIDENT, {"input": {
        "category": "vote_buying", "severity": "HIGH".lower(), "description": "cash",
        "occurredAt": "2026-03-01T10:00:00+06:00"}}, role="observer", observer="o-1"),
        "reportIncident")["incident"]
    assert (incident["status"], incident["stationCode"]) == ("reported", "1001")
    verify = {"input": {"incidentId": incident["id"], "status": "VERIFIED",
                        "reason": "video"}}
    hidden = data(gql(VERIFY, verify, role="regional_coordinator", region="KG-Y"),
                  "verifyIncident")
    assert hidden["errors"][0]["code"] == "UNKNOWN_INCIDENT"
    assert data(gql(VERIFY, verify), "verifyIncident")["incident"]["status"] == "verified"

    turnout = data(gql(TURNOUT, {"input": {"checkpoint": "10:00", "voters": 950}},
                       role="observer", observer="o-1"), "submitTurnout")
    assert turnout["turnout"]["flags"] == ["suspicious:above_90_percent"]
    protocol = data(gql(PROTOCOL, {"input": {
        "votes": [{"candidate": "A", "votes": 300}, {"candidate": "B", "votes": 200}],
        "ballotsIssued": 600, "ballotsInBoxes": 450, "invalidBallots": 10}},
        role="observer", observer="o-2"), "submitProtocol")["protocol"]
    assert protocol["counted"] is False and protocol["flags"]

    def stats():
        return data(gql(STATS, {"region": "KG-C"}, role="regional_coordinator",
                        region="KG-C"), "regionStats")
    assert eventually(lambda: stats()["incidents"] == [
        {"category": "vote_buying", "severity": "high", "count": 1}])
    figures = stats()
    assert figures["stations"] == 1
    assert figures["forms"] == [{"formId": form_id, "complete": 1, "partial": 0,
                                 "conflict": 0, "missing": 0}]
    assert gql(STATS, {"region": "KG-Y"}, role="regional_coordinator", region="KG-C")[
        "errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert eventually(lambda: data(gql(RESULTS, {"region": "KG-C"}), "results")[
        "flagged"] == 1)
    results = data(gql(RESULTS, {"region": "KG-C"}), "results")
    assert (results["stations"], results["votes"], results["pvt"]) == (0, [], None)


def test_checklists_sent_at_once_reach_reporting_each_as_its_observer(day, reporting_db):
    """The gateway hands concurrent checklists to reporting in rounds: each keeps its
    observer as the actor, and its client key is scoped to that observer."""
    gql = day
    form_id = data(gql(PUBLISH, {"input": OPENING_INPUT}), "publishForm")["form"]["id"]

    def checklist(observer_id):
        return gql(CHECKLIST, {"input": {
            "formId": form_id, "answers": json.dumps({"AA": 1, "AB": 900, "AC": 10}),
            "clientMutationId": "the-same-key"}},
            role="observer", observer=observer_id, subject=f"observer:{observer_id}")

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(checklist, ["o-1", "o-2"] * 4))
    assert [data(r, "submitChecklist")["submission"]["status"] for r in replies] == [
        "accepted"] * 8
    # Two observers, one key: two submissions; each one's resends: none.
    submitted = reporting_db["events"].find({"type": "ReportSubmitted"})
    assert sorted((e["data"]["observer_id"], e["metadata"]["actor"],
                   e["metadata"]["channel"]) for e in submitted) == [
        ("o-1", "observer:o-1", "graphql"), ("o-2", "observer:o-2", "graphql")]


def test_turnout_sent_at_once_reaches_reporting_each_as_its_observer(day, reporting_db):
    """Concurrent turnout figures go to reporting in rounds too: figures for one
    station in one round are each recorded, by their own observer, once per key; a
    refused one is answered with its code."""
    gql = day

    def turnout(observer_id, checkpoint, voters, key="the-same-key"):
        return gql(TURNOUT, {"input": {"checkpoint": checkpoint, "voters": voters,
                                       "clientMutationId": key}},
                   role="observer", observer=observer_id, subject=f"observer:{observer_id}")

    sent = [("o-1", "10:00", 100), ("o-2", "12:00", 200)] * 4 + [
        ("o-1", "13:37", 5, "another-key")]
    with ThreadPoolExecutor(9) as pool:
        replies = list(pool.map(lambda args: turnout(*args), sent))
    assert [data(r, "submitTurnout")["turnout"]["stationCode"] for r in replies[:8]] == [
        "1001"] * 8
    assert [e["code"] for e in data(replies[8], "submitTurnout")["errors"]] == [
        "UNKNOWN_CHECKPOINT"]
    reported = reporting_db["events"].find({"type": "TurnoutReported"})
    assert sorted((e["data"]["observer_id"], e["data"]["checkpoint"],
                   e["metadata"]["actor"], e["metadata"]["channel"]) for e in reported) == [
        ("o-1", "10:00", "observer:o-1", "graphql"),
        ("o-2", "12:00", "observer:o-2", "graphql")]
