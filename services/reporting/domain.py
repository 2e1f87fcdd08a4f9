"""Reporting's aggregates and events: forms as data (versioned, published by
coordinators) and the observer copy of a form per (form, observer, station), which a
resubmission updates where it differs, as Apollo's pre-created checklists do.

A form reads the answers of any channel: typed values from GraphQL, raw digit strings
from SMS and partners, each by its question's type.
"""
import re
import uuid
from dataclasses import dataclass

from shared.aggregate import Aggregate, Keyed
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
    roles: dict | None = None
    """What an incident, turnout or protocol form's answers stand for (see ROLES):
    {role: tag}, and "votes": [{"tag", "candidate"}]."""


# The facts each kind of form feeds besides its observer copy: role -> (question type,
# required, the catalogue a choice's option values come from).
ROLES = {
    "incident": {"category": ("single_choice", True, "categories"),
                 "severity": ("single_choice", False, "severities"),
                 "description": ("text", False, None),
                 "evidence": ("text", False, None)},
    "turnout": {"checkpoint": ("single_choice", True, "checkpoints"),
                "voters": ("integer", True, None)},
    "protocol": {"ballots_issued": ("integer", True, None),
                 "ballots_in_boxes": ("integer", True, None),
                 "invalid_ballots": ("integer", True, None)},
}
# An incident form that asks no severity reports this one.
DEFAULT_SEVERITY = "medium"


class Form(Keyed):
    prefix = "form"
    events = (FormPublished,)

    def __init__(self, id):
        super().__init__(id)
        self.facts = {}
        self.questions = {}

    def publish(self, form_id, name, kind, sms_prefix, groups, control_relations,
                phase=None, roles=None):
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
        roles = roles or None
        problems += _role_problems(kind, roles, {q["tag"]: q for q in questions})
        refuse(problems)
        key = prefix_key(sms_prefix, kind == "incident")
        if self.facts and self.facts["prefix_key"] != key:
            self.release(PREFIX_CLAIM, self.facts["prefix_key"])
        self.claim(PREFIX_CLAIM, key)
        self.record(FormPublished(form_id, self.facts.get("version", 0) + 1, name, kind,
                                  sms_prefix, groups, control_relations, phase,
                                  roles))

    def on_form_published(self, event):
        self.facts = {**vars(event), "prefix_key": prefix_key(
            event.sms_prefix, event.kind == "incident")}
        self.questions = {q["tag"]: q for g in event.groups for q in g["questions"]}

    @property
    def required(self):
        """The required questions, and those an incident, turnout or protocol needs."""
        needed = ROLES.get(self.facts["kind"], {})
        bound = {tag for tag, role in self.role_tags.items()
                 if role == "votes" or needed[role][1]}
        return [tag for tag, q in self.questions.items() if q["required"] or tag in bound]

    @property
    def role_tags(self):
        """{tag: role} of the questions this form's kind reads its facts from."""
        roles = self.facts.get("roles") or {}
        return {**{tag: role for role, tag in roles.items() if role != "votes"},
                **{v["tag"]: "votes" for v in roles.get("votes", [])}}

    def facts_of(self, values):
        """The incident, turnout or protocol facts a submission's values give, or None
        when a question they need is unanswered."""
        roles = self.facts.get("roles")
        if not roles or any(values.get(roles.get(role)) is None
                            for role, (_, required, _) in ROLES[self.facts["kind"]].items()
                            if required):
            return None
        facts = {}
        for role, tag in roles.items():
            if role == "votes":
                facts["votes"] = {v["candidate"]: values[v["tag"]] for v in tag
                                  if v["tag"] in values}
                if not facts["votes"]:
                    return None
            elif tag in values:
                facts[role] = _option_value(self.questions[tag], values[tag])
        return facts

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


def _option_value(question, value):
    """A choice's answer as the catalogue value its option stands for."""
    if question["type"] != "single_choice":
        return value
    return next(o["value"] for o in question["options"] if o["code"] == value)


