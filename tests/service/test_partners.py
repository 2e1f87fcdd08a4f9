"""Partners against the real broker and mongod: each partner's own RabbitMQ user gets
exactly its regions' events, is refused everything else, and what it publishes lands or
is dead-lettered with the reason; replay sends the archive again in order; an older
schema version is published beside the new until its date; hotline appeals go out
redacted."""
import json
import uuid
from datetime import date, datetime, timedelta, timezone

import amqp
import pytest
from marshmallow import Schema, fields
from nameko.standalone.rpc import ServiceRpcProxy

from partner_client import PartnerClient
from services.deployment import schemas as deployment_schemas
from services.hotline.service import HotlineService
from services.partners import access, admin, asyncapi, domain
from services.partners.admin import partner_uri
from services.reporting.service import ReportingService
from shared import catalog
from shared.envelope import to_envelope
from shared.eventstore import ANY, EventStore, NewEvent, RecordedEvent
from shared.mongo import connect, service_database
from shared.relay import AmqpPublisher, Relay
from shared.schemas import only
from tests.service.conftest import eventually
from tests.service.test_reporting import OPENING, assign, observer, station

STATIONS = {"1001": "KG-C", "2001": "KG-Y"}


@pytest.fixture
def databases(platform_env, mongo_uri):
    client = connect(mongo_uri)
    yield {name: service_database(client, name)
           for name in ("partners", "registry", "deployment", "reporting", "hotline")}
    client.close()


def publish_events(db, amqp_uri, service, stream_events):
    """Appends to `service`'s log and relays it, as the service would."""
    store = EventStore(db)
    store.ensure_indexes()
    for stream_id, events in stream_events:
        store.append(stream_id, ANY, events, metadata={"actor": "test"})
    relay = Relay(service, store, AmqpPublisher(amqp_uri, service))
    while relay.run_once():
        pass
    relay.publisher.close()
    store.close()


def assigned(region, n=0):
    station = next(code for code, r in STATIONS.items() if r == region)
    return NewEvent("ObserverAssigned", {
        "assignment_id": f"a-{region}-{n}", "observer_id": f"o-{n}",
        "station_code": station, "region": region, "district": "d", "role": "observer",
        "shift": "full"})


@pytest.fixture
def territory(partners, databases, amqp_uri):
    publish_events(databases["registry"], amqp_uri, "registry", [
        (f"station-{code}", [NewEvent("PollingStationRegistered", {
            "code": code, "number": int(code), "names": {"ru": code}, "address": "a",
            "district": "d", "region": region, "registered_voters": 100})])
        for code, region in STATIONS.items()])
    assert eventually(lambda: databases["partners"]["stations"].count_documents({}) == 2)


@pytest.fixture
def make_partner(partners, databases, amqp_uri):
    """Creates partners with their own broker users; deletes the users afterwards."""
    created = []

    def make(region, services=("deployment",)):
        name = f"p{uuid.uuid4().hex[:8]}"
        agreement = domain.Agreement(name, (region,), tuple(services))
        password = access.create_partner(databases["partners"], agreement, amqp_uri)
        created.append(name)
        return PartnerClient(partner_uri(amqp_uri, name, password))

    yield make
    for name in created:
        access.delete_partner(databases["partners"], name, amqp_uri)


def drain(client, suffix, timeout=2, count=None):
    """The messages on the partner's queue until `count` came or `timeout` s of quiet."""
    got = []
    for message in client.events(suffix, timeout=timeout):
        got.append(message)
        if len(got) == count:
            break
    return got


@pytest.fixture
def reporting(container_factory, service_config, databases, amqp_uri):
    """Reporting with stations 1001 (KG-C) and 2001 (KG-Y), observer o-1 assigned to
    1001 and o-2 to 2001, and the Opening checklist (prefix OP) published."""
    container = container_factory(ReportingService, service_config)
    container.start()
    station(amqp_uri, "1001")
    station(amqp_uri, "2001", "KG-Y", "Y-01")
    observer(amqp_uri, "o-1")
    observer(amqp_uri, "o-2", "KG-Y", "Y-01")
    assign(amqp_uri, "o-1", "1001")
    assign(amqp_uri, "o-2", "2001", region="KG-Y", district="Y-01")
    reporting_db = databases["reporting"]
    assert eventually(lambda: reporting_db["assignments"].count_documents({}) == 2
                      and databases["partners"]["stations"].count_documents({}) == 2)
    with ServiceRpcProxy("reporting", service_config) as rpc:
        assert rpc.publish_form(OPENING)["ok"]


