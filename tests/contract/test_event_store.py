"""The event store's contract, against the real mongod."""
import re
import subprocess
import sys
from dataclasses import dataclass

import eventlet
import pytest

from shared.aggregate import Aggregate
from shared.commands import execute, load_all
from shared.config import ROOT
from shared.errors import Problem, Rejected
from shared.eventstore import (ANY, NO_STREAM, Append, ConcurrencyError, NewEvent,
                               UniquenessError, Upcasters, heads_pipeline)


def event(n, type="Happened"):
    return NewEvent(type, {"n": n})


def test_appends_and_reads_a_stream(store):
    recorded = store.append("s-1", NO_STREAM, [event(1), event(2)],
                            metadata={"actor": "tester", "correlation_id": "c-1"})
    assert [(e.version, e.position) for e in recorded] == [(1, 1), (2, 2)]
    assert recorded[0].metadata["actor"] == "tester"
    assert recorded[0].metadata["occurred_at"].tzinfo is not None
    store.append("s-1", 2, [event(3)])
    assert [e.data["n"] for e in store.read_stream("s-1")] == [1, 2, 3]
    assert [e.data["n"] for e in store.read_stream("s-1", after_version=2)] == [3]


def test_version_clash_raises_the_concurrency_error(store):
    store.append("s-1", NO_STREAM, [event(1)])
    with pytest.raises(ConcurrencyError) as clash:
        store.append("s-1", NO_STREAM, [event(2)])
    assert (clash.value.expected, clash.value.actual) == (0, 1)
    with pytest.raises(ConcurrencyError):
        store.append("s-1", 5, [event(2)])
    assert len(store.read_stream("s-1")) == 1
    assert store.append("s-1", ANY, [event(2)])[0].version == 2


def test_a_multi_event_append_is_all_or_nothing(store):
    store.append("s-1", NO_STREAM, [event(1)])
    unstorable = NewEvent("Broken", {"value": object()})
    with pytest.raises(Exception):
        store.append("s-2", NO_STREAM, [event(1), unstorable])
    assert store.read_stream("s-2") == []
    assert store.last_position() == 1
    assert store.append("s-2", NO_STREAM, [event(1)])[0].position == 2


def test_a_bad_command_does_not_fail_the_others_in_its_batch(store):
    pool = eventlet.GreenPool()
    good = [pool.spawn(store.append, f"good-{i}", NO_STREAM, [event(i)]) for i in range(50)]
    bad = pool.spawn(store.append, "bad", NO_STREAM, [NewEvent("Broken", {"v": object()})])
    stale = pool.spawn(store.append, "good-0", 7, [event(0)])
    assert all(len(g.wait()) == 1 for g in good)
    with pytest.raises(Exception):
        bad.wait()
    with pytest.raises(ConcurrencyError):
        stale.wait()
    assert sorted(e.position for e in store.read_all(0)) == list(range(1, 51))


def test_an_append_at_a_loaded_version_leaves_the_clash_to_the_index(store, watched):
    loaded, commands = watched
    store.append("s-1", NO_STREAM, [event(1)])
    store.append("s-2", NO_STREAM, [event(1)])
    store.append("s-1", 1, [event(2)])  # another writer, after s-1 was loaded at 1
    stale, fresh = loaded.append_all([
        Append("s-1", 1, [event(3)], loaded=True),
        Append("s-2", 1, [event(2)], loaded=True)])
    assert isinstance(stale, ConcurrencyError)
    assert (stale.expected, stale.actual) == (1, 2)
    assert fresh[0].version == 2
    commands.clear()
    [appended] = loaded.append_all([Append("s-2", 2, [event(3)], loaded=True)])
    assert appended[0].version == 3
    assert "aggregate" not in commands  # no look-up of the stream's head
    assert [e.data["n"] for e in store.read_stream("s-1")] == [1, 2]