def _role_problems(kind, roles, questions):
    """An incident, turnout or protocol form names the questions its facts come from,
    each of the right type, a choice's options each standing for a catalogue value."""
    if kind == "checklist":
        return [Problem("INVALID_ROLE", "a checklist feeds no incident, turnout or "
                        "protocol", "roles")] if roles else []
    roles = roles or {}
    problems = []
    for role, (kind_of_question, required, catalogue) in ROLES[kind].items():
        tag = roles.get(role)
        question = questions.get(tag)
        if tag is None:
            if required:
                problems.append(Problem("INVALID_ROLE", f"a {kind} form names the "
                                        f"question of its {role}", f"roles.{role}"))
        elif question is None or question["type"] != kind_of_question:
            problems.append(Problem("INVALID_ROLE", f"the {role} is asked by a "
                                    f"{kind_of_question} question, not {tag}",
                                    f"roles.{role}"))
        elif catalogue and not _in_catalogue(catalogue, question["options"]):
            allowed = CATALOGUES[catalogue]
            problems.append(Problem("INVALID_ROLE", f"each option of {tag} has as its "
                                    f"value the {role} it stands for" + (
                                        f" ({', '.join(allowed)})" if allowed else ""),
                                    f"roles.{role}"))
    votes = roles.get("votes", [])
    if kind == "protocol" and not votes:
        problems.append(Problem("INVALID_ROLE", "a protocol form names its candidates' "
                                "questions", "roles.votes"))
    problems += [Problem("INVALID_ROLE", f"the votes of {v['candidate']} are asked by "
                         f"an integer question, not {v['tag']}", "roles.votes")
                 for v in votes if questions.get(v["tag"], {}).get("type") != "integer"]
    unknown = set(roles) - set(ROLES[kind]) - ({"votes"} if kind == "protocol" else set())
    problems += [Problem("INVALID_ROLE", f"a {kind} form has no {role}", f"roles.{role}")
                 for role in sorted(unknown)]
    return problems


def _in_catalogue(catalogue, options):
    values = [o.get("value") for o in options]
    # Checkpoints are configured at run time: the turnout plan judges them per report.
    allowed = CATALOGUES[catalogue]
    return all(v is not None and (allowed is None or v in allowed) for v in values)


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
    """One observer's copy of a form at a station changed: `changes` holds what this
    submission changed, `answers` the whole copy after it; `master`, `conflicts` and
    `station_status` the station's master copy after it."""
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
    master: dict
    conflicts: list
    station_status: str
    status_before: str
    comment: str | None = None
    received_at: str | None = None
    serial: str | None = None


@dataclass(frozen=True)
class MasterValueOverridden:
    form_id: str
    station_code: str
    region: str
    district: str
    tag: str
    value: object
    reason: str
    overridden_by: str
    master: dict
    conflicts: list
    station_status: str
    status_before: str


PLACE = ("region", "district")


@dataclass(frozen=True)
class StationMoved:
    """The registry moved the station this stream reports on (its `station_version`
    says by which change): what the stream counts moves from the previous region and
    district to the new ones. `counted` is that share, as the stream's kind has it:
    a report's {"form_id", "status"}, an incident's {"category", "severity",
    "status", "verified"}, turnout's {"checkpoints": {checkpoint: {"voters",
    "registered_voters"}}} and a protocol's {"votes", "invalid_ballots"}, each only
    as far as it is counted."""
    station_code: str
    region: str
    district: str
    previous_region: str
    previous_district: str
    station_version: int
    counted: dict


