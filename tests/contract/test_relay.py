"""The relay publishes the log to RabbitMQ at least once, resuming from its checkpoint."""
import json
import uuid
from datetime import datetime, timezone

import amqp
import pytest
from kombu import Connection, Queue

from shared.envelope import envelopes
from shared.eventstore import ANY, NewEvent
from shared.relay import (RUN_LENGTH, AmqpPublisher, Relay, event_exchange,
                          publish_in_transaction, transactional_channel)

SERVICE = "relaytest"


@pytest.fixture
def bound_queue(amqp_uri):
    """A queue bound to every event of the test service, as a partner would bind one."""
    with Connection(amqp_uri) as connection:
        queue = Queue(f"relay-test-{uuid.uuid4().hex[:8]}", event_exchange(SERVICE),
                      routing_key="#", auto_delete=True)
        queue(connection.channel()).declare()
        yield connection, queue


def drain(connection, queue):
    messages = []
    simple = connection.SimpleQueue(queue)
    while True:
        try:
            message = simple.get(timeout=0.5)
        except simple.Empty:
            break
        messages.extend((message.delivery_info["routing_key"], envelope)
                        for envelope in envelopes(json.loads(message.body)))
        message.ack()
    simple.close()
    return messages


class CrashAfterPublish(AmqpPublisher):
    """Publishes, then dies before the relay can move its checkpoint."""

    def publish(self, envelopes):
        super().publish(envelopes)
        raise SystemExit("crash between publish and checkpoint")


def test_publishes_envelopes_by_event_type(store, amqp_uri, bound_queue):
    store.append("obs-1", ANY, [NewEvent("ObserverRegistered", {"name": "Aida"})],
                 metadata={"correlation_id": "corr-1", "actor": "u-1"})
    relay = Relay(SERVICE, store, AmqpPublisher(amqp_uri, SERVICE))
    assert relay.run_once() == 1
    [(routing_key, envelope)] = drain(*bound_queue)
    assert routing_key == "ObserverRegistered"
    assert envelope["type"] == "ObserverRegistered"
    assert envelope["source"] == f"nazar/{SERVICE}"
    assert envelope["specversion"] == "1.0"
    assert (envelope["subject"], envelope["position"]) == ("obs-1", 1)
    assert envelope["correlationid"] == "corr-1"
    assert envelope["data"] == {"name": "Aida"}
    assert relay.checkpoint == 1


def test_a_message_carries_a_run_of_events_of_one_type_in_the_logs_order(
        store, amqp_uri, bound_queue):
    types = ["ObserverRegistered"] * (RUN_LENGTH + 2) + ["ObserverUpdated",
                                                         "ObserverRegistered"]
    for i, event_type in enumerate(types):
        store.append(f"obs-{i}", ANY, [NewEvent(event_type, {"i": i})])
    Relay(SERVICE, store, AmqpPublisher(amqp_uri, SERVICE),
          batch_size=len(types)).run_once()
    connection, queue = bound_queue
    consumer = connection.SimpleQueue(queue)
    runs = []
    while True:
        try:
            message = consumer.get(timeout=0.5)
        except consumer.Empty:
            break
        runs.append((message.delivery_info["routing_key"],
                     [e["position"] for e in json.loads(message.body)]))
        message.ack()
    consumer.close()
    assert runs == [("ObserverRegistered", list(range(1, RUN_LENGTH + 1))),
                    ("ObserverRegistered", [RUN_LENGTH + 1, RUN_LENGTH + 2]),
                    ("ObserverUpdated", [RUN_LENGTH + 3]),
                    ("ObserverRegistered", [RUN_LENGTH + 4])]


def test_events_written_while_the_relay_was_down_go_out_after_restart(
        store, amqp_uri, bound_queue):
    for i in range(5):
        store.append(f"s-{i}", ANY, [NewEvent("Happened", {"i": i})])
    crashing = Relay(SERVICE, store, CrashAfterPublish(amqp_uri, SERVICE), batch_size=3)
    with pytest.raises(SystemExit):
        crashing.run_once()
    assert crashing.checkpoint == 0

    restarted = Relay(SERVICE, store, AmqpPublisher(amqp_uri, SERVICE), batch_size=3)
    while restarted.run_once():
        pass
    positions = [envelope["position"] for _, envelope in drain(*bound_queue)]
    # At least once: the crashed batch arrives twice, nothing is missing.
    assert positions == [1, 2, 3, 1, 2, 3, 4, 5]
    assert restarted.checkpoint == 5


def test_a_bulk_import_holds_its_events_back_until_it_ends(store, amqp_uri, bound_queue):
    relay = Relay(SERVICE, store, AmqpPublisher(amqp_uri, SERVICE))
    with store.bulk():
        store.append("s-1", ANY, [NewEvent("Happened", {})])
        assert store.bulk_running()
        assert relay.run_once() == 0
    assert not store.bulk_running()
    assert relay.run_once() == 1
    assert [envelope["position"] for _, envelope in drain(*bound_queue)] == [1]


def test_a_bulk_mark_left_by_a_process_that_died_lapses(store):
    store.bulk_marks.insert_one({"_id": "died", "until": datetime.now(timezone.utc)})
    assert not store.bulk_running()


def test_nameko_handlers_get_the_correlation_and_causation(store, amqp_uri, bound_queue):
    [recorded] = store.append("obs-1", ANY, [NewEvent("Happened", {})],
                              metadata={"correlation_id": "corr-9"})
    Relay(SERVICE, store, AmqpPublisher(amqp_uri, SERVICE)).run_once()
    connection, queue = bound_queue
    message = connection.SimpleQueue(queue).get(timeout=5)
    assert message.headers == {"nameko.correlation_id": "corr-9",
                               "nameko.causation_id": recorded.id}


def test_a_batch_that_fails_half_way_publishes_nothing(amqp_uri, bound_queue):
    connection, channel = transactional_channel(amqp_uri)
    exchange = event_exchange(SERVICE).name

    def messages(fail_after=None):
        for n in range(3):
            if n == fail_after:
                raise ValueError("an envelope that cannot be encoded")
            yield amqp.Message(json.dumps({"n": n})), exchange, "ObserverRegistered"

    with pytest.raises(ValueError):
        publish_in_transaction(channel, messages(fail_after=2))
    publish_in_transaction(channel, messages())  # the channel is still usable
    # Only the whole batch arrived, not the failed one's first two.
    assert [body["n"] for _, body in drain(*bound_queue)] == [0, 1, 2]
    connection.release()
