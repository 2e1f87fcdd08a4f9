"""Start all of Nazar locally and keep it running: what `make run` runs.

Starts the embedded MongoDB (unless MONGO_URI is set), makes sure RabbitMQ answers,
runs each service as a `python -m deploy.serve` child (and its background jobs as a
`python -m deploy.jobs` child), waits for the gateway's /health,
then supervises: Ctrl-C (or SIGTERM) stops everything; a dying service stops everything
with exit code 1. Set NAZAR_SERVICES="name=module:Class,..." to run other services.
"""
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request

from deploy.broker import ensure_rabbitmq
from deploy.mongod import EmbeddedMongod
from deploy.processes import die_with_parent, stop_processes
from deploy.services import SERVICES
from shared.config import (ROOT, VAR, amqp_uri, ensure_local_secrets, gateway_host,
                           gateway_port, mongo_port)

HEALTH_TIMEOUT = 60
POLL_INTERVAL = 0.2
CHILDREN_STOP_TIMEOUT = 5
MONGOD_STOP_TIMEOUT = 3

log = logging.getLogger("launcher")


class StopRequested(Exception):
    """Raised by the SIGINT/SIGTERM handler so that any step in progress is abandoned."""


class ServiceDied(Exception):
    pass


def services():
    """(name, runner, "module:Class"): NAZAR_SERVICES if set, else deploy/services.py."""
    override = os.environ.get("NAZAR_SERVICES", "").strip()
    if not override:
        return SERVICES
    pairs = [item.strip().split("=", 1) for item in override.split(",") if item.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError("NAZAR_SERVICES must look like name=module:Class,name2=module:Class")
    return [(name.strip(), "serve", path.strip()) for name, path in pairs]


def gateway_address():
    """Host and port to reach the gateway at; a wildcard bind is reached on loopback."""
    host = gateway_host()
    return ("127.0.0.1" if host in ("0.0.0.0", "::", "") else host), gateway_port()


def start_service(runner, path):
    """A `deploy.serve` (entrypoints) or `deploy.jobs` (relay and projections) child;
    it inherits our environment (MONGO_URI included)."""
    # Own session: a terminal Ctrl-C reaches only us, and we stop the children ourselves.
    return subprocess.Popen([sys.executable, "-m", f"deploy.{runner}", path], cwd=ROOT,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=die_with_parent())


def check_children(children):
    for name, process in children.items():
        if process.poll() is not None:
            raise ServiceDied(f"service {name} exited with code {process.returncode}")


def healthy(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def wait_for_health(children, url):
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while not healthy(url):
        check_children(children)
        if time.monotonic() > deadline:
            raise ServiceDied(f"{url} did not answer 200 within {HEALTH_TIMEOUT} s")
        time.sleep(POLL_INTERVAL)


def supervise(children):
    """Return never: raise ServiceDied when a child exits, StopRequested on a signal."""
    while True:
        check_children(children)
        time.sleep(POLL_INTERVAL)


def ignore_stop_signals():
    """A second Ctrl-C must not interrupt the stop in progress."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def request_stop(signum, frame):
    ignore_stop_signals()
    raise StopRequested(signal.Signals(signum).name)


def run(children):
    """Start everything into `children` and supervise it; raise to stop."""
    ensure_rabbitmq(amqp_uri())
    ensure_local_secrets()
    # Each service's background jobs run in a process of their own (deploy.jobs), so
    # they use the other core instead of slowing the service's commands.
    os.environ["NAZAR_EVENT_JOBS"] = "separate"
    for name, runner, path in services():
        log.info("starting %s (%s %s)", name, runner, path)
        children[name] = start_service(runner, path)
    host, port = gateway_address()
    wait_for_health(children, f"http://{host}:{port}/health")
    print(f"Nazar is running: GraphQL at http://{host}:{port}/graphql", flush=True)
    print("Ctrl-C stops everything.", flush=True)
    supervise(children)


def main():
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s launcher %(levelname)s %(message)s")
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    children = {}
    mongod = None
    code = 0
    try:
        if not os.environ.get("MONGO_URI"):
            mongod = EmbeddedMongod(VAR / "mongo", mongo_port())
            os.environ["MONGO_URI"] = mongod.start()  # the children inherit it
            log.info("MongoDB at %s", os.environ["MONGO_URI"])
        run(children)
    except StopRequested as stop:
        log.info("received %s, stopping", stop)
    except (ServiceDied, RuntimeError, ValueError) as exc:  # mongod/broker: RuntimeError
        log.error("%s; stopping everything", exc)
        code = 1
    finally:
        ignore_stop_signals()
        stop_processes(children.values(), CHILDREN_STOP_TIMEOUT)
        if mongod is not None:
            mongod.stop(MONGOD_STOP_TIMEOUT)
    print("Nazar stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
