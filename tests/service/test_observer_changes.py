"""Updating, verifying and suspending observers, and their status following training
and deployment events."""
import json
import uuid
from datetime import datetime, timezone

import pytest
from kombu import Connection

from shared.envelope import to_envelope
from shared.eventstore import RecordedEvent
from shared.relay import event_exchange
from tests.service.conftest import eventually, projections_caught_up

pytestmark = pytest.mark.usefixtures("territory")

REGISTER = """mutation($input: RegisterObserverInput!) {
  registerObserver(input: $input) { observer { id } errors { code } } }"""
UPDATE = """mutation($input: UpdateObserverInput!) {
  updateObserver(input: $input) {
    observer { id fullName phones { number verified } region district status }
                                  errors { code field message } } }"""
SUSPEND = """mutation($input: SuspendObserverInput!) {
  suspendObserver(input: $input) { observer { status } errors { code field } } }"""
VERIFY = """mutation($input: VerifyObserverPhoneInput!) {
  verifyObserverPhone(input: $input) { observer { phones { number verified } }
                                       errors { code field } } }"""
READ = """query($id: ID!) {
  observer(id: $id) { fullName phones { number verified } region district status } }"""
SEARCH = """query($search: String) { observers(filter: {search: $search}) {
  edges { node { fullName } } } }"""


def register(gateway, phone="+996555123456", region="KG-C"):
    body = gateway(REGISTER, {"input": {"fullName": "Aida Bekova", "phones": [phone],
                                        "region": region}})
    return body["data"]["registerObserver"]["observer"]["id"]


def mutate(gateway, query, **input):
    body = gateway(query, {"input": input})
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


def test_an_update_changes_only_what_is_given(gateway, registry_events):
    observer_id = register(gateway)
    payload = mutate(gateway, UPDATE, id=observer_id, fullName="Айдана Бекова",
                     phones=["+996700000001"], district="C-02")
    assert payload["errors"] == []
    assert payload["observer"]["phones"] == [{"number": "+996700000001", "verified": False}]
    [event] = registry_events.find({"type": "ObserverUpdated"})
    assert event["data"]["previous"]["phones"] == ["+996555123456"]
    assert eventually(lambda: (gateway(READ, {"id": observer_id})["data"]["observer"]
                               or {}).get("district") == "C-02")
    # Search follows the new name and phone; the old phone is free again.
    assert gateway(SEARCH, {"search": "айдана"})["data"]["observers"]["edges"]
    assert gateway(SEARCH, {"search": "996700"})["data"]["observers"]["edges"]
    assert not gateway(SEARCH, {"search": "996555"})["data"]["observers"]["edges"]
    assert register(gateway, phone="+996555123456")


def test_updates_are_checked_like_registrations(gateway):
    first, second = register(gateway), register(gateway, phone="+996700000002")
    taken = mutate(gateway, UPDATE, id=second, phones=["+996555123456"])
    assert [(e["code"], e["field"]) for e in taken["errors"]] == [("PHONE_TAKEN", "phones")]
    assert first in taken["errors"][0]["message"]
    elsewhere = mutate(gateway, UPDATE, id=first, district="Y-01")
    assert elsewhere["errors"][0]["code"] == "DISTRICT_NOT_IN_REGION"
    missing = mutate(gateway, UPDATE, id="nobody", fullName="X Y")
    assert missing["errors"][0]["code"] == "NOT_FOUND"
    # Another region's coordinator meets the observer as a missing one.
    body = gateway(UPDATE, {"input": {"id": first, "fullName": "X Y"}},
                   role="regional_coordinator", region="KG-Y")
    assert body["data"]["updateObserver"]["errors"][0]["code"] == "NOT_FOUND"


def test_an_observer_moves_to_another_region_with_a_district_of_it(gateway):
    observer_id = register(gateway)
    stale = mutate(gateway, UPDATE, id=observer_id, region="KG-Y", district="C-02")
    assert [e["code"] for e in stale["errors"]] == ["DISTRICT_NOT_IN_REGION"]
    moved = mutate(gateway, UPDATE, id=observer_id, region="KG-Y", district="Y-01")
    assert (moved["observer"]["region"], moved["observer"]["district"]) == ("KG-Y", "Y-01")
    # A regional coordinator may not hand an observer over to another region.
    body = gateway(UPDATE, {"input": {"id": observer_id, "region": "KG-C"}},
                   role="regional_coordinator", region="KG-Y")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_phone_is_verified_once_and_loses_the_mark_when_given_up(gateway,
                                                                  registry_events):
    observer_id = register(gateway)
    verified = mutate(gateway, VERIFY, id=observer_id, phone="0555 123 456", method="sms")
    assert verified["observer"]["phones"] == [{"number": "+996555123456", "verified": True}]
    mutate(gateway, VERIFY, id=observer_id, phone="+996555123456", method="call")
    assert registry_events.count_documents({"type": "ObserverPhoneVerified"}) == 1
    assert eventually(lambda: phones(gateway, observer_id) == [
        {"number": "+996555123456", "verified": True}])
    foreign = mutate(gateway, VERIFY, id=observer_id, phone="+996700000009", method="sms")
    assert [(e["code"], e["field"]) for e in foreign["errors"]] == [
        ("NOT_OBSERVERS_PHONE", "phone")]
    wrong_method = mutate(gateway, VERIFY, id=observer_id, phone="+996555123456",
                          method="telepathy")
    assert wrong_method["errors"][0]["code"] == "INVALID"
    mutate(gateway, UPDATE, id=observer_id, phones=["+996700000001", "+996555123456"])
    assert eventually(lambda: phones(gateway, observer_id) == [
        {"number": "+996700000001", "verified": False},
        {"number": "+996555123456", "verified": True}])
    mutate(gateway, UPDATE, id=observer_id, phones=["+996700000001"])
    mutate(gateway, UPDATE, id=observer_id, phones=["+996700000001", "+996555123456"])
    assert eventually(lambda: phones(gateway, observer_id) == [
        {"number": "+996700000001", "verified": False},
        {"number": "+996555123456", "verified": False}])


