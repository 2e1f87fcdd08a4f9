"""Foundation benchmark (`make bench`): appends/s, relay events/s, projection catch-up/s.

Runs as the services run (eventlet, one process), against the embedded mongod (or
MONGO_URI) and a RabbitMQ vhost of its own with one durable queue bound to every event,
so each relayed message is really routed and persisted. Prints each figure against its
target and writes them to var/bench/foundation.json.
"""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from kombu import Connection, Queue  # noqa: E402

from bench.environment import bench_environment  # noqa: E402
from services.registry.projections import ObserverDirectory  # noqa: E402
from shared import config  # noqa: E402
from shared.envelope import envelopes  # noqa: E402
from shared.eventstore import NO_STREAM, EventStore, NewEvent  # noqa: E402
from shared.mongo import connect  # noqa: E402
from shared.projections import ProjectionRunner  # noqa: E402
from shared.relay import AmqpPublisher, Relay, event_exchange  # noqa: E402

TARGETS = {"appends_per_s": 2000, "relay_events_per_s": 3000,
           "projection_events_per_s": 5000}


def observer_registered(i):
    return NewEvent("ObserverRegistered", {
        "observer_id": f"obs-{i}", "full_name": f"Observer Number {i}",
        "phones": [f"+99655{i:07d}"], "region": f"KG-{i % 9}", "locale": "ru",
        "organization_id": None})


def bench_appends(store, commands, concurrency):
    """One event per command, each command its own stream, `concurrency` at once."""
    pool = eventlet.GreenPool(concurrency)
    metadata = {"actor": "bench", "channel": "bench", "correlation_id": "bench"}
    started = time.perf_counter()
    for i in range(commands):
        pool.spawn_n(store.append, f"obs-{i}", NO_STREAM, [observer_registered(i)],
                     metadata)
    pool.waitall()
    return commands / (time.perf_counter() - started)


def bench_relay(store, amqp_uri, events):
    with Connection(amqp_uri) as connection:
        queue = Queue("bench-partner", event_exchange("bench"), routing_key="#",
                      durable=True)
        queue(connection.channel()).declare()
        relay = Relay("bench", store, AmqpPublisher(amqp_uri, "bench"))
        started = time.perf_counter()
        while relay.run_once():
            pass
        elapsed = time.perf_counter() - started
        relay.publisher.close()
        routed = 0
        consumer = connection.SimpleQueue(queue)
        while True:
            try:
                message = consumer.get(timeout=1)
            except consumer.Empty:
                break
            routed += len(envelopes(json.loads(message.body)))
            message.ack()
        consumer.close()
    if routed != events:
        sys.exit(f"relay routed {routed} of {events} events")
    return events / elapsed


def bench_projection(store, events):
    runner = ProjectionRunner(store, ObserverDirectory())
    runner.setup()
    started = time.perf_counter()
    runner.run_until_caught_up()
    elapsed = time.perf_counter() - started
    if store.db["observers"].count_documents({}) != events:
        sys.exit("projection missed events")
    return events / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()

    with bench_environment() as (mongo_uri, amqp_uri):
        client = connect(mongo_uri)
        database = f"bench_{uuid.uuid4().hex[:8]}"
        store = EventStore(client[database])
        store.ensure_indexes()
        try:
            figures = {
                "appends_per_s": bench_appends(store, args.events, args.concurrency),
                "relay_events_per_s": bench_relay(store, amqp_uri, args.events),
                "projection_events_per_s": bench_projection(store, args.events),
            }
        finally:
            store.close()
            client.drop_database(database)
            client.close()

    print(f"Foundation benchmark: {args.events} events, {args.concurrency} concurrent "
          f"appenders, {os.cpu_count()} cores")
    for name, value in figures.items():
        verdict = "ok" if value >= TARGETS[name] else "BELOW TARGET"
        print(f"  {name:<26}{value:>10,.0f}   target {TARGETS[name]:>6,}   {verdict}")
    out = config.VAR / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "foundation.json").write_text(json.dumps(
        {"events": args.events, "concurrency": args.concurrency, **figures}, indent=2))
    sys.exit(0 if all(figures[n] >= t for n, t in TARGETS.items()) else 1)


if __name__ == "__main__":
    main()
