"""The hotline's SMS line: every number that writes to us is a stream of the messages
it sent and the replies it got. Plain Python, no I/O.

A number's stream decides what a new message is before anything else reads it: a
redelivery (same gateway id), a resend (same text within 12 hours), over the
per-number rate limit, or news. What the news says (parsed, submitted to reporting)
is worked out by the command handler and recorded here with the reply.
"""
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from shared.aggregate import Aggregate

RESEND_WINDOW = timedelta(hours=12)
RATE_LIMIT = 30
RATE_WINDOW = timedelta(minutes=10)
STATUSES = ("accepted", "partial", "unknown_codes", "invalid_values", "unknown_observer",
            "unverified_sender", "duplicate", "malformed", "ignored")
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
