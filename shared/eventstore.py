"""The event store: an append-only log of events per service, in the service's MongoDB.

Each service owns one `events` collection (the outbox too: the relay publishes from it).
A document is one event: `_id` (event id), `stream_id`, `version` (1, 2, ... within the
stream), `position` (1, 2, ... across the whole service, gap-free), `type`,
`schema_version`, `data` and `metadata` (actor, correlation id, causation id, channel,
occurred_at).

Appends are group-committed: callers hand their command's events to one committer thread,
which writes everything waiting in a single transaction. A transaction per command that
bumps the shared position counter collapses under concurrency (write conflicts on the
counter); one transaction per batch does not. The counter still serializes commits, so a
reader never sees position n+1 before position n is visible.
"""
import contextlib
import logging
import queue
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.aggregate import Aggregates
from shared.ids import new_ids

log = logging.getLogger(__name__)

ANY = -1
"""Expected version that accepts whatever the stream holds."""
NO_STREAM = 0
"""Expected version of a stream that must not exist yet."""

_MAX_BATCH = 2000
_MAX_ATTEMPTS = 10
BULK_MARK_S = 15
"""How long a bulk import's mark outlives its last renewal (see EventStore.bulk)."""


class ConcurrencyError(Exception):
    """The stream moved on since the command read it: reload and decide again."""

    def __init__(self, stream_id, expected, actual):
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class UniquenessError(Exception):
    """A value that must be unique (a phone, a station code) already belongs to
    another stream."""

    def __init__(self, namespace, value, owner):
        super().__init__(f"{namespace} {value!r} already belongs to {owner}")
        self.namespace = namespace
        self.value = value
        self.owner = owner


@dataclass(frozen=True)
class NewEvent:
    type: str
    data: dict
    schema_version: int = 1


@dataclass(frozen=True)
class RecordedEvent:
    id: str
    stream_id: str
    version: int
    position: int
    type: str
    schema_version: int
    data: dict
    metadata: dict = field(default_factory=dict)


class Recorded(list):
    """The events of one append, as stored; `duplicate` is true when an earlier
    command with the same idempotency key had recorded them and nothing was written."""

    def __init__(self, events, duplicate=False):
        super().__init__(events)
        self.duplicate = duplicate


class Upcasters:
    """Functions that lift old event payloads to the current schema version, so old
    events still load after a schema changes: register(type, from_version, fn)."""

    def __init__(self):
        self._steps = {}

    def register(self, event_type, from_version, fn):
        self._steps[(event_type, from_version)] = fn

    def upcast(self, event_type, schema_version, data):
        while (event_type, schema_version) in self._steps:
            data = self._steps[(event_type, schema_version)](data)
            schema_version += 1
        return schema_version, data


@dataclass
class Append:
    """One command's events for one stream. `claims` are (namespace, value) pairs that
    must belong to no other stream (taken atomically with the events); `releases` are
    claims of this stream to give up."""
    stream_id: str
    expected_version: int
    events: list
    metadata: dict = field(default_factory=dict)
    idempotency_key: str | None = None
    claims: tuple = ()
    releases: tuple = ()
    loaded: bool = False
    """The caller read the stream at expected_version (an aggregate's version). A
    writer since then shows as a clash on the unique (stream, version) index, so the
    committer need not read the stream's head first; an arbitrary expected version
    could leave a gap, so it is checked against the head."""
    outcome: object = field(default=None, repr=False, compare=False)
    """Its Recorded events or its exception, once the committer has answered."""
    waiting: "_Waiting" = field(default=None, repr=False, compare=False)


class _Waiting:
    """The appends of one append_all call. One of these per call, not a Future per
    append: an import hands over thousands at a time."""

    def __init__(self, count):
        self.unanswered = count
        self.done = threading.Event()

    def answer(self, request, outcome):
        request.outcome = outcome
        self.unanswered -= 1  # only the committer thread answers
        if not self.unanswered:
            self.done.set()


