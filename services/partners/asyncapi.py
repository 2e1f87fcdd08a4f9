"""The event catalog: an AsyncAPI document of every integration event, generated from
the services' marshmallow schemas (shared/catalog.py finds them), and a readable page
of it. `python -m services.partners.asyncapi` writes docs/asyncapi.json and
docs/events.md; `--check` fails when they differ from the code."""
import json
import sys

from marshmallow import fields

from services.partners import domain
from services.partners.schemas import InboundReport, Replay
from shared import catalog, config
from shared.envelope import SPEC_VERSION, exchange_name
from shared.relay import RUN_LENGTH

JSON_PATH = config.ROOT / "docs" / "asyncapi.json"
PAGE_PATH = config.ROOT / "docs" / "events.md"
DEPRECATION_DAYS = 180

_TYPES = [(fields.Boolean, "boolean"), (fields.Integer, "integer"),
          (fields.Float, "number"), (fields.Dict, "object"), (fields.List, "array"),
          (fields.DateTime, "string"), (fields.String, "string")]
_STRING, _INT = {"type": "string"}, {"type": "integer"}
_NULLABLE_STRING = {"type": ["string", "null"]}
ENVELOPE = {
    "specversion": {"const": SPEC_VERSION}, "id": _STRING, "source": _STRING,
    "type": _STRING, "subject": _STRING, "time": {"type": "string", "format": "date-time"},
    "datacontenttype": {"const": "application/json"}, "schemaversion": _INT,
    "position": _INT, "version": _INT, "correlationid": _NULLABLE_STRING,
    "causationid": _NULLABLE_STRING, "actor": _NULLABLE_STRING,
    "channel": _NULLABLE_STRING, "data": {"type": "object"},
}


def json_schema(schema):
    """JSON Schema of a marshmallow schema's (class or instance) fields."""
    properties, required = {}, []
    declared = (schema() if isinstance(schema, type) else schema).fields
    for name, field in sorted(declared.items()):
        kind = next((t for cls, t in _TYPES if isinstance(field, cls)), None)
        # A Raw field (any JSON value) has no type to state.
        properties[name] = {} if kind is None else {
            "type": [kind, "null"] if field.allow_none else kind}
        if field.required:
            required.append(name)
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}


def _amqp(exchange, routing_key):
    return {"amqp": {"is": "routingKey", "exchange": {
        "name": exchange, "type": "topic", "durable": True, "vhost": "/"},
        "x-routing-key": routing_key}}


def _message(event_type, version, key, until=None, run=False):
    """`run`: the body is a run of such envelopes (a service's own exchange)."""
    envelope = {"allOf": [{"$ref": "#/components/schemas/Envelope"}, {
        "properties": {"type": {"const": event_type}, "data": {
            "$ref": f"#/components/schemas/{key}"}}}]}
    message = {"name": event_type, "contentType": "application/json",
               "x-schema-version": version,
               "payload": {"type": "array", "minItems": 1, "maxItems": RUN_LENGTH,
                           "items": envelope} if run else envelope}
    if until is not None:
        message["x-deprecated-until"] = until.isoformat()
    return message


def _partner_channels(service, event_type, channels, messages, schemas):
    """One channel per version partners receive: the current one (redacted as the
    service says) and each older one still in its deprecation period."""
    versions = [(catalog.schema_version(service, event_type),
                 catalog.partner_schema(service, event_type), None)]
    versions += [(older.version, older.schema, older.until)
                 for older in catalog.older_versions(service, event_type)]
    for version, schema, until in versions:
        key = f"{catalog.PARTNER_EXCHANGE}.{service}.{event_type}.v{version}"
        schemas[key] = json_schema(schema)
        messages[key] = _message(event_type, version, key, until)
        routing_key = catalog.partner_routing_key(service, event_type, "{region}", version)
        channels[f"{catalog.PARTNER_EXCHANGE}/{routing_key}"] = {
            "description": "what partners bind to: their agreement's regions only"
                           + ("" if until is None else
                              f"; deprecated, published until {until.isoformat()}"),
            "parameters": {"region": {"description": "a region code, e.g. KG-C"}},
            "subscribe": {"message": {"$ref": f"#/components/messages/{key}"}},
            "bindings": _amqp(catalog.PARTNER_EXCHANGE, routing_key)}


