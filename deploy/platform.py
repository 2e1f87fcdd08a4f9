"""The whole platform as `make run` starts it, in a child process, for the end-to-end
tests and the benchmarks: `with running_platform(env) as platform: platform.url`."""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shared.config import ROOT

START_TIMEOUT = 90
STOP_TIMEOUT = 30


class Platform:
    def __init__(self, process, url, output):
        self.process = process
        self.url = url
        self.output = output

    def log(self, tail=3000):
        return self.output.read_text()[-tail:]

    def stop(self, timeout=10):
        """Ctrl-C, as a person would; returns the launcher's exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_platform(env):
    """Starts the launcher with `env` added to ours, on a free gateway port; waits
    until it says the platform runs; stops it on the way out if it still runs."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "launcher.log"
        with open(output, "w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "deploy.launcher"], cwd=ROOT,
                env={**os.environ, **env, "GATEWAY_PORT": str(port)},
                stdout=log, stderr=subprocess.STDOUT)
        platform = Platform(process, url, output)
        deadline = time.monotonic() + START_TIMEOUT
        while f"GraphQL at {url}" not in output.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the platform did not start:\n{platform.log()}")
            time.sleep(0.1)
        try:
            yield platform
        finally:
            if process.poll() is None:
                # Stopped as Ctrl-C stops it, so that its services are gone before the
                # broker's vhost and the databases they use are; killed only if it hangs.
                try:
                    platform.stop(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
