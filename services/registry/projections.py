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


class TerritoryDirectory(Projection):
    """Regions, districts and polling stations, for look-ups and lists by region."""

    name = "territory"
    collections = ("regions", "districts", "stations")

    def indexes(self):
        return {
            "districts": [IndexModel([("region", ASCENDING), ("_id", ASCENDING)])],
            "stations": [IndexModel([("region", ASCENDING), ("_id", ASCENDING)]),
                         IndexModel([("district", ASCENDING), ("_id", ASCENDING)])],
        }

    def writes(self, event):
        collection, write = _TERRITORY_WRITES.get(event.type, (None, None))
        return write(collection, event) if write else []


def _defined(collection, event):
    facts = {k: v for k, v in event.data.items() if k != "code"}
    return [(collection, UpdateOne({"_id": event.data["code"]}, {"$setOnInsert": {
        **facts, "version": event.version}}, upsert=True))]


def _changed(collection, event):
    # Applied only on top of the version before it: a replay changes nothing twice.
    return [(collection, UpdateOne(
        {"_id": event.data["code"], "version": event.version - 1},
        {"$set": {**event.data["changes"], "version": event.version}}))]


_TERRITORY_WRITES = {
    f"{kind}{what}": (collection, write)
    for kind, collection in (("Region", "regions"), ("District", "districts"),
                             ("PollingStation", "stations"))
    for what, write in (("Defined", _defined), ("Registered", _defined),
                        ("Changed", _changed))
}


class Territories:
    """Queries over regions, districts and stations."""

    def __init__(self, db):
        self.db = db

    def regions(self):
        counts = {d["_id"]: d for d in self.db["stations"].aggregate([
            {"$group": {"_id": "$region", "stations": {"$sum": 1},
                        "registered_voters": {"$sum": "$registered_voters"}}}])}
        districts = {}
        for d in self.db["districts"].find({}, sort=[("_id", ASCENDING)]):
            districts.setdefault(d["region"], []).append(_with_code(d))
        regions = [_with_code(r) for r in self.db["regions"].find(
            {}, sort=[("_id", ASCENDING)])]
        for region in regions:
            totals = counts.get(region["code"], {})
            region.update(districts=districts.get(region["code"], []),
                          stations=totals.get("stations", 0),
                          registered_voters=totals.get("registered_voters", 0))
        return regions

    def stations(self, region=None, district=None, after=None, first=50):
        """A page of stations in code order, and whether more follow."""
        query = {}
        if region:
            query["region"] = region
        if district:
            query["district"] = district
        total = self.db["stations"].count_documents(query)
        if after:
            query["_id"] = {"$gt": after}
        page = [_with_code(s) for s in self.db["stations"].find(
            query, sort=[("_id", ASCENDING)], limit=first + 1)]
        return {"stations": page[:first], "has_next": len(page) > first, "total": total}

    def station(self, code):
        doc = self.db["stations"].find_one({"_id": code})
        return _with_code(doc) if doc else None


def _with_code(doc):
    doc["code"] = doc.pop("_id")
    doc.pop("version", None)
    return doc


class Observers:
    """Queries over the observer directory."""

    def __init__(self, db):
        self.observers = db["observers"]

    def get(self, observer_id):
        doc = self.observers.find_one({"_id": observer_id})
        if doc is not None:
            doc["id"] = doc.pop("_id")
        return doc
