"""The hotline's command handlers: an inbound SMS from the webhook to a logged message,
a submission in reporting (or a check-in in deployment) and a reply; the appeals desk;
broadcasts. Plain Python over the injected event log, read models and partner
services, so they run the same in the service and in a test."""
import copy
import re
from datetime import datetime, timezone

from services.hotline import replies
from services.hotline.domain import (OVERDUE_HOURS, PENDING, Appeal, Broadcast,
                                     BroadcastSent, Faq, SenderLine, SmsReceived,
                                     SmsReplied, iso)
from services.hotline.sms import Malformed, parse
from services.registry.domain import normalize_phone
from shared import config
from shared.commands import Command, execute, execute_all, load_all
from shared.errors import Problem, Rejected
from shared.ids import new_id

CHECK_IN_PREFIX = "CI"
"""`CI<observer code>[ST<station>]`: arrived at the assigned (or given) station."""
SHORT_CODE_DIGITS = 6
REPORTING_STATUSES = {"UNKNOWN_FORM": "unknown_codes",
                      "UNKNOWN_OBSERVER": "unknown_observer",
                      "NO_STATION": "invalid_values", "VALIDATION": "malformed"}


class Unavailable(Exception):
    """A partner service did not answer: the message is logged as pending and the
    gateway asked to deliver it again."""


class Reads:
    """What a round of messages is decided on, read at once for all of them: their
    senders' lines and the observers their codes name."""

    def __init__(self, log, hotline, messages):
        self._hotline = hotline
        messages = [m for m in messages if isinstance(m, dict)]
        senders = [m["sender"] for m in messages if isinstance(m.get("sender"), str)]
        self._senders = {raw: _sender(raw) for raw in set(senders)}
        streams = [SenderLine.stream(number) for number, ignored
                   in map(self._senders.get, senders) if not ignored]
        lines = load_all(log, SenderLine, set(streams))
        # Each message its own copy: two from one number in a round race as they would.
        self._lines = {}
        for stream in streams:
            copies = self._lines.setdefault(stream, [])
            copies.append(copy.deepcopy(lines[stream]) if copies else lines[stream])
        self._parsed = {}
        for text in {m.get("text") for m in messages if isinstance(m.get("text"), str)}:
            try:
                self._parsed[text] = parse(text)
            except Malformed as exc:
                self._parsed[text] = exc
        codes = {sms.observer_code for sms in self._parsed.values()
                 if not isinstance(sms, Malformed)}
        self._observers = dict.fromkeys(codes)
        self._observers.update(hotline.observers_by_code(codes) if codes else {})

    def sender(self, raw):
        """(E.164 number or the sender as given, why it is ignored or None)."""
        return self._senders[raw]

    def line(self, number):
        """The sender's line as the round found it."""
        return self._lines[SenderLine.stream(number)].pop()

    def sms(self, text):
        """The message parsed (see services.hotline.sms.parse); raises Malformed."""
        if isinstance(self._parsed[text], Malformed):
            raise self._parsed[text]
        return self._parsed[text]

    def observer_by_code(self, sms_code):
        return self._observers[sms_code]

    def observer_by_phone(self, number):
        return self._hotline.observer_by_phone(number)


def receive_sms(log, reads, partners, message, now):
    """message: {"sender", "text", "gateway_id", "received_at", "raw_base64"}, decided
    on `reads` (its round's Reads); answers {"reply", "status", "problems"} (reply
    None: send nothing). Raises Unavailable after logging when reporting or deployment
    did not answer."""
    number, ignored = reads.sender(message["sender"])
    received = dict(message_id=new_id(), sender=number, text=message["text"],
                    gateway_id=message.get("gateway_id"),
                    received_at=_moment(message.get("received_at"), now),
                    logged_at=iso(now), raw_base64=message.get("raw_base64"))
    if ignored:
        # No reply, so no loops with machines and no cost for spam. Nothing is decided
        # on such a sender's history: each message is logged on a stream of its own,
        # so a flood from one machine never contends, and there is no history to read.
        own = SenderLine(SenderLine.stream(f"{number}/{received['message_id']}"))
        _log(log, own, received, "ignored", [{"code": ignored}])
        return {"reply": None, "status": "ignored", "problems": [{"code": ignored}]}
    # Read once: what this message is decided on, unless another moved it meanwhile.
    line = reads.line(number)
    screened = line.screen(received["gateway_id"], received["text"], now)
    if screened:
        return _screened(log, reads, line, received, screened, now)
    try:
        outcome = _understand(reads, partners, number, received, now)
    except Unavailable:
        _log(log, line, received, PENDING, [{"code": "PARTNER_UNAVAILABLE"}])
        raise
    return _answer(log, line, received, outcome, now)


