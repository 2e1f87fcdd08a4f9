"""Projections: checkpoint with the writes, idempotent consumers, rebuild equals live."""
import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from kombu import Connection, Queue
from pymongo import UpdateOne

from shared.envelope import from_envelope, to_envelope
from shared.eventstore import ANY, NewEvent
from shared.logwatch import LogWatch
from shared.projections import Inbox, Projection, ProjectionRunner, handles
from shared.relay import AmqpPublisher, event_exchange
from shared.subscriber import Subscriber


class Tally(Projection):
    """Counts votes per candidate with $inc: not idempotent by itself, so any double
    application shows."""

    name = "tally"
    collections = ("tally", "voters")

    @handles("VoteCounted")
    def counted(self, event):
        totals, voters = self.collections
        return [
            (totals, UpdateOne({"_id": event.data["candidate"]},
                               {"$inc": {"votes": event.data["votes"]}}, upsert=True)),
            (voters, UpdateOne({"_id": event.stream_id},
                               {"$set": {"last": event.data["candidate"]}}, upsert=True)),
        ]


def count_votes(store, n, start=0):
    for i in range(start, start + n):
        store.append(f"station-{i % 7}", ANY,
                     [NewEvent("VoteCounted", {"candidate": f"c{i % 3}", "votes": i})])


def tally(db, collection="tally"):
    return {d["_id"]: d["votes"] for d in db[collection].find()}


def expected(n):
    totals = {}
    for i in range(n):
        totals[f"c{i % 3}"] = totals.get(f"c{i % 3}", 0) + i
    return totals


def test_runner_applies_the_log_once_and_stores_its_checkpoint(store, db):
    count_votes(store, 25)
    runner = ProjectionRunner(store, Tally(), batch_size=10)
    runner.setup()
    runner.run_until_caught_up()
    assert runner.checkpoint == 25
    # A second runner (another instance, or this one after a restart) applies nothing again.
    other = ProjectionRunner(store, Tally())
    other.setup()
    other.run_until_caught_up()
    assert tally(db) == expected(25)


class Interleaved(Tally):
    """Runs `meanwhile` once, in the middle of the runner's transaction."""

    def __init__(self, meanwhile):
        self.meanwhile = meanwhile

    def writes(self, event):
        if self.meanwhile:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        return super().writes(event)


def test_a_runner_whose_checkpoint_moved_underneath_it_commits_nothing(store, db):
    count_votes(store, 5)
    fast = ProjectionRunner(store, Tally())
    fast.setup()
    slow = ProjectionRunner(store, Interleaved(fast.run_until_caught_up))
    assert slow.run_once() == 0
    assert tally(db) == expected(5)
    assert fast.checkpoint == 5


def test_a_redelivered_event_changes_a_projection_once(store, db, amqp_uri):
    count_votes(store, 1)
    [event] = store.read_all(0)
    inbox = Inbox(db, "tally-consumer")
    with Connection(amqp_uri) as connection:
        queue = Queue(f"inbox-test-{uuid.uuid4().hex[:8]}", event_exchange("inboxtest"),
                      routing_key="#", auto_delete=True)
        queue(connection.channel()).declare()
        publisher = AmqpPublisher(amqp_uri, "inboxtest")
        envelope = to_envelope("inboxtest", event)
        for _ in range(2):  # the broker redelivers it
            publisher.publish([envelope])
        publisher.close()
        consumer = connection.SimpleQueue(queue)
        applied = []
        for _ in range(2):
            message = consumer.get(timeout=5)
            [delivered] = json.loads(message.body)
            applied.append(inbox.apply_projection(Tally(), from_envelope(delivered)))
            message.ack()
        consumer.close()
    assert applied == [True, False]
    assert tally(db) == {"c0": 0} and db["voters"].count_documents({}) == 1


class Audit(Tally):
    """A second read model of the same events, kept apart from the tally."""

    name = "audit"
    collections = ("audit", "audited")


class Ballots(Projection):
    """Each event kept once by its id: idempotent by itself, so it needs no inbox."""

    name = "ballots"
    collections = ("ballots",)
    idempotent = True

    @handles("VoteCounted")
    def counted(self, event):
        return [("ballots", UpdateOne({"_id": event.id}, {"$setOnInsert": {
            "votes": event.data["votes"]}}, upsert=True))]


def test_a_subscriber_applies_each_event_once_however_often_it_comes(store, db,
                                                                   amqp_uri):
    count_votes(store, 6)
    envelopes = [to_envelope("inboxtest", e) for e in store.read_all(0)]
    # Three read models of one service take the same events, each all of them.
    subscribers = [Subscriber(db, projection, {"inboxtest": ["VoteCounted"]}, amqp_uri,
                              batch_size=4) for projection in (Tally(), Audit(), Ballots())]
    for subscriber in subscribers:
        subscriber.declare()
    publisher = AmqpPublisher(amqp_uri, "inboxtest")
    # Redelivered within one batch and across batches.
    publisher.publish(envelopes[:3] + envelopes[:3] + envelopes[2:] + envelopes[-1:])
    publisher.close()
    stopping = []
    workers = [threading.Thread(target=s.run, args=(lambda: bool(stopping),))
               for s in subscribers]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 10
    while ((tally(db), tally(db, "audit"), db["ballots"].count_documents({}))
           != (expected(6), expected(6), 6) and time.monotonic() < deadline):
        time.sleep(0.05)
    stopping.append(True)
    for worker in workers:
        worker.join()
    assert tally(db) == tally(db, "audit") == expected(6)
    assert sorted(d["votes"] for d in db["ballots"].find()) == list(range(6))
    assert db["inbox"].count_documents({}) == 12  # the tally's and the audit's alone


