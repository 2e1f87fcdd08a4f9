"""The platform-side half of `make loadtest`, run in the platform's own .venv (eventlet,
pymongo) as a child of loadtests/run.py, which lives in locust's virtualenv (gevent):

  python -m loadtests.platform_side serve       starts the platform as `make run` does on
      the database prefix LOADTEST_DB_PREFIX (kept between runs, so the seeded country is
      reused) and the RabbitMQ vhost nazar-<prefix>; prints one JSON line {url, mongo_uri,
      prefix, sms_secret}; stops everything when its stdin closes. With --replay
      registry,deployment those services' relays publish their logs again (consumers
      skip what they have seen), so that a service added after the seeding learns the
      country; it answers once every subscriber has taken them.
  python -m loadtests.platform_side tokens ROLE  one token per line for each scope (an
      observer id, a region) read from stdin, signed with this platform's secret.
  python -m loadtests.platform_side reconcile FILE  waits until reporting's read models
      have caught up with its log and hold every report FILE lists as accepted, then
      counts the accepted reports missing from them (lost) and those there more than
      once (duplicated); prints the result as JSON.
"""
import argparse
import importlib
import json
import os
import sys
import time
import warnings
from datetime import datetime, timedelta, timezone

# Importing the services' classes (nameko) warns that eventlet is deprecated.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from kombu import Connection  # noqa: E402

from deploy.broker import amqp_uri_for_vhost, create_vhost, ensure_rabbitmq  # noqa: E402
from deploy.mongod import EmbeddedMongod  # noqa: E402
from deploy.platform import running_platform  # noqa: E402
from deploy.services import SERVICES  # noqa: E402
from shared import auth, config  # noqa: E402
from shared.eventstore import EventStore  # noqa: E402
from shared.mongo import connect, service_database  # noqa: E402
from shared.runtime import EventLog  # noqa: E402
from shared.subscriber import Subscriber  # noqa: E402

CATCH_UP_TIMEOUT_S = 120
REPLAY_TIMEOUT_S = 600
# Where each kind of accepted report lands in reporting's read models (by _id), and
# what makes two documents there the same report.
READ_MODELS = {"submission": ("copies",
                              ("form_id", "observer_id", "station_code", "serial")),
               "sms": ("copies", None), "incident": ("incidents", None)}
ACCEPTED_SMS = ("accepted", "partial")


def prefix():
    return os.environ.get("LOADTEST_DB_PREFIX", "loadtest_")


def serve(args):
    mongod = None
    mongo_uri = os.environ.get("MONGO_URI")
    if not mongo_uri:
        mongod = EmbeddedMongod(config.VAR / "mongo", config.mongo_port())
        mongo_uri = mongod.start()
    ensure_rabbitmq(config.amqp_uri(), management=True)
    # Of the prefix's own: two platforms on one vhost would answer each other's RPC.
    vhost = f"nazar-{prefix().rstrip('_')}"
    create_vhost(vhost)
    try:
        if args.fresh:
            client = connect(mongo_uri)
            for name in client.list_database_names():
                if name.startswith(prefix()):
                    client.drop_database(name)
            client.close()
        env = {"MONGO_URI": mongo_uri, "NAZAR_DB_PREFIX": prefix(),
               "AMQP_URI": amqp_uri_for_vhost(config.amqp_uri(), vhost),
               "NAZAR_TOKEN_SECRET": config.token_secret()}
        with running_platform(env) as platform:
            if args.replay:
                replay(mongo_uri, env["AMQP_URI"], args.replay.split(","))
            print(json.dumps({"url": platform.url, "mongo_uri": mongo_uri,
                              "prefix": prefix(),
                              "sms_secret": config.sms_webhook_secret()}), flush=True)
            sys.stdin.read()  # until run.py is done with us
            platform.stop(timeout=30)
    finally:
        if mongod:
            mongod.stop()


def replay(mongo_uri, amqp_uri, services):
    """The services' relays publish their logs again; returns once they have and every
    subscriber has taken what it was sent."""
    client = connect(mongo_uri)
    logs = [client[f"{prefix()}{service}"] for service in services]
    for db in logs:
        db["checkpoints"].update_one({"_id": "relay"}, {"$set": {"position": 0}})
    deadline = time.monotonic() + REPLAY_TIMEOUT_S
    # Twice in a row: a subscriber holds a batch unacknowledged while it applies it.
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        published = all((db["checkpoints"].find_one({"_id": "relay"}) or {}).get(
            "position", 0) >= EventStore(db).last_position() for db in logs)
        quiet = quiet + 1 if published and not backlog(client, amqp_uri) else 0
        time.sleep(1)
    client.close()


