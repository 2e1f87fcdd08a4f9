"""Reporting's read models: its own view of the registry's stations and observers and
of deployment's assignments (fed through the inbox), and, from its own log, the
published forms."""
from pymongo import ASCENDING, IndexModel, UpdateOne

from shared.projections import Projection, handles, latest

# What reporting learns from other services, never by asking.
DIRECTORY_SOURCES = {
    "registry": ("PollingStationRegistered", "PollingStationChanged",
                 "ObserverRegistered", "ObserverUpdated"),
    "deployment": ("ObserverAssigned", "AssignmentWithdrawn"),
}
OBSERVER_FIELDS = ("region", "district")


class Directory(Projection):
    """Stations, observers and assignments as the registry and deployment announce
    them. Every write is right in any order of arrival; no `name`, as it cannot be
    rebuilt from reporting's own log."""

    collections = ("stations", "observers", "assignments")

    def indexes(self):
        return {"stations": [IndexModel([("region", ASCENDING), ("district", ASCENDING)])],
                "assignments": [IndexModel([("observer_id", ASCENDING),
                                            ("active", ASCENDING)])]}

    @handles("PollingStationRegistered")
    def station_registered(self, event):
        data = event.data
        return [("stations", UpdateOne({"_id": data["code"]}, latest(event.version, {
            "region": data["region"], "district": data["district"],
            "registered_voters": data["registered_voters"]}), upsert=True))]

    @handles("PollingStationChanged")
    def station_changed(self, event):
        changes = {k: v for k, v in event.data["changes"].items()
                   if k in ("region", "district", "registered_voters")}
        return [("stations", UpdateOne({"_id": event.data["code"]}, latest(
            event.version, changes), upsert=True))] if changes else []

    @handles("ObserverRegistered")
    def observer_registered(self, event):
        return [("observers", UpdateOne({"_id": event.data["observer_id"]}, latest(
            event.version, {k: event.data.get(k) for k in OBSERVER_FIELDS}),
            upsert=True))]

    @handles("ObserverUpdated")
    def observer_updated(self, event):
        changes = {k: v for k, v in event.data["changes"].items() if k in OBSERVER_FIELDS}
        return [("observers", UpdateOne({"_id": event.data["observer_id"]}, latest(
            event.version, changes), upsert=True))] if changes else []

    @handles("ObserverAssigned")
    def assigned(self, event):
        data = event.data
        # A withdrawal that came first has set `active` already.
        return [("assignments", UpdateOne({"_id": data["assignment_id"]}, {
            "$set": {"observer_id": data["observer_id"],
                     "station_code": data["station_code"]},
            "$setOnInsert": {"active": True}}, upsert=True))]

    @handles("AssignmentWithdrawn")
    def withdrawn(self, event):
        data = event.data
        return [("assignments", UpdateOne({"_id": data["assignment_id"]}, {"$set": {
            "observer_id": data["observer_id"], "station_code": data["station_code"],
            "active": False}}, upsert=True))]


class Forms(Projection):
    """Each form as its latest published version."""

    name = "forms"
    collections = ("forms",)

    @handles("FormPublished")
    def published(self, event):
        data = event.data
        # The log hands versions over in order: the last one stands.
        return [("forms", UpdateOne({"_id": data["form_id"]}, {"$set": data},
                                    upsert=True))]


class Reporting:
    """Queries over reporting's read models."""

    def __init__(self, db):
        self.db = db

    def observer(self, observer_id):
        return self.db["observers"].find_one({"_id": observer_id, "region": {"$ne": None}})

    def station(self, code):
        doc = self.db["stations"].find_one({"_id": code, "region": {"$ne": None}})
        return {"code": code, **doc} if doc else None

    def assigned_stations(self, observer_id):
        return sorted({a["station_code"] for a in self.db["assignments"].find(
            {"observer_id": observer_id, "active": True}, {"station_code": 1})})

    def forms(self):
        return list(self.db["forms"].find({}, {"_id": 0}).sort("name", ASCENDING))
