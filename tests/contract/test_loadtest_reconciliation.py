"""The load test's reconciliation against the real mongod: what counts as caught up,
lost and duplicated in reporting's read models (loadtests/platform_side.py)."""
import time

from loadtests import platform_side
from shared.eventstore import ANY, NewEvent


def test_caught_up_when_every_projection_is_at_the_last_position(store, db):
    store.append("report-1", ANY, [NewEvent("ReportSubmitted", {}),
                                   NewEvent("ReportSubmitted", {})])
    db["checkpoints"].insert_many([{"_id": "projection:reports", "position": 2},
                                   {"_id": "projection:turnout", "position": 1},
                                   {"_id": "relay", "position": 0}])
    assert not platform_side.caught_up(db)
    db["checkpoints"].update_one({"_id": "projection:turnout"}, {"$set": {"position": 2}})
    assert platform_side.caught_up(db)


def test_lost_reports_of_each_kind_are_named(db):
    db["copies"].insert_many([{"_id": "s1"}, {"_id": "s2"}])
    db["incidents"].insert_one({"_id": "i1"})
    db["turnout"].insert_one({"_id": "LT000001", "checkpoints": {"10:00": {"voters": 5}}})
    assert platform_side.missing(db, {
        "submission": ["s1", "s2", "s3"], "sms": ["s2"], "incident": ["i1", "i2"],
        "turnout": ["LT000001|10:00", "LT000001|12:00", "LT000002|10:00"]}) == {
        "submission": ["s3"], "sms": [], "incident": ["i2"],
        "turnout": ["LT000001|12:00", "LT000002|10:00"]}


def test_two_copies_of_one_observer_form_station_and_serial_are_a_duplicate(db):
    copy = {"form_id": "f", "observer_id": "o", "station_code": "s"}
    db["copies"].insert_many([{"_id": "a", **copy, "serial": None},
                              {"_id": "b", **copy, "serial": "1"},
                              {"_id": "c", **copy, "serial": "1"},
                              {"_id": "d", **copy, "serial": "1"}])
    assert platform_side.duplicated(db) == 2


def test_the_sms_accepted_are_read_from_the_hotline_log_since_the_load_started(store, db):
    started = time.time()
    for status, submission in (("accepted", "s1"), ("partial", "s2"),
                               ("malformed", None), ("duplicate", None)):
        store.append("line:+996700000001", ANY, [NewEvent("SmsReceived", {
            "status": status, "submission_id": submission})])
    assert sorted(platform_side.sms_accepted(db, started - 1)) == ["s1", "s2"]
    assert platform_side.sms_accepted(db, time.time() + 1) == []
