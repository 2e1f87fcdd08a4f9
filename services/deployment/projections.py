"""Deployment's read models: its own view of the registry's stations and observers and
of training's certifications (fed through the inbox), and, from its own log, the
assignments, check-ins and coverage."""
from pymongo import ASCENDING, IndexModel, UpdateOne

from services.deployment.domain import (CHECKED_AT_OPENING, SHIFT_PARTS, ObserverFacts,
                                        StationFacts, StationNeed, check_in_flag)
from shared.projections import Projection, handles, latest

OBSERVER_FIELDS = ("region", "district", "organization_id")


class Directory(Projection):
    """Stations and observers as the registry and training announce them.

    Fed from other services' events through the inbox, which may deliver them out of
    order: every write is an upsert that is right in any order. Not rebuilt from
    deployment's own log: it is not among the service's `projections`.
    """

    name = "directory"
    collections = ("stations", "observers", "station_totals")

    def indexes(self):
        return {
            "stations": [IndexModel([("region", ASCENDING), ("_id", ASCENDING)]),
                         IndexModel([("district", ASCENDING), ("_id", ASCENDING)])],
            "observers": [IndexModel([("region", ASCENDING), ("certified", ASCENDING),
                                      ("suspended", ASCENDING), ("_id", ASCENDING)]),
                          IndexModel([("district", ASCENDING), ("certified", ASCENDING),
                                      ("_id", ASCENDING)])],
            "station_totals": [IndexModel([("region", ASCENDING)])],
        }

    @handles("PollingStationRegistered")
    def station_registered(self, event):
        data = event.data
        return [("stations", UpdateOne({"_id": data["code"]}, {"$setOnInsert": {
            "region": data["region"], "district": data["district"],
            "number": data.get("number")}}, upsert=True)),
            *_increments("station_totals", data["region"], data["district"], stations=1)]

    @handles("PollingStationChanged")
    def station_changed(self, event):
        changes, previous = event.data["changes"], event.data["previous"]
        if "district" not in changes:
            return []  # a district's region never changes on its own
        region = changes.get("region", previous.get("region"))
        return [("stations", UpdateOne({"_id": event.data["code"]}, {"$set": {
            "region": region, "district": changes["district"]}})),
            *_increments("station_totals", previous.get("region", region),
                         previous["district"], stations=-1),
            *_increments("station_totals", region, changes["district"], stations=1)]

    @handles("ObserverRegistered")
    def observer_registered(self, event):
        return _observer(event, latest(event.version, {
            k: event.data.get(k) for k in OBSERVER_FIELDS}))

    @handles("ObserverUpdated")
    def observer_updated(self, event):
        changes = {k: v for k, v in event.data["changes"].items() if k in OBSERVER_FIELDS}
        return _observer(event, latest(event.version, changes)) if changes else []

    @handles("ObserverSuspended")
    def observer_suspended(self, event):
        return _observer(event, [{"$set": {"suspended": True}}])

    @handles("ObserverCertified")
    def certified(self, event):
        certification = event.data["certification_id"]
        return _observer(event, [{"$set": {"certifications": {"$cond": [
            {"$in": [certification, _array("ended")]}, _array("certifications"),
            {"$setUnion": [_array("certifications"), [certification]]}]}}}])

    @handles("CertificationRevoked")
    def revoked(self, event):
        return self._ended(event)

    @handles("CertificationExpired")
    def expired(self, event):
        return self._ended(event)

    def _ended(self, event):
        # Remembered, so that a certification announced after its end stays ended.
        certification = event.data["certification_id"]
        return _observer(event, [{"$set": {
            "ended": {"$setUnion": [_array("ended"), [certification]]},
            "certifications": {"$setDifference": [_array("certifications"),
                                                  [certification]]}}}])


def _array(name):
    return {"$ifNull": [f"${name}", []]}