class Located(Aggregate):
    """A stream of one station's reports counts them where it has placed the station:
    where the directory had it at the stream's first report, then wherever the
    registry's changes of the station's region or district move it. It takes each such
    change once and only in the registry's order (by the station's version), so a
    change delivered twice or late moves nothing, and a report decided on a directory
    that has not heard of a move yet still counts where the station is now.
    Subclasses say with `counts()` what the stream counts (see StationMoved)."""

    def __init__(self, id):
        super().__init__(id)
        self.place = None
        self.moved_at = 0

    def located(self, station):
        """The station as this stream counts it."""
        return {**station, **self.place} if self.place else station

    def follow(self, station_code, changes, version):
        """Records the move a registry change (at `version` of its station) makes;
        one that finds the stream already there is recorded too, for its version."""
        moved = {k: v for k, v in changes.items() if k in PLACE}
        if moved and version > self.moved_at:
            self.record(StationMoved(
                station_code, **{**self.place, **moved},
                **{f"previous_{k}": v for k, v in self.place.items()},
                station_version=version, counted=self.counts()))

    def on_station_moved(self, event):
        self.moved_at = event.station_version

    def _mutate(self, event):
        super()._mutate(event)
        # Every event of the stream says where it counted.
        self.place = {field: getattr(event, field) for field in PLACE}


class StationReport(Located):
    """One form at one station: each observer's copy (per observer and serial), as
    Apollo keeps them, and the station's master copy that their verified answers make:
    a value they agree on flows into it, a disagreement is a conflict on that question
    until a coordinator overrides the value."""

    events = (ReportSubmitted, MasterValueOverridden, StationMoved)
    # A station's stream grows with every copy of the day (an observer's voting
    # checklist every few minutes): replaying it for each was most of a report's cost.
    kept = True

    def __init__(self, id):
        super().__init__(id)
        self.copies = {}
        self._tally = None
        self.overrides = {}
        self.master, self.conflicts = {}, []
        self.station_status = "missing"
        self.outcome = None

    @staticmethod
    def stream(form_id, station_code):
        return f"report:{form_id}:{station_code}"

    @property
    def tally(self):
        # Counted when first needed, not as each event is replayed: once a report is
        # kept, each copy moves it (on_report_submitted).
        if self._tally is None:
            self._tally = Tally()
            for copy in self.copies.values():
                self._tally.move(None, _counted(copy))
        return self._tally

    @staticmethod
    def copy_key(observer_id, serial=None):
        return f"{observer_id}:{serial or ''}"

    def submission_id(self, copy_key):
        # The same copy answers with the same id on every resubmission.
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.id}:{copy_key}"))

    def submit(self, form, observer_id, station, channel, values, unknown, invalid,
               assigned, sender_verified, comment=None, received_at=None, serial=None):
        station = self.located(station)
        key = self.copy_key(observer_id, serial)
        copy = self.copies.get(key, {"answers": {}, "comment": None, "verified": None})
        changes = {tag: v for tag, v in values.items() if copy["answers"].get(tag) != v}
        answers = {**copy["answers"], **changes}
        flags = ([] if assigned else [NOT_ASSIGNED]) + [
            f"control_relation_broken:{name}" for name in form.broken_relations(answers)]
        verified = bool(sender_verified and assigned)
        missing = [tag for tag in form.required if tag not in answers]
        comment = comment if comment is not None else copy["comment"]
        outcome = outcome_of(form.facts, sorted(values), missing, unknown, invalid,
                             flags, verified)
        submission_id = self.submission_id(key)
        if changes or comment != copy["comment"] or verified != copy["verified"]:
            master, conflicts, status_after = _master(form, self.tally.moved(
                _counted(copy), _counted({"answers": answers, "verified": verified,
                                          "flagged": bool(flags)})), self.overrides)
            self.record(ReportSubmitted(
                submission_id, form.facts["form_id"], form.facts["version"],
                form.facts["kind"], observer_id, station["code"], station["region"],
                station["district"], channel, changes, answers, missing, unknown,
                invalid, flags, verified, master, conflicts, status_after,
                self.station_status, comment, received_at, serial))
            outcome["changed"] = True
        self.outcome = {**outcome, "submission_id": submission_id}

    def override(self, form, station, tag, value, reason, overridden_by):
        if tag not in form.questions:
            raise Rejected(Problem("UNKNOWN_TAG", f"the form has no question {tag}",
                                   "tag"))
        try:
            value = _read(form.questions[tag], value)
        except ValueError as exc:
            raise Rejected(Problem("INVALID_VALUE", f"{tag}: {exc}", "value"))
        if not self.copies:
            raise Rejected(Problem("NO_REPORT", f"station {station['code']} has not "
                                   "reported this form", "station_code"))
        overrides = {**self.overrides, tag: value}
        master, conflicts, status_after = _master(form, self.tally, overrides)
        station = self.located(station)
        self.record(MasterValueOverridden(
            form.facts["form_id"], station["code"], station["region"],
            station["district"], tag, value, reason, overridden_by, master, conflicts,
            status_after, self.station_status))

    def counts(self):
        return {"form_id": self.id.split(":")[1], "status": self.station_status}

    def on_report_submitted(self, event):
        key = self.copy_key(event.observer_id, event.serial)
        copy = {"answers": event.answers, "comment": event.comment,
                "verified": event.verified, "flagged": bool(event.flags)}
        if self._tally is not None:
            self._tally.move(_counted(self.copies.get(key)), _counted(copy))
        self.copies[key] = copy
        self._master_after(event)
        # What a retried request is answered with.
        self.outcome = {**outcome_of(vars(event), sorted(event.changes), event.missing,
                                     event.unknown, event.invalid, event.flags,
                                     event.verified), "changed": True,
                        "submission_id": event.submission_id}

    def on_master_value_overridden(self, event):
        self.overrides[event.tag] = event.value
        self._master_after(event)

    def _master_after(self, event):
        self.master, self.conflicts = event.master, event.conflicts
        self.station_status = event.station_status


