"""Incident, turnout and protocol forms submitted like any checklist (the SMS and
partner channels): each feeds the same incident, turnout record or results as the
GraphQL mutations do, with the same flags and checks."""
from tests.service.conftest import eventually, projections_caught_up
from tests.service.test_reporting import assign, field  # noqa: F401 a fixture

CHOICE = "single_choice"
INCIDENT_FORM = {
    "name": "Incident report", "kind": "incident", "sms_prefix": "IN",
    "groups": [{"name": "What", "questions": [
        {"tag": "C", "text": "Category", "type": CHOICE, "options": [
            {"code": 1, "label": "ballot stuffing", "value": "ballot_stuffing"},
            {"code": 2, "label": "vote buying", "value": "vote_buying"}]},
        {"tag": "S", "text": "Severity", "type": CHOICE, "options": [
            {"code": 1, "label": "low", "value": "low"},
            {"code": 3, "label": "high", "value": "high"}]},
        {"tag": "D", "text": "What happened", "type": "text"}]}],
    "roles": {"category": "C", "severity": "S", "description": "D"}}
TURNOUT_FORM = {
    "name": "Turnout", "kind": "turnout", "sms_prefix": "TU",
    "groups": [{"name": "Turnout", "questions": [
        {"tag": "T", "text": "Checkpoint", "type": CHOICE, "options": [
            {"code": 1, "label": "10:00", "value": "10:00"},
            {"code": 2, "label": "12:00", "value": "12:00"},
            {"code": 9, "label": "15:00", "value": "15:00"}]},
        {"tag": "V", "text": "Voters so far", "type": "integer"}]}],
    "roles": {"checkpoint": "T", "voters": "V"}}
PROTOCOL_FORM = {
    "name": "Protocol", "kind": "protocol", "sms_prefix": "PR",
    "groups": [{"name": "Results", "questions": [
        {"tag": "I", "text": "Ballots issued", "type": "integer"},
        {"tag": "B", "text": "Ballots in boxes", "type": "integer"},
        {"tag": "X", "text": "Invalid ballots", "type": "integer"},
        {"tag": "PA", "text": "Party A", "type": "integer"},
        {"tag": "PB", "text": "Party B", "type": "integer"}]}],
    "roles": {"ballots_issued": "I", "ballots_in_boxes": "B", "invalid_ballots": "X",
              "votes": [{"tag": "PA", "candidate": "A"}, {"tag": "PB", "candidate": "B"}]}}


def sms(prefix, answers, observer_id="o-1", **extra):
    # An incident form's prefix is sent with "!".
    return {"observer_id": observer_id, "sms_prefix": prefix, "channel": "sms",
            "answers": answers, "incident": prefix == "IN", **extra}


def published(reporting, form):
    reply = reporting.publish_form(form)
    assert reply["ok"], reply
    return reply["data"]


def test_a_form_that_misnames_its_roles_is_refused(reporting):
    bad = {**TURNOUT_FORM, "roles": {"checkpoint": "V", "voters": "T"}}
    errors = reporting.publish_form(bad)["errors"]
    assert {(e["code"], e["field"]) for e in errors} == {
        ("INVALID_ROLE", "roles.checkpoint"), ("INVALID_ROLE", "roles.voters")}
    no_value = {**INCIDENT_FORM, "groups": [{"name": "g", "questions": [
        {"tag": "C", "text": "c", "type": CHOICE, "options": [{"code": 1, "label": "x"}]}]}],
        "roles": {"category": "C"}}
    [error] = reporting.publish_form(no_value)["errors"]
    assert error["field"] == "roles.category" and "ballot_stuffing" in error["message"]
    assert reporting.publish_form({**PROTOCOL_FORM, "roles": None})["errors"][0][
        "code"] == "INVALID_ROLE"


