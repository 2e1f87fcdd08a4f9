"""The registry's read models."""
import re

from pymongo import ASCENDING, IndexModel, UpdateOne

from shared.errors import Problem, Rejected
from shared.projections import Projection, handles, with_id


class ObserverDirectory(Projection):
    """One document per observer, for look-ups, lists and search."""

    name = "observers"
    collections = ("observers",)

    def indexes(self):
        return {"observers": [
            IndexModel([("region", ASCENDING), ("full_name", ASCENDING),
                        ("_id", ASCENDING)]),
            IndexModel([("full_name", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("district", ASCENDING), ("full_name", ASCENDING)]),
            IndexModel([("organization_id", ASCENDING), ("full_name", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("full_name", ASCENDING)]),
            # Phones are found through the keywords; other services look observers up
            # by phone or SMS code in read models of their own.
            IndexModel([("keywords", ASCENDING)]),
        ]}

    @handles("ObserverRegistered")
    def registered(self, event):
        data = event.data
        return [("observers", UpdateOne({"_id": data["observer_id"]}, {"$setOnInsert": {
            **{k: data.get(k) for k in (
                "full_name", "phones", "region", "district", "locale",
                "organization_id", "document_number", "sms_code")},
            "keywords": keywords(data["full_name"], data["phones"]),
            "verified_phones": [],
            "status": "applicant",
            "registered_at": event.metadata["occurred_at"],
            "version": event.version,
        }}, upsert=True))]


    @handles("ObserverUpdated")
    def updated(self, event):
        changes = event.data["changes"]

        def part(changed, words, digits):
            # The keywords of what did not change are kept from the document.
            if changed in changes:
                return {"$literal": words}
            return {"$filter": {"input": "$keywords", "cond": {"$eq": [digits, {
                "$regexMatch": {"input": "$$this", "regex": "^[0-9]+$"}}]}}}

        names = part("full_name", keywords(changes.get("full_name", ""), []), False)
        phones = part("phones", keywords("", changes.get("phones", [])), True)
        verified = ({"$setIntersection": ["$verified_phones", {"$literal": changes["phones"]}]}
                    if "phones" in changes else "$verified_phones")
        return [("observers", UpdateOne(
            _older_than(event),
            [{"$set": {**{k: {"$literal": v} for k, v in changes.items()},
                       "keywords": {"$setUnion": [names, phones]},
                       "verified_phones": verified,
                       "version": event.version}}]))]

    @handles("ObserverSuspended")
    def suspended(self, event):
        return _set_observer(event, status="suspended",
                             suspension_reason=event.data["reason"])

    @handles("ObserverStatusChanged")
    def status_changed(self, event):
        return _set_observer(event, status=event.data["status"])

    @handles("ObserverPhoneVerified")
    def phone_verified(self, event):
        return [("observers", UpdateOne(_older_than(event), {
            "$addToSet": {"verified_phones": event.data["phone"]},
            "$set": {"version": event.version}}))]


def _older_than(event):
    # Not every event of an observer's stream changes this model (ObserverActivityNoted
    # does not), so a write applies to any older version, and a replay to none.
    return {"_id": event.data["observer_id"], "version": {"$lt": event.version}}


def _set_observer(event, **fields):
    return [("observers", UpdateOne(_older_than(event),
                                    {"$set": {**fields, "version": event.version}}))]


def keywords(full_name, phones):
    """What search matches by prefix: each word of the name, each phone's digits."""
    return sorted({w for w in full_name.lower().split()} | {p.lstrip("+") for p in phones})


class OrganizationDirectory(Projection):
    name = "organizations"
    collections = ("organizations",)

    def indexes(self):
        return {"organizations": [IndexModel([("name_key", ASCENDING)])]}

    @handles("OrganizationRegistered")
    def registered(self, event):
        data = dict(event.data)
        return [("organizations", UpdateOne(
            {"_id": data.pop("organization_id")},
            {"$setOnInsert": {**data, "name_key": _name_key(data["name"])}}, upsert=True))]


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



def _with_code(doc):
    doc["code"] = doc.pop("_id")
    doc.pop("version", None)
    return doc


class Observers:
    """Queries over the observer directory."""

    def __init__(self, db):
        self.observers = db["observers"]

    def get(self, observer_id):
        doc = self.observers.find_one({"_id": observer_id}, {"keywords": 0})
        return with_id(doc) if doc else None

    def page(self, filter, after=None, first=50, count=True):
        """Observers matching `filter` in name order, a page at a time; `after` is the
        (full name, id) of the last one seen; the total only when `count`."""
        query = {k: filter[k] for k in ("region", "district", "organization_id", "status")
                 if filter.get(k)}
        words = (filter.get("search") or "").lower().replace("+", "").split()
        options = {}
        if words:
            # Anchored, flag-free patterns become index ranges; the longest word first,
            # as the most selective one drives the index.
            query["$and"] = [{"keywords": {"$regex": "^" + re.escape(w)}}
                             for w in sorted(words, key=len, reverse=True)]
            # Left alone, the planner may walk the name index for the sort instead,
            # which for a rare match means every observer.
            options["hint"] = [("keywords", ASCENDING)]
        total = None
        if count:
            total = (self.observers.count_documents(query, **options) if query
                     else self.observers.estimated_document_count())
        if after:
            name, observer_id = after
            query["$or"] = [{"full_name": {"$gt": name}},
                            {"full_name": name, "_id": {"$gt": observer_id}}]
        docs = [with_id(d) for d in self.observers.find(
            query, {"keywords": 0}, limit=first + 1,
            sort=[("full_name", ASCENDING), ("_id", ASCENDING)], **options)]
        return {"observers": docs[:first], "has_next": len(docs) > first, "total": total}


class References:
    """What a new observer may refer to, as the read models know it. Each code or name
    is looked up once per request: an import of 300,000 rows meets only a few hundred."""

    def __init__(self, db):
        self.db = db
        self._seen = {}

    def _once(self, kind, key, fetch):
        if (kind, key) not in self._seen:
            self._seen[(kind, key)] = fetch()
        return self._seen[(kind, key)]

    def _district_region(self, code):
        def fetch():
            doc = self.db["districts"].find_one({"_id": code}, {"region": 1})
            return doc["region"] if doc else None
        return self._once("district", code, fetch)

    def _region_exists(self, code):
        return self._once("region", code, lambda: self.db["regions"].find_one(
            {"_id": code}, {"_id": 1}) is not None)

    def _organization_exists(self, organization_id):
        return self._once("organization", organization_id, lambda: self.db[
            "organizations"].find_one({"_id": organization_id}, {"_id": 1}) is not None)

    def organization_id(self, name_or_id):
        """The id of an organization given by id or by its name (any case); unknown
        ones come back as given, for check() to refuse."""
        def fetch():
            if self._organization_exists(name_or_id):
                return name_or_id
            doc = self.db["organizations"].find_one(
                {"name_key": _name_key(name_or_id)}, {"_id": 1})
            return doc["_id"] if doc else name_or_id
        return self._once("organization name", name_or_id, fetch)

    def check(self, command):
        region, district = command["region"], command.get("district")
        organization = command.get("organization_id")
        problems = []
        if not self._region_exists(region):
            problems.append(Problem("UNKNOWN_REGION", f"there is no region {region}",
                                    "region"))
        district_region = district and self._district_region(district)
        if district and not district_region:
            problems.append(Problem("UNKNOWN_DISTRICT", f"there is no district {district}",
                                    "district"))
        elif district and district_region != region:
            problems.append(Problem("DISTRICT_NOT_IN_REGION", f"district {district} is in "
                                    f"region {district_region}, not {region}",
                                    "district"))
        if organization and not self._organization_exists(organization):
            problems.append(Problem("UNKNOWN_ORGANIZATION",
                                    f"there is no organization {organization}",
                                    "organization_id"))
        if problems:
            raise Rejected(*problems)


def _name_key(name):
    return " ".join(name.split()).casefold()
