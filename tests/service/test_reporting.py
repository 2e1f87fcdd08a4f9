"""Reporting on the real broker and mongod: forms published as data, submissions from
every channel into observer copies, what reporting learns from the registry's and
deployment's events."""
import eventlet
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from services.reporting.projections import Forms, Incidents, Reports, Results, Turnouts
from shared.eventstore import EventStore
from shared.projections import ProjectionRunner
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
                 "options": [{"code": 1, "label": "ballot stuffing",
                              "value": "ballot_stuffing"},
                             {"code": 9, "label": "other", "value": "other"}]}]}],
            "roles": {"category": "C"}}


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
    assert reporting.form_by_prefix(None, False) is None
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


def test_observers_who_disagree_make_a_conflict_a_coordinator_resolves(
        reporting, field, reporting_db):
    form_id = field["opening"]["form_id"]
    submit(reporting, {"AA": "1", "AB": "900", "AC": "10"})
    submit(reporting, {"AA": "1", "AB": "800"}, observer_id="o-2")
    # An unverified sender's answers stay out of the master copy.
    submit(reporting, {"AA": "0", "AB": "1"}, observer_id="o-3", station_code="1001")

    def master():
        # None until the projection has the station's master copy.
        return next((r for r in reporting.station_report("1001")
                     if r["form_id"] == form_id), None)
    assert eventually(lambda: len((master() or {}).get("copies", [])) == 3)
    report = master()
    assert (report["master"], report["conflicts"], report["station_status"]) == (
        {"AA": 1, "AC": 10}, ["AB"], "conflict")
    stats = reporting.region_stats("KG-C")
    [opening] = [f for f in stats["forms"] if f["form_id"] == form_id]
    assert (stats["stations"], opening["conflict"], opening["complete"],
            opening["missing"]) == (2, 1, 0, 1)

    refused = reporting.override_master_value({"form_id": form_id, "station_code": "1001",
                                               "tag": "AB", "value": 99999,
                                               "reason": "protocol photo"})
    assert [e["code"] for e in refused["errors"]] == ["INVALID_VALUE"]
    resolved = reporting.override_master_value({"form_id": form_id, "station_code": "1001",
                                                "tag": "AB", "value": 900,
                                                "reason": "protocol photo"})
    assert resolved["ok"] and resolved["data"]["station_status"] == "complete"
    assert eventually(lambda: master()["station_status"] == "complete")
    assert master()["overrides"]["AB"]["reason"] == "protocol photo"
    [opening] = [f for f in reporting.region_stats("KG-C")["forms"]
                 if f["form_id"] == form_id]
    assert (opening["conflict"], opening["complete"], opening["missing"]) == (0, 1, 1)
    assert reporting.missing_reports("KG-C", form_id) == []
    assert [m["observer_id"] for m in reporting.missing_reports(
        "KG-C", field["incident"]["form_id"])] == ["o-1", "o-2"]


def test_an_incident_moves_through_its_workflow(reporting, field):
    reported = reporting.report_incident({
        "observer_id": "o-1", "category": "ballot_stuffing", "severity": "high",
        "description": "a man  put a stack of ballots in the box",
        "occurred_at": "2026-03-01T09:30:00+06:00", "evidence": "photo-17"})
    assert reported["ok"], reported
    incident = reported["data"]
    assert (incident["status"], incident["station_code"], incident["region"]) == (
        "reported", "1001", "KG-C")
    escalate = {"incident_id": incident["id"], "status": "escalated", "reason": "grave"}
    assert [e["code"] for e in reporting.move_incident(escalate)["errors"]] == [
        "INVALID_TRANSITION"]
    assert reporting.move_incident({**escalate, "status": "verified",
                                    "reason": "two witnesses"})["ok"]
    assert reporting.move_incident({**escalate, "within_region": "KG-Y"})["errors"][0][
        "code"] == "UNKNOWN_INCIDENT"
    assert reporting.move_incident(escalate)["data"]["status"] == "escalated"
    assert eventually(lambda: [i["status"] for i in reporting.incidents(
        {"region": "KG-C"})] == ["escalated"])
    [listed] = reporting.incidents({"region": "KG-C"})
    assert [h["status"] for h in listed["history"]] == ["verified", "escalated"]
    assert reporting.region_stats("KG-C")["incidents"] == [
        {"category": "ballot_stuffing", "severity": "high", "count": 1}]
    assert reporting.incidents({"region": "KG-Y"}) == []


