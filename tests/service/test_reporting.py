"""Reporting on the real broker and mongod: forms published as data, submissions from
every channel into observer copies, what reporting learns from the registry's and
deployment's events."""
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from services.reporting.service import ReportingService
from shared import config
from shared.mongo import connect
from tests.service.conftest import eventually
from tests.service.deployment_world import announce

OPENING = {
    "name": "Opening", "kind": "checklist", "phase": "opening", "sms_prefix": "OP",
    "groups": [{"name": "Station", "questions": [
        {"tag": "AA", "text": "Station open on time?", "type": "yes_no", "required": True},
        {"tag": "AB", "text": "Ballots received", "type": "integer", "required": True,
         "range": {"min": 0, "max": 5000}},
        {"tag": "AC", "text": "Ballots issued", "type": "integer",
         "range": {"min": 0, "max": 5000}},
        {"tag": "AD", "text": "Who is present", "type": "multiple_choice",
         "options": [{"code": 1, "label": "police"}, {"code": 3, "label": "party agents"},
                     {"code": 5, "label": "media"}]},
        {"tag": "AE", "text": "Seals", "type": "single_choice",
         "options": [{"code": 1, "label": "intact"}, {"code": 2, "label": "broken"}]},
        {"tag": "AF", "text": "Notes", "type": "text"}]}],
    "control_relations": [{"name": "issued within received", "left": ["AC"], "op": "<=",
                           "right": ["AB"]}]}
INCIDENT = {"name": "Incident", "kind": "incident", "sms_prefix": "OP",
            "groups": [{"name": "What", "questions": [
                {"tag": "C", "text": "Category", "type": "single_choice", "required": True,
                 "options": [{"code": 1, "label": "ballot stuffing"},
                             {"code": 9, "label": "other"}]}]}]}


@pytest.fixture
def reporting(container_factory, service_config):
    container = container_factory(ReportingService, service_config)
    container.start()
    with ServiceRpcProxy("reporting", service_config) as rpc:
        yield rpc


@pytest.fixture
def reporting_db(platform_env, mongo_uri):
    client = connect(mongo_uri)
    yield client[config.database_name("reporting")]
    client.close()


def station(amqp_uri, code, region="KG-C", district="C-01", voters=1000):
    announce(amqp_uri, "registry", "PollingStationRegistered", {
        "code": code, "number": int(code), "names": {"ru": code}, "address": "-",
        "district": district, "region": region, "registered_voters": voters})


def observer(amqp_uri, observer_id, region="KG-C", district="C-01"):
    announce(amqp_uri, "registry", "ObserverRegistered", {
        "observer_id": observer_id, "full_name": "Test Observer", "phones": [],
        "region": region, "locale": "ru", "district": district})


def assign(amqp_uri, observer_id, code, assignment_id=None, region="KG-C",
           district="C-01"):
    assignment_id = assignment_id or f"a-{observer_id}-{code}"
    announce(amqp_uri, "deployment", "ObserverAssigned", {
        "assignment_id": assignment_id, "observer_id": observer_id, "station_code": code,
        "region": region, "district": district, "role": "in_station",
        "shift": "full_day"})
    return assignment_id


@pytest.fixture
def field(reporting, reporting_db, amqp_uri):
    """Stations 1001, 1002 (KG-C, C-01), 2001 (KG-Y, Y-01); observer o-1 assigned to
    1001, o-2 to 1001, o-3 known but unassigned; forms OP and OP! published."""
    station(amqp_uri, "1001")
    station(amqp_uri, "1002")
    station(amqp_uri, "2001", "KG-Y", "Y-01")
    for observer_id in ("o-1", "o-2", "o-3"):
        observer(amqp_uri, observer_id)
    assign(amqp_uri, "o-1", "1001")
    assign(amqp_uri, "o-2", "1001")
    assert eventually(lambda: reporting_db["assignments"].count_documents({}) == 2 and
                      reporting_db["observers"].count_documents({}) == 3 and
                      reporting_db["stations"].count_documents({}) == 3)
    opening = reporting.publish_form(OPENING)
    assert opening["ok"], opening
    incident = reporting.publish_form(INCIDENT)
    assert incident["ok"], incident
    return {"opening": opening["data"], "incident": incident["data"]}


def submit(rpc, answers, observer_id="o-1", **extra):
    command = {"observer_id": observer_id, "sms_prefix": "OP", "channel": "sms",
               "answers": answers, **extra}
    if "form_id" in extra:
        command.pop("sms_prefix")
    return rpc.submit_report(command)


def test_a_published_form_is_versioned_and_found_by_its_prefix(reporting, field,
                                                               reporting_db):
    form = field["opening"]
    assert (form["version"], form["kind"], form["phase"]) == (1, "checklist", "opening")
    again = reporting.publish_form({**OPENING, "form_id": form["form_id"],
                                    "name": "Opening v2"})
    assert again["ok"] and again["data"]["version"] == 2
    found = reporting.form_by_prefix("OP", False)
    assert (found["form_id"], found["name"], found["kind"]) == (
        form["form_id"], "Opening v2", "checklist")
    assert [q["tag"] for q in found["questions"]] == ["AA", "AB", "AC", "AD", "AE", "AF"]
    assert found["questions"][1]["range"] == {"min": 0, "max": 5000}
    assert reporting.form_by_prefix("OP", True)["kind"] == "incident"
    assert reporting.form_by_prefix("ZZ", False) is None
    taken = reporting.publish_form({**OPENING, "name": "Another"})
    assert [e["code"] for e in taken["errors"]] == ["SMS_PREFIX_TAKEN"]
    assert eventually(lambda: {f["name"] for f in reporting.forms()} == {
        "Opening v2", "Incident"})


