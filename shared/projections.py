"""Read models built from events.

A Projection says, for each event type it handles, which writes to make: pymongo
operations (UpdateOne, InsertOne, ...) per collection. It never reads or writes the
database itself, so the same projection is fed from the service's own log by the
ProjectionRunner (in order, from a checkpoint) or from another service's events over
the broker through an Inbox (idempotent by event id), and is rebuilt by replaying the log.
"""
import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from pymongo.errors import DuplicateKeyError

from shared.lease import Lease

log = logging.getLogger(__name__)


def handles(*event_types):
    """Marks a Projection method as the handler of each of `event_types`."""
    def mark(method):
        method.handles_events = event_types
        return method
    return mark


class Projection:
    """Subclasses set `name` and `collections` and mark handlers with @handles; a
    handler takes a RecordedEvent and returns a list of (collection, operation)."""

    name = None
    collections = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A subclass keeps its bases' handlers and may override them.
        cls._handlers = {
            event_type: method
            for klass in reversed(cls.__mro__) for method in vars(klass).values()
            for event_type in getattr(method, "handles_events", ())
        }

    def indexes(self):
        """{collection: [IndexModel, ...]} for the read model's queries."""
        return {}

    def writes(self, event):
        handler = self._handlers.get(event.type)
        return handler(self, event) if handler else []


class _Superseded(Exception):
    """Another runner moved the checkpoint, or a rebuild paused this one."""


def _write(db, writes, session, rename=lambda c: c):
    """Make (collection, operation) writes, one ordered bulk write per collection."""
    ops = defaultdict(list)
    for collection, op in writes:
        ops[collection].append(op)
    for collection, batch in ops.items():
        db[rename(collection)].bulk_write(batch, ordered=True, session=session)


def _bulk_write(db, projection, events, session, rename=lambda c: c):
    _write(db, [w for event in events for w in projection.writes(event)], session, rename)


def create_indexes(db, projection, rename=lambda c: c):
    for collection, models in projection.indexes().items():
        if models:
            db[rename(collection)].create_indexes(models)


class ProjectionRunner:
    """Applies a service's own log to a projection, batch by batch, storing the
    checkpoint in the same transaction as the batch's writes."""

    def __init__(self, store, projection, batch_size=1000):
        self.store = store
        self.db = store.db
        self.projection = projection
        self.batch_size = batch_size
        self.checkpoints = self.db["checkpoints"]
        self.checkpoint_id = f"projection:{projection.name}"
        self.lease = Lease(self.db, self.checkpoint_id)

    def setup(self):
        create_indexes(self.db, self.projection)
        try:
            self.checkpoints.insert_one({"_id": self.checkpoint_id, "position": 0})
        except DuplicateKeyError:
            pass  # set up before

    @property
    def checkpoint(self):
        doc = self.checkpoints.find_one({"_id": self.checkpoint_id})
        return doc["position"] if doc else 0

    def run_once(self):
        """Apply the next batch; returns how many events it applied."""
        doc = self.checkpoints.find_one({"_id": self.checkpoint_id})
        if _paused(doc):
            return 0
        events = self.store.read_all(doc["position"], limit=self.batch_size)
        if not events:
            return 0

        def apply(session):
            _bulk_write(self.db, self.projection, events, session)
            moved = self.checkpoints.update_one(
                {"_id": self.checkpoint_id, "position": doc["position"],
                 "paused_until": {"$not": {"$gt": datetime.now(timezone.utc)}}},
                {"$set": {"position": events[-1].position}}, session=session)
            if moved.matched_count != 1:
                raise _Superseded()

        try:
            with self.db.client.start_session() as session:
                session.with_transaction(apply)
        except _Superseded:
            return 0
        return len(events)

    def run_until_caught_up(self):
        while self.run_once():
            pass

    def run(self, should_stop, idle=0.05):
        self.setup()
        while not should_stop():
            try:
                applied = self.run_once() if self.lease.acquire() else 0
            except Exception:
                log.exception("projection %s failed; retrying from its checkpoint",
                              self.projection.name)
                applied = 0
                time.sleep(1)
            if not applied:
                time.sleep(idle)
        self.lease.release()

    def rebuild(self, pause=timedelta(seconds=60)):
        """Replays the whole log into shadow collections, then swaps them in.

        Queries keep reading the old read model until the swap; the live runner is
        paused only for the last catch-up and the renames.
        """
        shadow = _Shadow(self)
        shadow.catch_up()
        self.setup()
        self.checkpoints.update_one(
            {"_id": self.checkpoint_id},
            {"$set": {"paused_until": datetime.now(timezone.utc) + pause}})
        # Any live transaction that commits from here on fails its checkpoint check.
        position = shadow.catch_up()
        for collection in self.projection.collections:
            self.db[shadow.name(collection)].rename(collection, dropTarget=True)
        self.checkpoints.update_one(
            {"_id": self.checkpoint_id},
            {"$set": {"position": position}, "$unset": {"paused_until": ""}})
        self.checkpoints.delete_one({"_id": shadow.checkpoint_id})
        return position


