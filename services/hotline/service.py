"""Hotline entrypoints: the observers' SMS channel (the gateway's webhook hands each
message to `receive_sms`) and the message log operators search. What the hotline
knows of observers comes from the registry's and deployment's events (Observers, fed by
a Subscriber); SMS reports go to reporting, check-ins to deployment, over RPC."""
import logging
from datetime import datetime, timezone

import eventlet
from nameko.rpc import RpcProxy, rpc

from services.hotline import commands
from services.hotline.commands import Unavailable
from services.hotline.projections import Hotline, MessageLog, Observers
from services.hotline.schemas import InboundSms, MessageFilter
from shared.errors import Problem, Rejected
from shared.runtime import EventLog, ReadModel, RequestContext, replies

log = logging.getLogger(__name__)
PARTNER_TIMEOUT_S = 10


def now():
    return datetime.now(timezone.utc)


class Partners:
    """The hand-off to other services, in the shapes of the agreed contract: reporting's
    `submit_report` and deployment's `check_in`. A service that does not answer in
    time raises Unavailable rather than holding the SMS gateway's request."""

    def __init__(self, reporting, deployment):
        self.reporting = reporting
        self.deployment = deployment

    def submit_report(self, command, idempotency_key):
        return self._call(self.reporting.submit_report, command, idempotency_key)

    def check_in(self, command, idempotency_key):
        return self._call(self.deployment.check_in, command, idempotency_key)

    def _call(self, method, command, idempotency_key):
        try:
            with eventlet.Timeout(PARTNER_TIMEOUT_S):
                return method(command, idempotency_key=idempotency_key)
        except (Exception, eventlet.Timeout) as exc:
            log.warning("partner call failed: %r", exc)
            raise Unavailable() from exc


class HotlineService:
    name = "hotline"

    context = RequestContext()
    log = EventLog(projections=[MessageLog], subscriptions=[(Observers, {
        "registry": ("ObserverRegistered", "ObserverUpdated", "ObserverSuspended",
                     "ObserverPhoneVerified"),
        "deployment": ("ObserverAssigned", "AssignmentWithdrawn")})])
    hotline = ReadModel(Hotline)
    reporting = RpcProxy("reporting")
    deployment = RpcProxy("deployment")

    @rpc
    @replies(InboundSms())
    def receive_sms(self, message):
        try:
            return commands.receive_sms(self.log, self.hotline,
                                        Partners(self.reporting, self.deployment),
                                        message, now())
        except Unavailable:
            raise Rejected(Problem("PARTNER_UNAVAILABLE", "the message is logged; "
                                   "reporting did not answer, deliver it again"))

    @rpc
    def messages(self, filter):
        return self.hotline.messages(MessageFilter().load(filter or {}))

    @rpc
    def ping(self):
        return "pong"
