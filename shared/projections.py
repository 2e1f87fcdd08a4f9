"""Read models built from events.

A Projection says, for each event type it handles, which writes to make: pymongo
operations (UpdateOne, InsertOne, ...) per collection. It never reads or writes the
database itself, so the same projection is fed from the service's own log by the
ProjectionRunner (in order, from a checkpoint) or from another service's events over
the broker through an Inbox (idempotent by event id), and is rebuilt by replaying the log.
"""
import logging
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from shared.lease import Lease
from shared.logwatch import LogWatch, follow

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
    idempotent = False
    """Whether an event applied again changes nothing (each write keyed by the event
    or its subject, writing the same values again): the Inbox then records nothing."""

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
    """Applies a service's own log to its projections, batch by batch: one read of the
    log and one transaction per batch for all of them, each projection's checkpoint
    moved in that transaction with its writes. A service's five projections once had a
    runner each, and each read every batch and committed a transaction of its own,
    most of them holding only the checkpoint. A projection paused for a rebuild is
    left out until the rebuild has moved its checkpoint."""

    def __init__(self, store, *projections, batch_size=1000, watch=None):
        self.store = store
        self.db = store.db
        self.projections = projections
        self.batch_size = batch_size
        self.checkpoints = self.db["checkpoints"]
        self.checkpoint_ids = [f"projection:{p.name}" for p in projections]
        self.lease = Lease(self.db, "+".join(self.checkpoint_ids))
        self.watch = watch or LogWatch(self.db)

    @property
    def projection(self):
        """The projection of a runner of one (which is what rebuilds)."""
        [projection] = self.projections
        return projection

    @property
    def checkpoint_id(self):
        [checkpoint_id] = self.checkpoint_ids
        return checkpoint_id

    def setup(self):
        for projection, checkpoint_id in zip(self.projections, self.checkpoint_ids):
            create_indexes(self.db, projection)
            try:
                self.checkpoints.insert_one({"_id": checkpoint_id, "position": 0})
            except DuplicateKeyError:
                pass  # set up before

    @property
    def checkpoint(self):
        """The position up to which every projection has the log."""
        positions = {d["_id"]: d["position"] for d in self.checkpoints.find(
            {"_id": {"$in": self.checkpoint_ids}})}
        return min(positions.get(i, 0) for i in self.checkpoint_ids)

    def run_once(self):
        """Apply the next batch; returns how many events it applied."""
        docs = {d["_id"]: d for d in self.checkpoints.find(
            {"_id": {"$in": self.checkpoint_ids}})}
        live = [(projection, checkpoint_id, docs[checkpoint_id]["position"])
                for projection, checkpoint_id in zip(self.projections, self.checkpoint_ids)
                if not _paused(docs[checkpoint_id])]
        if not live:
            return 0
        events = self.store.read_all(min(position for *_, position in live),
                                     limit=self.batch_size)
        if not events:
            return 0

        def apply(session):
            for projection, _, position in live:
                unseen = [e for e in events if e.position > position]
                _bulk_write(self.db, projection, unseen, session)
            now = datetime.now(timezone.utc)
            # One behind the others reads what they have: they do not move back.
            moved = self.checkpoints.bulk_write([UpdateOne(
                {"_id": checkpoint_id, "position": position,
                 "paused_until": {"$not": {"$gt": now}}},
                {"$set": {"position": max(position, events[-1].position)}})
                for _, checkpoint_id, position in live], session=session)
            if moved.matched_count != len(live):
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

    def run(self, should_stop):
        self.setup()
        follow(f"projections {self.lease.name}", self.watch, self.lease, self.run_once,
               should_stop, full=self.batch_size)

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
        transaction (a batch from the broker); returns how many were new. An idempotent
        projection takes them all, unrecorded: a look-up and an insert per event
        spared, and still one transaction, so one oplog entry for the change streams."""
        def record_and_write(session):
            if projection.idempotent:
                _bulk_write(self.db, projection, events, session)
                return len(events)
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
