"""Fixtures for the real parts: the embedded (or given) mongod and a RabbitMQ vhost of
this test run's own, so tests never meet a platform started with `make run`."""
import os
import uuid

import pytest

from deploy.broker import amqp_uri_for_vhost, create_vhost, delete_vhost, ensure_rabbitmq
from deploy.mongod import EmbeddedMongod
from shared import config
from shared.eventstore import EventStore
from shared.mongo import connect

TEST_MONGO_PORT = 27118


@pytest.fixture(scope="session")
def mongo_uri():
    if os.environ.get("MONGO_URI"):
        yield os.environ["MONGO_URI"]
        return
    mongod = EmbeddedMongod(config.VAR / "mongo-test", TEST_MONGO_PORT)
    yield mongod.start()
    mongod.stop()


@pytest.fixture(scope="session")
def mongo_client(mongo_uri):
    client = connect(mongo_uri)
    yield client
    # Dropped at the end, not per test: containers may still write while they stop.
    for name in client.list_database_names():
        if name.startswith("test_"):
            client.drop_database(name)
    client.close()


@pytest.fixture
def db(mongo_client):
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield mongo_client[name]
    mongo_client.drop_database(name)


@pytest.fixture
def store(db):
    store = EventStore(db)
    store.ensure_indexes()
    yield store
    store.close()


@pytest.fixture(scope="session")
def amqp_uri():
    base = config.amqp_uri()
    ensure_rabbitmq(base, management=True)
    vhost = f"nazar-test-{uuid.uuid4().hex[:8]}"
    create_vhost(vhost)
    yield amqp_uri_for_vhost(base, vhost)
    delete_vhost(vhost)


@pytest.fixture
def platform_env(monkeypatch, mongo_client, mongo_uri, amqp_uri):
    """Environment for services under test: the test mongod and vhost, and a database
    prefix of the test's own. Returns the prefix."""
    prefix = f"test_{uuid.uuid4().hex[:8]}_"
    monkeypatch.setenv("MONGO_URI", mongo_uri)
    monkeypatch.setenv("AMQP_URI", amqp_uri)
    monkeypatch.setenv("NAZAR_DB_PREFIX", prefix)
    monkeypatch.setenv("NAZAR_TOKEN_SECRET", "test-secret-of-at-least-32-bytes-" + prefix)
    return prefix


@pytest.fixture
def service_config(platform_env, amqp_uri):
    return config.nameko_config(AMQP_URI=amqp_uri)
