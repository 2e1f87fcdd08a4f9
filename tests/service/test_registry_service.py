"""The registry service over RPC, with its events relayed to RabbitMQ."""
import json
import uuid

from kombu import Connection, Queue
from nameko.standalone.rpc import ServiceRpcProxy

from shared.relay import event_exchange
import pytest

from tests.service.conftest import eventually

pytestmark = pytest.mark.usefixtures("territory")

AIDA = {"full_name": "  Aida  Bekova ", "phones": ["0555 123 456"], "region": "KG-C",
        "locale": "ky"}


def test_registers_an_observer_and_relays_the_event(registry, service_config, amqp_uri):
    with Connection(amqp_uri) as connection:
        queue = Queue(f"partner-{uuid.uuid4().hex[:8]}", event_exchange("registry"),
                      routing_key="ObserverRegistered", auto_delete=True)
        queue(connection.channel()).declare()
        with ServiceRpcProxy("registry", service_config) as rpc:
            reply = rpc.register_observer(AIDA)
            assert reply["ok"], reply
            observer = reply["data"]
            assert observer["full_name"] == "Aida Bekova"
            assert observer["phones"] == [{"number": "+996555123456", "verified": False}]
            assert observer["status"] == "applicant"

            stored = eventually(lambda: rpc.get_observer(observer["id"]))
            assert stored["full_name"] == "Aida Bekova"
            assert stored["region"] == "KG-C"

        message = connection.SimpleQueue(queue).get(timeout=10)
        [envelope] = json.loads(message.body)  # a run of one
        assert envelope["type"] == "ObserverRegistered"
        assert envelope["subject"] == observer["id"]
        assert envelope["data"]["phones"] == ["+996555123456"]


def test_refuses_invalid_input_with_codes_and_appends_nothing(
        registry, service_config, registry_events):
    with ServiceRpcProxy("registry", service_config) as rpc:
        reply = rpc.register_observer({**AIDA, "phones": ["12"], "locale": "fr"})
        assert not reply["ok"]
        assert {(e["code"], e["field"]) for e in reply["errors"]} == {
            ("INVALID", "phones.0"), ("INVALID", "locale")}
        reply = rpc.register_observer({**AIDA, "phones": ["not a phone number"]})
        assert [(e["code"], e["field"]) for e in reply["errors"]] == [
            ("INVALID_PHONE", "phones.0")]
        reply = rpc.register_observer({"region": "KG-C"})
        assert {e["field"] for e in reply["errors"] if e["code"] == "REQUIRED"} == {
            "full_name", "phones"}
    assert registry_events.count_documents({"type": "ObserverRegistered"}) == 0


def test_an_idempotency_key_registers_once(registry, service_config, registry_events):
    with ServiceRpcProxy("registry", service_config) as rpc:
        first = rpc.register_observer(AIDA, idempotency_key="retry-1")
        again = rpc.register_observer(AIDA, idempotency_key="retry-1")
    assert first["data"]["id"] == again["data"]["id"]
    assert registry_events.count_documents({"type": "ObserverRegistered"}) == 1


def test_the_rebuild_command_rebuilds_the_observer_directory(registry, service_config,
                                                               mongo_client):
    from shared import config
    from shared.rebuild import main as rebuild
    with ServiceRpcProxy("registry", service_config) as rpc:
        ids = [rpc.register_observer({**AIDA, "phones": [f"+99655512345{i}"]})["data"]["id"]
               for i in range(3)]
        eventually(lambda: all(rpc.get_observer(i) for i in ids))
        observers = mongo_client[config.database_name("registry")]["observers"]
        live = sorted(observers.find(), key=lambda d: d["_id"])
        observers.delete_many({})  # a lost read model
        rebuild(["registry", "observers"])
        assert sorted(observers.find(), key=lambda d: d["_id"]) == live
        assert rpc.get_observer(ids[0])["full_name"] == "Aida Bekova"