def _moment(text, now):
    """The gateway's ISO time in UTC, or ours when it gave none we can read."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return iso(now)
    return iso(moment) if moment.tzinfo else iso(moment.replace(tzinfo=timezone.utc))


def _sender(raw):
    """(E.164 number or the sender as given, why it is ignored or None)."""
    sender = str(raw or "").strip()[:64]
    compact = re.sub(r"[\s\-().]", "", sender)
    if not compact or not re.fullmatch(r"\+?\d+", compact):
        return sender or "-", "ALPHANUMERIC_SENDER"
    if len(compact.lstrip("+")) <= SHORT_CODE_DIGITS:
        return compact, "SHORT_CODE"
    try:
        number = normalize_phone(compact if compact.startswith("+") or len(compact) <= 10
                                 else f"+{compact}", config.default_phone_region())
    except Rejected:
        number = compact
    own = config.sms_own_number()
    return number, "OWN_NUMBER" if own and number == own else None


def _log(log, line, received, status, problems, reply=None, **facts):
    """Logs a message on its sender's line as just read."""
    event = SmsReceived(**received, status=status, problems=problems, **facts)
    execute(log, SenderLine, line.id, lambda line: line.receive(event, reply),
            loaded=line)


def _screened(log, reads, line, received, screened, now):
    verdict, detail = screened
    if verdict == "ignored":
        _log(log, line, received, "ignored", [{"code": detail}])
        return {"reply": None, "status": "ignored", "problems": [{"code": detail}]}
    problems = [{"code": "DUPLICATE", "message_id": detail}]
    observer = reads.observer_by_phone(received["sender"])
    text = replies.reply("duplicate", observer and observer.get("locale"))
    if verdict == "redelivery":
        return {"reply": text, "status": "duplicate", "problems": problems}
    observer_id = observer and observer["id"]
    _log(log, line, received, "duplicate", problems,
         reply=_reply(received, text, "duplicate", observer_id, now),
         observer_id=observer_id, duplicate_of=detail)
    return {"reply": text, "status": "duplicate", "problems": problems}


def _answer(log, loaded, received, outcome, now):
    status, problems, text, observer_id = (outcome["status"], outcome["problems"],
                                           outcome["reply"], outcome.get("observer_id"))
    event = SmsReceived(**received, status=status, problems=problems,
                        observer_id=observer_id, form_prefix=outcome.get("form_prefix"),
                        submission_id=outcome.get("submission_id"))
    reply = _reply(received, text, status, observer_id, now)

    raced = []

    def decide(line):
        # A copy of this message that raced us and won makes this one a duplicate;
        # reporting saw the same idempotency key (a redelivery) or the same answers
        # (a resend, which changes nothing there), so it counted it once.
        screened = line.screen(received["gateway_id"], received["text"], now)
        raced[:] = [screened] if screened and screened[0] != "ignored" else []
        if raced and screened[0] == "duplicate":
            line.receive(SmsReceived(**{**received, "status": "duplicate",
                                        "problems": [{"code": "DUPLICATE"}],
                                        "observer_id": observer_id,
                                        "duplicate_of": screened[1]}))
        elif not raced:
            line.receive(event, reply)
    execute(log, SenderLine, loaded.id, decide, loaded=loaded)
    if raced:
        return {"reply": replies.reply("duplicate", outcome.get("locale")),
                "status": "duplicate", "problems": [{"code": "DUPLICATE"}]}
    return {"reply": text, "status": status, "problems": problems}


