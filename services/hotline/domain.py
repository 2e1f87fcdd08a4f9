"""The hotline's aggregates. Plain Python, no I/O.

The SMS line: every number that writes to us is a stream of the messages
it sent and the replies it got. Plain Python, no I/O.

A number's stream decides what a new message is before anything else reads it: a
redelivery (same gateway id), a resend (same text within 12 hours), over the
per-number rate limit, or news. What the news says (parsed, submitted to reporting)
is worked out by the command handler and recorded here with the reply.

Citizens' appeals: new -> in progress -> escalated -> answered -> closed, each step
timed; an appeal unanswered past its category's time is flagged overdue. The FAQ the
desk answers from.
"""
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from shared.aggregate import Aggregate, Keyed, event_data
from shared.errors import Problem, Rejected

RESEND_WINDOW = timedelta(hours=12)
RATE_LIMIT = 30
RATE_WINDOW = timedelta(minutes=10)
PENDING = "pending"
"""Logged, but reporting did not answer: the gateway is asked to deliver it again."""


def iso(moment):
    return moment.astimezone(timezone.utc).isoformat()


def text_key(text):
    """The same text for a resend: case and spacing do not matter in the format."""
    return hashlib.sha256("".join(text.split()).casefold().encode()).hexdigest()


@dataclass(frozen=True)
class SmsReceived:
    message_id: str
    sender: str
    text: str
    gateway_id: str | None
    received_at: str
    """The gateway's time if it gave one, else ours."""
    logged_at: str
    status: str
    problems: list
    observer_id: str | None = None
    form_prefix: str | None = None
    submission_id: str | None = None
    duplicate_of: str | None = None
    raw_base64: str | None = None
    """The bytes as they came when they were not valid UTF-8."""


@dataclass(frozen=True)
class SmsReplied:
    message_id: str
    to: str
    text: str
    status: str
    sent_at: str
    observer_id: str | None = None


class SenderLine(Aggregate):
    events = (SmsReceived, SmsReplied)
    # An observer's line grows all day; what a message is answered is decided before
    # its append, so no caller reads the line after it is kept.
    kept = True

    @classmethod
    def stream(cls, number):
        return f"sms-line:{number}"

    def __init__(self, id):
        super().__init__(id)
        self.by_gateway_id = {}
        self.recent = []
        """(logged_at, text key, message id) of messages that were news."""

    def screen(self, gateway_id, text, now):
        """('redelivery' or 'duplicate', original message id), ('ignored',
        'RATE_LIMITED') or None
        for news. A redelivery is answered without logging it again; a resend is
        logged as a duplicate of the first."""
        if gateway_id and gateway_id in self.by_gateway_id:
            return "redelivery", self.by_gateway_id[gateway_id]
        key = text_key(text)
        for logged_at, seen_key, message_id in reversed(self.recent):
            if now - logged_at > RESEND_WINDOW:
                break
            if seen_key == key:
                return "duplicate", message_id
        if sum(1 for logged_at, _, _ in self.recent[-RATE_LIMIT:]
               if now - logged_at <= RATE_WINDOW) >= RATE_LIMIT:
            return "ignored", "RATE_LIMITED"
        return None

    def receive(self, received, reply=None):
        self.record(received)
        if reply:
            self.record(reply)

    def on_sms_received(self, event):
        if event.status in (PENDING, "duplicate") or "RATE_LIMITED" in _codes(event):
            return
        if event.gateway_id:
            self.by_gateway_id[event.gateway_id] = event.message_id
        self.recent.append((datetime.fromisoformat(event.logged_at),
                            text_key(event.text), event.message_id))
        # Only the window is ever read back.
        if len(self.recent) > 4 * RATE_LIMIT:
            cutoff = datetime.fromisoformat(event.logged_at) - RESEND_WINDOW
            self.recent = [r for r in self.recent if r[0] >= cutoff]

    def on_sms_replied(self, event):
        pass


def _codes(event):
    return {p.get("code") for p in event.problems}


# Citizens' appeals ---------------------------------------------------------------

CATEGORIES = ("voter_list", "pressure", "campaign_violation", "observers_rights",
              "procedure", "results", "other")
CHANNELS = ("call", "sms", "web", "messenger")
GROUPS = ("legal", "monitoring")
OPEN_STATUSES = ("new", "in_progress", "escalated")
# How long an appeal may wait for its answer before it is flagged overdue; a network
# overrides them with HOTLINE_OVERDUE_HOURS (see services.hotline.commands).
OVERDUE_HOURS = {"voter_list": 24, "pressure": 4, "campaign_violation": 24,
                 "observers_rights": 4, "procedure": 24, "results": 48, "other": 48}


@dataclass(frozen=True)
class AppealOpened:
    appeal_id: str
    caller_phone: str
    region: str
    channel: str
    category: str
    description: str
    opened_at: str
    due_at: str
    opened_by: str | None = None
    caller_name: str | None = None
    district: str | None = None
    station_code: str | None = None
    faq_id: str | None = None


@dataclass(frozen=True)
class AppealAssigned:
    appeal_id: str
    assignee: str
    at: str
    region: str | None = None  # the appeal's, so partners of its region get it


@dataclass(frozen=True)
class AppealEscalated:
    appeal_id: str
    group: str
    reason: str
    at: str
    region: str | None = None


