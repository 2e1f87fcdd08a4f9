"""Partners: the archive of partner events (fed by a Subscriber, for replay) and the
consumer of `partners.inbound`. Partners themselves speak only AMQP: see
docs/partners.md. The RPCs are for operators and the gateway."""
import functools
import logging
import socket
import time

from kombu import Connection, Consumer
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy

from services.partners import access, domain, inbound
from services.partners.outbox import QueueWriter
from services.partners.projections import PartnerFeed, feed_sources
from shared.mongo import connect, service_database
from shared.runtime import EventLog

log = logging.getLogger(__name__)

RPC_TIMEOUT_S = 30


class InboundConsumer:
    """Takes one inbound message at a time, handles it and only then acks it: a crash
    or a failed call to reporting leaves it queued for another try."""

    def __init__(self, db, amqp_uri, rpc_config):
        self.db = db
        self.amqp_uri = amqp_uri
        self.rpc_config = rpc_config
        self.proxies = {}

    def submit(self, partner):
        """reporting.submit_report, called as the partner (its actor scopes the keys)."""
        if partner not in self.proxies:
            proxy = ServiceRpcProxy("reporting", self.rpc_config, timeout=RPC_TIMEOUT_S,
                                    context_data={"actor": domain.channel(partner),
                                                  "channel": domain.channel(partner)})
            self.proxies[partner] = (proxy, proxy.start())
        return self.proxies[partner][1].submit_report

    def run(self, should_stop, idle=0.2):
        access.declare_exchanges(self.amqp_uri)
        while not should_stop():
            try:
                self._consume(should_stop, idle)
            except Exception:
                log.exception("inbound consumer failed; reconnecting")
                time.sleep(1)
        for proxy, _ in self.proxies.values():
            proxy.stop()

    def _consume(self, should_stop, idle):
        with Connection(self.amqp_uri, heartbeat=0) as connection, \
                QueueWriter(self.amqp_uri) as writer:
            channel = connection.channel()
            channel.basic_qos(0, 1, False)
            handle = functools.partial(self._handle, writer)
            with Consumer(channel, [access.inbound_queue()], accept=["json"],
                          on_message=handle):
                while not should_stop():
                    try:
                        connection.drain_events(timeout=idle)
                    except socket.timeout:
                        pass

    def _handle(self, writer, message):
        routing_key = message.delivery_info["routing_key"]
        try:
            body = message.decode()
        except Exception:  # not JSON: dead-lettered as a bad schema
            body = None
        partner = routing_key.partition(".")[0]
        inbound.handle(self.db, writer, self.submit(partner), routing_key,
                       message.properties.get("message_id"), body)
        message.ack()


class Inbound(DependencyProvider):
    """Runs the InboundConsumer beside the service's entrypoints."""

    def setup(self):
        self.client = connect()
        self._stopping = False
        self.consumer = InboundConsumer(
            service_database(self.client, self.container.service_name),
            self.container.config["AMQP_URI"], self.container.config)

    def start(self):
        self.thread = self.container.spawn_managed_thread(
            functools.partial(self.consumer.run, lambda: self._stopping))

    def stop(self):
        self._stopping = True
        self.thread.wait()
        self.client.close()

    def kill(self):
        self._stopping = True


class PartnersService:
    name = "partners"

    log = EventLog(relay=False, subscriptions=[(PartnerFeed, feed_sources())])
    inbound = Inbound()

    @rpc
    def ping(self):
        return "pong"