def test_partners_of_two_regions_exchange_reports_end_to_end(make_partner, reporting):
    north = make_partner("KG-C", ("reporting",))
    south = make_partner("KG-Y", ("reporting",))
    for partner, region in ((north, "KG-C"), (south, "KG-Y")):
        partner.subscribe("feed", [("reporting", region, "*")])
    checklist = {"sms_prefix": "OP", "answers": {"AA": "1", "AB": "500", "AD": "135"}}
    north.publish_report({**checklist, "observer_id": "o-1", "station_code": "1001"},
                         message_id="n-1")
    north.publish_report({**checklist, "observer_id": "o-404", "station_code": "1001"},
                         message_id="n-2")
    south.publish_report({**checklist, "observer_id": "o-2", "station_code": "2001"},
                         message_id="s-1")
    south.publish_report({"observer_id": "o-2", "station_code": "2001"}, message_id="s-2")

    for partner, landed, dead, reason, region in (
            (north, "n-1", "n-2", "UNKNOWN_OBSERVER", "KG-C"),
            (south, "s-1", "s-2", "VALIDATION", "KG-Y")):
        [receipt] = drain(partner, "receipts", timeout=10, count=1)
        assert (receipt["message_id"], receipt["status"]) == (landed, "accepted")
        assert receipt["accepted"] == ["AA", "AB", "AD"]
        [letter] = drain(partner, "dead", timeout=10, count=1)
        assert (letter["message_id"], letter["reason"]) == (dead, reason)
        events = drain(partner, "feed", timeout=3)
        assert [e["type"] for e in events] == ["ReportSubmitted"]
        assert {e["data"]["region"] for e in events} == {region}
        assert events[0]["channel"] == f"partner:{partner.name}"
        assert events[0]["data"]["submission_id"] == receipt["submission_id"]


def test_each_partner_receives_exactly_its_regions_events(make_partner, databases, amqp_uri):
    north, south = make_partner("KG-C"), make_partner("KG-Y")
    north.subscribe("feed", [("deployment", "KG-C", "*")])
    south.subscribe("feed", [("deployment", "KG-Y", "ObserverAssigned")])

    publish_events(databases["deployment"], amqp_uri, "deployment", [
        ("s-1", [assigned("KG-C", 1), assigned("KG-C", 2)]), ("s-2", [assigned("KG-Y", 3)])])

    got_north, got_south = drain(north, "feed"), drain(south, "feed")
    assert [e["data"]["assignment_id"] for e in got_north] == ["a-KG-C-1", "a-KG-C-2"]
    assert [e["data"]["assignment_id"] for e in got_south] == ["a-KG-Y-3"]
    assert all(e["schemaversion"] == 1 and e["source"] == "nazar/deployment"
               for e in got_north + got_south)


def refused(action):
    with pytest.raises(amqp.exceptions.AccessRefused):
        action()


def shifts_in_a_list(monkeypatch, until):
    """Declares, as deployment would next to its schemas, version 2 of ObserverAssigned
    (`shift` became the list `shifts`) and version 1 derived from it until `until`."""
    v1 = deployment_schemas.EVENTS["ObserverAssigned"]
    v2 = Schema.from_dict({**only(v1, "assignment_id", "observer_id", "station_code",
                                  "region", "district", "role")._declared_fields,
                           "shifts": fields.List(fields.String(), required=True)})
    monkeypatch.setitem(deployment_schemas.EVENTS, "ObserverAssigned", v2)
    monkeypatch.setattr(deployment_schemas, "SCHEMA_VERSIONS", {"ObserverAssigned": 2},
                        raising=False)
    monkeypatch.setattr(deployment_schemas, "OLDER_VERSIONS", {"ObserverAssigned": (
        catalog.OlderVersion(1, v1, lambda data: {
            **{k: v for k, v in data.items() if k != "shifts"},
            "shift": data["shifts"][0]}, until),)}, raising=False)


def assigned_v2(n):
    return NewEvent("ObserverAssigned", {
        "assignment_id": f"a-{n}", "observer_id": f"o-{n}", "station_code": "1001",
        "region": "KG-C", "district": "d", "role": "observer", "shifts": ["full"]},
        schema_version=2)