def test_a_bad_form_is_refused_naming_the_question(reporting):
    bad = {**OPENING, "sms_prefix": "BD", "groups": [{"name": "G", "questions": [
        {"tag": "AA", "text": "x", "type": "single_choice"},
        {"tag": "AA", "text": "y", "type": "text"}]}],
        "control_relations": [{"name": "r", "left": ["AA"], "op": "<=", "right": ["ZZ"]}]}
    reply = reporting.publish_form(bad)
    assert not reply["ok"]
    assert {e["code"] for e in reply["errors"]} == {
        "DUPLICATE_TAG", "OPTIONS_REQUIRED", "INVALID_RELATION"}
    reply = reporting.publish_form({**OPENING, "sms_prefix": "op1"})
    assert [e["field"] for e in reply["errors"]] == ["sms_prefix"]


def test_an_sms_submission_is_read_by_question_type(reporting, field, reporting_db):
    reply = submit(reporting, {"AA": "1", "AB": "900", "AC": "12", "AD": "135",
                               "AE": "2", "AF": "all calm"}, received_at=None)
    assert reply["ok"], reply
    data = reply["data"]
    assert (data["status"], data["kind"], data["form_name"], data["verified"],
            data["changed"], data["flags"]) == (
        "accepted", "checklist", "Opening", True, True, [])
    assert data["accepted"] == ["AA", "AB", "AC", "AD", "AE", "AF"]
    [event] = reporting_db["events"].find({"type": "ReportSubmitted"})
    assert event["data"]["answers"] == {"AA": 1, "AB": 900, "AC": 12, "AD": [1, 3, 5],
                                        "AE": 2, "AF": "all calm"}
    assert (event["data"]["station_code"], event["data"]["region"],
            event["data"]["district"], event["data"]["channel"]) == (
        "1001", "KG-C", "C-01", "sms")

    same = submit(reporting, {"AA": "1", "AB": "900"})
    assert same["data"]["changed"] is False
    assert same["data"]["submission_id"] == data["submission_id"]
    changed = submit(reporting, {"AA": 0, "AB": 900}, channel="graphql")
    assert changed["data"]["changed"] is True
    events = list(reporting_db["events"].find({"type": "ReportSubmitted"}).sort(
        "position", 1))
    assert len(events) == 2 and events[1]["data"]["changes"] == {"AA": 0}


def test_a_partly_valid_submission_keeps_what_is_valid(reporting, field, reporting_db):
    reply = submit(reporting, {"AB": "9000", "AC": "5", "ZZ": "1", "AE": "7"})["data"]
    assert reply["status"] == "unknown_codes"
    assert (reply["accepted"], reply["missing"], reply["unknown"]) == (
        ["AC"], ["AA", "AB"], ["ZZ"])
    assert {i["tag"] for i in reply["invalid"]} == {"AB", "AE"}
    assert "outside 0-5000" in next(i["reason"] for i in reply["invalid"]
                                    if i["tag"] == "AB")
    partial = submit(reporting, {"AA": "1"}, observer_id="o-2")["data"]
    assert (partial["status"], partial["missing"]) == ("partial", ["AB"])
    broken = submit(reporting, {"AA": "1", "AB": "10", "AC": "20"}, observer_id="o-2")
    assert broken["data"]["flags"] == ["control_relation_broken:issued within received"]
    assert broken["data"]["status"] == "accepted"


def test_the_observers_station_comes_from_deployment(reporting, field, amqp_uri,
                                                     reporting_db):
    outside = submit(reporting, {"AA": "1"}, station_code="1002")["data"]
    assert outside["flags"] == ["not_assigned"] and outside["verified"] is False
    unverified = submit(reporting, {"AA": "1"}, observer_id="o-2",
                        sender_verified=False)["data"]
    assert unverified["verified"] is False and unverified["flags"] == []
    none = submit(reporting, {"AA": "1"}, observer_id="o-3")
    assert [(e["code"], e["field"]) for e in none["errors"]] == [
        ("NO_STATION", "station_code")]
    assign(amqp_uri, "o-3", "1002")
    assert eventually(lambda: submit(reporting, {"AA": "1"}, observer_id="o-3")["ok"])
    announce(amqp_uri, "deployment", "AssignmentWithdrawn", {
        "assignment_id": "a-o-3-1002", "observer_id": "o-3", "station_code": "1002",
        "reason": "moved"})
    assert eventually(lambda: not submit(reporting, {"AB": "1"}, observer_id="o-3")["ok"])

    incident = submit(reporting, {"C": "1"}, incident=True)["data"]
    assert (incident["kind"], incident["status"]) == ("incident", "accepted")


def test_unknown_things_are_refused_with_their_codes(reporting, field):
    def codes(reply):
        return [e["code"] for e in reply["errors"]]
    assert codes(submit(reporting, {"AA": 1}, observer_id="nobody")) == [
        "UNKNOWN_OBSERVER"]
    assert codes(submit(reporting, {"AA": 1}, form_id="nope")) == ["UNKNOWN_FORM"]
    assert codes(submit(reporting, {"AA": 1}, sms_prefix="QQ")) == ["UNKNOWN_FORM"]
    assert codes(submit(reporting, {"AA": 1}, station_code="9999")) == ["VALIDATION"]
    assert codes(submit(reporting, {"AA": 1}, channel="fax")) == ["VALIDATION"]
    both = reporting.submit_report({"observer_id": "o-1", "form_id": "x",
                                    "sms_prefix": "OP", "channel": "sms", "answers": {}})
    assert [(e["code"], e["field"]) for e in both["errors"]] == [("VALIDATION", "form_id")]
