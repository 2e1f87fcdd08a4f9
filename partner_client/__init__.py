"""A partner system's client for Nazar's event contract (docs/partners.md), on kombu.

    client = PartnerClient("amqp://kg-c-hq:secret@broker:5672/")
    client.subscribe("incidents", [("reporting", "KG-C", "IncidentReported")])
    for event in client.events("incidents"):
        print(event["type"], event["data"])

It never declares our exchanges (a partner may not): it declares and binds its own
queues `partner.<name>.*` and publishes to `partners.inbound` as itself.
"""
import collections
import json
import socket
import time
import uuid
from urllib.parse import unquote, urlsplit

from kombu import Connection

EVENTS_EXCHANGE = "partners.events"
INBOUND_EXCHANGE = "partners.inbound"
PREFETCH = 1000
ACK_EVERY = 200
POLL_S = 0.1


class PartnerClient:
    def __init__(self, uri):
        self.name = unquote(urlsplit(uri).username)
        self.connection = Connection(uri, heartbeat=0)
        self.channel = self.connection.channel()

    def queue(self, suffix):
        return f"partner.{self.name}.{suffix}"

    def subscribe(self, suffix, events):
        """Declares durable queue partner.<name>.<suffix> bound to each (service,
        region, event type or "*"[, schema version]); returns its name. Without a
        version every published version comes: while an older one is deprecated
        (docs/events.md) that is two copies of such an event, so pin the one you read.
        The broker refuses a binding outside the agreement (AccessRefused)."""
        queue = self.queue(suffix)
        self.channel.queue_declare(queue, durable=True, auto_delete=False)
        for service, region, event_type, *version in events:
            version = f"v{version[0]}" if version else "*"
            self.channel.queue_bind(queue, EVENTS_EXCHANGE,
                                    f"{service}.{region}.{event_type}.{version}")
        return queue

    def events(self, suffix, timeout=None):
        """Yields the messages of queue partner.<name>.<suffix> as dicts; stops after
        `timeout` seconds of quiet (None: never). A message is acked once the loop asks
        for the next, in batches (every ACK_EVERY, and whenever the queue is quiet):
        after a crash a batch comes again, as at-least-once delivery may; skip the ids
        you have handled."""
        received, unacked, pending = collections.deque(), None, 0
        self.channel.basic_qos(0, PREFETCH, False)
        tag = self.channel.basic_consume(self.queue(suffix), callback=received.append)
        quiet_since = time.monotonic()
        try:
            while True:
                while received:
                    message = received.popleft()
                    yield json.loads(message.body)
                    unacked, pending = message.delivery_tag, pending + 1
                    if pending == ACK_EVERY:
                        self.channel.basic_ack(unacked, multiple=True)
                        unacked, pending = None, 0
                try:
                    self.connection.drain_events(timeout=POLL_S)
                    quiet_since = time.monotonic()
                except socket.timeout:
                    if unacked is not None:
                        self.channel.basic_ack(unacked, multiple=True)
                        unacked, pending = None, 0
                    if timeout is not None and time.monotonic() - quiet_since >= timeout:
                        return
        finally:
            if unacked is not None:
                self.channel.basic_ack(unacked, multiple=True)
            self.channel.basic_cancel(tag)

    def publish_report(self, report, message_id=None):
        """Publishes an observer report (checklist, incident or turnout); the outcome
        arrives on `receipts` or, refused, on `dead`. Returns the message id."""
        return self._publish("report", report, message_id)

    def request_replay(self, suffix, after=None, since=None):
        """Asks for the events of the agreement after {service: position} or since an
        ISO time, sent again in order onto queue partner.<name>.<suffix>."""
        return self._publish("replay", {"queue": self.queue(suffix), "after": after,
                                        "since": since})

    def _publish(self, kind, body, message_id=None):
        message_id = message_id or str(uuid.uuid4())
        self.channel.basic_publish(
            self.channel.prepare_message(
                json.dumps(body), content_type="application/json", content_encoding="utf-8",
                properties={"message_id": message_id, "user_id": self.name,
                            "delivery_mode": 2}),
            exchange=INBOUND_EXCHANGE, routing_key=f"{self.name}.{kind}")
        return message_id

    def close(self):
        self.connection.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