class Tally:
    """How many of a station's copies that count give each value of each question. The
    master copy follows from it, so a new copy costs its own answers, not a pass over
    every copy the station sent during the day (a voting checklist every few minutes)."""

    def __init__(self, counts=None):
        self.counts = counts or {}  # {tag: {value key: (value, copies giving it)}}

    def move(self, before, after):
        """Replaces a copy's answers `before` with `after` (None: none), in place."""
        for answers, step in ((before, -1), (after, 1)):
            for tag, value in (answers or {}).items():
                values = self.counts.setdefault(tag, {})
                key = tuple(value) if isinstance(value, list) else value
                n = values.get(key, (value, 0))[1] + step
                if n:
                    values[key] = (value, n)
                else:
                    del values[key]
                if not values:
                    del self.counts[tag]

    def moved(self, before, after):
        """A new tally with the move made, this one unchanged: a copy's master is
        worked out before its event is recorded. Only the questions it answers are
        copied."""
        tags = set(before or ()) | set(after or ())
        tally = Tally({tag: dict(values) if tag in tags else values
                       for tag, values in self.counts.items()})
        tally.move(before, after)
        return tally


def _counted(copy):
    """A copy's answers if they count towards the master copy: verified, breaking no
    rule."""
    return copy["answers"] if copy and copy["verified"] and not copy["flagged"] else None


def _master(form, tally, overrides):
    """(master values, conflicting tags, the station's status) from the tally of the
    verified copies that break no rule, and a coordinator's overrides."""
    master, conflicts = {}, []
    for tag, values in tally.counts.items():
        if tag in overrides:
            continue
        if len(values) == 1:
            master[tag] = next(iter(values.values()))[0]
        else:
            conflicts.append(tag)
    master.update(overrides)
    if not tally.counts and not overrides:
        status = "missing"
    elif conflicts:
        status = "conflict"
    else:
        status = ("partial" if any(t not in master for t in form.required)
                  else "complete")
    return master, sorted(conflicts), status


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


INCIDENT_CATEGORIES = ("ballot_stuffing", "carousel_voting", "pressure_on_voters",
                       "obstruction_of_observers", "campaigning_at_station",
                       "vote_buying", "secrecy_violated", "protocol_falsification",
                       "other")
