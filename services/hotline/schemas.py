"""The hotline's boundaries: the inbound SMS it accepts, the events it publishes."""
from marshmallow import Schema, fields, validate

from services.hotline.domain import SenderLine
from services.hotline.sms import MAX_LENGTH
from shared.schemas import event_schema

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


# What partners receive as each event's data (schema version 1).
EVENTS = {cls.__name__: event_schema(cls) for cls in SenderLine.events}
