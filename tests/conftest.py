"""Fixtures for the real parts: the embedded (or given) mongod and a RabbitMQ vhost of
this test run's own, so tests never meet a platform started with `make run`."""
import os
import uuid

import pytest
from pymongo import monitoring

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


class CommandNames(monitoring.CommandListener):
    """The names of the commands a client sends, in order."""

    def __init__(self):
        self.names = []

    def started(self, event):
        self.names.append(event.command_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


@pytest.fixture
def watched(db, mongo_uri):
    """(an event store on `db` through a client of its own, the names of the commands
    that client sends to mongod): for tests that count the trips a path makes."""
    commands = CommandNames()
    client = connect(mongo_uri, event_listeners=[commands])
    store = EventStore(client[db.name])
    store.ensure_indexes()
    yield store, commands.names
    store.close()
    client.close()


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