SEVERITIES = ("low", "medium", "high", "critical")
CATALOGUES = {"categories": INCIDENT_CATEGORIES, "severities": SEVERITIES,
              "checkpoints": None}
# Which status may follow which: reported -> verified or rejected -> escalated.
INCIDENT_MOVES = {"reported": ("verified", "rejected"), "verified": ("escalated",)}


@dataclass(frozen=True)
class IncidentReported:
    incident_id: str
    category: str
    severity: str
    description: str
    station_code: str
    region: str
    district: str
    occurred_at: str
    observer_id: str
    channel: str
    verified: bool
    evidence: str | None = None


@dataclass(frozen=True)
class IncidentStatusChanged:
    """`status` is verified, rejected or escalated; `by` who decided and `reason` why."""
    incident_id: str
    station_code: str
    region: str
    district: str
    category: str
    severity: str
    status: str
    previous: str
    by: str
    reason: str
    verified: bool


class Incident(Located, Keyed):
    prefix = "incident"
    events = (IncidentReported, IncidentStatusChanged, StationMoved)

    def __init__(self, id):
        super().__init__(id)
        self.facts = {}
        self.status = None

    def report(self, incident_id, station, observer_id, channel, verified, category,
               severity, description, occurred_at, evidence=None):
        if self.exists:  # an observer copy's incident, sent again
            return
        self.record(IncidentReported(
            incident_id, category, severity, " ".join(description.split()),
            station["code"], station["region"], station["district"], occurred_at,
            observer_id, channel, verified, evidence))

    def move(self, status, by, reason):
        if status not in INCIDENT_MOVES.get(self.status, ()):
            raise Rejected(Problem("INVALID_TRANSITION", f"an incident {self.status} "
                                   f"cannot become {status}", "status"))
        facts = self.facts
        self.record(IncidentStatusChanged(
            facts["incident_id"], facts["station_code"], facts["region"],
            facts["district"], facts["category"], facts["severity"], status,
            self.status, by, reason, facts["verified"]))

    def counts(self):
        return {"status": self.status, **{k: self.facts[k] for k in (
            "category", "severity", "verified")}}

    def on_incident_reported(self, event):
        self.facts = vars(event)
        self.status = "reported"

    def on_incident_status_changed(self, event):
        self.status = event.status

    def on_station_moved(self, event):
        super().on_station_moved(event)
        self.facts = {**self.facts, "region": event.region, "district": event.district}


DEFAULT_CHECKPOINTS = ["10:00", "12:00", "15:00", "18:00", "close"]
SUSPICIOUS_SHARE = 0.9
# A share this far above the region's mean at the same checkpoint is a jump.
SUSPICIOUS_JUMP = 0.25


@dataclass(frozen=True)
class TurnoutReported:
    """`voters` who had voted by `checkpoint`; `previous` what the station reported
    there before (null the first time), so the region's curve moves by the difference."""
    station_code: str
    region: str
    district: str
    checkpoint: str
    voters: int
    registered_voters: int
    share: float
    flags: list
    observer_id: str
    channel: str
    verified: bool
    counted: bool
    """Verified and not impossible: part of the region's curve."""
    previous: dict | None = None
    """{"voters", "registered_voters", "counted"} as reported before."""


def turnout_flags(checkpoints, reported, checkpoint, voters, registered, region_mean):
    """impossible: above 100 % or below an earlier checkpoint (or above a later one);
    suspicious: above 90 %, or far above the region's mean share at the checkpoint."""
    flags = []
    share = voters / registered if registered else 0.0
    if share > 1:
        flags.append("impossible:above_100_percent")
    position = checkpoints.index(checkpoint)
    for other, value in reported.items():
        earlier = checkpoints.index(other) < position
        if (earlier and value > voters) or (not earlier and other != checkpoint
                                            and value < voters):
            flags.append(f"impossible:decreasing_from_{other}")
    if SUSPICIOUS_SHARE < share <= 1:
        flags.append("suspicious:above_90_percent")
    if region_mean is not None and share - region_mean > SUSPICIOUS_JUMP:
        flags.append("suspicious:jump_above_region")
    return flags


