"""The integration envelope every published event travels in (CloudEvents attributes
plus `position` and `correlationid`), and the way back to a RecordedEvent."""
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
