"""A polling station the registry moves to another region or district takes its
reports along: every statistic counts them where the station is now."""
from tests.service.conftest import eventually
from tests.service.deployment_world import announce
from tests.service.test_reporting import field, station, submit  # noqa: F401 a fixture

KG_C, KG_Y = {"region": "KG-C", "district": "C-01"}, {"region": "KG-Y", "district": "Y-01"}


def move(amqp_uri, code, version, before, after, event_id=None):
    """The registry's change of a station's place; returns its envelope."""
    changes = {k: v for k, v in after.items() if before[k] != v}
    return announce(amqp_uri, "registry", "PollingStationChanged", {
        "code": code, "changes": changes, "previous": {k: before[k] for k in changes}},
        version=version, event_id=event_id)


def report_everything(reporting):
    """From 1001: a complete checklist, a verified incident, turnout at 10:00 and a
    sound protocol."""
    assert submit(reporting, {"AA": "1", "AB": "900"})["ok"]
    assert reporting.report_incident({
        "observer_id": "o-1", "category": "ballot_stuffing", "severity": "high",
        "description": "ballots in a bag", "occurred_at": "2026-03-01T09:30:00+06:00"})[
        "ok"]
    assert reporting.submit_turnout({"observer_id": "o-1", "checkpoint": "10:00",
                                     "voters": 100})["ok"]
    assert reporting.submit_protocol({
        "observer_id": "o-1", "votes": {"A": 300, "B": 100}, "invalid_ballots": 10,
        "ballots_in_boxes": 410, "ballots_issued": 900})["ok"]


def counted_in(reporting, region):
    """(checklists complete, in conflict, incidents, turnout stations at 10:00,
    protocols counted) in the region."""
    stats = reporting.region_stats(region)
    [form] = [f for f in stats["forms"] if f["complete"] + f["conflict"]] or [
        {"complete": 0, "conflict": 0}]
    curve = {p["checkpoint"]: p["stations"] for p in reporting.turnout(region)}
    return (form["complete"], form["conflict"],
            sum(i["count"] for i in stats["incidents"]), curve.get("10:00", 0),
            reporting.results(region)["stations"])


def district_totals(reporting_db, district):
    doc = reporting_db["results"].find_one({"_id": f"district:{district}"}) or {}
    return doc.get("stations", 0), doc.get("votes", {})


def taken(amqp_uri, reporting, *codes):
    """Waits until the registry's events announced so far have been taken, moves
    included: two stations announced one after the other, the second seen once the
    first's batch is done with."""
    for code in codes:
        station(amqp_uri, code, "KG-Z", "Z-01")
        assert eventually(lambda: reporting.station(code))


def moves(reporting_db):
    return reporting_db["events"].count_documents({"type": "StationMoved"})


