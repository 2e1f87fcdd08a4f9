"""What partners publish to `partners.inbound`: reports handed to reporting as from
channel `partner:<name>`, and replay requests. A message that cannot be applied goes
to the partner's dead-letter queue with the reason, and nothing of it is applied."""
import logging
from datetime import datetime, timezone

from marshmallow import ValidationError
from pymongo.errors import DuplicateKeyError

from services.partners import domain
from services.partners.access import agreement_of
from services.partners.replay import replay
from services.partners.schemas import InboundReport, Replay
from shared.errors import Problem, problems_from_messages

log = logging.getLogger(__name__)


class Refused(Exception):
    """Dead-letters the message: `reason` is the code, `problems` the details."""

    def __init__(self, problems, reason=None):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems
        self.reason = reason or problems[0].code


def handle(db, writer, submit, routing_key, message_id, body):
    """Applies one inbound message or dead-letters it; returns the outcome code."""
    name, _, kind = routing_key.partition(".")
    agreement = agreement_of(db, name)
    if agreement is None:  # the broker let it in, so the partner was deleted since
        log.warning("inbound message from unknown partner %r dropped", name)
        return "UNKNOWN_PARTNER"
    try:
        if not message_id:
            raise Refused([Problem("MISSING_MESSAGE_ID", "set the AMQP message_id")])
        if db["inbound"].find_one({"_id": f"{name}:{message_id}"}, {"_id": 1}):
            raise Refused([Problem("DUPLICATE_MESSAGE",
                                   f"message {message_id!r} was received before")])
        if not isinstance(body, dict):
            raise Refused([Problem("VALIDATION", "the body is not a JSON object")])
        problems = domain.check_origin(agreement, body.get("source"))
        if problems:
            raise Refused(problems)
        if kind == domain.REPORT:
            outcome = _report(db, writer, submit, agreement, message_id, body)
        else:
            outcome = _replay(db, writer, agreement, body)
    except Refused as exc:
        writer.send(domain.dead_letter_queue(name), [{
            "message_id": message_id, "reason": exc.reason,
            "problems": [p.as_dict() for p in exc.problems], "message": body}],
            headers={"x-reason": exc.reason})
        outcome = exc.reason
    _remember(db, name, message_id, outcome)
    return outcome


def _load(schema, body):
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise Refused(problems_from_messages(exc.messages), "VALIDATION")


def _report(db, writer, submit, agreement, message_id, body):
    report = _load(InboundReport(), body)
    station = db["stations"].find_one({"_id": report["station_code"]})
    problems = domain.check_station_region(
        agreement, report["station_code"], station and station["region"])
    if problems:
        raise Refused(problems)
    received_at = report["received_at"] or datetime.now(timezone.utc)
    command = {**{k: v for k, v in report.items() if k != "source"},
               "channel": domain.channel(agreement.name),
               # The broker authenticated the partner that vouches for its observer.
               "sender_verified": True, "received_at": received_at.isoformat()}
    reply = submit(command, idempotency_key=message_id)
    if not reply["ok"]:
        raise Refused([Problem(**e) for e in reply["errors"]])
    writer.send(domain.receipts_queue(agreement.name),
                [{"message_id": message_id, **reply["data"]}])
    return "ACCEPTED"


def _replay(db, writer, agreement, body):
    request = _load(Replay(), body)
    if not request["queue"].startswith(domain.queue_prefix(agreement.name)):
        raise Refused([Problem("QUEUE_NOT_OWN", f"replay only onto "
                               f"{domain.queue_prefix(agreement.name)}*", "queue")])
    replay(db, agreement, request, writer)
    return "REPLAYED"


def _remember(db, name, message_id, outcome):
    if not message_id:
        return
    try:
        db["inbound"].insert_one({"_id": f"{name}:{message_id}", "outcome": outcome,
                                  "at": datetime.now(timezone.utc)})
    except DuplicateKeyError:
        pass  # a concurrent redelivery recorded it first
