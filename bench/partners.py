"""Partners benchmark (`make bench`): how soon a partner receives an incident, and how
fast replay delivers.

Incident delivery: incidents are appended to the reporting log one by one, the relay
publishes them as it does in the platform, and a partner with its own broker user
consumes its region's queue; latency is receipt minus the event's `time` (the moment it
was stored, i.e. reported). Replay: the partner archive holds N events of two regions;
the partner asks for its region's events since position 0 and the clock stops when the
last one is read from its queue; the replay runs in a process of its own.
"""
import argparse
import multiprocessing
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

from bench.environment import bench_environment, report
from partner_client import PartnerClient
from services.partners import access, domain
from services.partners.admin import partner_uri
from services.partners.outbox import QueueWriter
from services.partners.projections import PartnerFeed
from services.partners.replay import replay
from shared.envelope import from_envelope
from shared.eventstore import EventStore, NewEvent
from shared.mongo import connect
from shared.relay import AmqpPublisher, Relay

SERVICE, EVENT_TYPE = "reporting", "IncidentReported"
P99_TARGET_MS, REPLAY_TARGET_MS_PER_1000 = 1000, 200  # 200 ms per 1,000 = 5,000/s


def incident(n, region):
    return NewEvent(EVENT_TYPE, {
        "incident_id": f"i-{n}", "category": "ballot_stuffing", "severity": "high",
        "description": "bench", "station_code": "1001", "region": region,
        "district": "C-01", "occurred_at": datetime.now(timezone.utc).isoformat(),
        "observer_id": "o-1", "channel": "sms", "verified": True, "evidence": None})


def delivery_latencies(db, amqp_uri, client, count, interval_s):
    store = EventStore(db)
    store.ensure_indexes()
    relay = Relay(SERVICE, store, AmqpPublisher(amqp_uri, SERVICE))
    stop = threading.Event()
    relaying = threading.Thread(target=relay.run, args=(stop.is_set,))
    relaying.start()
    latencies = []

    def consume():
        for envelope in client.events("incidents", timeout=10):
            sent = datetime.fromisoformat(envelope["time"])
            latencies.append((datetime.now(timezone.utc) - sent).total_seconds() * 1000)
            if len(latencies) == count:
                return

    consuming = threading.Thread(target=consume)
    consuming.start()
    for n in range(count):
        # Half in another region: the partner must not see (nor wait behind) them.
        store.append(f"incident:{n}", 0, [incident(n, "KG-C")])
        store.append(f"incident:other-{n}", 0, [incident(n, "KG-Y")])
        time.sleep(interval_s)
    consuming.join()
    stop.set()
    relaying.join()
    store.close()
    return sorted(latencies)


def fill_archive(db, count):
    """`count` archived incidents, alternating regions, as the feed would store them."""
    feed, writes = PartnerFeed(), []
    for n in range(count):
        region = "KG-C" if n % 2 else "KG-Y"
        envelope = {"specversion": "1.0", "id": str(uuid.uuid4()),
                    "source": f"nazar/{SERVICE}", "type": EVENT_TYPE,
                    "subject": f"incident:{n}", "time": datetime.now(timezone.utc).isoformat(),
                    "datacontenttype": "application/json", "schemaversion": 1,
                    "position": n + 1, "version": 1, "correlationid": None,
                    "causationid": None, "actor": None, "channel": "sms",
                    "data": incident(n, region).data}
        writes.extend(op for _, op in feed.writes(from_envelope(envelope)))
    db["archive"].bulk_write(writes, ordered=False)
    db["archive"].create_indexes(feed.indexes()["archive"])


def _replay(mongo_uri, db_name, agreement, queue, amqp_uri, ready, go):
    client = connect(mongo_uri)
    with QueueWriter(amqp_uri) as writer:
        ready.set()
        go.wait()
        replay(client[db_name], agreement, {"queue": queue, "after": {SERVICE: 0},
                                            "since": None}, writer)
    client.close()


def replay_seconds(mongo_uri, db, amqp_uri, agreement, client, expected):
    """The replay runs in a process of its own, started and connected before the clock
    starts, as in the partners service: the partner reading its queue is another
    system, not a thread beside it."""
    client.subscribe("replayed", [])
    spawn = multiprocessing.get_context("spawn")
    ready, go = spawn.Event(), spawn.Event()
    replaying = spawn.Process(target=_replay, args=(
        mongo_uri, db.name, agreement, client.queue("replayed"), amqp_uri, ready, go))
    replaying.start()
    ready.wait()
    start = time.perf_counter()
    go.set()
    received = 0
    for _ in client.events("replayed", timeout=10):
        received += 1
        if received == expected:
            break
    elapsed = time.perf_counter() - start
    replaying.join()
    if received != expected:
        sys.exit(f"replay delivered {received} of {expected} events")
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--interval-ms", type=float, default=20)
    parser.add_argument("--archive", type=int, default=100_000)
    args = parser.parse_args(argv)
    with bench_environment() as (mongo_uri, amqp_uri):
        client = connect(mongo_uri)
        prefix = f"bench_{uuid.uuid4().hex[:6]}_"
        partners_db, reporting_db = client[f"{prefix}partners"], client[f"{prefix}reporting"]
        agreement = domain.Agreement(f"bench-{uuid.uuid4().hex[:6]}", ("KG-C",), (SERVICE,))
        password = access.create_partner(partners_db, agreement, amqp_uri)
        try:
            with PartnerClient(partner_uri(amqp_uri, agreement.name, password)) as partner:
                partner.subscribe("incidents", [(SERVICE, "KG-C", EVENT_TYPE)])
                latencies = delivery_latencies(reporting_db, amqp_uri, partner,
                                               args.incidents, args.interval_ms / 1000)
                fill_archive(partners_db, args.archive)
                seconds = replay_seconds(mongo_uri, partners_db, amqp_uri, agreement,
                                         partner, args.archive // 2)
        finally:
            access.delete_partner(partners_db, agreement.name, amqp_uri)
            client.drop_database(partners_db.name)
            client.drop_database(reporting_db.name)
            client.close()
    figures = {
        "incident_p50_ms": latencies[len(latencies) // 2],
        "incident_p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "replay_ms_per_1000_events": seconds * 1000 / (args.archive // 2) * 1000,
        "replay_events_per_s": (args.archive // 2) / seconds,
    }
    return report("partners", f"Partners: {args.incidents} incidents, replay of "
                  f"{args.archive // 2} of {args.archive} archived events", figures, {
                      "incident_p99_ms": P99_TARGET_MS,
                      "replay_ms_per_1000_events": REPLAY_TARGET_MS_PER_1000})


if __name__ == "__main__":
    sys.exit(main())
