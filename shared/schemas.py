"""Marshmallow schemas derived from event dataclasses, so an event's published shape
(the catalog partners read) cannot drift from the class the domain records."""
import dataclasses
import types
import typing

from marshmallow import Schema, fields

_FIELDS = {str: fields.String, int: fields.Integer, float: fields.Float,
           bool: fields.Boolean, dict: fields.Dict, list: fields.List,
           object: fields.Raw}


def event_schema(event_cls):
    """A Schema with one field per dataclass field; `X | None` fields may be null."""
    hints = typing.get_type_hints(event_cls)
    declared = {}
    for field in dataclasses.fields(event_cls):
        kind = hints[field.name]
        optional = isinstance(kind, types.UnionType) and type(None) in kind.__args__
        if optional:
            kind = next(k for k in kind.__args__ if k is not type(None))
        make = _FIELDS[kind]
        options = {"required": field.default is dataclasses.MISSING,
                   "allow_none": optional}
        declared[field.name] = (make(fields.Raw(), **options) if kind is list
                                else make(**options))
    return Schema.from_dict(declared, name=f"{event_cls.__name__}Data")


def only(schema, *names):
    """A Schema of some of `schema`'s fields: what goes out of a redacted event."""
    declared = schema._declared_fields
    return Schema.from_dict({name: declared[name] for name in names},
                            name=f"{schema.__name__}Redacted")
