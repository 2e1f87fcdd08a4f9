"""Hotline entrypoints: the observers' SMS channel (the gateway's webhook hands the
messages to `receive_sms_of`, in rounds), the message log operators search, broadcasts
through the SMS provider, and the citizens' appeals desk. Commands answer {"ok": true,
"data"} or {"ok": false, "errors"}. What the hotline knows of observers comes from the
registry's and deployment's events (Observers, fed by a Subscriber); SMS reports go to
reporting, check-ins to deployment, over RPC."""
import logging
from datetime import datetime, timezone

import eventlet
from nameko.rpc import rpc
from nameko.timer import timer

from services.hotline import commands
from services.hotline.provider import provider
from services.hotline.commands import Unavailable
from services.hotline.projections import Appeals, Hotline, MessageLog, Observers
from services.hotline.schemas import (AnswerAppeal, AssignAppeal, CommentAppeal,
                                      DefineFaq, EscalateAppeal, InboundSms,
                                      MessageFilter, OnAppeal, OpenAppeal, SendBroadcast)
from shared import logs
from shared.errors import Problem, Rejected
from shared.runtime import (BoundEventLog, EventLog, Gathered, ReadModel,
                            RequestContext, RpcProxy, replies)

log = logging.getLogger(__name__)
PARTNER_TIMEOUT_S = 10
OVERDUE_CHECK_S = 60


def now():
    return datetime.now(timezone.utc)


def _moment(text):
    return datetime.fromisoformat(text) if text else None


class Partners:
    """The hand-off to other services, in the shapes of the agreed contract: reporting's
    `submit_report` and deployment's `check_in`. A service that does not answer in
    time raises Unavailable rather than holding the SMS gateway's request."""

    def __init__(self, submit_report, check_in):
        self._submit_report = submit_report
        self._check_in = check_in

    def submit_report(self, command, idempotency_key):
        return self._call(self._submit_report, command, idempotency_key)

    def check_in(self, command, idempotency_key):
        return self._call(self._check_in, command, idempotency_key)

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
    log = EventLog(projections=[MessageLog, Appeals], subscriptions=[(Observers, {
        "registry": ("ObserverRegistered", "ObserverUpdated", "ObserverSuspended",
                     "ObserverPhoneVerified", "ObserverStatusChanged"),
        "deployment": ("ObserverAssigned", "AssignmentWithdrawn")})])
    hotline = ReadModel(Hotline)
    # SMS reports reach reporting in rounds (see shared.runtime.Gathered).
    submissions = Gathered("reporting", "submit_reports_of", timeout=PARTNER_TIMEOUT_S)
    deployment = RpcProxy("deployment")

    @rpc
    def receive_sms(self, message):
        return self._receive_sms(message, log=self.log, submissions=self.submissions,
                                 deployment=self.deployment,
                                 reads=commands.Reads(self.log, self.hotline, [message]))

    @rpc
    def receive_sms_of(self, items):
        """Messages the gateway gathered from concurrent webhook calls (see
        shared.runtime.Gathered): items are [metadata, message, key], each answered, in
        order, as receive_sms answers it. They are read together, then decided side by
        side, so their reports share rounds to reporting and their appends share
        commits."""
        round_fields = logs.bound()
        reads = commands.Reads(self.log, self.hotline, [message for _, message, _ in items])

        def received(item):
            metadata, message, _ = item
            # Each message's log lines carry its own request's correlation id.
            logs.bind(**{**round_fields, "correlation_id": metadata["correlation_id"]})
            try:
                return self._receive_sms(
                    message, log=BoundEventLog(self.log.store, metadata),
                    submissions=self.submissions.on_behalf(metadata),
                    deployment=self.deployment.on_behalf(metadata), reads=reads)
            finally:
                logs.clear()
        # Green threads: a pool of OS-style threads per round cost more than its work.
        return list(eventlet.GreenPool(max(len(items), 1)).imap(received, items))

    @replies(InboundSms())
    def _receive_sms(self, message, log, submissions, deployment, reads):
        try:
            return commands.receive_sms(log, reads,
                                        Partners(submissions, deployment.check_in),
                                        message, now())
        except Unavailable:
            raise Rejected(Problem("PARTNER_UNAVAILABLE", "the message is logged; "
                                   "reporting did not answer, deliver it again"))

    @rpc
    def messages(self, filter):
        return self.hotline.messages(MessageFilter().load(filter or {}))

    @rpc
    @replies(OpenAppeal())
    def open_appeal(self, command, idempotency_key=None):
        return self._appeal(commands.open_appeal(self.log, command, now(),
                                                 idempotency_key))

    @rpc
    @replies(AssignAppeal())
    def assign_appeal(self, command, idempotency_key=None):
        return self._appeal(commands.assign_appeal(self.log, command, now(),
                                                   idempotency_key))

    @rpc
    @replies(EscalateAppeal())
    def escalate_appeal(self, command, idempotency_key=None):
        return self._appeal(commands.escalate_appeal(self.log, command, now(),
                                                     idempotency_key))

    @rpc
    @replies(AnswerAppeal())
    def answer_appeal(self, command, idempotency_key=None):
        return self._appeal(commands.answer_appeal(self.log, command, now(),
                                                   idempotency_key))

    @rpc
    @replies(OnAppeal())
    def close_appeal(self, command, idempotency_key=None):
        return self._appeal(commands.close_appeal(self.log, command, now(),
                                                  idempotency_key))

    @rpc
    @replies(CommentAppeal())
    def comment_appeal(self, command, idempotency_key=None):
        return self._appeal(commands.comment_appeal(self.log, command, now(),
                                                    idempotency_key))

    @rpc
    @replies(DefineFaq())
    def define_faq(self, command, idempotency_key=None):
        return {"id": commands.define_faq(self.log, command, idempotency_key).key,
                **{k: command[k] for k in ("question", "answer", "category")}}

    @rpc
    @replies(SendBroadcast())
    def broadcast(self, command, idempotency_key=None):
        return commands.broadcast(self.log, self.hotline, provider(), command, now(),
                                  idempotency_key)

    @timer(interval=OVERDUE_CHECK_S)
    def watch_overdue(self):
        commands.flag_overdue(self.log, self.hotline, now())

    @rpc
    def flag_overdue(self):
        return commands.flag_overdue(self.log, self.hotline, now())

    @rpc
    def appeals(self, filter):
        return self.hotline.appeals(filter or {})

    @rpc
    def appeal(self, appeal_id):
        return self.hotline.appeal(appeal_id)

    @rpc
    def faq(self):
        return self.hotline.faq()

    @rpc
    def stats(self, region=None, start=None, end=None):
        return self.hotline.stats(region, _moment(start), _moment(end))

    def _appeal(self, appeal):
        """The appeal as the command left it (the read model follows)."""
        facts = {k: v for k, v in appeal.facts.items() if k != "appeal_id"}
        return {**facts, "id": appeal.key, "status": appeal.status,
                "overdue": appeal.overdue}

    @rpc
    def ping(self):
        return "pong"