def test_an_older_version_is_published_beside_the_new_until_its_date(
        make_partner, databases, amqp_uri, monkeypatch):
    on_v1, on_v2 = make_partner("KG-C"), make_partner("KG-C")
    on_v1.subscribe("feed", [("deployment", "KG-C", "ObserverAssigned", 1)])
    on_v2.subscribe("feed", [("deployment", "KG-C", "*", 2)])

    shifts_in_a_list(monkeypatch, until=date.today() + timedelta(days=30))
    doc = asyncapi.document()
    deprecated = doc["components"]["messages"][
        "partners.events.deployment.ObserverAssigned.v1"]
    assert deprecated["x-deprecated-until"] == (date.today() + timedelta(days=30)).isoformat()
    assert "shifts" in doc["components"]["schemas"][
        "partners.events.deployment.ObserverAssigned.v2"]["properties"]
    publish_events(databases["deployment"], amqp_uri, "deployment",
                   [("s-1", [assigned_v2(1)])])
    [old], [new] = drain(on_v1, "feed"), drain(on_v2, "feed")
    assert (old["schemaversion"], old["data"]["shift"]) == (1, "full")
    assert "shifts" not in old["data"]
    assert (new["schemaversion"], new["data"]["shifts"]) == (2, ["full"])
    assert old["id"] == new["id"]

    # Past its date, version 1 is no longer published.
    shifts_in_a_list(monkeypatch, until=date.today() - timedelta(days=1))
    publish_events(databases["deployment"], amqp_uri, "deployment",
                   [("s-2", [assigned_v2(2)])])
    assert drain(on_v1, "feed") == []
    assert [e["data"]["assignment_id"] for e in drain(on_v2, "feed")] == ["a-2"]


@pytest.fixture
def hotline(container_factory, service_config):
    container = container_factory(HotlineService, service_config)
    container.start()
    return container


def test_a_partner_receives_redacted_appeals_of_its_region_only(
        make_partner, hotline, service_config, databases):
    north = make_partner("KG-C", ("hotline",))
    south = make_partner("KG-Y", ("hotline",))
    for partner, region in ((north, "KG-C"), (south, "KG-Y")):
        partner.subscribe("feed", [("hotline", region, "*")])
    with ServiceRpcProxy("hotline", service_config) as rpc:
        opened = rpc.open_appeal({
            "caller_phone": "+996555777888", "caller_name": "Айгуль", "region": "KG-C",
            "district": "C-01", "station_code": "1001", "channel": "call",
            "category": "voter_list", "description": "My name is missing"})
        assert opened["ok"], opened
        appeal_id = opened["data"]["id"]
        assert rpc.assign_appeal({"appeal_id": appeal_id, "assignee": "operator-7"})["ok"]

    events = drain(north, "feed", timeout=5, count=2)
    assert [e["type"] for e in events] == ["AppealOpened", "AppealAssigned"]
    assert events[0]["data"] == {
        "appeal_id": appeal_id, "region": "KG-C", "district": "C-01",
        "station_code": "1001", "channel": "call", "category": "voter_list",
        "opened_at": events[0]["data"]["opened_at"], "due_at": events[0]["data"]["due_at"]}
    assert events[0]["data"]["opened_at"] and events[0]["data"]["due_at"]
    assert set(events[1]["data"]) == {"appeal_id", "region", "at"}
    assert all(e["actor"] is None and "+996" not in json.dumps(e, ensure_ascii=False)
               and "Айгуль" not in json.dumps(e, ensure_ascii=False) for e in events)
    assert drain(south, "feed") == []
    # What replay would send again is as redacted.
    archive = databases["partners"]["archive"]
    assert eventually(lambda: archive.count_documents({"service": "hotline"}) == 2)
    assert not any("+996" in doc["body"] for doc in archive.find({"service": "hotline"}))


def test_a_partner_cannot_reach_beyond_its_agreement(make_partner, amqp_uri):
    north, south = make_partner("KG-C"), make_partner("KG-Y")
    south.subscribe("feed", [("deployment", "KG-Y", "*")])
    uri = north.connection.as_uri(include_password=True)

    def fresh():
        return PartnerClient(uri).channel

    # Another region's events, any event bound by a wildcard region, our own exchanges.
    refused(lambda: north.subscribe("feed", [("deployment", "KG-Y", "*")]))
    refused(lambda: fresh().queue_bind("partner.x", catalog.PARTNER_EXCHANGE, "#"))
    refused(lambda: PartnerClient(uri).subscribe(
        "feed", [("deployment", "*", "ObserverAssigned")]))
    channel = fresh()
    channel.queue_declare(north.queue("raw"), durable=True)
    refused(lambda: channel.queue_bind(north.queue("raw"), "deployment.events",
                                       "ObserverAssigned"))
    # Another partner's queues, dead letters included.
    refused(lambda: fresh().basic_get(south.queue("feed")))
    refused(lambda: fresh().basic_get(domain.dead_letter_queue(south.name)))
    # Publishing anywhere but the inbound exchange as itself.
    for exchange, routing_key in [("deployment.events", "ObserverAssigned"),
                                  (catalog.PARTNER_EXCHANGE, "deployment.KG-C.X"),
                                  ("", south.queue("feed")),
                                  (domain.INBOUND_EXCHANGE, f"{south.name}.report")]:
        channel = fresh()
        channel.basic_publish(amqp.Message("{}"), exchange=exchange,
                              routing_key=routing_key)
        refused(lambda: channel.queue_declare(north.queue("feed"), passive=True))


