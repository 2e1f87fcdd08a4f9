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
from shared.projections import Projection, ProjectionRunner


def projections_of(service):
    module = importlib.import_module(f"services.{service}.projections")
    return {cls.name: cls for cls in vars(module).values()
            if isinstance(cls, type) and issubclass(cls, Projection) and cls.name}


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
