"""The hotline's boundaries: the inbound SMS it accepts, the appeals desk's commands,
the events it publishes."""
from marshmallow import Schema, fields, validate

from services.hotline.domain import (CATEGORIES, CHANNELS, GROUPS, Appeal, Broadcast, Faq,
                                     SenderLine)
from services.hotline.sms import MAX_LENGTH
from services.registry.schemas import REGION_CODE
from shared.schemas import event_schema, only

ID = validate.Length(min=1, max=64)

# Longer than any report, so a huge message is still logged whole for an operator.
TEXT_LIMIT = 64 * MAX_LENGTH


class InboundSms(Schema):
    sender = fields.String(required=True, validate=validate.Length(max=200))
    text = fields.String(required=True, validate=validate.Length(max=TEXT_LIMIT))
    gateway_id = fields.String(load_default=None, allow_none=True,
                               validate=validate.Length(max=200))
    # Kept as given: a gateway's odd clock must not cost the message.
    received_at = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=100))
    raw_base64 = fields.String(load_default=None, allow_none=True)


class MessageFilter(Schema):
    observer_id = fields.String(load_default=None, allow_none=True)
    number = fields.String(load_default=None, allow_none=True)
    status = fields.String(load_default=None, allow_none=True)
    direction = fields.String(load_default=None, allow_none=True,
                              validate=validate.OneOf(("in", "out")))
    text = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=200))
    first = fields.Integer(load_default=50, validate=validate.Range(1, 500))




class Scoped(Schema):
    """A regional coordinator's region: an appeal elsewhere is answered as missing."""
    within_region = fields.String(load_default=None, allow_none=True)


class OpenAppeal(Schema):
    caller_phone = fields.String(required=True, validate=validate.Length(min=3, max=32))
    caller_name = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=200))
    region = fields.String(required=True, validate=REGION_CODE)
    district = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=32))
    station_code = fields.String(load_default=None, allow_none=True,
                                 validate=validate.Length(max=32))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    description = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    faq_id = fields.String(load_default=None, allow_none=True, validate=ID)
    opened_by = fields.String(load_default=None, allow_none=True)


class OnAppeal(Scoped):
    appeal_id = fields.String(required=True, validate=ID)


class AssignAppeal(OnAppeal):
    assignee = fields.String(required=True, validate=validate.Length(min=1, max=200))


class EscalateAppeal(OnAppeal):
    group = fields.String(required=True, validate=validate.OneOf(GROUPS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AnswerAppeal(OnAppeal):
    answer = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    faq_id = fields.String(load_default=None, allow_none=True, validate=ID)


class CommentAppeal(OnAppeal):
    author = fields.String(required=True, validate=validate.Length(min=1, max=200))
    text = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class DefineFaq(Schema):
    faq_id = fields.String(load_default=None, allow_none=True, validate=ID)
    question = fields.String(required=True, validate=validate.Length(min=3, max=500))
    answer = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    category = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf(CATEGORIES))


# What partners receive as each event's data (schema version 1).
EVENTS = {cls.__name__: event_schema(cls) for aggregate in (SenderLine, Appeal, Faq,
                                                                  Broadcast)
          for cls in aggregate.events}
# What regional partners may receive (each carries `region`): see shared/catalog.py.
# An appeal and its status, never who called (name, phone), what they said or who of
# the staff handles it.
PARTNER_EVENTS = ("AppealOpened", "AppealAssigned", "AppealEscalated", "AppealAnswered",
                  "AppealClosed", "AppealOverdue")
_STATUS = ("appeal_id", "region", "at")
PARTNER_PAYLOADS = {
    "AppealOpened": only(EVENTS["AppealOpened"], "appeal_id", "region", "district",
                         "station_code", "category", "channel", "opened_at", "due_at"),
    "AppealAssigned": only(EVENTS["AppealAssigned"], *_STATUS),
    "AppealEscalated": only(EVENTS["AppealEscalated"], *_STATUS, "group"),
    "AppealAnswered": only(EVENTS["AppealAnswered"], *_STATUS),
}


class BroadcastFilter(Schema):
    region = fields.String(load_default=None, allow_none=True)
    organization_id = fields.String(load_default=None, allow_none=True)
    status = fields.String(load_default=None, allow_none=True)
    assigned = fields.Boolean(load_default=None, allow_none=True)


class SendBroadcast(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_LENGTH))
    filter = fields.Nested(BroadcastFilter, load_default=dict)
    sent_by = fields.String(load_default=None, allow_none=True)
