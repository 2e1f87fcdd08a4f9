"""How the background jobs that follow a service's log (its relay and projection
runners) learn that it moved: a change stream on the log's position counter, which
each committed batch moves once, instead of each job asking the database every 50 ms.
With a dozen such jobs per platform, that polling cost a fifth of the machine while
the platform was otherwise busy with SMS reports."""
import logging
import threading
import time

from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

RECHECK_S = 1.0
"""A job looks again at least this often when no change arrives: its lease needs
renewing, and a paused rebuild or a missed change must not stall it for long."""
POLL_S = 0.05
"""How often a job looks while its watch does not run (a job run on its own, in a
test, or a change stream that failed)."""
GATHER_S = 0.25
"""The shortest time between two rounds of a job that keeps finding a little work."""


class LogWatch:
    """`generation` counts the log's moves; `wait(seen)` returns once it is past
    `seen`. Runs as a job of its own beside those that wait on it."""

    def __init__(self, db):
        self.counters = db["counters"]
        self.generation = 0
        self.watching = False
        self._moved = threading.Condition()

    def run(self, should_stop):
        while not should_stop():
            try:
                # Each wait on the server is short enough to notice a stop in time.
                with self.counters.watch([{"$match": {"documentKey._id": "position"}}],
                                         max_await_time_ms=int(RECHECK_S * 500)) as stream:
                    self.watching = True
                    self._moved_on()  # what was appended before the stream opened
                    while not should_stop() and stream.alive:
                        if stream.try_next() is not None:
                            self._moved_on()
            except PyMongoError:
                log.exception("watching the log failed; reopening")
                self.watching = False
                time.sleep(1)
        self.watching = False
        self._moved_on()  # wakes the waiting jobs, so they see they must stop

    def wait(self, seen):
        """Until the log moved past generation `seen`, or RECHECK_S at most."""
        if not self.watching:
            time.sleep(POLL_S)
            return
        with self._moved:
            self._moved.wait_for(lambda: self.generation != seen, RECHECK_S)

    def _moved_on(self):
        with self._moved:
            self.generation += 1
            self._moved.notify_all()


def follow(name, watch, lease, run_once, should_stop, full):
    """Runs `run_once()` (which answers how many events it took) while this instance
    holds `lease`, until should_stop(): again at once after a `full` batch, else when
    the log moves (see LogWatch.wait), but a round per GATHER_S at most."""
    while not should_stop():
        seen = watch.generation
        started = time.monotonic()
        try:
            done = run_once() if lease.acquire() else 0
        except Exception:
            log.exception("%s failed; retrying from its checkpoint", name)
            done = 0
            time.sleep(1)
        if done >= full:
            continue
        if not done:
            watch.wait(seen)
        # Each round costs a read and a transaction however little it carries: while
        # reports trickle in one by one, let a few gather. A lone one, after a quiet
        # spell, goes at once.
        time.sleep(max(0.0, started + GATHER_S - time.monotonic()))
    lease.release()
