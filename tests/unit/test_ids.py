"""The ids the platform mints: valid UUIDs, version 7, unique, and growing with time
(what keeps index inserts near the right edge of their B-trees)."""
import time
import uuid

from shared.ids import new_id, new_ids


def test_ids_are_version_7_uuids_and_unique():
    ids = new_ids(10_000)
    assert len(set(ids)) == len(ids)
    for text in ids[:100]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert str(parsed) == text


def test_later_ids_sort_after_earlier_ones():
    earlier = new_id()
    time.sleep(0.002)
    assert all(later > earlier for later in new_ids(100))
