"""The registry's boundaries: commands it accepts, events it publishes, replies."""
import base64
import binascii

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate

from services.registry.domain import LOCALES, ORGANIZATION_KINDS

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


class ObserverRegisteredData(Schema):
    """Payload of ObserverRegistered as partners receive it (schema version 1)."""
    observer_id = fields.String(required=True)
    full_name = fields.String(required=True)
    phones = fields.List(fields.String(), required=True)
    region = fields.String(required=True)
    locale = fields.String(required=True)
    organization_id = fields.String(allow_none=True)
    district = fields.String(allow_none=True)
    document_number = fields.String(allow_none=True)
    sms_code = fields.String(allow_none=True)


class OrganizationRegisteredData(Schema):
    organization_id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    region = fields.String(allow_none=True)
    contact = fields.String(allow_none=True)


EVENTS = {"ObserverRegistered": ObserverRegisteredData,
          "OrganizationRegistered": OrganizationRegisteredData}


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
    phones = fields.List(fields.String())
    region = fields.String()
    district = fields.String(allow_none=True)
    locale = fields.String()
    organization_id = fields.String(allow_none=True)
    document_number = fields.String(allow_none=True)
    sms_code = fields.String(allow_none=True)
    status = fields.String()
    registered_at = fields.DateTime()
    version = fields.Integer()