@dataclass(frozen=True)
class AppealAnswered:
    appeal_id: str
    answer: str
    at: str
    faq_id: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class AppealClosed:
    appeal_id: str
    at: str
    region: str | None = None


@dataclass(frozen=True)
class AppealCommented:
    appeal_id: str
    author: str
    text: str
    at: str


@dataclass(frozen=True)
class AppealOverdue:
    """Still unanswered at `due_at`."""
    appeal_id: str
    due_at: str
    at: str
    region: str | None = None


class Appeal(Keyed):
    prefix = "appeal"
    events = (AppealOpened, AppealAssigned, AppealEscalated, AppealAnswered, AppealClosed,
              AppealCommented, AppealOverdue)
    # Which steps each status allows; comments are welcome until it is closed.
    MOVES = {"assign": OPEN_STATUSES, "escalate": ("new", "in_progress"),
             "answer": OPEN_STATUSES, "close": ("answered",),
             "comment": (*OPEN_STATUSES, "answered")}

    def __init__(self, id):
        super().__init__(id)
        self.status = None
        self.overdue = False
        self.facts = {}
        """What the appeal says and what was done with it, as the desk reads it back."""

    @property
    def region(self):
        return self.facts.get("region")

    @property
    def due_at(self):
        return self.facts.get("due_at")

    def open(self, now, overdue_hours, **facts):
        hours = overdue_hours[facts["category"]]
        self.record(AppealOpened(appeal_id=self.key, opened_at=iso(now),
                                 due_at=iso(now + timedelta(hours=hours)), **facts))

    def assign(self, assignee, now):
        self._may("assign")
        self.record(AppealAssigned(self.key, assignee, iso(now), self.region))

    def escalate(self, group, reason, now):
        self._may("escalate")
        self.record(AppealEscalated(self.key, group, reason, iso(now), self.region))

    def answer(self, answer, faq_id, now):
        self._may("answer")
        self.record(AppealAnswered(self.key, answer, iso(now), faq_id, self.region))

    def close(self, now):
        self._may("close")
        self.record(AppealClosed(self.key, iso(now), self.region))

    def comment(self, author, text, now):
        self._may("comment")
        self.record(AppealCommented(self.key, author, text, iso(now)))

    def flag_overdue(self, now):
        """Flags it once, if it is still waiting for its answer past its due time."""
        if (self.status in OPEN_STATUSES and not self.overdue
                and datetime.fromisoformat(self.due_at) <= now):
            self.record(AppealOverdue(self.key, self.due_at, iso(now), self.region))

    def _may(self, step):
        if not self.exists:
            raise Rejected(Problem("NOT_FOUND", "there is no such appeal", "appeal_id"))
        if self.status not in self.MOVES[step]:
            raise Rejected(Problem("INVALID_TRANSITION",
                                   f"an appeal that is {self.status} cannot {step}",
                                   "appeal_id"))

    def on_appeal_opened(self, event):
        self.status = "new"
        self.facts = {**event_data(event), "assignee": None, "escalation": None,
                      "answer": None, "comments": [], "history": []}
        self._step("new", event.opened_at)

    def on_appeal_assigned(self, event):
        if self.status == "new":
            self.status = "in_progress"
        self.facts["assignee"] = event.assignee
        self._step("in_progress", event.at)

    def on_appeal_escalated(self, event):
        self.status = "escalated"
        self.facts["escalation"] = {"group": event.group, "reason": event.reason,
                                    "at": event.at}
        self._step("escalated", event.at)

    def on_appeal_answered(self, event):
        self.status = "answered"
        self.facts.update(answer=event.answer, faq_id=event.faq_id, answered_at=event.at)
        self._step("answered", event.at)

    def on_appeal_closed(self, event):
        self.status = "closed"
        self.facts["closed_at"] = event.at
        self._step("closed", event.at)

    def on_appeal_commented(self, event):
        self.facts["comments"].append({"author": event.author, "text": event.text,
                                       "at": event.at})

    def _step(self, status, at):
        self.facts["history"].append({"status": status, "at": at})

    def on_appeal_overdue(self, event):
        self.overdue = True


@dataclass(frozen=True)
class FaqDefined:
    faq_id: str
    question: str
    answer: str
    category: str | None = None


class Faq(Keyed):
    """A frequently-asked question and the desk's answer; a new definition replaces
    the text."""
    prefix = "faq"
    events = (FaqDefined,)

    def define(self, question, answer, category=None):
        self.record(FaqDefined(self.key, question, answer, category))

    def on_faq_defined(self, event):
        pass


# Broadcasts ------------------------------------------------------------------------

@dataclass(frozen=True)
class BroadcastSent:
    broadcast_id: str
    text: str
    filter: dict
    recipients: list
    """[{"observer_id", "number"}]"""
    sent_at: str
    sent_by: str | None = None


class Broadcast(Keyed):
    """One SMS to the observers a filter selected, as they were when it was sent."""
    prefix = "broadcast"
    events = (BroadcastSent,)

    def send(self, text, filter, recipients, now, sent_by=None):
        if not recipients:
            raise Rejected(Problem("NO_RECIPIENTS", "no observer with a phone matches",
                                   "filter"))
        self.record(BroadcastSent(self.key, text, filter, recipients, iso(now), sent_by))

    def on_broadcast_sent(self, event):
        pass