def _observer(event, pipeline):
    """Upserts the observer through `pipeline`, then derives whether it may deploy."""
    return [("observers", UpdateOne({"_id": event.data["observer_id"]}, [
        *pipeline,
        {"$set": {"certified": {"$gt": [{"$size": _array("certifications")}, 0]},
                  "suspended": {"$ifNull": ["$suspended", False]}}}], upsert=True))]


class Assignments(Projection):
    """One document per assignment, with its check-in and no-show; and every check-in,
    flagged ones (at a station the observer is not assigned to) included."""

    name = "assignments"
    collections = ("assignments", "check_ins")

    def indexes(self):
        return {
            "assignments": [
                IndexModel([("station_code", ASCENDING), ("active", ASCENDING)]),
                IndexModel([("observer_id", ASCENDING), ("active", ASCENDING)]),
                IndexModel([("region", ASCENDING), ("active", ASCENDING)]),
                IndexModel([("active", ASCENDING), ("awaited", ASCENDING)]),
            ],
            "check_ins": [IndexModel([("station_code", ASCENDING)]),
                          IndexModel([("region", ASCENDING), ("assigned", ASCENDING)])],
        }

    @handles("ObserverAssigned")
    def assigned(self, event):
        data = dict(event.data)
        return [("assignments", UpdateOne({"_id": data.pop("assignment_id")}, {
            "$setOnInsert": {**data, "active": True, "checked_in_at": None,
                             "no_show": False, "assigned_at": event.metadata["occurred_at"],
                             # Opening shifts are awaited at the check-in deadline.
                             "awaited": data["shift"] in CHECKED_AT_OPENING}},
            upsert=True))]

    @handles("AssignmentWithdrawn")
    def withdrawn(self, event):
        return [("assignments", UpdateOne({"_id": event.data["assignment_id"]}, {"$set": {
            "active": False, "awaited": False, "withdrawal_reason": event.data["reason"]}}))]

    @handles("ObserverCheckedIn")
    def checked_in(self, event):
        data = event.data
        writes = [("check_ins", UpdateOne({"_id": event.id}, {"$setOnInsert": {
            **data, "flag": check_in_flag(data)}}, upsert=True))]
        if data["assignment_id"]:
            writes.append(("assignments", UpdateOne({"_id": data["assignment_id"]}, {
                "$set": {"checked_in_at": data["at"], "awaited": False}})))
        return writes

    @handles("ObserverNoShow")
    def no_show(self, event):
        return [("assignments", UpdateOne({"_id": event.data["assignment_id"]}, {
            "$set": {"no_show": True, "awaited": False}}))]


class Coverage(Projection):
    """What coverage views count: the active observers per station (a station with
    any is covered), counters per country, region and district (check-ins,
    no-shows), and each region's plan."""

    name = "coverage"
    collections = ("covered_stations", "coverage", "plans")

    def indexes(self):
        return {"coverage": [IndexModel([("region", ASCENDING)])],
                "covered_stations": [IndexModel([("region", ASCENDING),
                                                 ("observers", ASCENDING),
                                                 ("district", ASCENDING)])]}

    @handles("ObserverAssigned")
    def assigned(self, event):
        data = event.data
        return [("covered_stations", UpdateOne({"_id": data["station_code"]}, {
            "$inc": {"observers": 1},
            "$setOnInsert": {"region": data["region"], "district": data["district"]}},
            upsert=True))]

    @handles("AssignmentWithdrawn")
    def withdrawn(self, event):
        return [("covered_stations", UpdateOne({"_id": event.data["station_code"]},
                                               {"$inc": {"observers": -1}}))]

    @handles("ObserverCheckedIn")
    def checked_in(self, event):
        data = event.data
        flag = "checked_in" if data["assigned"] else "unassigned_check_ins"
        return _increments("coverage", data["region"], data["district"], **{flag: 1})

    @handles("ObserverNoShow")
    def no_show(self, event):
        return _increments("coverage", event.data["region"], event.data["district"],
                           no_shows=1)

    @handles("CoveragePlanSet")
    def plan_set(self, event):
        data = dict(event.data)
        return [("plans", UpdateOne({"_id": data.pop("region")}, {"$set": data},
                                    upsert=True))]