def _reply(received, text, status, observer_id, now):
    return SmsReplied(message_id=received["message_id"], to=received["sender"], text=text,
                      status=status, sent_at=iso(now), observer_id=observer_id)


def _understand(reads, partners, number, received, now):
    """What the message says and what reporting (or deployment) made of it."""
    try:
        sms = reads.sms(received["text"])
    except Malformed as exc:
        observer = reads.observer_by_phone(number)
        return {"status": "malformed", "observer_id": observer and observer["id"],
                "problems": [{"code": exc.reason, "message": exc.detail}],
                "reply": replies.reply("malformed", observer and observer.get("locale"))}
    observer = reads.observer_by_code(sms.observer_code)
    if observer is None:
        caller = reads.observer_by_phone(number)
        return {"status": "unknown_observer", "form_prefix": sms.prefix,
                "observer_id": caller and caller["id"],
                "problems": [{"code": "UNKNOWN_OBSERVER", "code_given": sms.observer_code}],
                "reply": replies.reply("unknown_observer", caller and caller.get("locale"),
                                       code=sms.observer_code)}
    verified = number in (observer.get("phones") or [])
    key = f"sms:{received['gateway_id'] or received['message_id']}"
    if sms.prefix == CHECK_IN_PREFIX and not sms.incident:
        outcome = _check_in(partners, observer, sms, now, key)
    else:
        outcome = _submit(partners, observer, sms, verified, received, key)
    if not verified and outcome["status"] not in ("malformed", "unknown_codes"):
        outcome["status"] = "unverified_sender"
        outcome["problems"].append({"code": "UNVERIFIED_SENDER"})
        outcome["reply"] = replies.reply("unverified_sender", observer.get("locale"),
                                         form=sms.prefix, code=sms.observer_code)
    return {**outcome, "observer_id": observer["id"], "form_prefix": sms.prefix,
            "locale": observer.get("locale")}


def _submit(partners, observer, sms, verified, received, key):
    command = {"observer_id": observer["id"], "station_code": None, "form_id": None,
               "sms_prefix": sms.prefix, "incident": sms.incident, "channel": "sms",
               "answers": sms.answers, "comment": sms.comment,
               "sender_verified": verified, "received_at": received["received_at"],
               "serial": sms.serial}
    answer = partners.submit_report(command, key)
    locale = observer.get("locale")
    form = sms.prefix + ("!" if sms.incident else "")
    typed = [{"code": p["reason"], "tag": p["tag"]} for p in sms.problems]
    if not answer["ok"]:
        codes = [e["code"] for e in answer["errors"]]
        status = next((REPORTING_STATUSES[c] for c in codes if c in REPORTING_STATUSES),
                      "malformed")
        kind = {"UNKNOWN_FORM": "unknown_form", "NO_STATION": "no_station",
                "UNKNOWN_OBSERVER": "unknown_observer"}.get(codes[0], "malformed")
        return {"status": status, "problems": answer["errors"] + typed,
                "reply": replies.reply(kind, locale, prefix=form,
                                       code=sms.observer_code)}
    data = answer["data"]
    invalid = [i["tag"] for i in data["invalid"]] + [p["tag"] for p in sms.problems]
    status = data["status"]
    if typed and status in ("accepted", "partial"):
        status = "invalid_values"
    problems = ([{"code": "MISSING", "tag": t} for t in data["missing"]]
                + [{"code": "UNKNOWN_TAG", "tag": t} for t in data["unknown"]]
                + [{"code": "INVALID_VALUE", **i} for i in data["invalid"]] + typed)
    return {"status": status, "problems": problems, "submission_id": data["submission_id"],
            "reply": replies.reply(status, locale, form=form, accepted=data["accepted"],
                                   missing=data["missing"], unknown=data["unknown"],
                                   invalid=invalid)}


def _check_in(partners, observer, sms, now, key):
    station = sms.answers.get("ST") or observer.get("station_code")
    locale = observer.get("locale")
    if not station:
        return {"status": "invalid_values", "problems": [{"code": "NO_STATION"}],
                "reply": replies.reply("no_station", locale)}
    answer = partners.check_in({"observer_id": observer["id"], "station_code": station,
                                "at": iso(now)}, key)
    if not answer["ok"]:
        return {"status": "invalid_values", "problems": answer["errors"],
                "reply": replies.reply("malformed", locale)}
    return {"status": "accepted", "problems": [],
            "reply": replies.reply("checked_in", locale, station=station)}


