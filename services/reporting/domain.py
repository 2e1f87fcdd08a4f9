"""Reporting's aggregates and events: forms as data (versioned, published by
coordinators) and the observer copy of a form per (form, observer, station), which a
resubmission updates where it differs, as Apollo's pre-created checklists do.

A form reads the answers of any channel: typed values from GraphQL, raw digit strings
from SMS and partners, each by its question's type.
"""
import re
import uuid
from dataclasses import dataclass

from shared.aggregate import Aggregate
from shared.errors import Problem, Rejected

KINDS = ("checklist", "incident", "turnout", "protocol")
PHASES = ("opening", "voting", "closing", "counting")
QUESTION_TYPES = ("integer", "yes_no", "single_choice", "multiple_choice", "text")
RELATIONS = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b,
             "=": lambda a, b: a == b, ">=": lambda a, b: a >= b,
             ">": lambda a, b: a > b}
TAG = re.compile(r"^[A-Z]{1,8}$")
TEXT_LIMIT = 2000
PREFIX_CLAIM = "sms_prefix"
NOT_ASSIGNED = "not_assigned"


def prefix_key(sms_prefix, incident):
    """An SMS prefix names one form, and with "!" that prefix's incident form."""
    return f"{sms_prefix}{'!' if incident else ''}"


def refuse(problems):
    if problems:
        raise Rejected(*problems)


@dataclass(frozen=True)
class FormPublished:
    form_id: str
    version: int
    name: str
    kind: str
    sms_prefix: str
    groups: list
    """[{"name", "questions": [{"tag", "text", "type", "required", "range"?,
    "options"?}]}]; a range is {"min", "max"}, an option {"code", "label"}."""
    control_relations: list
    """[{"name", "left": [tags], "op", "right": [tags]}]: sum(left) op sum(right)."""
    phase: str | None = None


class Form(Aggregate):
    events = (FormPublished,)

    def __init__(self, id):
        super().__init__(id)
        self.facts = {}
        self.questions = {}

    @staticmethod
    def stream(form_id):
        return f"form:{form_id}"

    def publish(self, form_id, name, kind, sms_prefix, groups, control_relations,
                phase=None):
        questions = [q for g in groups for q in g["questions"]]
        tags = [q["tag"] for q in questions]
        problems = [Problem("DUPLICATE_TAG", f"question {tag} is asked twice",
                            f"groups.questions.{tag}")
                    for i, tag in enumerate(tags) if tag in tags[:i]]
        for q in questions:
            problems += _question_problems(q)
        types = {q["tag"]: q["type"] for q in questions}
        for relation in control_relations:
            for tag in relation["left"] + relation["right"]:
                if types.get(tag) != "integer":
                    problems.append(Problem(
                        "INVALID_RELATION", f"control relation {relation['name']} "
                        f"names {tag}, which is not an integer question of the form",
                        "control_relations"))
        refuse(problems)
        key = prefix_key(sms_prefix, kind == "incident")
        if self.facts and self.facts["prefix_key"] != key:
            self.release(PREFIX_CLAIM, self.facts["prefix_key"])
        self.claim(PREFIX_CLAIM, key)
        self.record(FormPublished(form_id, self.facts.get("version", 0) + 1, name, kind,
                                  sms_prefix, groups, control_relations, phase))

    def on_form_published(self, event):
        self.facts = {**vars(event), "prefix_key": prefix_key(
            event.sms_prefix, event.kind == "incident")}
        self.questions = {q["tag"]: q for g in event.groups for q in g["questions"]}

    @property
    def required(self):
        return [tag for tag, q in self.questions.items() if q["required"]]

    def read(self, answers):
        """(values by tag, unknown tags, [{"tag", "reason"}]) from a submission's
        answers, raw strings or typed values alike."""
        values, unknown, invalid = {}, [], []
        for tag, given in answers.items():
            question = self.questions.get(tag.upper())
            if question is None:
                unknown.append(tag)
                continue
            try:
                values[question["tag"]] = _read(question, given)
            except ValueError as exc:
                invalid.append({"tag": question["tag"], "reason": str(exc)})
        return values, unknown, invalid

    def broken_relations(self, values):
        """The names of the control relations the answers break; a relation with an
        unanswered term is not judged."""
        broken = []
        for relation in self.facts["control_relations"]:
            terms = relation["left"] + relation["right"]
            if any(values.get(tag) is None for tag in terms):
                continue
            left = sum(values[tag] for tag in relation["left"])
            right = sum(values[tag] for tag in relation["right"])
            if not RELATIONS[relation["op"]](left, right):
                broken.append(relation["name"])
        return broken


def _question_problems(question):
    field = f"groups.questions.{question['tag']}"
    kind = question["type"]
    if kind in ("single_choice", "multiple_choice"):
        codes = [o["code"] for o in question.get("options") or []]
        if not codes:
            return [Problem("OPTIONS_REQUIRED", f"{question['tag']} is a choice and "
                            "needs options", field)]
        if kind == "multiple_choice" and any(not 1 <= c <= 9 for c in codes):
            # SMS sends one digit per chosen option.
            return [Problem("INVALID_OPTIONS", f"{question['tag']}: options of a "
                            "multiple choice are numbered 1-9", field)]
        if len(set(codes)) != len(codes):
            return [Problem("INVALID_OPTIONS", f"{question['tag']}: an option code "
                            "is used twice", field)]
    bounds = question.get("range")
    if bounds and bounds["min"] > bounds["max"]:
        return [Problem("INVALID_RANGE", f"{question['tag']}: the range's minimum is "
                        "above its maximum", field)]
    return []