def document():
    channels, messages, schemas = {}, {}, {"Envelope": {
        "type": "object", "properties": ENVELOPE, "required": sorted(ENVELOPE)}}
    for service in catalog.service_names():
        for event_type, schema in sorted(catalog.events(service).items()):
            key = f"{service}.{event_type}"
            schemas[key] = json_schema(schema)
            messages[key] = _message(
                event_type, catalog.schema_version(service, event_type), key, run=True)
            channels[f"{exchange_name(service)}/{event_type}"] = {
                "subscribe": {"message": {"$ref": f"#/components/messages/{key}"}},
                "bindings": _amqp(exchange_name(service), event_type)}
            if event_type in catalog.partner_events(service):
                _partner_channels(service, event_type, channels, messages, schemas)
    for kind, schema in ((domain.REPORT, InboundReport()), (domain.REPLAY, Replay())):
        schemas[f"partners.inbound.{kind}"] = json_schema(schema)
        channels[f"{domain.INBOUND_EXCHANGE}/{{partner}}.{kind}"] = {
            "description": "published by a partner as itself (AMQP user_id, message_id "
                           "required); refusals go to partner.{partner}.dead with the reason",
            "parameters": {"partner": {"description": "the partner's name (its login)"}},
            "publish": {"message": {"name": kind, "contentType": "application/json",
                                    "payload": {"$ref": f"#/components/schemas/"
                                                        f"partners.inbound.{kind}"}}},
            "bindings": _amqp(domain.INBOUND_EXCHANGE, f"{{partner}}.{kind}")}
    return {
        "asyncapi": "2.6.0",
        "info": {"title": "Nazar integration events", "version": "1",
                 "description": (
                     "Every event travels in the envelope (CloudEvents 1.0 attributes plus "
                     "position, version and schemaversion). A change that would break a "
                     "consumer is a new schemaversion; partners receive the older version "
                     "too, on its own routing key (`...<type>.v<n>`), for "
                     f"{DEPRECATION_DAYS} days after the new one ships: the date each "
                     "older version is published until is stated with it "
                     "(x-deprecated-until). On a service's own exchange "
                     "(`<service>.events`) a message carries a run of consecutive events "
                     f"of one type, a JSON array of up to {RUN_LENGTH} envelopes; on "
                     f"`{catalog.PARTNER_EXCHANGE}` a message is one envelope.")},
        "x-deprecation-days": DEPRECATION_DAYS,
        "defaultContentType": "application/json",
        "channels": dict(sorted(channels.items())),
        "components": {"messages": messages, "schemas": schemas},
    }


def page(doc):
    """The catalog as a Markdown page."""
    lines = ["# Integration events", "",
             "Generated by `make catalog` from the code; do not edit by hand.", "",
             doc["info"]["description"], "", "| exchange / routing key | schema version | "
             "data fields (? = may be null, * = required) |", "|---|---|---|"]
    for channel, spec in doc["channels"].items():
        operation = spec.get("subscribe") or spec["publish"]
        ref = operation["message"].get("$ref", "")
        message = doc["components"]["messages"].get(ref.rpartition("/")[2], {})
        envelope = message and message["payload"].get("items", message["payload"])
        schema_ref = (envelope["allOf"][1]["properties"]["data"]["$ref"]
                      if message else operation["message"]["payload"]["$ref"])
        schema = doc["components"]["schemas"][schema_ref.rpartition("/")[2]]
        described = ", ".join(
            f"{name}{'*' if name in schema['required'] else ''}"
            f"{'?' if isinstance(prop.get('type'), list) else ''}"
            for name, prop in schema["properties"].items())
        version = message.get("x-schema-version", "-")
        if "x-deprecated-until" in message:
            version = f"{version} (until {message['x-deprecated-until']})"
        lines.append(f"| `{channel}` | {version} | {described} |")
    return "\n".join(lines) + "\n"


def rendered():
    doc = document()
    return {JSON_PATH: json.dumps(doc, indent=1, ensure_ascii=False) + "\n",
            PAGE_PATH: page(doc)}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    for path, text in rendered().items():
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                print(f"{path} is out of date: run `make catalog`", file=sys.stderr)
                return 1
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