def test_a_message_that_is_not_an_event_is_parked_and_the_rest_applied(store, db,
                                                                     amqp_uri):
    count_votes(store, 2)
    first, second = (to_envelope("inboxtest", e) for e in store.read_all(0))
    subscriber = Subscriber(db, Tally(), {"inboxtest": ["VoteCounted"]}, amqp_uri)
    subscriber.declare()
    with Connection(amqp_uri) as connection:
        producer = connection.Producer(exchange=event_exchange("inboxtest"))
        producer.publish(first, routing_key="VoteCounted", serializer="json")
        for body in ({"id": "x", "type": "VoteCounted"}, "not json"):
            producer.publish(json.dumps(body) if isinstance(body, dict) else body,
                             routing_key="VoteCounted", content_type="application/json",
                             content_encoding="utf-8")
        producer.publish(second, routing_key="VoteCounted", serializer="json")
    stopping = []
    worker = threading.Thread(target=subscriber.run, args=(lambda: bool(stopping),))
    worker.start()
    deadline = time.monotonic() + 10
    while tally(db) != expected(2) and time.monotonic() < deadline:
        time.sleep(0.05)
    stopping.append(True)
    worker.join()
    assert tally(db) == expected(2)
    parked = list(db["unreadable_events"].find())
    assert sorted(p["body"] for p in parked) == sorted(
        ['{"id": "x", "type": "VoteCounted"}', "not json"])
    assert all(p["queue"] == subscriber.queue.name and p["error"] for p in parked)


def test_a_rebuilt_projection_equals_the_live_one(store, db):
    count_votes(store, 40)
    live = ProjectionRunner(store, Tally(), batch_size=7)
    live.setup()
    live.run_until_caught_up()
    before = tally(db), sorted(db["voters"].find(), key=lambda d: d["_id"])

    db["tally"].update_one({"_id": "c0"}, {"$inc": {"votes": 1000}})  # a corrupted model
    assert live.rebuild() == 40
    assert (tally(db), sorted(db["voters"].find(), key=lambda d: d["_id"])) == before

    count_votes(store, 3, start=40)  # the live runner carries on from the rebuilt position
    live.run_until_caught_up()
    assert tally(db) == expected(43)
    assert "tally__rebuild" not in db.list_collection_names()


def test_a_paused_runner_waits_for_the_rebuild(store, db):
    count_votes(store, 3)
    runner = ProjectionRunner(store, Tally())
    runner.setup()
    db["checkpoints"].update_one(
        {"_id": runner.checkpoint_id},
        {"$set": {"paused_until": datetime.now(timezone.utc) + timedelta(seconds=30)}})
    assert runner.run_once() == 0
    assert tally(db) == {}


def test_one_runner_keeps_each_projection_at_its_own_checkpoint(store, db):
    count_votes(store, 10)
    alone = ProjectionRunner(store, Tally())
    alone.setup()
    alone.run_until_caught_up()  # tally already has the first ten; audit has none
    count_votes(store, 5, start=10)
    runner = ProjectionRunner(store, Tally(), Audit(), batch_size=4)
    runner.setup()
    runner.run_until_caught_up()
    assert runner.checkpoint == 15
    assert tally(db) == tally(db, "audit") == expected(15)


def test_a_projection_paused_for_a_rebuild_is_left_out_while_the_others_go_on(store, db):
    count_votes(store, 6)
    runner = ProjectionRunner(store, Tally(), Audit())
    runner.setup()
    db["checkpoints"].update_one(
        {"_id": "projection:tally"},
        {"$set": {"paused_until": datetime.now(timezone.utc) + timedelta(seconds=30)}})
    runner.run_until_caught_up()
    assert (tally(db), tally(db, "audit")) == ({}, expected(6))
    db["checkpoints"].update_one({"_id": "projection:tally"},
                                 {"$unset": {"paused_until": ""}})
    runner.run_until_caught_up()
    assert tally(db) == tally(db, "audit") == expected(6)


def test_a_watched_runner_wakes_when_the_log_moves(store, db):
    watch = LogWatch(db)
    runner = ProjectionRunner(store, Tally(), watch=watch)
    stopping = []
    threads = [threading.Thread(target=job.run, args=(lambda: bool(stopping),))
               for job in (watch, runner)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 10
        while not watch.watching and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # the runner has found nothing and waits on the watch
        count_votes(store, 1)
        appended = time.monotonic()
        while tally(db) != expected(1) and time.monotonic() < deadline:
            time.sleep(0.01)
        # Well before RECHECK_S: the change woke it, not its periodic look.
        assert time.monotonic() - appended < 0.5
    finally:
        stopping.append(True)
        for thread in threads:
            thread.join()