def _digits(given):
    if isinstance(given, bool):
        return int(given)
    if isinstance(given, int):
        return given
    if isinstance(given, str) and given.strip().isdigit():
        return int(given.strip())
    raise ValueError(f"{given!r} is not a number")


def _read(question, given):
    kind = question["type"]
    if kind == "text":
        text = str(given).strip()
        if not text or len(text) > TEXT_LIMIT:
            raise ValueError(f"a text answer is 1-{TEXT_LIMIT} characters")
        return text
    if kind == "multiple_choice":
        chosen = ([_digits(d) for d in given.strip()] if isinstance(given, str)
                  else [_digits(d) for d in given] if isinstance(given, list)
                  else [_digits(given)])
        codes = {o["code"] for o in question["options"]}
        outside = [c for c in chosen if c not in codes]
        if outside or not chosen:
            raise ValueError(f"options {outside or chosen} are not among {sorted(codes)}")
        return sorted(set(chosen))
    value = _digits(given)
    if kind == "yes_no" and value not in (0, 1):
        raise ValueError(f"{value} is neither 1 (yes) nor 0 (no)")
    if kind == "single_choice":
        codes = {o["code"] for o in question["options"]}
        if value not in codes:
            raise ValueError(f"option {value} is not among {sorted(codes)}")
    bounds = question.get("range")
    if kind == "integer" and bounds and not bounds["min"] <= value <= bounds["max"]:
        raise ValueError(f"{value} is outside {bounds['min']}-{bounds['max']}")
    if kind == "integer" and value < 0:
        raise ValueError(f"{value} is below zero")
    return value


@dataclass(frozen=True)
class ReportSubmitted:
    """One observer's copy of a form changed: `changes` holds what this submission
    changed, `answers` the whole copy after it."""
    submission_id: str
    form_id: str
    form_version: int
    kind: str
    observer_id: str
    station_code: str
    region: str
    district: str
    channel: str
    changes: dict
    answers: dict
    missing: list
    unknown: list
    invalid: list
    flags: list
    verified: bool
    comment: str | None = None
    received_at: str | None = None
    serial: str | None = None


class ObserverCopy(Aggregate):
    """The copy of one form held by one observer for one station (and serial)."""

    events = (ReportSubmitted,)

    def __init__(self, id):
        super().__init__(id)
        self.answers = {}
        self.comment = None
        self.verified = None
        self.outcome = None

    @staticmethod
    def stream(form_id, observer_id, station_code, serial=None):
        return ":".join(["copy", form_id, observer_id, station_code] +
                        ([serial] if serial else []))

    @property
    def submission_id(self):
        # The same copy answers with the same id on every resubmission.
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.id))

    def submit(self, form, observer_id, station, channel, values, unknown, invalid,
               assigned, sender_verified, comment=None, received_at=None, serial=None):
        changes = {tag: v for tag, v in values.items() if self.answers.get(tag) != v}
        answers = {**self.answers, **changes}
        flags = ([] if assigned else [NOT_ASSIGNED]) + [
            f"control_relation_broken:{name}" for name in form.broken_relations(answers)]
        verified = bool(sender_verified and assigned)
        missing = [tag for tag in form.required if tag not in answers]
        comment = comment if comment is not None else self.comment
        outcome = outcome_of(form.facts, sorted(values), missing, unknown, invalid,
                             flags, verified)
        if changes or comment != self.comment or verified != self.verified:
            self.record(ReportSubmitted(
                self.submission_id, form.facts["form_id"], form.facts["version"],
                form.facts["kind"], observer_id, station["code"], station["region"],
                station["district"], channel, changes, answers, missing, unknown,
                invalid, flags, verified, comment, received_at, serial))
            outcome["changed"] = True
        self.outcome = outcome

    def on_report_submitted(self, event):
        self.answers = event.answers
        self.comment = event.comment
        self.verified = event.verified
        # What a retried request is answered with.
        self.outcome = {**outcome_of(vars(event), sorted(event.changes), event.missing,
                                     event.unknown, event.invalid, event.flags,
                                     event.verified), "changed": True}


def status(missing, unknown, invalid):
    if unknown:
        return "unknown_codes"
    if invalid:
        return "invalid_values"
    return "partial" if missing else "accepted"


def outcome_of(form, accepted, missing, unknown, invalid, flags, verified):
    """The reply's facts about a submission (see the submission contract)."""
    return {"status": status(missing, unknown, invalid), "accepted": accepted,
            "missing": missing, "unknown": unknown, "invalid": invalid, "flags": flags,
            "verified": verified, "form_id": form["form_id"], "kind": form["kind"],
            "changed": False}
