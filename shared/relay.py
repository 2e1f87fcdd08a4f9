"""The relay: publishes the service's stored events to RabbitMQ, at least once.

The events collection is the outbox. The relay reads from its durable checkpoint,
publishes a batch inside an AMQP transaction (one round trip per batch: the broker has
taken every message once tx.commit returns), and only then moves the checkpoint. A crash
anywhere in between republishes from the old checkpoint; consumers skip what they saw.
"""
import json
import logging

import amqp
from kombu import Connection, Exchange

from shared import catalog
from shared.envelope import exchange_name, to_envelope
from shared.lease import Lease
from shared.logwatch import LogWatch, follow

log = logging.getLogger(__name__)

PERSISTENT = 2
RUN_LENGTH = 100
"""Most events in one message on a service's exchange (see runs)."""


def event_exchange(service):
    # Declared exactly as nameko's EventDispatcher declares it, so nameko
    # @event_handler consumers and partners bind to the same exchange.
    return Exchange(exchange_name(service), type="topic", durable=True,
                    delivery_mode=PERSISTENT)


def partner_exchange():
    return Exchange(catalog.PARTNER_EXCHANGE, type="topic", durable=True,
                    delivery_mode=PERSISTENT)


def transactional_channel(amqp_uri):
    """(connection, channel) for publishing in AMQP transactions.

    py-amqp polls the socket for a connection.blocked notice before every publish: a
    recv call per message that cost as much as the publish itself. Here the notice is
    read once per batch, while tx.commit waits for its answer."""
    connection = Connection(amqp_uri, heartbeat=0)
    channel = connection.channel()
    channel.tx_select()
    channel.connection.client_properties.get("capabilities", {})["connection.blocked"] = False
    return connection, channel


def publish_in_transaction(channel, messages):
    """Publishes (message, exchange, routing key) triples in one AMQP transaction: once
    this returns the broker holds every one of them; after an error, none.

    py-amqp writes each message to the socket on its own; here a batch's frames are
    gathered and written at once, one system call per batch instead of per message."""
    transport = channel.connection.transport
    frames = bytearray()
    transport._write = frames.extend  # a copy: py-amqp reuses its frame buffer
    try:
        for message, exchange, routing_key in messages:
            channel.basic_publish(message, exchange=exchange, routing_key=routing_key)
    finally:
        transport._write = transport.sock.sendall
    transport.write(frames)
    channel.tx_commit()


def _message(body, envelope):
    return amqp.Message(
        body, content_type="application/json", content_encoding="utf-8",
        delivery_mode=PERSISTENT, message_id=envelope["id"],
        # Read by nameko handlers as context data: what they do in turn is
        # recorded as caused by this event, in the same correlation.
        application_headers={"nameko.correlation_id": envelope["correlationid"] or "",
                             "nameko.causation_id": envelope["id"]})


def runs(envelopes, longest=RUN_LENGTH):
    """Consecutive envelopes of one type, at most `longest` together: each run is one
    message. The broker's work is per message and per queue it reaches, about 0.1 ms
    on this machine; an import of 300,000 observers, fanned out to five services,
    spent more processor time in RabbitMQ than in the registry. A run keeps the log's
    order, as each consumer's queue receives the messages in order."""
    run = []
    for envelope in envelopes:
        if run and (envelope["type"] != run[0]["type"] or len(run) == longest):
            yield run
            run = []
        run.append(envelope)
    if run:
        yield run


class AmqpPublisher:
    """Publishes envelopes to `<service>.events`, a batch per AMQP transaction, and
    the partners' copies of the partner events (redacted, one per published version:
    shared/catalog.py) to `partners.events` keyed by region and version.

    A separate exchange rather than region-bearing keys on ours: every internal
    binding (nameko handlers, subscribers) keeps its exact event-type key, and only
    the few partner event types pay a second publish, never a registry import."""

    def __init__(self, amqp_uri, service):
        self.amqp_uri = amqp_uri
        self.service = service
        self.exchange = event_exchange(service)
        self.partner_events = catalog.partner_events(service)
        self._connection = None
        self._channel = None

    def publish(self, envelopes):
        try:
            self._publish(envelopes)
        except Exception:
            self.close()  # start from a fresh connection next time
            raise

    def _publish(self, envelopes):
        # py-amqp directly: kombu's Producer costs as much again per message here.
        publish_in_transaction(self._ensure_channel(), (
            published for run in runs(envelopes) for published in self._copies(run)))

    def _copies(self, run):
        """The run for our exchange, then each envelope's partner versions, if any."""
        yield _message(json.dumps(run), run[0]), self.exchange.name, run[0]["type"]
        if run[0]["type"] in self.partner_events:
            for envelope in run:
                for routing_key, body in catalog.partner_bodies(self.service, envelope):
                    yield _message(body, envelope), catalog.PARTNER_EXCHANGE, routing_key

    def _ensure_channel(self):
        if self._channel is None:
            self._connection, channel = transactional_channel(self.amqp_uri)
            self.exchange(channel).declare()
            partner_exchange()(channel).declare()
            self._channel = channel
        return self._channel

    def close(self):
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:  # already broken; nothing left to release
                log.debug("closing a broken AMQP connection", exc_info=True)
        self._connection = self._channel = None


class Relay:
    def __init__(self, service, store, publisher, batch_size=1000, watch=None):
        self.service = service
        self.store = store
        self.publisher = publisher
        self.batch_size = batch_size
        self.checkpoints = store.db["checkpoints"]
        self.lease = Lease(store.db, "relay")
        self.watch = watch or LogWatch(store.db)

    @property
    def checkpoint(self):
        doc = self.checkpoints.find_one({"_id": "relay"})
        return doc["position"] if doc else 0

    def run_once(self):
        """Publish the next batch; returns how many events went out.

        Nothing goes out while a bulk import runs (EventStore.bulk): every consumer's
        share of it would compete with the import inside mongod, where the jobs'
        niceness does not reach. They take it in once the import has ended."""
        if self.store.bulk_running():
            return 0
        events = self.store.read_all(self.checkpoint, limit=self.batch_size)
        if not events:
            return 0
        self.publisher.publish([to_envelope(self.service, e) for e in events])
        self.checkpoints.update_one(
            {"_id": "relay"}, {"$set": {"position": events[-1].position}}, upsert=True)
        return len(events)

    def run(self, should_stop):
        follow("relay", self.watch, self.lease, self.run_once, should_stop,
               full=self.batch_size)
        self.publisher.close()