def test_invalid_reports_are_dead_lettered_with_the_reason(make_partner, territory,
                                                           databases):
    north = make_partner("KG-C")
    report = {"observer_id": "o-1", "station_code": "1001", "form_id": "f-1",
              "answers": {"A": "1"}}
    north.publish_report({**report, "answers": None}, message_id="m-bad")
    north.publish_report({**report, "source": "partner:someone-else"}, message_id="m-forged")
    north.publish_report({**report, "station_code": "2001"}, message_id="m-region")
    north.publish_report({**report, "station_code": "9999"}, message_id="m-station")
    north.publish_report({**report, "answers": None}, message_id="m-bad")

    dead = {}
    for letter in drain(north, "dead", timeout=5):
        dead.setdefault(letter["message_id"], []).append(letter["reason"])
    assert dead == {"m-bad": ["VALIDATION", "DUPLICATE_MESSAGE"],
                    "m-forged": ["FORGED_SOURCE"], "m-region": ["REGION_NOT_ALLOWED"],
                    "m-station": ["UNKNOWN_STATION"]}
    assert drain(north, "receipts", timeout=0.5) == []


def test_replay_sends_the_scope_again_in_order(make_partner, partners, databases, amqp_uri):
    north = make_partner("KG-C")
    publish_events(databases["deployment"], amqp_uri, "deployment", [
        (f"s-{n}", [assigned("KG-C" if n % 2 else "KG-Y", n)]) for n in range(20)])
    archive = databases["partners"]["archive"]
    assert eventually(lambda: archive.count_documents({}) == 20)

    north.subscribe("replayed", [])
    north.request_replay("replayed", after={"deployment": 0})
    events = drain(north, "replayed", timeout=5)
    assert [e["data"]["assignment_id"] for e in events] == [
        f"a-KG-C-{n}" for n in range(1, 20, 2)]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)

    north.request_replay("replayed", after={"deployment": positions[6]})
    assert len(drain(north, "replayed", timeout=5)) == 3
    north.request_replay("replayed", since=events[0]["time"])
    assert len(drain(north, "replayed", timeout=5)) == 10


def test_a_replay_onto_another_partners_queue_is_refused(make_partner):
    north, south = make_partner("KG-C"), make_partner("KG-Y")
    north._publish("replay", {"queue": south.queue("feed"), "after": {}})
    reasons = [d["reason"] for d in drain(north, "dead", timeout=5)]
    assert reasons == ["QUEUE_NOT_OWN"]


def test_make_partner_creates_a_user_that_can_log_in_and_removes_it(
        partners, capsys, amqp_uri):
    name = f"p{uuid.uuid4().hex[:8]}"
    assert admin.main([name, "--regions", "KG-C", "--services", "reporting,hotline"]) == 0
    uri = capsys.readouterr().out.strip()
    try:
        with PartnerClient(uri) as client:
            assert client.subscribe("feed", [("reporting", "KG-C", "*"),
                                             ("hotline", "KG-C", "AppealOpened", 1)])
    finally:
        assert admin.main([name, "--delete"]) == 0
    with pytest.raises(amqp.exceptions.AccessRefused):
        PartnerClient(uri)


def test_make_partner_refuses_an_unknown_service_or_region(partners, capsys):
    assert admin.main(["pbad", "--regions", "kg c", "--services", "nowhere"]) == 2
    error = capsys.readouterr().err
    assert "VALIDATION" in error and "nowhere" in error and "region" in error


def test_the_catalog_matches_the_code():
    for path, text in asyncapi.rendered().items():
        assert path.read_text() == text, f"{path} drifted: run `make catalog`"


def test_the_catalog_describes_the_envelope_as_published():
    event = RecordedEvent("id", "s", 1, 1, "T", 1, {},
                          {"occurred_at": datetime.now(timezone.utc)})
    assert set(asyncapi.ENVELOPE) == set(to_envelope("svc", event))
