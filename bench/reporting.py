"""Reporting benchmark (`make bench`): the opening-hour burst, measured at the service
(nameko RPC, no gateway), then `regionStats` through GraphQL once every station has
reported.

Starts the platform as `make run` does (its own databases and RabbitMQ vhost). The
stations, observers and assignments reporting would hear of from the registry and
deployment are written straight into its directory (those imports have benchmarks of
their own). Then every observer sends the opening checklist in bursts of `--batch`
(submit_reports, the service's batch call) from `--callers` concurrent callers;
each reply comes only after its submission is in the event store. Every submission is
accounted for: each reply is checked, and the events and projections counted.
`--single` submissions are then sent one per submit_report call, as the hotline and the
gateway send them (the service gathers concurrent calls into rounds of the same kind).
"""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from eventlet.event import Event  # noqa: E402
from eventlet.semaphore import Semaphore  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

from bench.environment import bench_platform, report  # noqa: E402
from bench.registry import Client, wait_for  # noqa: E402
from shared import config  # noqa: E402

SUBMISSIONS_TARGET = 1000  # per second, at least
SINGLE_TARGET = 300  # submit_report calls per second from concurrent callers (the SMS webhook)
STATS_TARGET_MS = 100
REGIONS = 10
FORM = {"name": "Opening", "kind": "checklist", "phase": "opening", "sms_prefix": "OP",
        "groups": [{"name": "Opening", "questions": [
            {"tag": "AA", "text": "Opened on time", "type": "yes_no", "required": True},
            {"tag": "AB", "text": "Ballots received", "type": "integer",
             "required": True, "range": {"min": 0, "max": 5000}},
            {"tag": "AC", "text": "Ballots issued", "type": "integer"},
            {"tag": "AD", "text": "Present", "type": "multiple_choice",
             "options": [{"code": c, "label": str(c)} for c in (1, 2, 3)]}]}],
        "control_relations": [{"name": "issued within received", "left": ["AC"],
                               "op": "<=", "right": ["AB"]}]}
STATS = """query($region: String) { regionStats(region: $region) {
  stations forms { formId complete partial conflict missing } } }"""


def seed_directory(db, stations):
    """Station i in region R<i % REGIONS>, its observer o<i> assigned there."""
    def region(i):
        return f"R{i % REGIONS:02d}"
    db["stations"].insert_many([{"_id": f"S{i:06d}", "region": region(i),
                                 "district": f"{region(i)}-D{i % 7}",
                                 "registered_voters": 1500} for i in range(stations)])
    db["observers"].insert_many([{"_id": f"o{i:06d}", "region": region(i),
                                  "district": f"{region(i)}-D{i % 7}"}
                                 for i in range(stations)])
    db["assignments"].insert_many([{"_id": f"a{i:06d}", "observer_id": f"o{i:06d}",
                                    "station_code": f"S{i:06d}", "region": region(i),
                                    "active": True} for i in range(stations)])
    db["station_totals"].insert_many([{"_id": f"R{r:02d}", "stations": sum(
        1 for i in range(stations) if i % REGIONS == r)} for r in range(REGIONS)])


def submission(i):
    return {"observer_id": f"o{i:06d}", "station_code": None, "sms_prefix": "OP",
            "channel": "sms", "answers": {"AA": "1", "AB": str(500 + i % 1000),
                                          "AC": str(i % 400), "AD": "13"}}


def burst(rpc_config, stations, batch, callers):
    """Sends every observer's checklist; returns (seconds, replies not accepted)."""
    batches = [list(range(start, min(start + batch, stations)))
               for start in range(0, stations, batch)]
    with ClusterRpcProxy(rpc_config, timeout=300) as rpc:
        started = time.perf_counter()
        replies = pipelined(rpc.reporting.submit_reports, [
            ([submission(i) for i in indexes], [f"bench-{i}" for i in indexes])
            for indexes in batches], callers)
        seconds = time.perf_counter() - started
    return seconds, [r for batch in replies for r in batch
                     if not r["ok"] or r["data"]["status"] != "accepted"]


