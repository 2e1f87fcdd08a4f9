"""Which events each service publishes, found by convention so a new service joins the
catalog, the partners' scopes and replay by registering, without edits here.

A service registers in `services/<name>/schemas.py`: `EVENTS = {type: schema}` (every
event it publishes) and, optionally, `PARTNER_EVENTS` (the types partner systems may
receive; each carries `region` in its data). `SCHEMA_VERSIONS = {type: n}` names an
event's current version when it is above 1.

What partners receive of an event can differ from what the platform's own consumers do:
`PARTNER_PAYLOADS = {type: schema class}` redacts it (only the schema's fields go out), and
`OLDER_VERSIONS = {type: (OlderVersion(...), ...)}` keeps publishing a version a breaking
change replaced, derived from the current one, until the date the catalog states. Each
version has its own routing key (`<service>.<region>.<type>.v<n>`), so a partner binds
to the version it reads and moves on before that date.
"""
import functools
import importlib
import json
import pkgutil
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

import services

PARTNER_EXCHANGE = "partners.events"
NO_REGION = "national"  # routing-key word of a partner event without a region


def _schemas(service):
    try:
        return importlib.import_module(f"services.{service}.schemas")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"services.{service}", f"services.{service}.schemas"):
            raise  # a service that is there but broken must not vanish silently
        return None


@functools.cache
def service_names():
    """Every service with an EVENTS map, by name."""
    return tuple(sorted(
        info.name for info in pkgutil.iter_modules(services.__path__)
        if info.ispkg and getattr(_schemas(info.name), "EVENTS", None) is not None))


def events(service):
    return getattr(_schemas(service), "EVENTS", {})


@functools.cache
def partner_events(service):
    return frozenset(getattr(_schemas(service), "PARTNER_EVENTS", ()))


def schema_version(service, event_type):
    return getattr(_schemas(service), "SCHEMA_VERSIONS", {}).get(event_type, 1)


@dataclass(frozen=True)
class OlderVersion:
    """Version `version` of an event, still published to partners until `until`
    (inclusive, by the event's time): `derive` makes its data from the current
    version's data, `schema` describes it in the catalog."""
    version: int
    schema: object
    derive: Callable[[dict], dict]
    until: date


def older_versions(service, event_type):
    return getattr(_schemas(service), "OLDER_VERSIONS", {}).get(event_type, ())


def partner_schema(service, event_type):
    """The schema of what partners receive of the current version (redacted or not)."""
    module = _schemas(service)
    return getattr(module, "PARTNER_PAYLOADS", {}).get(event_type) or module.EVENTS[event_type]


def partner_routing_key(service, event_type, region, version):
    """`<service>.<region>.<type>.v<n>`: partners' topic permissions match on the
    region, and each binds the versions it reads."""
    return f"{service}.{region or NO_REGION}.{event_type}.v{version}"


@functools.cache
def _redaction(service, event_type):
    """The PARTNER_PAYLOADS schema instance of the event type, or None."""
    redact = getattr(_schemas(service), "PARTNER_PAYLOADS", {}).get(event_type)
    return redact() if redact is not None else None


def _current(service, envelope):
    """(envelope, data) of the current version as partners receive it."""
    redact = _redaction(service, envelope["type"])
    if redact is None:
        return envelope, envelope["data"]
    # Who acted (a staff login) is as much the redacted part as the fields.
    return {**envelope, "actor": None}, redact.dump(envelope["data"])


def partner_copies(service, envelope):
    """[(routing key, envelope)] partners receive of `envelope` (one of the service's
    partner events): the current version, redacted as PARTNER_PAYLOADS says, then each
    older version whose deprecation period the event falls in."""
    event_type, region = envelope["type"], envelope["data"].get("region")
    envelope, current = _current(service, envelope)
    versions = [(envelope["schemaversion"], current)]
    older = older_versions(service, event_type)
    if older:
        day = datetime.fromisoformat(envelope["time"]).date()
        versions += [(o.version, o.derive(current)) for o in older if day <= o.until]
    return [(partner_routing_key(service, event_type, region, version),
             {**envelope, "schemaversion": version, "data": versioned})
            for version, versioned in versions]


def partner_bodies(service, envelope):
    """partner_copies as JSON text, as the relay publishes them."""
    return [(key, json.dumps(copy)) for key, copy in partner_copies(service, envelope)]


def current_partner_body(service, envelope):
    """The current version partners receive, as JSON text: what the archive keeps."""
    envelope, current = _current(service, envelope)
    return json.dumps({**envelope, "data": current})
