"""The registry's boundaries: commands it accepts, events it publishes, replies."""
import base64
import binascii

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate
from marshmallow.utils import get_value

from services.registry.domain import (LOCALES, ORGANIZATION_KINDS, VERIFICATION_METHODS,
                                      District, Observer, Organization, PollingStation,
                                      Region)
from shared.schemas import event_schema

REGION_CODE = validate.Regexp(r"^[A-Z0-9][A-Z0-9-]{0,15}$",
                              error="a region code is 1-16 capital letters, digits, -")


class RegisterObserver(Schema):
    full_name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    phones = fields.List(fields.String(validate=validate.Length(min=3, max=32)),
                         required=True, validate=validate.Length(min=1, max=5))
    region = fields.String(required=True, validate=REGION_CODE)
    locale = fields.String(load_default="ru", validate=validate.OneOf(LOCALES))
    organization_id = fields.String(load_default=None, allow_none=True,
                                    validate=validate.Length(max=64))
    district = fields.String(load_default=None, allow_none=True, validate=REGION_CODE)
    document_number = fields.String(load_default=None, allow_none=True,
                                    validate=validate.Length(min=3, max=32))

    @pre_load
    def strip(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("full_name"), str):
            data = {**data, "full_name": data["full_name"].strip()}
        return data


class ObserverChanges(Schema):
    full_name = fields.String(validate=validate.Length(min=2, max=200))
    region = fields.String(validate=REGION_CODE)
    phones = fields.List(fields.String(validate=validate.Length(min=3, max=32)),
                         validate=validate.Length(min=1, max=5))
    district = fields.String(allow_none=True, validate=REGION_CODE)
    locale = fields.String(validate=validate.OneOf(LOCALES))
    organization_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    document_number = fields.String(allow_none=True,
                                    validate=validate.Length(min=3, max=32))


class ObserverCommand(Schema):
    observer_id = fields.String(required=True)
    within_region = fields.String(load_default=None, allow_none=True,
                                  metadata={"description": "the caller's scope: an "
                                            "observer elsewhere is answered as missing"})


class UpdateObserver(ObserverCommand):
    changes = fields.Nested(ObserverChanges, required=True)


class SuspendObserver(ObserverCommand):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=1000))


class VerifyObserverPhone(ObserverCommand):
    phone = fields.String(required=True, validate=validate.Length(min=3, max=32))
    method = fields.String(required=True, validate=validate.OneOf(VERIFICATION_METHODS))


class RegisterOrganization(Schema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=300))
    kind = fields.String(required=True, validate=validate.OneOf(ORGANIZATION_KINDS))
    region = fields.String(load_default=None, allow_none=True, validate=REGION_CODE)
    contact = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=300))


class ImportFile(Schema):
    """A CSV file as it was uploaded, in any encoding, base64 so it survives JSON."""
    content_base64 = fields.String(required=True, validate=validate.Length(min=1))

    @post_load
    def decode(self, data, **kwargs):
        try:
            return {"content": base64.b64decode(data["content_base64"], validate=True)}
        except (binascii.Error, ValueError):
            raise ValidationError("not base64", "content_base64")


# What partners receive as each event's data (schema version 1).
EVENTS = {cls.__name__: event_schema(cls) for aggregate in (
    Region, District, PollingStation, Organization, Observer) for cls in aggregate.events}


class OrganizationView(Schema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()
    region = fields.String(allow_none=True)
    contact = fields.String(allow_none=True)


class ObserverView(Schema):
    """An observer as the registry answers for it."""
    id = fields.String()
    full_name = fields.String()
    phones = fields.Method("phones_marked_verified")
    region = fields.String()
    district = fields.String(allow_none=True)
    locale = fields.String()
    organization_id = fields.String(allow_none=True)
    document_number = fields.String(allow_none=True)
    sms_code = fields.String(allow_none=True)
    status = fields.String()
    registered_at = fields.DateTime()
    version = fields.Integer()

    def phones_marked_verified(self, observer):
        # Serves the aggregate (a command's answer) and the read model's document alike.
        verified = set(get_value(observer, "verified_phones") or ())
        return [{"number": number, "verified": number in verified}
                for number in get_value(observer, "phones")]
