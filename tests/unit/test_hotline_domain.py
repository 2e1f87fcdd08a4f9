"""The hotline's aggregates as plain Python: a number's SMS line (redeliveries,
resends within 12 hours, rate limit) and an appeal's workflow and overdue flag."""
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from services.hotline.domain import (OVERDUE_HOURS, RATE_LIMIT, Appeal, SenderLine,
                                     SmsReceived, iso)
from services.hotline.schemas import EVENTS
from shared.aggregate import event_data, event_type
from shared.errors import Rejected

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=timezone.utc)
MESSAGE_IDS = (f"m-{n}" for n in itertools.count())


def received(text, at, gateway_id=None, status="accepted"):
    return SmsReceived(message_id=next(MESSAGE_IDS), sender="+996555123456", text=text,
                       gateway_id=gateway_id, received_at=iso(at), logged_at=iso(at),
                       status=status, problems=[])


def test_a_redelivery_and_a_resend_within_12_hours_are_recognised():
    line = SenderLine(SenderLine.stream("+996555123456"))
    first = received("OP1234 AA1", NOW, "g-1")
    line.receive(first)
    assert line.screen("g-1", "anything", NOW) == ("redelivery", first.message_id)
    assert line.screen("g-2", "op 1234 aa1", NOW + timedelta(hours=11)) == (
        "duplicate", first.message_id)
    assert line.screen("g-3", "OP1234 AA1", NOW + timedelta(hours=13)) is None
    assert line.screen("g-4", "OP1234 AA2", NOW) is None


def test_pending_messages_are_not_duplicates_so_a_redelivery_is_decided_again():
    line = SenderLine(SenderLine.stream("+996555123456"))
    line.receive(received("OP1234 AA1", NOW, "g-1", status="pending"))
    assert line.screen("g-1", "OP1234 AA1", NOW) is None


def test_a_number_over_the_rate_limit_is_ignored_until_the_window_passes():
    line = SenderLine(SenderLine.stream("+996555123456"))
    for i in range(RATE_LIMIT):
        line.receive(received(f"note {i}", NOW + timedelta(seconds=i)))
    assert line.screen(None, "one more", NOW + timedelta(minutes=1)) == (
        "ignored", "RATE_LIMITED")
    assert line.screen(None, "one more", NOW + timedelta(minutes=11)) is None


def opened(category="voter_list"):
    appeal = Appeal(Appeal.stream("a-1"))
    appeal.open(NOW, OVERDUE_HOURS, caller_phone="+996555777888", region="KG-C",
                channel="call", category=category, description="missing from the list")
    return appeal


def test_an_appeal_moves_through_its_workflow_and_refuses_steps_out_of_order():
    appeal = opened()
    with pytest.raises(Rejected) as refused:
        appeal.close(NOW)
    assert refused.value.problems[0].code == "INVALID_TRANSITION"
    appeal.assign("operator-1", NOW)
    appeal.escalate("legal", "needs a complaint", NOW)
    with pytest.raises(Rejected):
        appeal.escalate("monitoring", "again", NOW)
    appeal.answer("added back", None, NOW)
    appeal.close(NOW)
    assert appeal.status == "closed"
    with pytest.raises(Rejected):
        appeal.comment("operator-1", "too late", NOW)
    with pytest.raises(Rejected) as missing:
        Appeal(Appeal.stream("nope")).assign("operator-1", NOW)
    assert missing.value.problems[0].code == "NOT_FOUND"


def test_an_appeal_is_flagged_overdue_once_past_its_categorys_time():
    appeal = opened("pressure")
    appeal.flag_overdue(NOW + timedelta(hours=OVERDUE_HOURS["pressure"] - 1))
    assert not appeal.overdue
    appeal.flag_overdue(NOW + timedelta(hours=OVERDUE_HOURS["pressure"]))
    appeal.flag_overdue(NOW + timedelta(hours=OVERDUE_HOURS["pressure"] + 1))
    assert appeal.overdue and len(appeal.pending) == 2  # opened, flagged once
    answered = opened()
    answered.answer("done", None, NOW)
    answered.flag_overdue(NOW + timedelta(days=30))
    assert not answered.overdue


def test_published_event_schemas_match_the_events():
    appeal = opened()
    for event in appeal.pending:
        assert EVENTS[event_type(event)]().load(event_data(event)) == event_data(event)
