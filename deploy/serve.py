"""Run one nameko service in this process: `python -m deploy.serve module:Class`.

Used instead of `nameko run` because that one does not exit promptly on SIGTERM: here a
stop signal stops the service gracefully, kills it after a grace period, and exits.
"""
import warnings

# Eventlet warns on import that it is deprecated (its warning is not a DeprecationWarning).
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet

eventlet.monkey_patch()  # before anything else imports threading or socket

import importlib
import logging
import os
import signal
import sys

from eventlet.event import Event
from nameko.runners import ServiceRunner

from deploy.processes import settle_heap
from shared import logs
from shared.config import nameko_config

log = logging.getLogger(__name__)


def load_service(path):
    """The class named by 'package.module:Class'."""
    module_name, _, class_name = path.partition(":")
    if not class_name:
        raise SystemExit(f"expected module:Class, got {path!r}")
    return getattr(importlib.import_module(module_name), class_name)


def stop_grace():
    return float(os.environ.get("NAZAR_STOP_GRACE", 3))


def stop(runner, grace, exit_code):
    """Stop gracefully; kill what is still running after `grace` seconds."""
    try:
        with eventlet.Timeout(grace):
            runner.stop()
    except eventlet.Timeout:
        log.warning("service did not stop within %s s, killing it", grace)
        with eventlet.Timeout(1, False):  # killing is best effort: we exit regardless
            runner.kill()
    if not exit_code.ready():
        exit_code.send(0)


def exit_on_crash(runner, exit_code):
    """runner.wait() raises when a container dies of an error: the process must end too."""
    try:
        runner.wait()
    except Exception:
        log.exception("service crashed")
        if not exit_code.ready():
            exit_code.send(1)


def serve(service_cls):
    """Run the service until a stop signal or a crash; return the exit code."""
    runner = ServiceRunner(nameko_config(service_cls.name))
    runner.add_service(service_cls)
    runner.start()
    settle_heap()
    exit_code = Event()
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        if stopping:  # a second Ctrl-C must not start a second stop
            return
        stopping = True
        log.info("received %s, stopping", signal.Signals(signum).name)
        # Handlers must not block: the stop runs in its own green thread.
        eventlet.spawn_n(stop, runner, stop_grace(), exit_code)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    eventlet.spawn_n(exit_on_crash, runner, exit_code)
    log.info("service %s started", service_cls.name)
    return exit_code.wait()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m deploy.serve package.module:ServiceClass")
    service_cls = load_service(argv[0])
    logs.configure(service_cls.name)
    code = serve(service_cls)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: a consumer or driver thread that missed the stop must not keep us alive.
    os._exit(code)


if __name__ == "__main__":
    main()