class EventStore:
    """Append to and read from one service's log.

    `db` is a pymongo Database on a replica set (transactions are required).
    """

    def __init__(self, db, upcasters=None):
        self.db = db
        self.client = db.client
        self.events = db["events"]
        self.counters = db["counters"]
        self.commands = db["commands"]
        self.claims = db["claims"]
        self.bulk_marks = db["bulk_marks"]
        self.upcasters = upcasters or Upcasters()
        # Decided on in this process: shared.commands replays them only when moved.
        self.aggregates = Aggregates()
        self._queue = queue.Queue()
        self._committer = None
        self._lock = threading.Lock()

    def ensure_indexes(self):
        self.events.create_index(
            [("stream_id", ASCENDING), ("version", ASCENDING)], unique=True)
        self.events.create_index([("position", ASCENDING)], unique=True)

    # -- writing ---------------------------------------------------------------------

    def append(self, stream_id, expected_version, events, metadata=None,
               idempotency_key=None, claims=(), releases=()):
        """Append one command's events atomically; returns them as recorded.

        Raises ConcurrencyError when the stream is not at `expected_version` (ANY skips
        the check), UniquenessError when a claim belongs to another stream. With an
        `idempotency_key` seen before, nothing is written and the events recorded the
        first time are returned, marked `duplicate`.
        """
        [outcome] = self.append_all([Append(
            stream_id, expected_version, list(events), dict(metadata or {}),
            idempotency_key, tuple(claims), tuple(releases))])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def append_all(self, appends):
        """Many commands at once (an import): each is decided on its own, as append()
        would; returns, in order, each one's Recorded events or its exception."""
        for request in appends:
            if not request.events:
                raise ValueError("an append needs at least one event")
        if not appends:
            return []
        self._ensure_committer()
        waiting = _Waiting(len(appends))
        for request in appends:
            request.waiting = waiting
            self._queue.put(request)
        waiting.done.wait()
        return [request.outcome for request in appends]

    def reserve(self, sequence, count):
        """`count` numbers of a named sequence (0, 1, 2, ...), never handed out twice,
        and the sequence's random key, made with it: (range, key)."""
        doc = self.counters.find_one_and_update(
            {"_id": f"sequence:{sequence}"},
            {"$inc": {"value": count}, "$setOnInsert": {"key": secrets.token_hex(16)}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return range(doc["value"] - count, doc["value"]), doc["key"]

    @contextlib.contextmanager
    def bulk(self):
        """Marks a bulk import as running while the block runs; the relay holds the
        log's events back meanwhile (see Relay.run_once). The mark is renewed every
        third of BULK_MARK_S, so one left by a process that died lapses by itself."""
        mark, done = {"_id": secrets.token_hex(8)}, threading.Event()

        def renew():
            until = datetime.now(timezone.utc) + timedelta(seconds=BULK_MARK_S)
            self.bulk_marks.replace_one(mark, {"until": until}, upsert=True)

        def keep_renewing():
            while not done.wait(BULK_MARK_S / 3):
                renew()
        renew()
        renewer = threading.Thread(target=keep_renewing, name="bulk-mark", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()
            self.bulk_marks.delete_one(mark)

    def bulk_running(self):
        return self.bulk_marks.find_one(
            {"until": {"$gt": datetime.now(timezone.utc)}}, {"_id": 1}) is not None

    def close(self):
        with self._lock:
            if self._committer is not None:
                self._queue.put(None)
                self._committer.join()
                self._committer = None

    def _ensure_committer(self):
        if self._committer is None:
            with self._lock:
                if self._committer is None:
                    self._committer = threading.Thread(
                        target=self._commit_loop, name="eventstore-committer", daemon=True)
                    self._committer.start()

    def _commit_loop(self):
        # Whatever queued up while the previous transaction ran goes in this one.
        while (batch := queued_batch(self._queue, _MAX_BATCH)) is not None:
            self._commit(batch)

    def _commit(self, batch):
        # First optimistically: new streams, streams at the version their caller
        # loaded and new claims are left to the unique indexes to guard, which spares
        # two look-ups per batch on imports and one per round of reports.
        thorough = False
        for attempt in range(_MAX_ATTEMPTS):
            try:
                with self.client.start_session() as session:
                    outcomes = session.with_transaction(
                        lambda s: self._write(batch, s, thorough))
                break
            except (DuplicateKeyError, BulkWriteError) as exc:
                if not _is_duplicate(exc):
                    self._fail(batch, exc)
                    return
                # A stream or claim exists that we did not look up, or another process
                # wrote it after our snapshot: the next attempt looks everything up and
                # answers the clashing request alone.
                log.debug("append batch clashed, retrying (attempt %d)", attempt + 1)
                thorough = True
            except Exception as exc:  # the committer must outlive any one bad batch
                self._fail(batch, exc)
                return
        else:
            exc = RuntimeError("append batch kept clashing; giving up")
            for request in batch:
                request.waiting.answer(request, exc)
            return
        for request, outcome in zip(batch, outcomes):
            request.waiting.answer(request, outcome)

    def _fail(self, batch, exc):
        if len(batch) > 1:
            # One bad command (say, an event too large to store) must not fail the
            # others that happened to share its transaction.
            for request in batch:
                self._commit([request])
        else:
            batch[0].waiting.answer(batch[0], exc)

    def _write(self, batch, session, thorough=True):
        """Decide each request against the current heads, then write the accepted ones.

        Runs inside a transaction and may be re-run by with_transaction on a transient
        conflict, so it keeps no state outside its return value.
        """
        keys = [r.idempotency_key for r in batch if r.idempotency_key]
        seen = {}
        if keys:
            for doc in self.commands.find({"_id": {"$in": keys}}, session=session):
                seen[doc["_id"]] = doc["event_ids"]
        heads = self._stream_heads({r.stream_id for r in batch
                                    if not _left_to_index(r, thorough)}, session)
        owners = self._claim_owners([r for r in batch if thorough or r.releases], session)

        now = datetime.now(timezone.utc)
        outcomes, docs, commands, pending_keys = [], [], [], {}
        claimed, released = [], []
        for request in batch:
            key = request.idempotency_key
            if key in seen or key in pending_keys:
                outcomes.append((seen.get(key) or pending_keys[key], True))
                continue
            head = heads.get(request.stream_id, request.expected_version
                             if _left_to_index(request, thorough) else 0)
            if request.expected_version not in (ANY, head):
                outcomes.append(ConcurrencyError(
                    request.stream_id, request.expected_version, head))
                continue
            clash = next(((ns, value) for ns, value in request.claims
                          if owners.get(_claim_id(ns, value), request.stream_id)
                          != request.stream_id), None)
            if clash:
                outcomes.append(UniquenessError(*clash, owners[_claim_id(*clash)]))
                continue
            for ns, value in request.releases:
                if owners.get(_claim_id(ns, value)) == request.stream_id:
                    owners.pop(_claim_id(ns, value))
                    released.append(_claim_id(ns, value))
            for ns, value in request.claims:
                if _claim_id(ns, value) not in owners:
                    owners[_claim_id(ns, value)] = request.stream_id
                    claimed.append({"_id": _claim_id(ns, value),
                                    "owner": request.stream_id})
            metadata = {"occurred_at": now, **request.metadata}
            new_docs = [{
                "_id": event_id,
                "stream_id": request.stream_id,
                "version": head + i,
                "type": event.type,
                "schema_version": event.schema_version,
                "data": event.data,
                "metadata": metadata,
            } for i, (event, event_id) in enumerate(
                zip(request.events, new_ids(len(request.events))), start=1)]
            heads[request.stream_id] = head + len(new_docs)
            docs.extend(new_docs)
            event_ids = [d["_id"] for d in new_docs]
            outcomes.append((event_ids, False))
            if key:
                pending_keys[key] = event_ids
                commands.append({"_id": key, "event_ids": event_ids, "at": now})

        if released:
            self.claims.delete_many({"_id": {"$in": released}}, session=session)
        # A claim taken and given up again within this batch is not written.
        claimed = [c for c in claimed if c["_id"] not in released or
                   owners.get(c["_id"]) == c["owner"]]
        if claimed:
            self.claims.insert_many(claimed, ordered=True, session=session)
        if docs:
            last = self.counters.find_one_and_update(
                {"_id": "position"}, {"$inc": {"value": len(docs)}}, upsert=True,
                return_document=ReturnDocument.AFTER, session=session)["value"]
            for position, doc in enumerate(docs, start=last - len(docs) + 1):
                doc["position"] = position
            self.events.insert_many(docs, ordered=True, session=session)
        if commands:
            self.commands.insert_many(commands, ordered=True, session=session)

        by_id = {d["_id"]: d for d in docs}
        # Requests answered from an earlier command get its events, read in this snapshot.
        replayed = [i for o in outcomes if not isinstance(o, Exception)
                    for i in o[0] if i not in by_id]
        if replayed:
            by_id.update((d["_id"], d) for d in self.events.find(
                {"_id": {"$in": replayed}}, session=session))
        return [o if isinstance(o, Exception)
                else Recorded([self._recorded(by_id[i]) for i in o[0]], duplicate=o[1])
                for o in outcomes]

    def _claim_owners(self, batch, session):
        ids = [_claim_id(ns, value) for r in batch for ns, value in (*r.claims, *r.releases)]
        if not ids:
            return {}
        return {d["_id"]: d["owner"]
                for d in self.claims.find({"_id": {"$in": ids}}, session=session)}

    def answered(self, keys):
        """{idempotency key: the last event its command recorded}, for the keys of
        commands already recorded."""
        last = {doc["event_ids"][-1]: doc["_id"]
                for doc in self.commands.find({"_id": {"$in": list(keys)}})}
        if not last:
            return {}
        return {last[doc["_id"]]: self._recorded(doc)
                for doc in self.events.find({"_id": {"$in": list(last)}})}

    def owner_of(self, namespace, value):
        """The stream that holds a claim, or None."""
        doc = self.claims.find_one({"_id": _claim_id(namespace, value)})
        return doc["owner"] if doc else None

    def _stream_heads(self, stream_ids, session):
        if not stream_ids:
            return {}
        return {d["_id"]: d["version"] for d in self.events.aggregate(
            heads_pipeline(stream_ids), session=session)}

    # -- reading ---------------------------------------------------------------------

    def read_stream(self, stream_id, after_version=0):
        cursor = self.events.find(
            {"stream_id": stream_id, "version": {"$gt": after_version}}
        ).sort("version", ASCENDING)
        return [self._recorded(doc) for doc in cursor]

    def stream_heads(self, stream_ids):
        """{stream id: its version} for those of the streams that have events."""
        return self._stream_heads(stream_ids, session=None)

    def read_streams(self, stream_ids):
        """{stream id: its events in order} for many streams in one query."""
        streams = {}
        cursor = self.events.find({"stream_id": {"$in": list(stream_ids)}}).sort(
            [("stream_id", ASCENDING), ("version", ASCENDING)])
        for doc in cursor:
            streams.setdefault(doc["stream_id"], []).append(self._recorded(doc))
        return streams

    def streams_with(self, field, values):
        """{value: the ids of the streams with an event whose data has `field` equal to
        it} for each of `values` some stream has. Unindexed: one scan of the log, for
        rare look-ups."""
        return {d["_id"]: d["streams"] for d in self.events.aggregate([
            {"$match": {f"data.{field}": {"$in": list(values)}}},
            {"$group": {"_id": f"$data.{field}",
                        "streams": {"$addToSet": "$stream_id"}}}])}

    def read_all(self, after_position=0, limit=1000):
        """Events with a position above `after_position`, in order, at most `limit`."""
        cursor = self.events.find(
            {"position": {"$gt": after_position}}
        ).sort("position", ASCENDING).limit(limit)
        return [self._recorded(doc) for doc in cursor]

    def last_position(self):
        doc = self.counters.find_one({"_id": "position"})
        return doc["value"] if doc else 0

    def _recorded(self, doc):
        schema_version, data = self.upcasters.upcast(
            doc["type"], doc["schema_version"], doc["data"])
        return RecordedEvent(
            id=doc["_id"], stream_id=doc["stream_id"], version=doc["version"],
            position=doc["position"], type=doc["type"], schema_version=schema_version,
            data=data, metadata=doc["metadata"])


def heads_pipeline(stream_ids):
    """The last version of each stream. $sort + $group/$first on the (stream_id,
    version) index is a distinct scan, one index entry per stream however long it is,
    only with a sort the index can walk (all ascending or, here, all descending): with
    stream_id ascending, mongod read and sorted every entry of every stream instead."""
    return [{"$match": {"stream_id": {"$in": list(stream_ids)}}},
            {"$sort": {"stream_id": DESCENDING, "version": DESCENDING}},
            {"$group": {"_id": "$stream_id", "version": {"$first": "$version"}}}]


def queued_batch(waiting, largest):
    """What waits in the queue `waiting` (up to `largest` items; blocks for the first),
    or None once a None was put in it to stop its consumers."""
    first = waiting.get()
    if first is None:
        return None
    batch = [first]
    while len(batch) < largest:
        try:
            item = waiting.get_nowait()
        except queue.Empty:
            break
        if item is None:
            waiting.put(None)  # for the next get: the consumer stops after this batch
            break
        batch.append(item)
    return batch


def _left_to_index(request, thorough):
    """Whether the request's stream is taken to be at its expected version without
    reading its head: a new stream, or one at the version its caller loaded, unless
    the batch is retried thoroughly. A clash then shows on the unique (stream,
    version) index."""
    return not thorough and (request.expected_version == NO_STREAM or request.loaded)


def _claim_id(namespace, value):
    return f"{namespace}:{value}"


def _is_duplicate(exc):
    if isinstance(exc, DuplicateKeyError):
        return True
    errors = exc.details.get("writeErrors", [])
    return bool(errors) and all(e.get("code") == 11000 for e in errors)