def _increments(collection, region, district, **steps):
    """Adds `steps` to the country's counters and to the region's and district's
    (which carry their region, to be found by it)."""
    scopes = [("country", None)]
    if region:
        scopes.append((f"region:{region}", region))
    if district:
        scopes.append((f"district:{district}", region))
    return [(collection, UpdateOne({"_id": scope}, {"$inc": steps,
                                                    "$setOnInsert": {"region": within}},
                                   upsert=True))
            for scope, within in scopes]


COUNTERS = ("checked_in", "unassigned_check_ins", "no_shows")
COVERED = {"observers": {"$gt": 0}}
ASSIGNMENT_FIELDS = {"_id": 1, "observer_id": 1, "station_code": 1, "role": 1,
                     "shift": 1, "organization_id": 1}


class Deployments:
    """Queries over deployment's read models."""

    def __init__(self, db):
        self.db = db

    def observer(self, observer_id):
        doc = self.db["observers"].find_one({"_id": observer_id})
        return _facts(doc) if doc and doc.get("region") else None

    def station(self, code):
        return self.stations([code]).get(code)

    def stations(self, codes):
        """{code: StationFacts} of those `codes` that are known stations, in one query."""
        return {d["_id"]: StationFacts(d["_id"], d["region"], d["district"])
                for d in self.db["stations"].find({"_id": {"$in": list(codes)}},
                                                  {"region": 1, "district": 1})}

    def plan(self, region):
        doc = self.db["plans"].find_one({"_id": region}) or {}
        return {"region": region, "minimum_observers": doc.get("minimum_observers", 1),
                "priority_stations": doc.get("priority_stations", [])}

    def assignments(self, station_code=None, observer_id=None):
        query = {k: v for k, v in (("station_code", station_code),
                                   ("observer_id", observer_id)) if v}
        return list(self.db["assignments"].find(
            query, sort=[("assigned_at", ASCENDING), ("_id", ASCENDING)]))

    def check_ins(self, station_code):
        return list(self.db["check_ins"].find({"station_code": station_code},
                                              {"_id": 0}, sort=[("at", ASCENDING)]))

    def coverage(self, region=None):
        """The country's (or a region's) counts, with one entry per region (or per
        district)."""
        within = {"region": region} if region else {}
        totals = {d["_id"]: d["stations"] for d in self.db["station_totals"].find(within)}
        counts = {d["_id"]: d for d in self.db["coverage"].find(within)}
        covered = self._covered(region)
        priority = self._priority_uncovered(region)
        level = "district:" if region else "region:"
        parts = sorted(k for k in set(totals) | set(counts) if k.startswith(level))

        def entry(key):
            values = {c: counts.get(key, {}).get(c, 0) for c in COUNTERS}
            stations, planned = totals.get(key, 0), priority.get(key, {})
            return {"scope": key.split(":")[-1], **values, "stations": stations,
                    "covered": covered.get(key, 0),
                    "uncovered": stations - covered.get(key, 0),
                    "priority_stations": planned.get("stations", 0),
                    "priority_uncovered": planned.get("uncovered", 0)}
        return {**entry(f"region:{region}" if region else "country"),
                "parts": [entry(k) for k in parts]}

    def _covered(self, region):
        """{scope: covered stations} for the country and its regions, or a region and
        its districts; counted on an index."""
        part = "district" if region else "region"
        counts = {f"{part}:{d['_id']}": d["stations"]
                  for d in self.db["covered_stations"].aggregate([
                      {"$match": {**({"region": region} if region else {}), **COVERED}},
                      {"$group": {"_id": f"${part}", "stations": {"$sum": 1}}}])}
        counts[f"region:{region}" if region else "country"] = sum(counts.values())
        return counts

    def _priority_uncovered(self, region):
        """{scope: {stations, uncovered}} over the plans' priority stations."""
        plans = self.db["plans"].find({"_id": region} if region else {},
                                      {"priority_stations": 1})
        codes = [c for p in plans for c in p.get("priority_stations", [])]
        covered = self._covered_among(codes)
        result = {}
        for station in self.db["stations"].find({"_id": {"$in": codes}}):
            for key in ("country", f"region:{station['region']}",
                        f"district:{station['district']}"):
                counts = result.setdefault(key, {"stations": 0, "uncovered": 0})
                counts["stations"] += 1
                counts["uncovered"] += station["_id"] not in covered
        return result

    def _covered_among(self, codes=None, region=None):
        query = {"_id": {"$in": codes}} if codes is not None else {"region": region}
        return {d["_id"] for d in self.db["covered_stations"].find(
            {**query, **COVERED}, {"_id": 1})}

    def uncovered(self, region, priority_only=False, after=None, first=50, count=True):
        """Stations of the region without an active observer, in code order; the
        total only when `count`."""
        covered = self._covered_among(region=region)
        query = {"region": region}
        if priority_only:
            query["_id"] = {"$in": self.plan(region)["priority_stations"]}
        total = None
        if count:
            total = sum(1 for d in self.db["stations"].find(query, {"_id": 1})
                        if d["_id"] not in covered)
        if after:
            query["_id"] = {**query.get("_id", {}), "$gt": after}
        page = []
        for doc in self.db["stations"].find(query, sort=[("_id", ASCENDING)]):
            if doc["_id"] not in covered:
                page.append({"code": doc["_id"], "district": doc["district"],
                             "number": doc.get("number")})
                if len(page) > first:
                    break
        return {"stations": page[:first], "has_next": len(page) > first, "total": total}

    def available(self, region=None, district=None, parts=()):
        """Certified, unsuspended observers of a region or district who have no active
        non-mobile assignment overlapping the shift `parts`, as ObserverFacts."""
        query = {"certified": True, "suspended": False}
        query.update({k: v for k, v in (("region", region), ("district", district)) if v})
        observers = [_facts(d) for d in self.db["observers"].find(query, {
            k: 1 for k in ("region", "district", "organization_id", "certified",
                           "suspended")})]
        busy = set()
        ids = [o.observer_id for o in observers]
        for start in range(0, len(ids), 5000):
            for a in self.db["assignments"].find(
                    {"observer_id": {"$in": ids[start:start + 5000]}, "active": True,
                     "role": {"$ne": "mobile_group"}}, {"observer_id": 1, "shift": 1}):
                if set(parts) & set(SHIFT_PARTS[a["shift"]]):
                    busy.add(a["observer_id"])
        return [o for o in observers if o.observer_id not in busy]

    def needs(self, region, priority, parts):
        """Each station of the region as the allocation sees it, for the shift parts."""
        present = {}
        for a in self.db["assignments"].find({"region": region, "active": True},
                                             ASSIGNMENT_FIELDS):
            if set(parts) & set(SHIFT_PARTS[a["shift"]]):
                present.setdefault(a["station_code"], []).append(a["organization_id"])
        priority = set(priority)
        return [StationNeed(d["_id"], d["district"], d["_id"] in priority,
                            len(present.get(d["_id"], [])),
                            tuple(o for o in present.get(d["_id"], []) if o))
                for d in self.db["stations"].find({"region": region}, {"district": 1})]

    def awaited_stations(self):
        """Stations with an active opening-shift observer not yet checked in."""
        return self.db["assignments"].distinct("station_code",
                                               {"active": True, "awaited": True})


def _facts(doc):
    return ObserverFacts(doc["_id"], doc.get("region"), doc.get("district"),
                         doc.get("organization_id"), doc.get("certified", False),
                         doc.get("suspended", False))

