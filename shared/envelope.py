"""The integration envelope every published event travels in (CloudEvents attributes
plus `position` and `correlationid`), and the way back to a RecordedEvent.

On the services' own exchanges a message carries a run of events of one type (see
shared/relay.py); partners get one envelope per message."""
from datetime import datetime

from shared.eventstore import RecordedEvent

SPEC_VERSION = "1.0"


def exchange_name(service):
    return f"{service}.events"


def to_envelope(service, event):
    metadata = event.metadata
    return {
        "specversion": SPEC_VERSION,
        "id": event.id,
        "source": f"nazar/{service}",
        "type": event.type,
        "subject": event.stream_id,
        "time": metadata["occurred_at"].isoformat(),
        "datacontenttype": "application/json",
        "schemaversion": event.schema_version,
        "position": event.position,
        "version": event.version,
        "correlationid": metadata.get("correlation_id"),
        "causationid": metadata.get("causation_id"),
        "actor": metadata.get("actor"),
        "channel": metadata.get("channel"),
        "data": event.data,
    }


def envelopes(body):
    """The envelopes one message on a `<service>.events` exchange carries: a run of
    consecutive events of one type (a JSON array, as the relay publishes them), or a
    single envelope (an object)."""
    return body if isinstance(body, list) else [body]


def from_envelope(envelope):
    return RecordedEvent(
        id=envelope["id"], stream_id=envelope["subject"], version=envelope["version"],
        position=envelope["position"], type=envelope["type"],
        schema_version=envelope["schemaversion"], data=envelope["data"],
        metadata={
            "occurred_at": datetime.fromisoformat(envelope["time"]),
            "correlation_id": envelope.get("correlationid"),
            "causation_id": envelope.get("causationid"),
            "actor": envelope.get("actor"),
            "channel": envelope.get("channel"),
            "source": envelope["source"],
        })
