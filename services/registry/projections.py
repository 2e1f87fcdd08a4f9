"""The registry's read models."""
from pymongo import ASCENDING, IndexModel, UpdateOne

from shared.projections import Projection, handles


class ObserverDirectory(Projection):
    """One document per observer, for look-ups and lists by region."""

    name = "observers"
    collections = ("observers",)

    def indexes(self):
        return {"observers": [
            IndexModel([("region", ASCENDING), ("full_name", ASCENDING)]),
            IndexModel([("phones", ASCENDING)]),
        ]}

    @handles("ObserverRegistered")
    def registered(self, event):
        data = event.data
        return [("observers", UpdateOne({"_id": data["observer_id"]}, {"$setOnInsert": {
            "full_name": data["full_name"],
            "phones": data["phones"],
            "region": data["region"],
            "locale": data["locale"],
            "organization_id": data["organization_id"],
            "status": "applicant",
            "registered_at": event.metadata["occurred_at"],
            "version": event.version,
        }}, upsert=True))]


class Observers:
    """Queries over the observer directory."""

    def __init__(self, db):
        self.observers = db["observers"]

    def get(self, observer_id):
        doc = self.observers.find_one({"_id": observer_id})
        if doc is not None:
            doc["id"] = doc.pop("_id")
        return doc
