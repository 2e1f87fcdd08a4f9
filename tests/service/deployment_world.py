"""What the deployment tests stand on: the registry's stations (imported for real) and
observers and certifications announced on the registry's and training's exchanges, as
their relays would publish them."""
import uuid
from datetime import datetime, timezone

import pytest

from shared.envelope import to_envelope
from shared.eventstore import RecordedEvent
from shared.relay import AmqpPublisher
from tests.service.conftest import eventually

ASSIGN = """mutation($input: AssignObserverInput!) { assignObserver(input: $input) {
  assignment { id observerId stationCode region district role shift organizationId active }
  errors { code field message } } }"""
WITHDRAW = """mutation($input: WithdrawAssignmentInput!) { withdrawAssignment(input: $input) {
  assignment { id active } errors { code field message } } }"""
COVERAGE = """query($region: String) { coverage(region: $region) {
  scope stations covered uncovered priorityStations priorityUncovered checkedIn
  unassignedCheckIns noShows
  parts { scope stations covered uncovered priorityUncovered checkedIn noShows } } }"""


def announce(amqp_uri, service, event_type, data, version=1, event_id=None):
    """Publishes one event on `<service>.events`; returns its envelope."""
    event = RecordedEvent(
        id=event_id or str(uuid.uuid4()), stream_id=data.get("observer_id", "x"),
        version=version, position=0, type=event_type, schema_version=1, data=data,
        metadata={"occurred_at": datetime.now(timezone.utc), "actor": "test"})
    envelope = to_envelope(service, event)
    publisher = AmqpPublisher(amqp_uri, service)
    publisher.publish([envelope])
    publisher.close()
    return envelope


class World:
    def __init__(self, amqp_uri, db):
        self.amqp_uri = amqp_uri
        self.db = db

    def observer(self, observer_id, region="KG-C", district="C-01", organization=None,
                 certified=True):
        announce(self.amqp_uri, "registry", "ObserverRegistered", {
            "observer_id": observer_id, "full_name": "Test Observer",
            "phones": [{"number": "+996555000000", "verified": False}], "region": region,
            "locale": "ru", "organization_id": organization, "district": district,
            "document_number": None, "sms_code": "123456"})
        if certified:
            self.certify(observer_id)
        assert eventually(lambda: (self.db["observers"].find_one(
            {"_id": observer_id, "region": region}) or {}).get("certified") == certified)
        return observer_id

    def certify(self, observer_id, certification_id=None):
        return announce(self.amqp_uri, "training", "ObserverCertified", {
            "certification_id": certification_id or f"cert-{observer_id}",
            "observer_id": observer_id, "course_id": "basic",
            "certified_at": "2026-02-01T10:00:00+00:00",
            "expires_at": "2027-02-01T10:00:00+00:00", "roles": ["short_term"]})


@pytest.fixture
def world(gateway, territory, deployment_db, amqp_uri):
    """Stations 1001 (KG-C, C-01), 1101 (KG-C, C-02), 2001 (KG-Y, Y-01) known to
    deployment; add observers with world.observer(...)."""
    assert eventually(lambda: deployment_db["stations"].count_documents({}) == 3)
    return World(amqp_uri, deployment_db)


def assign(gateway, observer_id, station="1001", viewer="regional_coordinator",
           region="KG-C", **fields):
    """Assigns as a coordinator of `region` (a regional one by default)."""
    scope = {"region": region} if viewer == "regional_coordinator" else {}
    body = gateway(ASSIGN, {"input": {"observerId": observer_id, "stationCode": station,
                                      **fields}}, role=viewer, **scope)
    assert "errors" not in body, body
    return body["data"]["assignObserver"]


def codes(payload):
    return [e["code"] for e in payload["errors"]]
