"""What every benchmark runs against: the embedded mongod (or MONGO_URI) and a RabbitMQ
vhost of its own, removed afterwards."""
import contextlib
import os
import uuid

from deploy.broker import amqp_uri_for_vhost, create_vhost, delete_vhost, ensure_rabbitmq
from deploy.mongod import EmbeddedMongod
from shared import config

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
