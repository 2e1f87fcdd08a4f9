"""The subscriber: a background job that feeds other services' events to a read model
of this service, through the inbox (which records nothing for an idempotent read model),
a batch per transaction.

One nameko event handler per message costs a transaction per event, and concurrent
handlers clash on whatever documents they share; a station list of 100,000 arrives in
minutes that way. The subscriber takes about `batch_size` events (a message carries a run
of them) from a durable queue of its own, applies the new ones in one transaction, and
only then acks them all: a crash in between redelivers them, and the inbox skips what
was applied. A message that is not event envelopes is parked in `unreadable_events`,
so it neither stalls the read model behind it nor gets lost.
"""
import hashlib
import logging
import socket
import time
from datetime import datetime, timezone

from kombu import Connection, Consumer, Queue, binding

from shared.envelope import envelopes, from_envelope
from shared.projections import Inbox, create_indexes
from shared.relay import event_exchange

log = logging.getLogger(__name__)


class Subscriber:
    """`sources` maps a service to the event types to take from its exchange; `then`,
    if given, is called with each batch's events (those applied before too) once the
    read model has them and before they are acked, so what it does is retried after a
    crash and must be idempotent."""

    def __init__(self, db, projection, sources, amqp_uri, batch_size=500, then=None):
        self.db = db
        self.projection = projection
        self.then = then
        self.amqp_uri = amqp_uri
        self.batch_size = batch_size
        if not projection.name:
            raise ValueError(f"{type(projection).__name__} needs a name for its queue")
        # Named after the database and the read model: two platforms on one broker,
        # and two read models of one service, each keep their own queue and inbox.
        consumer = f"{db.name}.{projection.name}"
        self.inbox = Inbox(db, consumer)
        self.queue = Queue(f"{consumer}.inbox", durable=True, bindings=[
            binding(event_exchange(service), routing_key=event_type)
            for service, event_types in sources.items() for event_type in event_types])

    def declare(self):
        """Creates the read model's indexes and the queue with its bindings, so events
        published from now on wait for the subscriber even before it runs."""
        create_indexes(self.db, self.projection)
        with Connection(self.amqp_uri) as connection:
            channel = connection.channel()
            for bound in self.queue.bindings:
                bound.exchange(channel).declare()
            self.queue(channel).declare()

    def run(self, should_stop, idle=0.05, linger=0.5):
        """`idle`: how long a started batch waits for more; `linger`: how long an
        empty one waits before should_stop() is asked again."""
        while not should_stop():
            try:
                self._consume(should_stop, idle, linger)
            except Exception:
                log.exception("subscriber %s failed; reconnecting", self.queue.name)
                time.sleep(1)

    def _consume(self, should_stop, idle, linger):
        with Connection(self.amqp_uri, heartbeat=0) as connection:
            channel = connection.channel()
            # A message carries up to a run of events (shared/relay.py): this many
            # messages in hand hold a batch or more.
            channel.basic_qos(0, max(1, self.batch_size // 5), False)
            pending, events = [], []

            def take(message):
                pending.append(message)
                events.extend(self._read(message))
            with Consumer(channel, [self.queue], accept=["json"], on_message=take):
                while not should_stop():
                    try:
                        # Waiting long costs nothing when no batch is started.
                        connection.drain_events(timeout=idle if pending else linger)
                        if len(events) < self.batch_size:
                            continue
                    except socket.timeout:
                        pass
                    if pending:
                        self.inbox.apply_all(self.projection, events)
                        if self.then:
                            self.then(events)
                        pending[-1].ack(multiple=True)
                        pending.clear()
                        events.clear()

    def _read(self, message):
        """The events a message carries; none, parked, when it is not readable."""
        try:
            return [from_envelope(e) for e in envelopes(message.decode())]
        except Exception as exc:  # whatever the body is, it is not an event
            self._park(message, exc)
            return []

    def _park(self, message, error):
        log.error("subscriber %s parked an unreadable message: %r", self.queue.name, error)
        body = message.body if isinstance(message.body, bytes) else message.body.encode()
        # Keyed by content: a redelivery after a crash is parked once.
        key = f"{self.queue.name}:{hashlib.sha256(body).hexdigest()}"
        self.db["unreadable_events"].update_one({"_id": key}, {"$setOnInsert": {
            "queue": self.queue.name, "body": body.decode(errors="replace"),
            "content_type": message.content_type, "error": repr(error),
            "at": datetime.now(timezone.utc)}}, upsert=True)
