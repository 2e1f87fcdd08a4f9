"""Reporting's boundaries: forms coordinators publish, submissions from every channel
(the submission contract with hotline and partners), and the events it publishes."""
from collections.abc import Mapping

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.reporting.domain import (INCIDENT_CATEGORIES, KINDS, PHASES,
                                       QUESTION_TYPES, RELATIONS, SEVERITIES, TAG, Form,
                                       Incident, Protocol, PvtSample, StationReport,
                                       Turnout, TurnoutPlan)
from shared.schemas import event_schema

ID = validate.Length(min=1, max=64)
SMS_PREFIX = validate.Regexp(r"^[A-Z]{1,4}$", error="an SMS prefix is 1-4 upper-case "
                                                    "letters")
CHANNEL = validate.Regexp(r"^(graphql|sms|partner:[a-z0-9_-]{1,32})$",
                          error="a channel is graphql, sms or partner:<name>")


class Range(Schema):
    min = fields.Integer(required=True)
    max = fields.Integer(required=True)


class Option(Schema):
    code = fields.Integer(required=True, validate=validate.Range(min=0, max=99))
    label = fields.String(required=True, validate=validate.Length(min=1, max=200))
    value = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "the incident category, severity or turnout checkpoint the "
                       "option stands for, on a question a form's roles name"})


class Question(Schema):
    tag = fields.String(required=True, validate=validate.Regexp(
        TAG, error="a tag is 1-8 upper-case letters"))
    text = fields.String(required=True, validate=validate.Length(min=1, max=500))
    type = fields.String(required=True, validate=validate.OneOf(QUESTION_TYPES))
    required = fields.Boolean(load_default=False)
    range = fields.Nested(Range, load_default=None, allow_none=True)
    options = fields.List(fields.Nested(Option), load_default=None, allow_none=True)


class Group(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    questions = fields.List(fields.Nested(Question), required=True,
                            validate=validate.Length(min=1, max=200))


class ControlRelation(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    left = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    op = fields.String(required=True, validate=validate.OneOf(list(RELATIONS)))
    right = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


QUESTION_TAG = fields.String(validate=validate.Regexp(TAG))
CANDIDATE = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$")


class Vote(Schema):
    tag = fields.String(required=True, validate=validate.Regexp(TAG))
    candidate = fields.String(required=True, validate=CANDIDATE)


class Roles(Schema):
    """Which question gives each fact an incident, turnout or protocol form feeds."""
    category = QUESTION_TAG
    severity = QUESTION_TAG
    description = QUESTION_TAG
    evidence = QUESTION_TAG
    checkpoint = QUESTION_TAG
    voters = QUESTION_TAG
    ballots_issued = QUESTION_TAG
    ballots_in_boxes = QUESTION_TAG
    invalid_ballots = QUESTION_TAG
    votes = fields.List(fields.Nested(Vote), validate=validate.Length(min=1, max=100))


class PublishForm(Schema):
    """A new form (no form_id) or a new version of one."""
    form_id = fields.String(load_default=None, allow_none=True, validate=ID)
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    phase = fields.String(load_default=None, allow_none=True,
                          validate=validate.OneOf(PHASES))
    sms_prefix = fields.String(required=True, validate=SMS_PREFIX)
    groups = fields.List(fields.Nested(Group), required=True,
                         validate=validate.Length(min=1, max=50))
    control_relations = fields.List(fields.Nested(ControlRelation), load_default=list)
    roles = fields.Nested(Roles, load_default=None, allow_none=True)


class Answers(fields.Field):
    """A copy's {tag: value}: at most MAX_ANSWERS, tags of 1 to 8 characters, no value
    null, refused in the words of fields.Dict(keys=String(validate=Length(1, 8)),
    values=Raw(allow_none=False), validate=Length(max=...)). Checked in one pass: that
    Dict runs a field per key and per value, most of loading a submission (177 µs of
    it, against 33 µs for all the rest, with 20 answers)."""

    MAX_ANSWERS = 300
    default_error_messages = {"invalid": "Not a valid mapping type."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        errors = {}
        for tag, answer in value.items():
            if not isinstance(tag, str):
                errors[tag] = {"key": ["Not a valid string."]}
            elif not 1 <= len(tag) <= 8:
                errors[tag] = {"key": ["Length must be between 1 and 8."]}
            if answer is None:
                errors.setdefault(tag, {})["value"] = ["Field may not be null."]
        if errors:
            raise ValidationError(errors)
        if len(value) > self.MAX_ANSWERS:
            raise ValidationError(f"Longer than maximum length {self.MAX_ANSWERS}.")
        return dict(value)


class SubmitReport(Schema):
    observer_id = fields.String(required=True, validate=ID)
    station_code = fields.String(load_default=None, allow_none=True, validate=ID)
    form_id = fields.String(load_default=None, allow_none=True, validate=ID)
    sms_prefix = fields.String(load_default=None, allow_none=True, validate=SMS_PREFIX)
    incident = fields.Boolean(load_default=False)
    channel = fields.String(required=True, validate=CHANNEL)
    answers = Answers(required=True)
    comment = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=2000))
    sender_verified = fields.Boolean(load_default=True)
    received_at = fields.AwareDateTime(load_default=None, allow_none=True)
    serial = fields.String(load_default=None, allow_none=True,
                           validate=validate.Regexp(r"^[A-Za-z0-9]{1,16}$"))

    @validates_schema
    def names_a_form(self, data, **kwargs):
        if (data["form_id"] is None) == (data["sms_prefix"] is None):
            raise ValidationError("give either form_id or sms_prefix", "form_id")


class OverrideMasterValue(Schema):
    form_id = fields.String(required=True, validate=ID)
    station_code = fields.String(required=True, validate=ID)
    tag = fields.String(required=True, validate=validate.Regexp(TAG))
    value = fields.Raw(required=True, allow_none=False)
    reason = fields.String(required=True, validate=validate.Length(min=3, max=1000))


class ObserverReport(Schema):
    """What an observer reports from a station: theirs, or the one assigned to them."""
    observer_id = fields.String(required=True, validate=ID)
    station_code = fields.String(load_default=None, allow_none=True, validate=ID)
    sender_verified = fields.Boolean(load_default=True)


class ReportIncident(ObserverReport):
    category = fields.String(required=True, validate=validate.OneOf(INCIDENT_CATEGORIES))
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    description = fields.String(required=True, validate=validate.Length(min=3, max=4000))
    occurred_at = fields.AwareDateTime(required=True)
    evidence = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=500))