def test_an_idempotency_key_records_a_command_once(store):
    first = store.append("s-1", NO_STREAM, [event(1)], idempotency_key="client:k-1")
    again = store.append("s-other", NO_STREAM, [event(1)], idempotency_key="client:k-1")
    assert not first.duplicate and again.duplicate
    assert [e.id for e in again] == [e.id for e in first]
    assert store.read_stream("s-other") == []
    assert store.last_position() == 1


def test_reads_everything_from_a_position(store):
    for i in range(10):
        store.append(f"s-{i % 3}", ANY, [event(i)])
    assert [e.position for e in store.read_all(4, limit=3)] == [5, 6, 7]
    assert [e.data["n"] for e in store.read_all(8)] == [8, 9]


def test_positions_are_gap_free_and_unique_under_two_appending_processes(store, mongo_uri):
    count = 300
    appenders = [subprocess.Popen(
        [sys.executable, "-m", "tests.contract.appender", mongo_uri, store.db.name,
         name, str(count)], cwd=ROOT) for name in ("a", "b")]
    for p in appenders:
        assert p.wait(timeout=120) == 0
    positions = [e.position for e in store.read_all(0, limit=10_000)]
    assert positions == list(range(1, 2 * count + 1))
    assert {e.data["by"] for e in store.read_all(0, limit=10_000)} == {"a", "b"}


def test_old_events_are_upcast_on_read(db):
    from shared.eventstore import EventStore
    upcasters = Upcasters()
    upcasters.register("Renamed", 1, lambda d: {"full_name": d["name"]})
    old = EventStore(db)
    old.append("s-1", NO_STREAM, [NewEvent("Renamed", {"name": "Aida"})])
    old.close()
    current = EventStore(db, upcasters)
    [loaded] = current.read_stream("s-1")
    assert (loaded.schema_version, loaded.data) == (2, {"full_name": "Aida"})
    current.close()


def test_a_claimed_value_belongs_to_one_stream(store):
    store.append("obs-1", NO_STREAM, [event(1)], claims=[("phone", "+996555123456")])
    with pytest.raises(UniquenessError) as clash:
        store.append("obs-2", NO_STREAM, [event(2)], claims=[("phone", "+996555123456")])
    assert clash.value.owner == "obs-1"
    assert store.read_stream("obs-2") == []
    # The owner may claim it again; once released, another stream may take it.
    store.append("obs-1", 1, [event(3)], claims=[("phone", "+996555123456")])
    store.append("obs-1", 2, [event(4)], releases=[("phone", "+996555123456")])
    store.append("obs-2", NO_STREAM, [event(5)], claims=[("phone", "+996555123456")])
    assert store.owner_of("phone", "+996555123456") == "obs-2"


def test_append_all_decides_each_command_on_its_own(store):
    store.append("taken", NO_STREAM, [event(0)], claims=[("code", "000")])
    outcomes = store.append_all(
        [Append(f"s-{i}", NO_STREAM, [event(i)], claims=[("code", f"{i:04}")])
         for i in range(1, 1200)]
        + [Append("s-dup", NO_STREAM, [event(0)], claims=[("code", "0005")]),
           Append("s-taken", NO_STREAM, [event(0)], claims=[("code", "000")]),
           Append("s-1", NO_STREAM, [event(0)])])
    assert all(len(o) == 1 for o in outcomes[:1199])
    assert [type(o) for o in outcomes[1199:]] == [
        UniquenessError, UniquenessError, ConcurrencyError]
    assert store.last_position() == 1200


def test_a_sequence_hands_out_each_number_once_with_a_key_of_its_own(store):
    first, key = store.reserve("sms_codes", 3)
    second, same_key = store.reserve("sms_codes", 2)
    assert (list(first), list(second)) == ([0, 1, 2], [3, 4])
    assert key == same_key and len(key) == 32
    assert store.reserve("other", 1)[1] != key


@dataclass(frozen=True)
class Counted:
    total: int


class Tally(Aggregate):
    """A kept aggregate that counts how often it was replayed."""

    events = (Counted,)
    kept = True
    replays = 0

    def __init__(self, id):
        super().__init__(id)
        self.total = 0

    @classmethod
    def replay(cls, id, history):
        cls.replays += 1
        return super().replay(id, history)

    def on_counted(self, event):
        self.total = event.total


