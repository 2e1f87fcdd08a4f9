"""Running a command against an aggregate: load it from its stream, let the domain
decide, append what it recorded at the version it loaded, and on a concurrency clash
reload and decide again."""
from shared.aggregate import event_data, event_type
from shared.eventstore import ConcurrencyError, NewEvent

ATTEMPTS = 5


def history(events):
    return [(e.type, e.data) for e in events]


def execute(log, aggregate_cls, stream_id, decide, idempotency_key=None):
    """decide(aggregate) records events on it or raises shared.errors.Rejected.
    Returns the aggregate as it stands after the command."""
    for _ in range(ATTEMPTS):
        aggregate = aggregate_cls.replay(stream_id, history(log.read_stream(stream_id)))
        decide(aggregate)
        if not aggregate.pending:
            return aggregate
        try:
            recorded = log.append(
                stream_id, aggregate.version,
                [NewEvent(event_type(e), event_data(e)) for e in aggregate.pending],
                idempotency_key=idempotency_key)
        except ConcurrencyError:
            continue
        if recorded.duplicate:
            # A retried request: answer with what the first one did.
            first = recorded[-1]
            return aggregate_cls.replay(first.stream_id, history(
                e for e in log.read_stream(first.stream_id) if e.version <= first.version))
        return aggregate
    raise ConcurrencyError(stream_id, aggregate.version, "moving")