def test_turnout_is_flagged_when_impossible_or_suspicious(reporting, field, amqp_uri,
                                                          reporting_db):
    def turnout(voters, checkpoint="10:00", observer_id="o-1", station="1001"):
        reply = reporting.submit_turnout({"observer_id": observer_id, "station_code": station,
                                          "checkpoint": checkpoint, "voters": voters})
        assert reply["ok"], reply
        return reply["data"]["flags"]
    assert reporting.set_turnout_checkpoints({"checkpoints": ["10:00", "12:00",
                                                              "close"]})["ok"]
    assert turnout(100) == []
    assert turnout(950, "12:00") == ["suspicious:above_90_percent"]
    assert turnout(1100, "close") == ["impossible:above_100_percent"]
    assert turnout(50, "12:00") == ["impossible:decreasing_from_10:00"]
    refused = reporting.submit_turnout({"observer_id": "o-1", "checkpoint": "15:00",
                                        "voters": 1})
    assert refused["errors"][0]["code"] == "UNKNOWN_CHECKPOINT"
    # A curve of known figures: 1001 counted 100 of 1000 at 10:00, 1002 adds 300.
    assign(amqp_uri, "o-3", "1002")
    assert eventually(lambda: reporting_db["assignments"].count_documents({}) == 3)
    turnout(300, observer_id="o-3", station="1002")
    assert eventually(lambda: {p["checkpoint"]: p["stations"] for p in reporting.turnout(
        "KG-C")}.get("10:00") == 2)
    curve = {p["checkpoint"]: p for p in reporting.turnout("KG-C")}
    assert curve["10:00"]["share"] == 0.2 and curve["close"]["stations"] == 0


def test_results_count_sound_protocols_and_estimate_the_sample(reporting, field,
                                                              amqp_uri, reporting_db):
    assign(amqp_uri, "o-3", "1002")
    station(amqp_uri, "1003")
    observer(amqp_uri, "o-4")
    assign(amqp_uri, "o-4", "1003")
    assert eventually(lambda: reporting_db["assignments"].count_documents({}) == 4)

    def protocol(observer_id, votes, invalid, boxes, issued=900):
        reply = reporting.submit_protocol({
            "observer_id": observer_id, "votes": votes, "invalid_ballots": invalid,
            "ballots_in_boxes": boxes, "ballots_issued": issued})
        assert reply["ok"], reply
        return reply["data"]
    assert protocol("o-1", {"A": 300, "B": 100}, 10, 410)["counted"] is True
    assert protocol("o-3", {"A": 100, "B": 100}, 0, 200)["counted"] is True
    broken = protocol("o-4", {"A": 100, "B": 100}, 0, 250)
    assert broken["flags"] == [
        "control_relation_broken:votes_plus_invalid_equal_ballots_in_boxes"]
    assert broken["counted"] is False

    assert reporting.define_sample({"station_codes": ["1001", "1002", "1003"],
                                    "population": 30})["ok"]
    # The broken protocol came last: wait until the projection has taken it too.
    assert eventually(lambda: reporting.results("KG-C")["flagged"] == 1)
    results = reporting.results("KG-C")
    assert (results["votes"], results["invalid_ballots"], results["flagged"]) == (
        {"A": 400, "B": 200}, 10, 1)
    # A corrected protocol replaces its earlier figures in the totals.
    protocol("o-3", {"A": 150, "B": 50}, 0, 200)
    assert eventually(lambda: reporting.results()["votes"] == {"A": 450, "B": 150})
    # Known answer: p = 450/600 = 0.75; residuals (300-300)^2 + (150-150)^2 = 0, so
    # the margin is 0 for two stations exactly on the ratio.
    pvt = reporting.results()["pvt"]
    assert pvt["stations"] == 2 and pvt["shares"]["A"]["share"] == 0.75
    assert pvt["shares"]["A"]["margin"] == 0


def test_a_burst_is_answered_submission_by_submission(reporting, field, reporting_db):
    replies = reporting.submit_reports([
        {"observer_id": "o-1", "sms_prefix": "OP", "channel": "sms", "answers": {"AA": "1"}},
        {"observer_id": "o-2", "sms_prefix": "OP", "channel": "sms", "answers": {"AA": "0"}},
        {"observer_id": "o-2", "sms_prefix": "XX", "channel": "sms", "answers": {}},
        {"observer_id": "o-2", "channel": "sms", "answers": {}}], ["k1", "k2", None, None])
    assert [r["ok"] for r in replies] == [True, True, False, False]
    assert replies[2]["errors"][0]["code"] == "UNKNOWN_FORM"
    assert replies[3]["errors"][0]["code"] == "VALIDATION"
    # Both observers of 1001 wrote to one station stream in one burst: both kept.
    assert reporting_db["events"].count_documents({"type": "ReportSubmitted"}) == 2
    assert reporting.submit_reports([{"observer_id": "o-1", "sms_prefix": "OP",
                                      "channel": "sms", "answers": {"AA": "0"}}],
                                    ["k1"])[0]["data"]["changed"] is True
    assert reporting_db["events"].count_documents({"type": "ReportSubmitted"}) == 2