class Turnout(Located, Keyed):
    prefix = "turnout"
    """One station's turnout through the day, a figure per checkpoint."""

    events = (TurnoutReported, StationMoved)
    # A station's stream grows with each figure of the day; replaying it for each was
    # most of a turnout report's cost.
    kept = True

    def __init__(self, id):
        super().__init__(id)
        self.reported = {}
        self.flags = []

    def report(self, checkpoints, station, checkpoint, voters, observer_id, channel,
               verified, region_mean):
        station = self.located(station)
        if checkpoint not in checkpoints:
            raise Rejected(Problem("UNKNOWN_CHECKPOINT", f"{checkpoint} is not one of "
                                   f"the checkpoints {', '.join(checkpoints)}",
                                   "checkpoint"))
        before = self.reported.get(checkpoint)
        if before and before["voters"] == voters and before["verified"] == verified:
            return
        registered = station["registered_voters"]
        flags = turnout_flags(checkpoints, {c: r["voters"] for c, r in
                                            self.reported.items()},
                              checkpoint, voters, registered, region_mean)
        counted = verified and not any(f.startswith("impossible") for f in flags)
        self.record(TurnoutReported(
            station["code"], station["region"], station["district"], checkpoint, voters,
            registered, round(voters / registered, 4) if registered else 0.0, flags,
            observer_id, channel, verified, counted,
            before and {k: before[k]
                        for k in ("voters", "registered_voters", "counted")}))

    def on_turnout_reported(self, event):
        # Rebound, not changed in place: a kept copy shares it with the caller's reply.
        self.reported = {**self.reported, event.checkpoint: {
            "voters": event.voters, "registered_voters": event.registered_voters,
            "counted": event.counted, "verified": event.verified}}
        self.flags = event.flags

    def counts(self):
        return {"checkpoints": {
            checkpoint: {k: figures[k] for k in ("voters", "registered_voters")}
            for checkpoint, figures in self.reported.items() if figures["counted"]}}


@dataclass(frozen=True)
class ProtocolSubmitted:
    """A station's results protocol. `counted` (verified, no control relation broken)
    puts it in the totals; `previous_counted` is the votes it replaced there."""
    station_code: str
    region: str
    district: str
    votes: dict
    ballots_issued: int
    ballots_in_boxes: int
    invalid_ballots: int
    registered_voters: int
    flags: list
    observer_id: str
    channel: str
    verified: bool
    counted: bool
    previous_counted: dict | None = None
    """{"votes", "invalid_ballots"} the totals held for this station before."""


def protocol_flags(votes, ballots_issued, ballots_in_boxes, invalid_ballots,
                   registered_voters):
    """The protocol's control relations, each broken one named."""
    flags = []
    if sum(votes.values()) + invalid_ballots != ballots_in_boxes:
        flags.append("control_relation_broken:votes_plus_invalid_equal_ballots_in_boxes")
    if ballots_in_boxes > ballots_issued:
        flags.append("control_relation_broken:ballots_in_boxes_within_issued")
    if ballots_issued > registered_voters:
        flags.append("control_relation_broken:ballots_issued_within_registered_voters")
    return flags