def test_a_moved_station_takes_its_reports_to_its_new_region(reporting, field,
                                                              amqp_uri, reporting_db):
    report_everything(reporting)
    assert eventually(lambda: counted_in(reporting, "KG-C") == (1, 0, 1, 1, 1))
    assert counted_in(reporting, "KG-Y") == (0, 0, 0, 0, 0)

    first = move(amqp_uri, "1001", 2, KG_C, KG_Y)
    # One move per stream of the station: checklist, incident, turnout, protocol.
    assert eventually(lambda: moves(reporting_db) == 4)
    assert eventually(lambda: counted_in(reporting, "KG-Y") == (1, 0, 1, 1, 1))
    assert counted_in(reporting, "KG-C") == (0, 0, 0, 0, 0)
    assert reporting.turnout("KG-Y")[0]["voters"] == 100
    assert reporting.results("KG-Y")["votes"] == {"A": 300, "B": 100}
    assert reporting.results()["votes"] == {"A": 300, "B": 100}
    assert district_totals(reporting_db, "Y-01") == (1, {"A": 300, "B": 100})
    assert district_totals(reporting_db, "C-01") == (0, {"A": 0, "B": 0})
    [incident] = reporting.incidents({"region": "KG-Y"})
    assert incident["district"] == "Y-01" and reporting.incidents({"region": "KG-C"}) == []
    [report] = reporting.station_report("1001")
    assert (report["region"], report["copies"][0]["region"]) == ("KG-Y", "KG-Y")
    # o-2, assigned to 1001, has not sent the checklist: missed in KG-Y now.
    form_id = field["opening"]["form_id"]
    assert reporting.missing_reports("KG-Y", form_id) == [
        {"observer_id": "o-2", "station_codes": ["1001"]}]
    assert reporting.missing_reports("KG-C", form_id) == []

    # Delivered again, as it was or as a new message of the same change: nothing moves.
    move(amqp_uri, "1001", 2, KG_C, KG_Y, event_id=first["id"])
    move(amqp_uri, "1001", 2, KG_C, KG_Y)
    taken(amqp_uri, reporting, "9001", "9002")
    assert moves(reporting_db) == 4
    # Reports sent after the move count in KG-Y, and a later status change there.
    assert submit(reporting, {"AA": "0", "AB": "900"}, observer_id="o-2")["ok"]
    assert reporting.submit_turnout({"observer_id": "o-1", "checkpoint": "10:00",
                                     "voters": 120})["ok"]
    verified = reporting.move_incident({"incident_id": incident["id"],
                                        "status": "verified", "reason": "two witnesses",
                                        "within_region": "KG-Y"})
    assert (verified["data"]["region"], verified["data"]["district"]) == ("KG-Y", "Y-01")
    assert eventually(lambda: counted_in(reporting, "KG-Y") == (0, 1, 1, 1, 1) and
                      reporting.turnout("KG-Y")[0]["voters"] == 120)
    assert counted_in(reporting, "KG-C") == (0, 0, 0, 0, 0)
    assert reporting.turnout("KG-C")[0]["voters"] == 0
    assert moves(reporting_db) == 4


def test_a_station_without_reports_moves_back_and_within_its_region(
        reporting, field, amqp_uri, reporting_db):
    # Nothing to move yet: later reports go where the directory now has the station.
    move(amqp_uri, "1001", 2, KG_C, KG_Y)
    assert eventually(lambda: reporting.station("1001")["region"] == "KG-Y")
    report_everything(reporting)
    assert eventually(lambda: counted_in(reporting, "KG-Y") == (1, 0, 1, 1, 1))
    assert moves(reporting_db) == 0

    # Back to KG-C, then to district C-02 of the same region.
    move(amqp_uri, "1001", 3, KG_Y, KG_C)
    assert eventually(lambda: counted_in(reporting, "KG-C") == (1, 0, 1, 1, 1))
    assert counted_in(reporting, "KG-Y") == (0, 0, 0, 0, 0)
    move(amqp_uri, "1001", 4, KG_C, {"region": "KG-C", "district": "C-02"})
    assert eventually(lambda: district_totals(reporting_db, "C-02")[0] == 1)
    assert district_totals(reporting_db, "C-01") == (0, {"A": 0, "B": 0})
    assert counted_in(reporting, "KG-C") == (1, 0, 1, 1, 1)
    assert reporting.results("KG-C")["votes"] == {"A": 300, "B": 100}
    # A change older than what the streams took arrives late: it moves nothing.
    move(amqp_uri, "1001", 2, KG_C, KG_Y)
    taken(amqp_uri, reporting, "9001", "9002")
    assert moves(reporting_db) == 8
    assert reporting.results()["votes"] == {"A": 300, "B": 100}
    # Protocols per district follow too.
    assert reporting.submit_protocol({
        "observer_id": "o-1", "votes": {"A": 200, "B": 100}, "invalid_ballots": 10,
        "ballots_in_boxes": 310, "ballots_issued": 900})["ok"]
    assert eventually(lambda: district_totals(reporting_db, "C-02") == (
        1, {"A": 200, "B": 100}))
    assert moves(reporting_db) == 8