def test_each_projection_rebuilt_from_the_log_equals_the_live_one(reporting, field,
                                                                  reporting_db, amqp_uri):
    submit(reporting, {"AA": "1", "AB": "900"})
    submit(reporting, {"AA": "0", "AB": "900"}, observer_id="o-2")
    reporting.override_master_value({"form_id": field["opening"]["form_id"],
                                     "station_code": "1001", "tag": "AA", "value": 1,
                                     "reason": "checked by phone"})
    incident = reporting.report_incident({
        "observer_id": "o-1", "category": "other", "severity": "low",
        "description": "queue outside", "occurred_at": "2026-03-01T08:00:00+06:00"})
    reporting.move_incident({"incident_id": incident["data"]["id"], "status": "rejected",
                             "reason": "not a violation"})
    reporting.submit_turnout({"observer_id": "o-1", "checkpoint": "10:00", "voters": 90})
    reporting.submit_turnout({"observer_id": "o-1", "checkpoint": "10:00", "voters": 95})
    for boxes in (300, 310):
        reporting.submit_protocol({"observer_id": "o-2", "votes": {"A": 200, "B": 100},
                                   "invalid_ballots": 10, "ballots_in_boxes": boxes,
                                   "ballots_issued": 400})
    # The station moves to KG-Y with what it reported, and reports there afterwards.
    announce(amqp_uri, "registry", "PollingStationChanged", {
        "code": "1001", "changes": {"region": "KG-Y", "district": "Y-01"},
        "previous": {"region": "KG-C", "district": "C-01"}}, version=2)
    assert eventually(lambda: reporting_db["events"].count_documents(
        {"type": "StationMoved"}) == 4)
    submit(reporting, {"AA": "1", "AB": "900"}, observer_id="o-2")
    reporting.submit_turnout({"observer_id": "o-1", "checkpoint": "12:00", "voters": 200})
    store = EventStore(reporting_db)
    last = store.last_position()
    for projection in (Forms, Reports, Incidents, Turnouts, Results):
        runner = ProjectionRunner(store, projection())
        assert eventually(lambda: runner.checkpoint == last)

        def contents():
            return {c: sorted(reporting_db[c].find(), key=lambda d: str(d["_id"]))
                    for c in projection.collections}
        live = contents()
        runner.rebuild()
        assert contents() == live, projection.name
    assert (reporting.results("KG-Y")["stations"], reporting.results("KG-C")["stations"]
            ) == (1, 0)
    store.close()


def test_single_submissions_sharing_a_round_keep_their_callers(field, reporting_db,
                                                               service_config):
    """Concurrent submit_report calls are decided in shared rounds (Coalesced): each
    event still names its own caller, and an idempotency key is its caller's alone."""
    def send(n):
        context = {"actor": f"caller-{n % 3}", "correlation_id": f"corr-{n}"}
        with ServiceRpcProxy("reporting", service_config, context_data=context) as rpc:
            return rpc.submit_report({"observer_id": ("o-1", "o-2")[n % 2],
                                      "sms_prefix": "OP", "channel": "sms",
                                      "answers": {"AA": "1", "AB": str(n)}},
                                     idempotency_key=f"key-{n % 3}")
    pool = eventlet.GreenPool()
    replies = list(pool.imap(send, range(6)))
    assert all(r["ok"] for r in replies), replies
    # Three callers, each with its own key-<n>: calls 3-5 repeat calls 0-2's.
    events = list(reporting_db["events"].find({"type": "ReportSubmitted"}))
    assert len(events) == 3
    for event in events:  # whichever of the two calls with its key came first
        n = event["data"]["answers"]["AB"]
        assert (event["metadata"]["actor"], event["metadata"]["correlation_id"]) == (
            f"caller-{n % 3}", f"corr-{n}")
    for n in range(3, 6):  # answered as the first call with its caller's key was
        assert replies[n]["data"]["submission_id"] == replies[n - 3]["data"][
            "submission_id"]
    assert sorted(d["_id"] for d in reporting_db["commands"].find()) == [
        "caller-0:key-0", "caller-1:key-1", "caller-2:key-2"]
