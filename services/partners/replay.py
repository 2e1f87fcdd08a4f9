"""Replay: the archived events of a partner's scope, after a position per service or
since a time, sent again in order onto one of the partner's own queues."""
from pymongo import ASCENDING

from shared import catalog

BATCH = 1000


def _scope(agreement, service):
    return {"service": service, "region": {"$in": list(agreement.regions)},
            "type": {"$in": sorted(catalog.partner_events(service))}}


def replay(db, agreement, request, writer):
    """Sends the events of `request` (a loaded Replay) to `request["queue"]`; returns
    how many. After positions: service by service, in position order. Since a time:
    all in time order."""
    archive = db["archive"]
    if request["since"] is not None:
        cursors = [archive.find(
            {"$or": [_scope(agreement, s) for s in agreement.services],
             "time": {"$gte": request["since"]}}, {"body": 1}).sort(
            [("time", ASCENDING), ("service", ASCENDING), ("position", ASCENDING)])]
    else:
        cursors = [archive.find({**_scope(agreement, service), "position": {
            "$gt": request["after"].get(service, 0)}}, {"body": 1}).sort("position")
            for service in agreement.services]
    sent, batch = 0, []
    for cursor in cursors:
        for doc in cursor.batch_size(BATCH):
            batch.append(doc["body"])
            if len(batch) == BATCH:
                writer.send(request["queue"], batch)
                sent, batch = sent + len(batch), []
    if batch:
        writer.send(request["queue"], batch)
    return sent + len(batch)
