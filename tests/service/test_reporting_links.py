"""What reporting follows of other services beyond the directory: the hotline's
appeals beside the incidents of their station, and stations that move region."""
from tests.service.conftest import eventually
from tests.service.deployment_world import announce
from tests.service.test_reporting import field, station  # noqa: F401 a fixture


def appeal(amqp_uri, appeal_id, event_type="AppealOpened", version=1, **data):
    announce(amqp_uri, "hotline", event_type, {"appeal_id": appeal_id, **data},
             version=version)


def opened(amqp_uri, appeal_id, station_code, region="KG-C"):
    appeal(amqp_uri, appeal_id, caller_phone="+996555000009", region=region,
           channel="phone", category="ballot_stuffing", description="seen at 1001",
           opened_at="2026-03-01T09:40:00+06:00", due_at="2026-03-01T10:40:00+06:00",
           station_code=station_code)


def test_an_incident_shows_the_hotline_appeals_on_its_station(reporting, field,
                                                               amqp_uri, reporting_db):
    reported = reporting.report_incident({
        "observer_id": "o-1", "category": "ballot_stuffing", "severity": "high",
        "description": "ballots in a bag", "occurred_at": "2026-03-01T09:30:00+06:00"})
    assert reported["ok"], reported
    # Closed before it is seen opened: the later status stands.
    appeal(amqp_uri, "ap-1", "AppealClosed", version=3, at="2026-03-01T11:00:00+06:00")
    opened(amqp_uri, "ap-1", "1001")
    opened(amqp_uri, "ap-2", "2001", region="KG-Y")
    opened(amqp_uri, "ap-3", None)
    assert eventually(lambda: reporting_db["appeals"].count_documents({}) == 3)
    # The incidents' read model follows reporting's own log, apart from the appeals'.
    [incident] = eventually(lambda: reporting.incidents({"region": "KG-C"}))
    assert [(a["id"], a["status"]) for a in incident["appeals"]] == [("ap-1", "closed")]
    [linked] = reporting.incidents_of_appeal("ap-1")
    assert linked["id"] == reported["data"]["id"]
    assert reporting.incidents_of_appeal("ap-3") == []
    assert reporting.incidents_of_appeal("ap-missing") == []


def test_a_station_moved_to_another_region_is_counted_there(reporting, field, amqp_uri,
                                                            reporting_db):
    assert eventually(lambda: reporting.region_stats("KG-C")["stations"] == 2)
    moved = {"code": "1002", "changes": {"region": "KG-Y", "district": "Y-01"},
             "previous": {"region": "KG-C", "district": "C-01"}}
    first = announce(amqp_uri, "registry", "PollingStationChanged", moved, version=2)
    assert eventually(lambda: reporting.region_stats("KG-Y")["stations"] == 2)
    assert reporting.region_stats("KG-C")["stations"] == 2 - 1
    assert reporting.region_stats()["stations"] == 3
    assert reporting.station("1002")["region"] == "KG-Y"
    # The same event delivered again changes nothing (a station registered after it
    # shows when it has been taken).
    announce(amqp_uri, "registry", "PollingStationChanged", moved, version=2,
             event_id=first["id"])
    station(amqp_uri, "1003")
    assert eventually(lambda: reporting.region_stats("KG-C")["stations"] == 2)
    assert reporting.region_stats("KG-Y")["stations"] == 2