class _Shadow:
    """The collections a rebuild writes before they replace the live ones."""

    def __init__(self, runner):
        self.runner = runner
        self.checkpoint_id = f"{runner.checkpoint_id}:rebuild"
        db, projection = runner.db, runner.projection
        for collection in projection.collections:
            db.drop_collection(self.name(collection))
            # An empty shadow still has to exist for the rename that swaps it in.
            db.create_collection(self.name(collection))
        create_indexes(db, projection, self.name)
        runner.checkpoints.replace_one(
            {"_id": self.checkpoint_id}, {"position": 0}, upsert=True)

    def name(self, collection):
        return f"{collection}__rebuild"

    def catch_up(self):
        runner = self.runner
        position = runner.checkpoints.find_one({"_id": self.checkpoint_id})["position"]
        while True:
            events = runner.store.read_all(position, limit=runner.batch_size)
            if not events:
                return position
            position = events[-1].position

            def apply(session, events=events, position=position):
                _bulk_write(runner.db, runner.projection, events, session, self.name)
                runner.checkpoints.update_one(
                    {"_id": self.checkpoint_id}, {"$set": {"position": position}},
                    session=session)

            with runner.db.client.start_session() as session:
                session.with_transaction(apply)


def _paused(checkpoint):
    until = checkpoint.get("paused_until")
    return until is not None and until > datetime.now(timezone.utc)


def latest(version, values):
    """A pipeline stage that sets each field unless a later event of the same stream
    already set it: the broker may hand over a stream's events in any order."""
    stage = {}
    for name, value in values.items():
        newer = {"$lt": [{"$ifNull": [f"${name}_version", 0]}, version]}
        stage[name] = {"$cond": [newer, {"$literal": value}, f"${name}"]}
        stage[f"{name}_version"] = {"$max": [f"${name}_version", version]}
    return [{"$set": stage}]


def with_id(doc):
    """A read model's document as services answer with it: `_id` named `id`."""
    doc["id"] = doc.pop("_id")
    return doc


class Inbox:
    """Makes a broker event handler idempotent: the event id is recorded in the same
    transaction as the handler's writes, so a redelivered event changes nothing."""

    def __init__(self, db, consumer):
        self.db = db
        self.consumer = consumer
        self.inbox = db["inbox"]

    def apply_projection(self, projection, event):
        """Applies one event unless it was handled before; False for a duplicate."""
        return self.apply_all(projection, [event]) == 1

    def apply_all(self, projection, events):
        """Applies to `projection` those of `events` not handled before, in one
        transaction (a batch from the broker); returns how many were new."""
        def record_and_write(session):
            batch = {self._entry(e)["_id"]: e for e in events}
            seen = {d["_id"] for d in self.inbox.find(
                {"_id": {"$in": list(batch)}}, {"_id": 1}, session=session)}
            new = [e for key, e in batch.items() if key not in seen]
            if new:
                self.inbox.insert_many([self._entry(e) for e in new], session=session)
                _bulk_write(self.db, projection, new, session)
            return len(new)

        with self.db.client.start_session() as session:
            return session.with_transaction(record_and_write)

    def _entry(self, event):
        return {"_id": f"{self.consumer}:{event.id}", "position": event.position,
                "at": datetime.now(timezone.utc)}
