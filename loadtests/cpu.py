"""Processor time of the processes on this machine that take part in the load test, read
from /proc (Linux; elsewhere there is nothing to read): where a report's cost goes, so
that the bottleneck shows in every run. A deployed cluster's processes are on other
machines: then only locust's are seen."""
import os
import resource
from collections import defaultdict
from pathlib import Path

PROC = Path("/proc")
RUNNERS = {"deploy.serve": "", "deploy.jobs": " jobs"}  # how the launcher runs services
PROGRAMS = {"mongod": "mongod", "beam.smp": "rabbitmq"}


def label(args):
    """What a process is, from its arguments, or None when it takes no part."""
    if not args:
        return None
    program = os.path.basename(args[0])
    if program in PROGRAMS:
        return PROGRAMS[program]
    for runner, suffix in RUNNERS.items():
        if runner in args[1:-1]:
            # services.reporting.service:ReportingService, gateway.service:GatewayService
            module = args[args.index(runner) + 1].partition(":")[0].split(".")
            return (module[1] if module[0] == "services" else module[0]) + suffix
    return "locust" if "locust" in args[1:3] else None


def snapshot():
    """{pid: (label, processor seconds so far)} of the processes that take part. locust
    runs as this process's child, so it has ended by the second snapshot: its time is
    the children's, counted once they end."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = {"ended children": ("locust", children.ru_utime + children.ru_stime)}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            what = label([a for a in args if a])
            if what:
                # utime and stime, in clock ticks, after the parenthesised command name
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                found[entry.name] = (what, (int(fields[11]) + int(fields[12]))
                                     / os.sysconf("SC_CLK_TCK"))
        except OSError:  # it ended meanwhile
            continue
    return found


def per_report(before, after, reports):
    """{label: ms of processor time per report} between two snapshots, the costliest
    first; empty when nothing was accepted."""
    spent = defaultdict(float)
    for pid, (what, seconds) in after.items():
        spent[what] += seconds - before.get(pid, (what, 0.0))[1]
    if not reports:
        return {}
    return {what: round(seconds * 1000 / reports, 3)
            for what, seconds in sorted(spent.items(), key=lambda kv: -kv[1]) if seconds > 0}