def test_a_kept_aggregate_is_replayed_only_when_another_writer_moved_it(store):
    def add(n, stream="tally-1"):
        return execute(store, Tally, stream, lambda t: t.record(Counted(t.total + n)))
    assert add(1).total == 1 and Tally.replays == 1
    assert add(2).total == 3 and add(3).total == 6
    assert Tally.replays == 1  # decided on as this process left it
    store.append("tally-1", 3, [NewEvent("Counted", {"total": 100})])  # someone else
    assert add(1).total == 101 and Tally.replays == 2
    with pytest.raises(Rejected):
        execute(store, Tally, "tally-1", lambda t: t.record(Counted(0)) or _refuse())
    # A refused decision is not kept: the next replays the stream as it stands.
    assert add(1).total == 102 and Tally.replays == 3
    assert [e.data["total"] for e in store.read_stream("tally-1")] == [1, 3, 6, 100, 101, 102]


def test_kept_aggregates_are_loaded_without_reading_their_streams(store):
    def add(stream, loaded=None):
        return execute(store, Tally, stream, lambda t: t.record(Counted(t.total + 1)),
                       loaded=loaded)
    add("tally-a"), add("tally-b")
    before = Tally.replays
    loaded = load_all(store, Tally, {"tally-a", "tally-b", "tally-new"})
    assert {s: t.total for s, t in loaded.items()} == {"tally-a": 1, "tally-b": 1,
                                                       "tally-new": 0}
    assert Tally.replays == before + 1  # only the stream this process never kept
    add("tally-b", loaded=loaded["tally-b"])
    before = Tally.replays
    # tally-a was loaded but never decided on, so it is no longer kept.
    assert load_all(store, Tally, {"tally-a", "tally-b"})["tally-b"].total == 2
    assert Tally.replays == before + 1
    add("tally-b")
    store.append("tally-b", 3, [NewEvent("Counted", {"total": 100})])  # someone else
    assert load_all(store, Tally, {"tally-b"})["tally-b"].total == 100


def test_a_kept_aggregate_that_changed_nothing_is_checked_against_its_stream(store):
    def add_if_over(n):
        return execute(store, Tally, "tally-1",
                       lambda t: t.total > n and t.record(Counted(t.total + 1)))
    execute(store, Tally, "tally-1", lambda t: t.record(Counted(1)))
    assert add_if_over(3).total == 1  # nothing to record, as this process kept it
    store.append("tally-1", 1, [NewEvent("Counted", {"total": 10})])  # someone else
    # Decided first on the kept aggregate (nothing to record), then on the stream.
    assert add_if_over(3).total == 11
    assert [e.data["total"] for e in store.read_stream("tally-1")] == [1, 10, 11]


def test_a_kept_aggregate_that_records_is_checked_by_its_append_alone(store, watched):
    kept, commands = watched

    def add(n):
        return execute(kept, Tally, "tally-1", lambda t: t.record(Counted(t.total + n)))
    add(1)
    commands.clear()
    assert add(2).total == 3
    assert "aggregate" not in commands and "find" not in commands
    store.append("tally-1", 2, [NewEvent("Counted", {"total": 100})])  # someone else
    assert add(1).total == 101


def _refuse():
    raise Rejected(Problem("NO", "refused"))


def test_a_streams_head_is_found_without_reading_the_stream(store):
    """Every append checks its stream's head: a long stream must not cost more."""
    for stream in ("long-1", "long-2"):
        store.append(stream, NO_STREAM, [event(n) for n in range(200)])
    assert store.stream_heads(["long-1", "long-2", "none"]) == {"long-1": 200,
                                                                "long-2": 200}
    plan = store.db.command("explain", {"aggregate": "events", "cursor": {},
                                        "pipeline": heads_pipeline(["long-1", "long-2"])},
                            verbosity="executionStats")
    assert "DISTINCT_SCAN" in str(plan)
    assert max(map(int, re.findall(r"'totalKeysExamined': (\d+)", str(plan)))) < 10