def backlog(client, amqp_uri):
    """Messages waiting in the queues of every service's subscribers."""
    waiting = 0
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        for _, runner, path in SERVICES:
            if runner != "serve":
                continue
            # Not deploy.serve's load_service: importing it patches for eventlet.
            module, _, name = path.partition(":")
            service = getattr(importlib.import_module(module), name)
            db = client[f"{prefix()}{service.name}"]
            logs = [v for v in vars(service).values() if isinstance(v, EventLog)]
            for event_log in logs:
                for projection, sources, *_ in event_log.subscriptions:
                    queue = Subscriber(db, projection(), sources, amqp_uri).queue.name
                    waiting += channel.queue_declare(queue, passive=True).message_count
    return waiting


def tokens(args):
    claim = auth.SCOPE_CLAIM.get(args.role)
    for scope in sys.stdin.read().split():
        print(auth.mint(args.role, ttl=timedelta(hours=args.hours),
                        subject=f"loadtest:{args.role}:{scope}", **{claim: scope}))


def caught_up(db):
    """Every projection of reporting's own log at its last position."""
    last = EventStore(db).last_position()
    return all(c["position"] >= last for c in db["checkpoints"].find(
        {"_id": {"$regex": "^projection:"}}))


def present(db, kind, ids):
    """Those of `ids` (of one kind of report) that reporting's read models hold."""
    if kind == "turnout":  # "<station>|<checkpoint>": the station's figure for it
        return {f"{doc['_id']}|{checkpoint}" for doc in db["turnout"].find(
            {"_id": {"$in": [i.partition("|")[0] for i in ids]}}, {"checkpoints": 1})
            for checkpoint in doc.get("checkpoints", {})}
    return {d["_id"] for d in db[READ_MODELS[kind][0]].find({"_id": {"$in": list(ids)}},
                                                           {"_id": 1})}


def missing(db, accepted):
    return {kind: sorted(set(ids) - present(db, kind, ids))
            for kind, ids in accepted.items()}


def sms_accepted(hotline, since):
    """The submissions of the SMS the hotline logged as accepted since `since`: the
    webhook's answer does not name them."""
    return [e["data"]["submission_id"] for e in hotline["events"].find({
        "type": "SmsReceived", "data.status": {"$in": ACCEPTED_SMS},
        "data.submission_id": {"$ne": None},
        "metadata.occurred_at": {"$gte": datetime.fromtimestamp(since, timezone.utc)}},
        {"data.submission_id": 1})]


def duplicated(db):
    """Read-model documents beyond the first with the same natural key."""
    extra = 0
    for collection, key in READ_MODELS.values():
        if key:
            extra += sum(group["n"] - 1 for group in db[collection].aggregate([
                {"$group": {"_id": {k: f"${k}" for k in key}, "n": {"$sum": 1}}},
                {"$match": {"n": {"$gt": 1}}}], allowDiskUse=True))
    return extra


def finished_run(path, after):
    """The locust master's record of a run that stopped after `after`, or None yet."""
    try:
        run = json.loads(open(path).read())
    except (OSError, ValueError):  # not there yet, or being written
        return None
    return run if run["stopped_at"] >= after else None


def reconcile(args):
    """FILE: {"accepted": {kind: [ids]}, "started_at", "stopped_at"} (epoch seconds)
    from the locust master; the SMS accepted are read from the hotline's log.

    Started before the load stops (--after), it watches the read models meanwhile, so
    that how soon they caught up is not blurred by locust's own shutdown."""
    client = connect(config.mongo_uri())
    db = service_database(client, "reporting")
    observed = []  # (when, caught up) until the run's record appears
    while not (run := finished_run(args.file, args.after)):
        observed.append((time.time(), caught_up(db)))
        time.sleep(0.1)
    accepted = {**run["accepted"], "sms": sms_accepted(service_database(
        client, "hotline"), run["started_at"])}
    caught_up_at = next((when for when, done in observed
                         if when >= run["stopped_at"] and done), None)
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while True:
        lost = missing(db, accepted)
        if any(lost.values()) or not caught_up(db):
            caught_up_at = None
        elif caught_up_at is None:
            caught_up_at = time.time()
        if caught_up_at or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    print(json.dumps({
        "accepted": {kind: len(ids) for kind, ids in accepted.items()},
        "caught_up_after_s": caught_up_at and caught_up_at - run["stopped_at"],
        "lost": sum(len(ids) for ids in lost.values()),
        "lost_examples": {kind: ids[:5] for kind, ids in lost.items()},
        "duplicated": duplicated(db)}))
    client.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve")
    serving.add_argument("--fresh", action="store_true",
                         help="drop the load test's databases first (seed again)")
    serving.add_argument("--replay", metavar="SERVICE,...",
                         help="these services' relays publish their logs again")
    serving.set_defaults(run=serve)
    minting = commands.add_parser("tokens")
    minting.add_argument("role", choices=["observer", "regional_coordinator"])
    minting.add_argument("--hours", type=float, default=12)
    minting.set_defaults(run=tokens)
    reconciling = commands.add_parser("reconcile")
    reconciling.add_argument("file")
    reconciling.add_argument("--after", type=float, default=0,
                             help="wait for a run that stops after this (epoch seconds)")
    reconciling.set_defaults(run=reconcile)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
