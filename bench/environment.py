"""What every benchmark runs against: the embedded mongod (or MONGO_URI) and a RabbitMQ
vhost of its own, removed afterwards."""
import contextlib
import json
import os
import time
import uuid
from datetime import datetime, timezone

from deploy.broker import (amqp_uri_for_vhost, create_vhost, delete_vhost, ensure_rabbitmq,
                           queued_messages)
from deploy.mongod import EmbeddedMongod
from deploy.platform import running_platform
from shared import config
from shared.envelope import to_envelope
from shared.eventstore import RecordedEvent
from shared.mongo import connect
from shared.relay import AmqpPublisher

SECRET = "bench-secret-that-is-long-enough-for-hs256"

BENCH_MONGO_PORT = 27119


@contextlib.contextmanager
def bench_environment():
    """Yields (mongo uri, amqp uri)."""
    mongod = None
    mongo_uri = os.environ.get("MONGO_URI")
    if not mongo_uri:
        mongod = EmbeddedMongod(config.VAR / "mongo-bench", BENCH_MONGO_PORT)
        mongo_uri = mongod.start()
    base_amqp = config.amqp_uri()
    ensure_rabbitmq(base_amqp, management=True)
    vhost = f"nazar-bench-{uuid.uuid4().hex[:8]}"
    create_vhost(vhost)
    try:
        yield mongo_uri, amqp_uri_for_vhost(base_amqp, vhost)
    finally:
        delete_vhost(vhost)
        if mongod:
            mongod.stop()


@contextlib.contextmanager
def bench_platform(secret=SECRET):
    """The platform started as `make run` starts it, on databases of its own (dropped
    afterwards); yields (platform, database(service), amqp uri)."""
    prefix = f"bench_{uuid.uuid4().hex[:6]}_"
    with bench_environment() as (mongo_uri, amqp_uri):
        client = connect(mongo_uri)
        try:
            with running_platform({"MONGO_URI": mongo_uri, "NAZAR_DB_PREFIX": prefix,
                                   "AMQP_URI": amqp_uri,
                                   "NAZAR_TOKEN_SECRET": secret}) as platform:
                yield platform, lambda service: client[f"{prefix}{service}"], amqp_uri
        finally:
            for name in client.list_database_names():
                if name.startswith(prefix):
                    client.drop_database(name)
            client.close()


def settled(amqp_uri, quiet_s=6):
    """No message waiting in the platform's queues, twice `quiet_s` apart (the
    management API refreshes its figures every five seconds)."""
    if queued_messages(amqp_uri):
        return False
    time.sleep(quiet_s)
    return not queued_messages(amqp_uri)


def report(name, title, figures, targets, width=28, digits=1):
    """Prints each figure against its target (an upper bound), writes them to
    var/bench/<name>.json; returns the exit code: 1 if any misses its target."""
    print(title)
    for figure, value in figures.items():
        target = targets.get(figure)
        verdict = "" if target is None else (
            f"target <= {target:<6} {'ok' if value <= target else 'ABOVE TARGET'}")
        print(f"  {figure:<{width}}{value:>10.{digits}f}   {verdict}")
    out = config.VAR / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(figures, indent=2))
    return 0 if all(figures[f] <= t for f, t in targets.items()) else 1


def announce(amqp_uri, service, event_type, items, batch=1000):
    """Publishes an `event_type` event per (stream id, data) of `items` on
    `<service>.events`, as that service's relay would."""
    publisher = AmqpPublisher(amqp_uri, service)
    now = datetime.now(timezone.utc)
    for start in range(0, len(items), batch):
        publisher.publish([to_envelope(service, RecordedEvent(
            id=str(uuid.uuid4()), stream_id=stream_id, version=1,
            position=start + i + 1, type=event_type, schema_version=1, data=data,
            metadata={"occurred_at": now, "actor": "bench"}))
            for i, (stream_id, data) in enumerate(items[start:start + batch])])
    publisher.close()
