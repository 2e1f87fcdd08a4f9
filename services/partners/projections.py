"""Partners' read models, fed by a Subscriber: the archive of partner events (what
replay sends again) and where each polling station lies (to check a report's region)."""
from pymongo import ASCENDING, IndexModel, ReplaceOne, UpdateOne

from shared import catalog
from shared.envelope import to_envelope
from shared.projections import Projection

STATION_EVENTS = ("PollingStationRegistered",)


def feed_sources():
    """{service: event types} the feed takes: every service's partner events."""
    sources = {service: set(catalog.partner_events(service))
               for service in catalog.service_names()}
    sources.setdefault("registry", set()).update(STATION_EVENTS)
    return {service: tuple(sorted(types)) for service, types in sources.items() if types}


class PartnerFeed(Projection):
    name = "partner_feed"
    collections = ("archive", "stations")
    # Archived once per event id, stations placed by their registration alone: a
    # redelivered event writes nothing new, so it needs no inbox.
    idempotent = True

    def indexes(self):
        return {"archive": [IndexModel([("service", ASCENDING), ("position", ASCENDING)]),
                            IndexModel([("time", ASCENDING), ("position", ASCENDING)])]}

    def writes(self, event):
        if event.type in STATION_EVENTS:
            return [("stations", UpdateOne(
                {"_id": event.data["code"]},
                {"$set": {"region": event.data["region"]}}, upsert=True))]
        service = event.metadata["source"].removeprefix("nazar/")
        # Replaced by event id (the relay publishes at least once; cheaper for MongoDB
        # than $setOnInsert). The body is kept as partners receive its current version
        # (JSON, redacted), so replay sends it without decoding or encoding it again.
        body = catalog.current_partner_body(service, to_envelope(service, event))
        return [("archive", ReplaceOne({"_id": event.id}, {
            "service": service, "position": event.position, "type": event.type,
            "region": event.data.get("region"), "time": event.metadata["occurred_at"],
            "body": body}, upsert=True))]
