"""Which events each service publishes, found by convention so a new service joins the
catalog, the partners' scopes and replay by registering, without edits here.

A service registers in `services/<name>/schemas.py`: `EVENTS = {type: schema}` (every
event it publishes) and, optionally, `PARTNER_EVENTS` (the types partner systems may
receive; each carries `region` in its data). `SCHEMA_VERSIONS = {type: n}` names an
event's current version when it is above 1.
"""
import functools
import importlib
import pkgutil

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


def partner_routing_key(service, event_type, region):
    """`<service>.<region>.<type>`: partners' topic permissions match on the region."""
    return f"{service}.{region or NO_REGION}.{event_type}"