def phones(gateway, observer_id):
    return (gateway(READ, {"id": observer_id})["data"]["observer"] or {}).get("phones")


def test_a_suspended_observer_stays_suspended(gateway):
    observer_id = register(gateway)
    assert mutate(gateway, SUSPEND, id=observer_id, reason="campaigned at a station")[
        "observer"]["status"] == "suspended"
    again = mutate(gateway, SUSPEND, id=observer_id, reason="again")
    assert again["errors"][0]["code"] == "ALREADY_SUSPENDED"


def envelope(service, event_type, observer_id, event_id=None, **data):
    return to_envelope(service, RecordedEvent(
        id=event_id or str(uuid.uuid4()), stream_id=observer_id, version=1, position=1,
        type=event_type, schema_version=1, data={"observer_id": observer_id, **data},
        metadata={"occurred_at": datetime.now(timezone.utc)}))


def publish_run(amqp_uri, service, event_type, run):
    """A run of events as the training or deployment service's relay publishes it."""
    with Connection(amqp_uri) as connection:
        producer = connection.Producer(exchange=event_exchange(service))
        producer.publish(json.dumps(run), routing_key=event_type,
                         content_type="application/json", declare=[event_exchange(service)])


def publish(amqp_uri, service, event_type, observer_id, event_id=None, **data):
    event = envelope(service, event_type, observer_id, event_id, **data)
    publish_run(amqp_uri, service, event_type, [event])
    return event["id"]


def status_of(gateway, observer_id):
    return (gateway(READ, {"id": observer_id})["data"]["observer"] or {}).get("status")


def test_status_follows_training_and_deployment(gateway, amqp_uri, registry_events):
    observer_id = register(gateway)

    def status():
        return status_of(gateway, observer_id)
    eventually(lambda: gateway(READ, {"id": observer_id})["data"]["observer"])
    certified = publish(amqp_uri, "training", "ObserverCertified", observer_id,
                        certification_id="c1")
    assert eventually(lambda: status() == "certified")
    publish(amqp_uri, "training", "ObserverCertified", observer_id, certified,
            certification_id="c1")  # delivered again
    # A withdrawal that overtakes its assignment: the late assignment is not taken up.
    publish(amqp_uri, "deployment", "AssignmentWithdrawn", observer_id, assignment_id="a1")
    publish(amqp_uri, "deployment", "ObserverAssigned", observer_id, assignment_id="a2")
    assert eventually(lambda: status() == "deployed")
    publish(amqp_uri, "deployment", "ObserverAssigned", observer_id, assignment_id="a1")
    publish(amqp_uri, "deployment", "AssignmentWithdrawn", observer_id, assignment_id="a2")
    assert eventually(lambda: status() == "certified")
    assert registry_events.count_documents({"type": "ObserverStatusChanged"}) == 3
    mutate(gateway, SUSPEND, id=observer_id, reason="no longer impartial")
    publish(amqp_uri, "training", "CertificationRevoked", observer_id, certification_id="c1")
    assert eventually(lambda: registry_events.count_documents(
        {"type": "ObserverActivityNoted", "data.activity_id": "c1",
         "data.active": False}) == 1)
    # The read model has the suspension once it has caught up with the log.
    assert eventually(lambda: projections_caught_up(registry_events.database))
    assert status() == "suspended"


def test_a_run_is_followed_without_what_in_it_is_not_an_event(gateway, amqp_uri,
                                                              registry_events):
    first, second = register(gateway), register(gateway, phone="+996700000002")
    eventually(lambda: status_of(gateway, first) and status_of(gateway, second))
    publish_run(amqp_uri, "training", "ObserverCertified", [
        envelope("training", "ObserverCertified", first, certification_id="c1"),
        {"id": "x", "data": "not an event"},
        envelope("training", "ObserverCertified", second, certification_id="c2")])
    assert eventually(lambda: (status_of(gateway, first), status_of(gateway, second))
                      == ("certified", "certified"))
    assert registry_events.count_documents({"type": "ObserverStatusChanged"}) == 2


def test_a_retried_command_is_answered_as_the_first_time_not_decided_again(
        gateway, registry_events):
    observer_id = register(gateway)
    token = gateway.token()  # one client: keys are scoped by who sends them
    input = {"id": observer_id, "reason": "campaigned at a station",
             "clientMutationId": "suspend-1"}
    first, again = (gateway.post(SUSPEND, {"input": input}, token).json()["data"][
        "suspendObserver"] for _ in range(2))
    assert first == again == {"observer": {"status": "suspended"}, "errors": []}
    assert registry_events.count_documents({"type": "ObserverSuspended"}) == 1