class MoveIncident(Schema):
    incident_id = fields.String(required=True, validate=ID)
    status = fields.String(required=True,
                           validate=validate.OneOf(("verified", "rejected", "escalated")))
    reason = fields.String(required=True, validate=validate.Length(min=3, max=1000))
    within_region = fields.String(load_default=None, allow_none=True)


class SubmitTurnout(ObserverReport):
    checkpoint = fields.String(required=True, validate=validate.Length(min=1, max=16))
    voters = fields.Integer(required=True, validate=validate.Range(min=0))


class SetTurnoutCheckpoints(Schema):
    checkpoints = fields.List(fields.String(validate=validate.Length(min=1, max=16)),
                              required=True, validate=validate.Length(min=1, max=24))


class SubmitProtocol(ObserverReport):
    votes = fields.Dict(keys=fields.String(validate=CANDIDATE), values=fields.Integer(validate=validate.Range(min=0)),
        required=True, validate=validate.Length(min=1, max=100))
    ballots_issued = fields.Integer(required=True, validate=validate.Range(min=0))
    ballots_in_boxes = fields.Integer(required=True, validate=validate.Range(min=0))
    invalid_ballots = fields.Integer(required=True, validate=validate.Range(min=0))


class DefineSample(Schema):
    station_codes = fields.List(fields.String(validate=ID), required=True,
                                validate=validate.Length(min=2))
    population = fields.Integer(required=True, validate=validate.Range(min=2))


class QuestionView(Schema):
    tag = fields.String()
    text = fields.String()
    type = fields.String()
    required = fields.Boolean()
    range = fields.Nested(Range, allow_none=True)
    options = fields.List(fields.Nested(Option), allow_none=True)


class FormView(Schema):
    form_id = fields.String()
    version = fields.Integer()
    name = fields.String()
    kind = fields.String()
    phase = fields.String(allow_none=True)
    sms_prefix = fields.String()
    groups = fields.List(fields.Nested(Group))
    control_relations = fields.List(fields.Nested(ControlRelation))
    roles = fields.Nested(Roles, allow_none=True)
    questions = fields.List(fields.Nested(QuestionView))


EVENTS = {cls.__name__: event_schema(cls) for aggregate in (
    Form, StationReport, Incident, Turnout, TurnoutPlan, Protocol, PvtSample)
    for cls in aggregate.events}
# What regional partners may receive (each carries `region`): see shared/catalog.py.
PARTNER_EVENTS = ("ReportSubmitted", "MasterValueOverridden", "IncidentReported",
                  "IncidentStatusChanged", "TurnoutReported", "ProtocolSubmitted")