def pipelined(method, calls, in_flight):
    """Each call's reply, in order, with up to `in_flight` calls waiting at once (one
    proxy may not be read by several green threads)."""
    replies, waiting = [], []
    for args in calls:
        waiting.append(method.call_async(*args))
        if len(waiting) >= in_flight:
            replies.append(waiting.pop(0).result())
    return replies + [call.result() for call in waiting]


def single_calls(rpc_config, count, callers):
    """One submit_report per call (a GraphQL observer's or the SMS webhook's way) from
    `callers` concurrent callers, each sending its next once answered: calls/s."""
    go, ready = Event(), Semaphore(0)

    def caller(indexes):
        with ClusterRpcProxy(rpc_config, timeout=300) as rpc:
            ready.release()
            go.wait()
            # A resend with a change: the station's copy is updated, not created.
            return [rpc.reporting.submit_report({**submission(i), "answers": {"AC": "1"}})
                    for i in indexes]
    pool = eventlet.GreenPool(callers)
    running = [pool.spawn(caller, range(c, count, callers)) for c in range(callers)]
    for _ in running:
        ready.acquire()
    started = time.perf_counter()
    go.send()
    replies = [reply for thread in running for reply in thread.wait()]
    rate = count / (time.perf_counter() - started)
    if not all(r["ok"] for r in replies):
        sys.exit(f"single submissions refused: {[r for r in replies if not r['ok']][:3]}")
    return rate


def measure(platform, db, amqp_uri, args):
    seed_directory(db, args.stations)
    rpc_config = config.nameko_config(AMQP_URI=amqp_uri)
    with ClusterRpcProxy(rpc_config, timeout=60) as rpc:
        published = rpc.reporting.publish_form(FORM)
        if not published["ok"]:
            sys.exit(f"publish_form refused: {published}")
    form_id = published["data"]["form_id"]

    seconds, refused = burst(rpc_config, args.stations, args.batch, args.callers)
    if refused:
        sys.exit(f"{len(refused)} submissions not accepted, e.g. {refused[:3]}")
    stored = db["events"].count_documents({"type": "ReportSubmitted"})
    if stored != args.stations:
        sys.exit(f"{args.stations} accepted but {stored} stored")
    catch_up = wait_for(lambda: sum(d["counts"].get("complete", 0) for d in db[
        "form_stats"].find({"form_id": form_id})) == args.stations, timeout=1200)

    single = single_calls(rpc_config, args.single, args.single_callers)
    graphql = Client(platform.url, platform)
    durations = []
    for n in range(args.queries):
        region = f"R{n % REGIONS:02d}"
        started = time.perf_counter()
        stats = graphql(STATS, {"region": region})["regionStats"]
        durations.append((time.perf_counter() - started) * 1000)
        [figures] = stats["forms"]
        if figures["complete"] != stats["stations"] or figures["missing"]:
            sys.exit(f"regionStats miscounted {region}: {stats}")
    return {"submissions_per_s_batched": args.stations / seconds,
            "submissions_per_s_single_calls": single,
            "s_per_1000_single_calls": 1000 / single,
            "projections_caught_up_after_s": catch_up,
            "region_stats_median_ms": statistics.median(durations),
            "region_stats_max_ms": max(durations)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--callers", type=int, default=4)
    parser.add_argument("--single", type=int, default=2000,
                        help="submissions sent one per call, for comparison")
    parser.add_argument("--single-callers", type=int, default=50,
                        help="concurrent callers of submit_report, one call at a time each")
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    if args.single > args.stations:
        parser.error("--single resends stations' checklists: at most --stations")
    with bench_platform() as (platform, database, amqp_uri):
        figures = measure(platform, database("reporting"), amqp_uri, args)
    # report() bounds figures from above: the rate's target as time per 1,000.
    figures["s_per_1000_submissions_batched"] = 1000 / figures[
        "submissions_per_s_batched"]
    sys.exit(report("reporting", f"Reporting benchmark: {args.stations} stations' "
                    "opening checklists at the service, then regionStats through GraphQL",
                    figures,
                    {"s_per_1000_submissions_batched": 1000 / SUBMISSIONS_TARGET,
                     "s_per_1000_single_calls": 1000 / SINGLE_TARGET,
                     "region_stats_median_ms": STATS_TARGET_MS}, width=36, digits=3))


if __name__ == "__main__":
    main()
