"""What partners send and what creating a partner takes."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.registry.schemas import REGION_CODE
from shared import catalog

NAME = validate.Regexp(r"^[a-z][a-z0-9-]{1,31}$",
                       error="a partner name is 2-32 lower-case letters, digits, -")
ID = validate.Length(min=1, max=64)


def shares_events(service):
    if not catalog.partner_events(service):
        raise ValidationError(f"{service!r} publishes no partner events")


class CreatePartner(Schema):
    name = fields.String(required=True, validate=NAME)
    regions = fields.List(fields.String(validate=REGION_CODE), required=True,
                          validate=validate.Length(min=1, max=50))
    services = fields.List(fields.String(validate=shares_events), required=True,
                           validate=validate.Length(min=1))


class InboundReport(Schema):
    """A partner's observer report: submit_report's command less what we attribute."""
    source = fields.String(load_default=None, allow_none=True)
    observer_id = fields.String(required=True, validate=ID)
    station_code = fields.String(required=True, validate=ID)
    form_id = fields.String(load_default=None, allow_none=True, validate=ID)
    sms_prefix = fields.String(load_default=None, allow_none=True,
                               validate=validate.Regexp(r"^[A-Z]{1,8}$"))
    incident = fields.Boolean(load_default=False)
    answers = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=32)),
                          required=True)
    comment = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=2000))
    received_at = fields.AwareDateTime(load_default=None, allow_none=True)
    serial = fields.String(load_default=None, allow_none=True, validate=ID)

    @validates_schema
    def one_form(self, data, **kwargs):
        if (data.get("form_id") is None) == (data.get("sms_prefix") is None):
            raise ValidationError("give either form_id or sms_prefix", "form_id")


class Replay(Schema):
    """Events of the partner's scope after `after` ({service: position}) or since `since`."""
    source = fields.String(load_default=None, allow_none=True)
    queue = fields.String(required=True, validate=validate.Length(min=1, max=200))
    after = fields.Dict(keys=fields.String(), values=fields.Integer(
        validate=validate.Range(min=0)), load_default=None, allow_none=True)
    since = fields.AwareDateTime(load_default=None, allow_none=True)

    @validates_schema
    def one_start(self, data, **kwargs):
        if (data.get("after") is None) == (data.get("since") is None):
            raise ValidationError("give either after or since", "after")
