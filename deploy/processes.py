"""Child-process helpers shared by the launcher and the embedded mongod.

Children run in their own session so that a terminal Ctrl-C reaches only the parent,
which then stops them deliberately; and they ask the kernel to SIGTERM them when the
parent dies, so that even a SIGKILLed parent leaves nothing behind.
"""
import ctypes
import gc
import os
import signal
import subprocess
import time

PR_SET_PDEATHSIG = 1
# Python's default collects the youngest generation every 700 allocations, and each
# such pass also walks what survived it: under load that is a collection every few
# requests. Requests' garbage is freed by reference counting; the collector is only
# for cycles, so it can run far less often. With 2,000 requests in flight the gateway
# still spent 15 % of its processor time collecting at (20_000, 20, 40), 7.5 % at these
# (perf, election-day load; 8 to 10 % at (300_000, 100, 100)).
GC_THRESHOLDS = (100_000, 50, 100)
_libc = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: the child only calls it


def die_with_parent():
    """A preexec_fn: make the child receive SIGTERM when its parent dies (Linux).

    The kernel sends it when the *thread* that forked the child exits, so start
    children from a long-lived thread (the main one, in practice).
    """
    parent = os.getpid()  # evaluated in the parent, before the fork

    def preexec():
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def stop_processes(processes, timeout):
    """SIGTERM all processes at once, SIGKILL whichever still runs after `timeout` seconds."""
    processes = [p for p in processes if p.poll() is None]
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stop_process(process, timeout):
    """SIGTERM one process, SIGKILL it if it still runs after `timeout` seconds."""
    stop_processes([process], timeout)


def settle_heap():
    """Called once a service has started: what exists now (modules, schemas,
    connections) lives as long as the process, so the collector stops walking it,
    and it runs less often (GC_THRESHOLDS)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
