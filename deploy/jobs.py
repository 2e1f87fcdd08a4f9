"""Run a service's background jobs (its relay and projection runners) in a process of
their own: `python -m deploy.jobs module:Class`.

The launcher runs the service's entrypoints with NAZAR_EVENT_JOBS=separate and this
beside them, so publishing and projecting use the second core instead of competing
with commands. Leases keep one active relay and runner per projection however many of
these run.
"""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

from eventlet.event import Event  # noqa: E402

import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from deploy.processes import settle_heap  # noqa: E402
from deploy.serve import load_service  # noqa: E402
from shared import config, logs  # noqa: E402
from shared.eventstore import EventStore  # noqa: E402
from shared.mongo import connect, service_database  # noqa: E402
from shared.runtime import EventLog  # noqa: E402

log = logging.getLogger(__name__)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m deploy.jobs package.module:ServiceClass")
    service_cls = load_service(argv[0])
    # Requests first: under load (an import) the relay and projections give way and
    # catch up afterwards, instead of taking the processor from the command at hand.
    os.nice(config.jobs_niceness())
    logs.configure(f"{service_cls.name}-jobs")
    [event_log] = [v for v in vars(service_cls).values() if isinstance(v, EventLog)]
    client = connect()
    store = EventStore(service_database(client, service_cls.name))
    store.ensure_indexes()
    stopping = Event()
    jobs = event_log.background_jobs(store, service_cls.name, config.amqp_uri())
    threads = [eventlet.spawn(job.run, stopping.ready) for job in jobs]
    settle_heap()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.ready() or stopping.send())
    log.info("%d background jobs of %s started", len(jobs), service_cls.name)
    stopping.wait()
    for thread in threads:
        thread.wait()  # each finishes its batch and releases its lease
    store.close()
    client.close()
    log.info("background jobs of %s stopped", service_cls.name)


if __name__ == "__main__":
    main()
