"""Aggregates as plain Python: state rebuilt from past events, decisions that record
new ones. No I/O here; shared.commands loads and saves them through the event store."""
import copy
import dataclasses
import re
import threading
from collections import OrderedDict


class Aggregate:
    """Subclasses define `events` (the event dataclasses they emit) and an
    `on_<snake_case_event_name>` method per event that changes their state."""

    events = ()
    kept = False
    """Whether a process keeps it between commands (see Aggregates) instead of
    replaying its stream for each: for aggregates whose streams grow long, and whose
    decisions rebind, rather than change in place, what a caller reads of the outcome."""

    def __init__(self, id):
        self.id = id
        self.version = 0
        self.pending = []
        self.claims = []
        self.releases = []

    @classmethod
    def event_class(cls, name):
        return {e.__name__: e for e in cls.events}[name]

    @classmethod
    def replay(cls, id, history):
        """history: (event_type, data) pairs in stream order."""
        aggregate = cls(id)
        for event_type, data in history:
            aggregate._mutate(cls.event_class(event_type)(**data))
            aggregate.version += 1
        return aggregate

    @property
    def exists(self):
        return self.version > 0 or bool(self.pending)

    def record(self, event):
        self._mutate(event)
        self.pending.append(event)

    def claim(self, namespace, value):
        """Asks that `value` belong to this aggregate alone (see EventStore claims)."""
        self.claims.append((namespace, value))

    def release(self, namespace, value):
        self.releases.append((namespace, value))

    def _mutate(self, event):
        getattr(self, "on_" + _snake(type(event).__name__))(event)


class Keyed(Aggregate):
    """An aggregate whose stream is `<prefix>:<key>`, so an id of one kind given
    where another belongs finds no stream instead of the wrong kind of one."""

    prefix = None

    @classmethod
    def stream(cls, key):
        return f"{cls.prefix}:{key}"

    @property
    def key(self):
        return self.id.partition(":")[2]


class Aggregates:
    """The aggregates (of `kept` classes) this process decided on last, each as its
    stream's version left it, so that the next command on a stream replays nothing
    when no one else has written to it since. The least recently used are let go
    beyond `size`."""

    def __init__(self, size=20_000):
        self.size = size
        self._kept = OrderedDict()
        self._lock = threading.Lock()

    def take(self, stream_ids):
        """{stream id: aggregate} of those kept; they are the taker's until kept again,
        so two commands never decide on the same one."""
        with self._lock:
            return {s: self._kept.pop(s) for s in stream_ids if s in self._kept}

    def keep(self, aggregate):
        """Keeps the aggregate as its events, once appended, leave it. A shallow copy:
        the caller still reads the outcome of its own command from the original."""
        kept = copy.copy(aggregate)
        kept.version += len(kept.pending)
        kept.pending, kept.claims, kept.releases = [], [], []
        with self._lock:
            self._kept[kept.id] = kept
            self._kept.move_to_end(kept.id)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


def event_type(event):
    return type(event).__name__


def event_data(event):
    # Shallow: dataclasses.asdict deep-copies, and was most of an import's time.
    return {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}


def _snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
