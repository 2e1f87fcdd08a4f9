"""The readiness verdict: locust's CSV stats of the election-day run and of the floor run,
and the reconciliation, against the service-level objectives of election day."""
import csv
import json

REPORTS_PER_S = 500
SUSTAINED_S = 180
P99_MS = 1000
CAUGHT_UP_S = 5
# Requests that carry a report; their names start so in the locustfile (deliberately
# malformed SMS are named otherwise: they are answered, not accepted).
REPORT_PREFIXES = ("report:", "sms: report")


def stats(path):
    with open(path, newline="") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


def crashes(path):
    """How often the simulated users' own code raised: each time, a request may have
    gone unrecorded, so the failure count cannot be trusted."""
    if not path.exists():
        return 0
    with open(path, newline="") as f:
        return sum(int(row["Count"]) for row in csv.DictReader(f))


def checks(run, floor, load, reconciled, crashed):
    """[(objective, measured, passed)]."""
    load_s = load["stopped_at"] - load["started_at"]
    reports = {name: row for name, row in run.items() if name.startswith(REPORT_PREFIXES)}
    reports_per_s = sum(float(row["Requests/s"]) - float(row["Failures/s"])
                        for row in reports.values())
    # Over all reports together, as the objective reads; the slowest kind is shown
    # too.
    p99 = percentile(load["report_times"], 0.99)
    slowest = max((row for row in reports.values() if int(row["Request Count"])),
                  key=lambda row: float(row["99%"]), default=None)
    failures = int(run["Aggregated"]["Failure Count"])
    floor_per_s = float(floor["Aggregated"]["Requests/s"])
    return [
        (f"reports accepted/s >= {REPORTS_PER_S}", f"{reports_per_s:.1f}",
         reports_per_s >= REPORTS_PER_S),
        (f"sustained >= {SUSTAINED_S} s", f"{load_s:.0f} s", load_s >= SUSTAINED_S),
        (f"p99 accept latency <= {P99_MS} ms", f"{p99:.0f} ms", p99 <= P99_MS),
        ("p99 of the slowest kind of report (reported)",
         f"{slowest['Name']}: {float(slowest['99%']):.0f} ms" if slowest else "none",
         True),
        ("failed requests (not deliberate bad input) = 0", str(failures), failures == 0),
        ("errors in the simulated users' code = 0", str(crashed), crashed == 0),
        (f"projections caught up <= {CAUGHT_UP_S} s after the load",
         "never" if reconciled["caught_up_after_s"] is None
         else f"{reconciled['caught_up_after_s']:.1f} s",
         reconciled["caught_up_after_s"] is not None
         and reconciled["caught_up_after_s"] <= CAUGHT_UP_S),
        ("accepted reports lost = 0", str(reconciled["lost"]), reconciled["lost"] == 0),
        ("accepted reports duplicated = 0", str(reconciled["duplicated"]),
         reconciled["duplicated"] == 0),
        ("ratio reports/s : floor requests/s (reported)",
         f"{reports_per_s:.1f} : {floor_per_s:.1f} = "
         f"{reports_per_s / floor_per_s if floor_per_s else 0:.3f}", True),
    ]


def percentile(times, fraction):
    """The response time (ms) that `fraction` of the requests took at most, from
    {ms: requests} as locust counts them (JSON keys are strings)."""
    total, within = sum(times.values()), 0
    for ms, count in sorted((float(ms), count) for ms, count in times.items()):
        within += count
        if within >= fraction * total:
            return ms
    return 0.0


def main(out, reconciled, spent=None):
    """Prints the verdict table; answers the exit code (1 when an objective fails).
    `spent`: {process: ms of processor time per report} of this machine (cpu.py)."""
    load = json.loads((out / "accepted.json").read_text())
    results = checks(stats(out / "locust_stats.csv"), stats(out / "floor_stats.csv"),
                     load, reconciled, crashes(out / "locust_exceptions.csv"))
    width = max(len(objective) for objective, _, _ in results)
    print("\nElection-day readiness (var/loadtest/locust.html, locust_stats.csv)")
    for objective, measured, passed in results:
        print(f"  {objective:<{width}}  {measured:>36}  {'ok' if passed else 'FAIL'}")
    accepted = ", ".join(f"{n} {kind}" for kind, n in reconciled["accepted"].items())
    print(f"  reconciled: {accepted or 'nothing'} accepted; lost "
          f"{reconciled['lost_examples'] if reconciled['lost'] else 'none'}")
    if spent:
        costs = ", ".join(f"{what} {ms:.2f} ms" for what, ms in spent.items())
        print(f"  processor time per report, this machine's processes: {costs}; "
              f"in all {sum(spent.values()):.2f} ms")
    ready = all(passed for _, _, passed in results)
    print(f"VERDICT: {'READY' if ready else 'NOT READY'}")
    (out / "verdict.json").write_text(json.dumps(
        {"ready": ready, "checks": [{"objective": o, "measured": m, "passed": p}
                                    for o, m, p in results],
         "reconciliation": reconciled, "processor_ms_per_report": spent or {}}, indent=2))
    return 0 if ready else 1
