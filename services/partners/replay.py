"""Replay: the archived events of a partner's scope, after a position per service or
since a time, sent again in order onto one of the partner's own queues."""
from pymongo import ASCENDING

from shared import catalog

BATCH = 1000


def scope_filter(agreement):
    return {"$or": [{"service": service, "type": {"$in": sorted(
        catalog.partner_events(service))}} for service in agreement.services],
        "region": {"$in": list(agreement.regions)}}


def replay(db, agreement, request, writer):
    """Sends the events of `request` (a loaded Replay) to `request["queue"]`; returns
    how many. Per service in position order; across services by time."""
    query = scope_filter(agreement)
    if request["since"] is not None:
        query["time"] = {"$gte": request["since"]}
        order = [("time", ASCENDING), ("service", ASCENDING), ("position", ASCENDING)]
    else:
        query = {"$and": [query, {"$or": [
            {"service": service, "position": {"$gt": request["after"].get(service, 0)}}
            for service in agreement.services]}]}
        order = [("service", ASCENDING), ("position", ASCENDING)]
    sent, batch = 0, []
    for doc in db["archive"].find(query, {"envelope": 1}).sort(order).batch_size(BATCH):
        batch.append(doc["envelope"])
        if len(batch) == BATCH:
            writer.send(request["queue"], batch)
            sent, batch = sent + len(batch), []
    if batch:
        writer.send(request["queue"], batch)
    return sent + len(batch)
