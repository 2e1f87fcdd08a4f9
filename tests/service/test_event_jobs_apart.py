"""A service whose background jobs run in a process of their own (as `make run` runs
it) still has its subscribers' queues as soon as it answers: what other services
publish before the jobs process starts waits for it instead of being lost."""
import uuid
from datetime import datetime, timezone

from kombu import Connection
from nameko.rpc import rpc

from shared import config
from shared.envelope import to_envelope
from shared.eventstore import RecordedEvent
from shared.relay import AmqpPublisher
from shared.runtime import EventLog
from tests.contract.test_projections import Tally


class Counting:
    name = "counting"
    log = EventLog(subscriptions=[(Tally, {"polling": ["VoteCounted"]})])

    @rpc
    def ping(self):
        return "pong"


def test_queues_exist_before_the_jobs_process_runs(container_factory, service_config,
                                                   monkeypatch, amqp_uri):
    monkeypatch.setenv("NAZAR_EVENT_JOBS", "separate")
    container_factory(Counting, service_config).start()
    publisher = AmqpPublisher(amqp_uri, "polling")
    publisher.publish([to_envelope("polling", RecordedEvent(
        id=str(uuid.uuid4()), stream_id="station-1", version=1, position=1,
        type="VoteCounted", schema_version=1, data={"candidate": "a", "votes": 1},
        metadata={"occurred_at": datetime.now(timezone.utc)}))])
    publisher.close()
    queue = f"{config.database_name('counting')}.{Tally.name}.inbox"
    with Connection(amqp_uri) as connection:
        declared = connection.channel().queue_declare(queue, passive=True)
    assert declared.message_count == 1