class Protocol(Located, Keyed):
    prefix = "protocol"
    events = (ProtocolSubmitted, StationMoved)

    def __init__(self, id):
        super().__init__(id)
        self.last = None
        self.counted = None
        self.flags = []

    def submit(self, station, votes, ballots_issued, ballots_in_boxes, invalid_ballots,
               observer_id, channel, verified):
        facts = {"votes": votes, "ballots_issued": ballots_issued,
                 "ballots_in_boxes": ballots_in_boxes, "invalid_ballots": invalid_ballots,
                 "verified": verified}
        if facts == self.last:
            return
        station = self.located(station)
        flags = protocol_flags(votes, ballots_issued, ballots_in_boxes, invalid_ballots,
                               station["registered_voters"])
        self.record(ProtocolSubmitted(
            station["code"], station["region"], station["district"], votes,
            ballots_issued, ballots_in_boxes, invalid_ballots,
            station["registered_voters"], flags, observer_id, channel, verified,
            verified and not flags, self.counted))

    def on_protocol_submitted(self, event):
        self.last = {"votes": event.votes, "ballots_issued": event.ballots_issued,
                     "ballots_in_boxes": event.ballots_in_boxes,
                     "invalid_ballots": event.invalid_ballots, "verified": event.verified}
        self.counted = ({"votes": event.votes, "invalid_ballots": event.invalid_ballots}
                        if event.counted else None)
        self.flags = event.flags

    def counts(self):
        return self.counted or {}


# The streams about one station, by their prefix: each follows the station's moves.
LOCATED = {"report": StationReport, Incident.prefix: Incident, Turnout.prefix: Turnout,
           Protocol.prefix: Protocol}


Z_95 = 1.96


def pvt_estimate(protocols, population=None):
    """Vote shares from a sample of stations with their 95 % margins of error.

    Each station is a cluster: the share of candidate c is the ratio estimator
    p = sum(y_ci) / sum(m_i) over the sampled stations (m_i its valid votes), and its
    variance (1 - f) / (n * mean(m)^2) * sum((y_ci - p * m_i)^2) / (n - 1), with f the
    sampling fraction when the number of stations in the population is known.
    """
    n = len(protocols)
    if n < 2:
        return {"stations": n, "shares": {}}
    totals = [sum(p.values()) for p in protocols]
    mean = sum(totals) / n
    candidates = sorted({c for p in protocols for c in p})
    fpc = 1 - n / population if population else 1.0
    shares = {}
    for candidate in candidates:
        votes = [p.get(candidate, 0) for p in protocols]
        share = sum(votes) / sum(totals) if sum(totals) else 0.0
        residuals = sum((y - share * m) ** 2 for y, m in zip(votes, totals))
        variance = fpc / (n * mean ** 2) * residuals / (n - 1) if mean else 0.0
        shares[candidate] = {"share": share, "margin": Z_95 * variance ** 0.5}
    return {"stations": n, "shares": shares}


@dataclass(frozen=True)
class TurnoutCheckpointsSet:
    checkpoints: list


class TurnoutPlan(Aggregate):
    """The checkpoints of the day at which stations report turnout."""

    events = (TurnoutCheckpointsSet,)
    STREAM = "turnout-plan"

    def __init__(self, id):
        super().__init__(id)
        self.checkpoints = list(DEFAULT_CHECKPOINTS)

    def set(self, checkpoints):
        if len(set(checkpoints)) != len(checkpoints):
            raise Rejected(Problem("DUPLICATE_CHECKPOINT", "a checkpoint is listed twice",
                                   "checkpoints"))
        if checkpoints != self.checkpoints:
            self.record(TurnoutCheckpointsSet(list(checkpoints)))

    def on_turnout_checkpoints_set(self, event):
        self.checkpoints = event.checkpoints


@dataclass(frozen=True)
class PvtSampleDefined:
    """The stations of a parallel vote tabulation's sample, drawn from `population`."""
    station_codes: list
    population: int


class PvtSample(Aggregate):
    events = (PvtSampleDefined,)
    STREAM = "pvt-sample"

    def __init__(self, id):
        super().__init__(id)
        self.facts = None

    def define(self, station_codes, population):
        codes = sorted(set(station_codes))
        if len(codes) > population:
            raise Rejected(Problem("SAMPLE_ABOVE_POPULATION", f"a sample of {len(codes)} "
                                   f"stations is larger than {population}", "population"))
        self.record(PvtSampleDefined(codes, population))

    def on_pvt_sample_defined(self, event):
        self.facts = vars(event)
