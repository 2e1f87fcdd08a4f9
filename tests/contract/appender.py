"""A separate process that appends to the same log, for the concurrency contract test:
python -m tests.contract.appender <mongo uri> <database> <name> <count>"""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import sys  # noqa: E402

from shared.eventstore import NO_STREAM, EventStore, NewEvent  # noqa: E402
from shared.mongo import connect  # noqa: E402


def main(uri, database, name, count):
    store = EventStore(connect(uri)[database])
    pool = eventlet.GreenPool(20)
    for i in range(count):
        pool.spawn(store.append, f"{name}-{i}", NO_STREAM,
                   [NewEvent("Appended", {"by": name, "i": i})])
    pool.waitall()
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