# Citizens' appeals ---------------------------------------------------------------

def overdue_hours():
    """OVERDUE_HOURS with a network's own times from HOTLINE_OVERDUE_HOURS
    ("pressure=2,voter_list=12")."""
    hours = dict(OVERDUE_HOURS)
    for item in filter(None, config.hotline_overdue_hours().split(",")):
        category, _, value = item.partition("=")
        if category.strip() in hours and value.strip().replace(".", "", 1).isdigit():
            hours[category.strip()] = float(value)
    return hours


def open_appeal(log, command, now, idempotency_key=None):
    appeal_id = new_id()
    return execute(log, Appeal, Appeal.stream(appeal_id),
                   lambda a: a.open(now, overdue_hours(), **command), idempotency_key,
                   new=True)


def _on_appeal(log, command, step, idempotency_key):
    """Runs `step(appeal)` on an appeal within the caller's region scope."""
    def decide(appeal):
        region = command.get("within_region")
        if appeal.exists and region and appeal.region != region:
            raise Rejected(Problem("NOT_FOUND", "there is no such appeal", "appeal_id"))
        step(appeal)
    return execute(log, Appeal, Appeal.stream(command["appeal_id"]), decide,
                   idempotency_key)


def assign_appeal(log, command, now, idempotency_key=None):
    return _on_appeal(log, command, lambda a: a.assign(command["assignee"], now),
                      idempotency_key)


def escalate_appeal(log, command, now, idempotency_key=None):
    return _on_appeal(log, command, lambda a: a.escalate(
        command["group"], command["reason"], now), idempotency_key)


def answer_appeal(log, command, now, idempotency_key=None):
    faq_id = command.get("faq_id")
    # The log, not the FAQ's read model: a question defined a moment ago is there.
    if faq_id and not log.read_stream(Faq.stream(faq_id)):
        raise Rejected(Problem("UNKNOWN_FAQ", f"there is no question {faq_id}", "faq_id"))
    return _on_appeal(log, command, lambda a: a.answer(command["answer"], faq_id, now),
                      idempotency_key)


def close_appeal(log, command, now, idempotency_key=None):
    return _on_appeal(log, command, lambda a: a.close(now), idempotency_key)


def comment_appeal(log, command, now, idempotency_key=None):
    return _on_appeal(log, command, lambda a: a.comment(
        command["author"], command["text"], now), idempotency_key)


def define_faq(log, command, idempotency_key=None):
    faq_id = command.get("faq_id") or new_id()
    return execute(log, Faq, Faq.stream(faq_id), lambda f: f.define(
        command["question"], command["answer"], command.get("category")), idempotency_key)


def flag_overdue(log, hotline, now):
    """Flags every appeal still waiting past its due time; returns how many."""
    outcomes = execute_all(log, [
        Command(Appeal, Appeal.stream(appeal_id), lambda a: a.flag_overdue(now))
        for appeal_id in hotline.past_due(now)])
    return sum(1 for o in outcomes if not isinstance(o, Exception) and o.pending)


def broadcast(log, hotline, provider, command, now, idempotency_key=None):
    """Sends `text` to the observers `filter` selects: recorded first, then handed to
    the SMS provider. Returns the broadcast with how many it reached."""
    recipients = hotline.recipients(command["filter"])
    sent = execute(log, Broadcast, Broadcast.stream(new_id()), lambda b: b.send(
        command["text"], command["filter"], recipients, now, command.get("sent_by")),
        idempotency_key, new=True)
    [event] = [e for e in sent.pending if isinstance(e, BroadcastSent)] or [None]
    if event is None:  # a retry: the first request sent it
        return {"id": sent.key, "recipients": None}
    provider.send_all([{"to": r["number"], "text": event.text,
                        "ref": f"{event.broadcast_id}:{r['observer_id']}"}
                       for r in event.recipients])
    return {"id": sent.key, "recipients": len(event.recipients)}
