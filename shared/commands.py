"""Running commands against aggregates: load them from their streams, let the domain
decide, append what it recorded at the version it loaded, and on a concurrency clash
reload and decide again."""
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from shared.aggregate import event_data, event_type
from shared.errors import Rejected
from shared.eventstore import Append, ConcurrencyError, NewEvent

ATTEMPTS = 5
CHUNK = 2000
# Under eventlet the store's committer is a green thread: a long CPU-bound loop must let
# it (and other requests) run now and then.
YIELD_EVERY = 200


@dataclass
class Command:
    """decide(aggregate) records events (and claims) on it or raises Rejected."""
    aggregate_cls: type
    stream_id: str
    decide: Callable
    idempotency_key: str | None = None
    new: bool = False
    """A stream id just minted: there is no history to read."""
    loaded: object = None
    """The aggregate as the caller just read it, decided on without reading its stream
    again; a concurrency clash reads it afresh."""
    metadata: dict | None = None
    """Who asked, through what: set when commands of several callers share a round
    (else the log's own)."""


def history(events):
    return [(e.type, e.data) for e in events]


def replay_stream(log, aggregate_cls, stream_id):
    """The aggregate as its whole stream leaves it."""
    return aggregate_cls.replay(stream_id, history(log.read_stream(stream_id)))


def load_all(log, aggregate_cls, stream_ids):
    """{stream id: aggregate as its stream stands} for a command to decide on and pass
    as `loaded`: those this process keeps (see Aggregates), if no one wrote to their
    streams since, and the others replayed from one read."""
    aggregates = getattr(log, "aggregates", None)
    found = _kept(log, aggregates, stream_ids) \
        if aggregates is not None and aggregate_cls.kept else {}
    unread = set(stream_ids) - set(found)
    streams = log.read_streams(unread) if unread else {}
    found.update((stream, aggregate_cls.replay(stream, history(streams.get(stream, []))))
                 for stream in unread)
    return found


def execute(log, aggregate_cls, stream_id, decide, idempotency_key=None, new=False,
            loaded=None):
    """Runs one command; returns the aggregate as it stands after it, or raises."""
    return execute_one(log, Command(aggregate_cls, stream_id, decide, idempotency_key,
                                    new, loaded))


def execute_one(log, command):
    [outcome] = execute_all(log, [command])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def execute_all(log, commands):
    """Runs many commands (an import) with one read and one append round; returns, in
    order, each one's aggregate after it, or the exception that refused it. A command
    whose idempotency key was recorded before is answered as it was the first time,
    without deciding again (which might now refuse it).

    An aggregate this process keeps is decided on before its stream's head is read:
    one that appends is checked by its append (at the version it was kept at), and
    only those that refused or changed nothing read their streams' heads afterwards;
    a stream another writer moved meanwhile is read and decided on again."""
    keys = [c.idempotency_key for c in commands if c.idempotency_key]
    answered = log.answered(keys) if keys else {}
    outcomes = [None] * len(commands)
    todo = []
    for i, command in enumerate(commands):
        if command.idempotency_key in answered:
            outcomes[i] = _as_first_recorded(log, command.aggregate_cls,
                                             answered[command.idempotency_key])
        else:
            todo.append(i)
    aggregates = getattr(log, "aggregates", None)
    for attempt in range(ATTEMPTS):
        loaded = {i: commands[i].loaded for i in todo
                  if attempt == 0 and commands[i].loaded is not None}
        unsure = {}  # {command: the version of the kept aggregate it decided on}
        if attempt == 0 and aggregates is not None:
            # The first command on each stream only: the others replay it, and clash
            # as they would.
            first = {}
            for i in todo:
                command = commands[i]
                if i not in loaded and command.aggregate_cls.kept and not command.new:
                    first.setdefault(command.stream_id, i)
            for stream, aggregate in aggregates.take(first).items():
                loaded[first[stream]] = aggregate
                unsure[first[stream]] = aggregate.version
        unread = {commands[i].stream_id for i in todo
                  if not commands[i].new and i not in loaded}
        streams = log.read_streams(unread) if unread else {}
        appends, decided, unchanged = [], [], []
        for n, i in enumerate(todo):
            let_others_run(n)
            command = commands[i]
            aggregate = loaded[i] if i in loaded else command.aggregate_cls.replay(
                command.stream_id, history(streams.get(command.stream_id, [])))
            try:
                command.decide(aggregate)
            except Rejected as exc:
                outcomes[i] = exc
                unchanged.append(i)
                continue
            if not aggregate.pending:
                outcomes[i] = aggregate
                unchanged.append(i)
                continue
            appends.append(Append(
                command.stream_id, aggregate.version,
                [NewEvent(event_type(e), event_data(e)) for e in aggregate.pending],
                metadata=command.metadata or {}, idempotency_key=command.idempotency_key,
                claims=tuple(aggregate.claims), releases=tuple(aggregate.releases),
                loaded=True))
            decided.append((i, aggregate))
        todo = _moved(log, commands, unsure, unchanged)
        moved = set(todo)
        for i in unchanged:
            if i not in moved and not isinstance(outcomes[i], Exception):
                _kept_after(aggregates, outcomes[i])
        for (i, aggregate), recorded in zip(decided, log.append_all(appends)):
            if isinstance(recorded, ConcurrencyError):
                todo.append(i)
            elif isinstance(recorded, Exception):
                outcomes[i] = recorded
            elif recorded.duplicate:  # the same request raced its first attempt
                outcomes[i] = _as_first_recorded(log, commands[i].aggregate_cls,
                                                 recorded[-1])
            else:
                outcomes[i] = _kept_after(aggregates, aggregate)
        if not todo:
            return outcomes
    for i in todo:
        outcomes[i] = ConcurrencyError(commands[i].stream_id, "loaded", "moving")
    return outcomes


def _moved(log, commands, unsure, unchanged):
    """Those of the `unchanged` commands (refused, or nothing to record) that decided
    on a kept aggregate whose stream another writer has moved since."""
    doubted = [i for i in unchanged if i in unsure]
    heads = log.stream_heads({commands[i].stream_id for i in doubted}) if doubted else {}
    return [i for i in doubted if heads.get(commands[i].stream_id, 0) != unsure[i]]


def _kept(log, aggregates, stream_ids):
    """{stream id: aggregate} of the streams this process keeps an aggregate of as the
    stream still stands."""
    taken = aggregates.take(stream_ids)
    heads = log.stream_heads(taken) if taken else {}
    return {stream: aggregate for stream, aggregate in taken.items()
            if heads.get(stream, 0) == aggregate.version}


def _kept_after(aggregates, aggregate):
    """The aggregate a command decided on, kept for the next if its class is."""
    if aggregates is not None and aggregate.kept:
        aggregates.keep(aggregate)
    return aggregate


def _as_first_recorded(log, aggregate_cls, last):
    """A retried request: answer with what the first one did (up to its last event)."""
    return aggregate_cls.replay(last.stream_id, history(
        e for e in log.read_stream(last.stream_id) if e.version <= last.version))


def let_others_run(n):
    """Yields the processor every YIELD_EVERY steps of a loop (a green or real thread)."""
    if n % YIELD_EVERY == YIELD_EVERY - 1:
        time.sleep(0)


def in_chunks(items, handle, size=CHUNK):
    """handle(chunk) for consecutive chunks of items; returns the results in order.
    Two chunks are in hand at once, so one is decided while the other commits."""
    chunks = [items[start:start + size] for start in range(0, len(items), size)]
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(handle, chunks))
