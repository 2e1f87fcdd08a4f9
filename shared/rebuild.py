"""Rebuild a projection from the log: python -m shared.rebuild <service> [<projection>...]

With no projection named, rebuilds all of the service's. Safe while the service runs:
queries read the old read model until the rebuilt one is swapped in.
"""
import argparse
import importlib
import sys
import time

from shared.eventstore import EventStore
from shared.mongo import connect, service_database
from shared.projections import ProjectionRunner
from shared.runtime import EventLog


def projections_of(service):
    """The service's own projections by name; read models fed by other services'
    events are not rebuilt from this service's log."""
    module = importlib.import_module(f"services.{service}.service")
    for value in vars(module).values():
        if isinstance(value, type) and getattr(value, "name", None) == service:
            return {projection.name: projection for log in vars(value).values()
                    if isinstance(log, EventLog) for projection in log.projections}
    raise ModuleNotFoundError(service)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service")
    parser.add_argument("projections", nargs="*")
    args = parser.parse_args(argv)
    try:
        known = projections_of(args.service)
    except ModuleNotFoundError:
        sys.exit(f"no service named {args.service!r}")
    unknown = set(args.projections) - set(known)
    if unknown:
        sys.exit(f"{args.service} has no projection {', '.join(sorted(unknown))}; "
                 f"it has: {', '.join(sorted(known))}")
    client = connect()
    store = EventStore(service_database(client, args.service))
    for name in args.projections or sorted(known):
        started = time.monotonic()
        position = ProjectionRunner(store, known[name]()).rebuild()
        print(f"{args.service}.{name}: rebuilt up to position {position} "
              f"in {time.monotonic() - started:.1f} s")
    client.close()


if __name__ == "__main__":
    main()