def test_an_incident_form_reports_an_incident_once(reporting, field):
    form = published(reporting, INCIDENT_FORM)
    reply = reporting.submit_report(sms("IN", {"C": "2", "S": "3", "D": "cash for votes"},
                                        incident=True, serial="1"))
    assert reply["ok"], reply
    data = reply["data"]
    assert (data["kind"], data["status"], data["changed"]) == ("incident", "accepted",
                                                               True)
    assert eventually(lambda: len(reporting.incidents({"region": "KG-C"})) == 1)
    [incident] = reporting.incidents({"region": "KG-C"})
    assert {k: incident[k] for k in ("category", "severity", "description", "channel",
                                     "station_code", "status", "verified")} == {
        "category": "vote_buying", "severity": "high", "description": "cash for votes",
        "channel": "sms", "station_code": "1001", "status": "reported", "verified": True}
    # The same SMS again makes no second incident; another serial is another one.
    again = reporting.submit_reports([sms("IN", {"C": "2", "S": "3", "D": "cash for votes"},
                                          serial="1"),
                                      sms("IN", {"C": "1"}, serial="2")])
    assert [r["data"]["changed"] for r in again] == [False, True]
    assert again[1]["data"]["status"] == "accepted"
    assert eventually(lambda: len(reporting.incidents({"region": "KG-C"})) == 2)
    assert {i["severity"] for i in reporting.incidents({"category": "ballot_stuffing"})} \
        == {"medium"}
    assert reporting.region_stats("KG-C")["incidents"] == [
        {"category": "ballot_stuffing", "severity": "medium", "count": 1},
        {"category": "vote_buying", "severity": "high", "count": 1}]
    # Without a category there is no incident: the reply names the question.
    partial = reporting.submit_report(sms("IN", {"S": "1"}, serial="3"))["data"]
    assert (partial["status"], partial["missing"]) == ("partial", ["C"])
    assert len(reporting.incidents({})) == 2
    assert form["roles"]["category"] == "C"


def test_a_turnout_form_feeds_the_turnout_record_with_its_flags(reporting, field,
                                                                reporting_db):
    published(reporting, TURNOUT_FORM)
    first = reporting.submit_report(sms("TU", {"T": "1", "V": "100"}))["data"]
    assert (first["kind"], first["status"], first["flags"]) == ("turnout", "accepted", [])
    high = reporting.submit_report(sms("TU", {"T": "2", "V": "950"}))["data"]
    assert high["flags"] == ["suspicious:above_90_percent"]
    lower = reporting.submit_report(sms("TU", {"T": "2", "V": "50"}))["data"]
    assert lower["flags"] == ["impossible:decreasing_from_10:00"]
    # 15:00 is an option of the form but no checkpoint of the day's plan.
    assert reporting.set_turnout_checkpoints({"checkpoints": ["10:00", "12:00"]})["ok"]
    unknown = reporting.submit_report(sms("TU", {"T": "9", "V": "60"}))["data"]
    assert unknown["status"] == "invalid_values"
    assert unknown["invalid"][0]["tag"] == "T" and "15:00" in unknown["invalid"][0][
        "reason"]
    # The same figures as submit_turnout: the unverified sender is kept out of the curve.
    unverified = reporting.submit_report(sms("TU", {"T": "1", "V": "100"},
                                             observer_id="o-2", station_code="1002",
                                             sender_verified=False))["data"]
    assert unverified["verified"] is False and "not_assigned" in unverified["flags"]
    # 10:00's figure is right from the first event on: wait for the whole log.
    assert eventually(lambda: projections_caught_up(reporting_db))
    assert {p["checkpoint"]: (p["voters"], p["stations"])
            for p in reporting.turnout("KG-C")}["10:00"] == (100, 1)
    assert reporting_db["turnout"].find_one({"_id": "1001"})["checkpoints"]["12:00"][
        "voters"] == 50


def test_a_protocol_form_feeds_the_results_and_a_broken_one_is_kept_out(reporting, field,
                                                                         amqp_uri,
                                                                         reporting_db):
    published(reporting, PROTOCOL_FORM)
    assign(amqp_uri, "o-3", "1002")
    assert eventually(lambda: reporting_db["assignments"].count_documents({}) == 3)
    sound, broken = reporting.submit_reports([
        sms("PR", {"I": "500", "B": "410", "X": "10", "PA": "300", "PB": "100"}),
        sms("PR", {"I": "500", "B": "450", "X": "0", "PA": "100", "PB": "100"},
            observer_id="o-3")])
    assert sound["data"]["flags"] == [] and sound["data"]["kind"] == "protocol"
    assert broken["data"]["flags"] == [
        "control_relation_broken:votes_plus_invalid_equal_ballots_in_boxes"]
    assert eventually(lambda: reporting.results("KG-C")["stations"] == 1)
    assert (reporting.results("KG-C")["votes"], reporting.results("KG-C")["flagged"]) == (
        {"A": 300, "B": 100}, 1)
    # Through submit_protocol the same station's protocol is the same aggregate.
    again = reporting.submit_protocol({"observer_id": "o-1", "votes": {"A": 300, "B": 100},
                                       "ballots_issued": 500, "ballots_in_boxes": 410,
                                       "invalid_ballots": 10})
    assert again["ok"] and reporting_db["events"].count_documents(
        {"type": "ProtocolSubmitted"}) == 2
