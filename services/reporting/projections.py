"""Reporting's read models: its own view of the registry's stations and observers and
of deployment's assignments (fed through the inbox), and, from its own log, the
published forms."""
import functools

from pymongo import ASCENDING, IndexModel, ReplaceOne, UpdateMany, UpdateOne

from shared.projections import Projection, handles, latest, with_id

# What reporting learns from other services, never by asking.
DIRECTORY_SOURCES = {
    "registry": ("PollingStationRegistered", "PollingStationChanged",
                 "ObserverRegistered", "ObserverUpdated"),
    "deployment": ("ObserverAssigned", "AssignmentWithdrawn"),
}
OBSERVER_FIELDS = ("region", "district")
# The hotline's appeals, to show beside the incidents of their station.
APPEAL_SOURCES = {"hotline": ("AppealOpened", "AppealEscalated", "AppealAnswered",
                              "AppealClosed")}
APPEAL_STATUS = {"AppealEscalated": "escalated", "AppealAnswered": "answered",
                 "AppealClosed": "closed"}


class Directory(Projection):
    """Stations, observers and assignments as the registry and deployment announce
    them. Every write is right in any order of arrival. Not rebuilt from reporting's
    own log: it is not among the service's `projections`."""

    name = "directory"
    collections = ("stations", "observers", "assignments", "station_totals")

    def indexes(self):
        return {"stations": [IndexModel([("region", ASCENDING),
                                         ("district", ASCENDING)])],
                "observers": [IndexModel([("region", ASCENDING)])],
                "assignments": [IndexModel([("observer_id", ASCENDING),
                                            ("active", ASCENDING)]),
                                IndexModel([("region", ASCENDING),
                                            ("active", ASCENDING)]),
                                IndexModel([("station_code", ASCENDING)])]}

    @handles("PollingStationRegistered")
    def station_registered(self, event):
        data = event.data
        return [("stations", UpdateOne({"_id": data["code"]}, latest(event.version, {
            "region": data["region"], "district": data["district"],
            "registered_voters": data["registered_voters"]}), upsert=True)),
            ("station_totals", UpdateOne({"_id": data["region"]}, {"$inc": {
                "stations": 1}}, upsert=True))]

    @handles("PollingStationChanged")
    def station_changed(self, event):
        data = event.data
        changes = {k: v for k, v in data["changes"].items()
                   if k in ("region", "district", "registered_voters")}
        if not changes:
            return []
        writes = [("stations", UpdateOne({"_id": data["code"]}, latest(
            event.version, changes), upsert=True))]
        if "region" in changes:
            # A station moved to another region is counted there; increments commute,
            # so moves that arrive out of order still add up.
            writes += [("station_totals", UpdateOne({"_id": region}, {"$inc": {
                "stations": step}}, upsert=True))
                for region, step in ((data["previous"].get("region"), -1),
                                     (changes["region"], 1)) if region]
            # Its observers are missed in the new region (see missing_reports).
            writes.append(("assignments", UpdateMany(
                {"station_code": data["code"]},
                latest(event.version, {"region": changes["region"]}))))
        return writes

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
                     "station_code": data["station_code"], "region": data["region"]},
            "$setOnInsert": {"active": True}}, upsert=True))]

    @handles("AssignmentWithdrawn")
    def withdrawn(self, event):
        data = event.data
        return [("assignments", UpdateOne({"_id": data["assignment_id"]}, {"$set": {
            "observer_id": data["observer_id"], "station_code": data["station_code"],
            "active": False}}, upsert=True))]


class Appeals(Projection):
    """Each hotline appeal's station, region, category and status. Right in any order
    of arrival (each field keeps its latest event); fed only from the hotline."""

    name = "hotline-appeals"
    collections = ("appeals",)

    def indexes(self):
        return {"appeals": [IndexModel([("station_code", ASCENDING)])]}

    @handles("AppealOpened")
    def opened(self, event):
        data = event.data
        return [("appeals", UpdateOne({"_id": data["appeal_id"]}, latest(event.version, {
            "station_code": data.get("station_code"), "region": data["region"],
            "category": data["category"], "opened_at": data["opened_at"],
            "status": "new"}), upsert=True))]

    @handles("AppealEscalated", "AppealAnswered", "AppealClosed")
    def moved(self, event):
        return [("appeals", UpdateOne({"_id": event.data["appeal_id"]}, latest(
            event.version, {"status": APPEAL_STATUS[event.type]}), upsert=True))]


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


def _moves(collection, key, before, after, **fields):
    """$inc of a counter document: one out of `before`, one into `after`."""
    if before == after:
        return []
    counts = {**({f"counts.{before}": -1} if before else {}),
              **({f"counts.{after}": 1} if after else {})}
    return [(collection, UpdateOne({"_id": key}, {"$inc": counts,
                                                  "$set": fields}, upsert=True))]


def _carried(collection, counts, before, after, **fields):
    """$inc moving `counts` out of the counter document `before` into `after`; `fields`
    describe `after`."""
    if before == after or not counts:
        return []
    return [(collection, UpdateOne({"_id": before}, {"$inc": {
        k: -v for k, v in counts.items()}}, upsert=True)),
        (collection, UpdateOne({"_id": after}, {"$inc": counts, **(
            {"$set": fields} if fields else {})}, upsert=True))]


def moved_station(prefix):
    """Marks the handler of StationMoved in the streams of `prefix` (see
    domain.LOCATED), which it calls with the event and the station's new place."""
    def mark(method):
        @handles("StationMoved")
        @functools.wraps(method)
        def handler(self, event):
            if not event.stream_id.startswith(f"{prefix}:"):
                return []
            return method(self, event, {k: event.data[k] for k in ("region", "district")})
        return handler
    return mark


class Reports(Projection):
    """Each station's master copy per form, each observer copy, and per form and
    region how many stations are complete, partial or in conflict."""

    name = "reports"
    collections = ("station_reports", "copies", "form_stats")

    def indexes(self):
        return {"station_reports": [IndexModel([("station_code", ASCENDING)]),
                                    IndexModel([("region", ASCENDING),
                                                ("form_id", ASCENDING)])],
                "copies": [IndexModel([("form_id", ASCENDING), ("region", ASCENDING)]),
                           IndexModel([("station_code", ASCENDING)])],
                "form_stats": [IndexModel([("region", ASCENDING)])]}

    @handles("ReportSubmitted")
    def submitted(self, event):
        data = event.data
        # The whole copy, replaced: cheaper for MongoDB than a $set of every field.
        return [("copies", ReplaceOne({"_id": data["submission_id"]}, {
            k: data[k] for k in ("form_id", "observer_id", "station_code", "region",
                                 "district", "answers", "flags", "verified", "channel",
                                 "comment", "missing", "serial", "kind")}, upsert=True)),
            *self._master(event)]

    @handles("MasterValueOverridden")
    def overridden(self, event):
        data = event.data
        return [("station_reports", UpdateOne(
            {"_id": f"{data['form_id']}:{data['station_code']}"},
            {"$set": {f"overrides.{data['tag']}": {
                "value": data["value"], "reason": data["reason"],
                "by": data["overridden_by"]}}})), *self._master(event)]

    @moved_station("report")
    def station_moved(self, event, place):
        data = event.data
        counted = data["counted"]
        form_id, code = counted["form_id"], data["station_code"]
        status = _reported(counted["status"])
        return [("station_reports", UpdateOne({"_id": f"{form_id}:{code}"},
                                              {"$set": place})),
                ("copies", UpdateMany({"form_id": form_id, "station_code": code},
                                      {"$set": place})),
                *_carried("form_stats", {f"counts.{status}": 1} if status else {},
                          f"{form_id}:{data['previous_region']}",
                          f"{form_id}:{data['region']}", form_id=form_id,
                          region=data["region"])]

    def _master(self, event):
        data = event.data
        return [("station_reports", UpdateOne(
            {"_id": f"{data['form_id']}:{data['station_code']}"}, {"$set": {
                k: data[k] for k in ("form_id", "station_code", "region", "district",
                                     "master", "conflicts", "station_status")}},
            upsert=True)),
            *_moves("form_stats", f"{data['form_id']}:{data['region']}",
                    _reported(data["status_before"]), _reported(data["station_status"]),
                    form_id=data["form_id"], region=data["region"])]


def _reported(status):
    return None if status == "missing" else status


class Incidents(Projection):
    name = "incidents"
    collections = ("incidents", "incident_stats")

    def indexes(self):
        return {"incidents": [IndexModel([("region", ASCENDING),
                                          ("occurred_at", ASCENDING)]),
                              IndexModel([("station_code", ASCENDING)])],
                "incident_stats": [IndexModel([("region", ASCENDING)])]}

    @handles("IncidentReported")
    def reported(self, event):
        data = event.data
        return [("incidents", UpdateOne({"_id": data["incident_id"]}, {"$setOnInsert": {
            **data, "status": "reported", "history": []}}, upsert=True)),
            *self._count(data, None, "reported")]

    @handles("IncidentStatusChanged")
    def changed(self, event):
        data = event.data
        return [("incidents", UpdateOne({"_id": data["incident_id"]}, {
            "$set": {"status": data["status"]},
            "$push": {"history": {k: data[k] for k in ("status", "by", "reason")}}})),
            *self._count(data, data["previous"], data["status"])]

    @moved_station("incident")
    def station_moved(self, event, place):
        data = event.data
        counted = data["counted"]
        writes = [("incidents", UpdateOne({"_id": event.stream_id.partition(":")[2]},
                                          {"$set": place}))]
        if not counted["verified"]:
            return writes
        kind = counted["category"], counted["severity"]
        return writes + _carried(
            "incident_stats", {f"counts.{counted['status']}": 1},
            ":".join([data["previous_region"], *kind]), ":".join([data["region"], *kind]),
            region=data["region"], category=kind[0], severity=kind[1])

    def _count(self, data, before, after):
        # Unverified senders' incidents are kept, not counted.
        if not data.get("verified", True):
            return []
        key = ":".join([data["region"], data["category"], data["severity"]])
        return _moves("incident_stats", key, before, after, region=data["region"],
                      category=data["category"], severity=data["severity"])


class Turnouts(Projection):
    """Each station's figures, and per region and checkpoint the counted sums."""

    name = "turnout"
    collections = ("turnout", "turnout_curves")

    def indexes(self):
        return {"turnout_curves": [IndexModel([("region", ASCENDING)])]}

    @handles("TurnoutReported")
    def reported(self, event):
        data = event.data
        writes = [("turnout", UpdateOne({"_id": data["station_code"]}, {"$set": {
            "region": data["region"], "district": data["district"],
            f"checkpoints.{data['checkpoint']}": {
                k: data[k]
                for k in ("voters", "share", "flags", "verified", "counted")}}},
            upsert=True))]
        previous = data["previous"] if data["previous"] and data["previous"][
            "counted"] else {"voters": 0, "registered_voters": 0}
        now = data if data["counted"] else {"voters": 0, "registered_voters": 0}
        stations = int(bool(data["counted"])) - int(bool(
            data["previous"] and data["previous"]["counted"]))
        return writes + [("turnout_curves", UpdateOne(
            {"_id": f"{data['region']}:{data['checkpoint']}"}, {
                "$set": {"region": data["region"], "checkpoint": data["checkpoint"]},
                "$inc": {"voters": now["voters"] - previous["voters"],
                         "registered_voters": now["registered_voters"] -
                         previous["registered_voters"], "stations": stations}},
            upsert=True))]

    @moved_station("turnout")
    def station_moved(self, event, place):
        data = event.data
        writes = [("turnout", UpdateOne({"_id": data["station_code"]}, {"$set": place}))]
        for checkpoint, figures in data["counted"]["checkpoints"].items():
            writes += _carried("turnout_curves", {**figures, "stations": 1},
                               f"{data['previous_region']}:{checkpoint}",
                               f"{data['region']}:{checkpoint}", region=data["region"],
                               checkpoint=checkpoint)
        return writes


class Results(Projection):
    """Each station's protocol, and counted votes summed by district, region and
    nation."""

    name = "results"
    collections = ("protocols", "results")

    @handles("ProtocolSubmitted")
    def submitted(self, event):
        data = event.data
        writes = [("protocols", UpdateOne({"_id": data["station_code"]}, {"$set": {
            k: v for k, v in data.items() if k != "previous_counted"}}, upsert=True))]
        inc = {}
        for sign, counted in ((-1, data["previous_counted"]),
                              (1, data if data["counted"] else None)):
            for key, value in _totals(counted).items():
                inc[key] = inc.get(key, 0) + sign * value
        if not inc:
            return writes
        return writes + [("results", UpdateOne({"_id": scope}, {"$inc": inc},
                                               upsert=True))
                         for scope in ("nation", f"region:{data['region']}",
                                       f"district:{data['district']}")]

    @moved_station("protocol")
    def station_moved(self, event, place):
        data = event.data
        writes = [("protocols", UpdateOne({"_id": data["station_code"]},
                                          {"$set": place}))]
        for scope in ("region", "district"):
            writes += _carried("results", _totals(data["counted"]),
                               f"{scope}:{data[f'previous_{scope}']}",
                               f"{scope}:{data[scope]}")
        return writes


def _totals(counted):
    """What a counted protocol adds to its totals (nothing for one not counted)."""
    if not counted:
        return {}
    return {**{f"votes.{candidate}": votes
               for candidate, votes in counted["votes"].items()},
            "invalid_ballots": counted["invalid_ballots"], "stations": 1}


class Reporting:
    """Queries over reporting's read models."""

    def __init__(self, db):
        self.db = db

    def reporters(self, observer_ids, station_codes=()):
        """(the known observers among `observer_ids`, {observer id: the stations they
        are assigned to now}, {code: station} of those stations and `station_codes`),
        in one query: a round of reports reads the directory once, not three times."""
        found = self.db["observers"].aggregate([
            {"$match": {"_id": {"$in": list(observer_ids)}, "region": {"$ne": None}}},
            {"$project": {"_id": 1}},
            {"$lookup": {"from": "assignments", "localField": "_id",
                         "foreignField": "observer_id", "as": "assigned", "pipeline": [
                             {"$match": {"active": True}},
                             {"$project": {"_id": 0, "station_code": 1}}]}},
            {"$lookup": {"from": "stations", "localField": "assigned.station_code",
                         "foreignField": "_id", "as": "stations",
                         "pipeline": [{"$match": {"region": {"$ne": None}}}]}},
            {"$unionWith": {"coll": "stations", "pipeline": [
                {"$match": {"_id": {"$in": list(station_codes)},
                            "region": {"$ne": None}}},
                {"$project": {"_id": 0, "named": "$$ROOT"}}]}}])
        known, assigned, stations = set(), {}, {}
        for doc in found:
            if "named" in doc:
                named = [doc["named"]]
            else:
                known.add(doc["_id"])
                codes = {a["station_code"] for a in doc["assigned"]}
                if codes:
                    assigned[doc["_id"]] = sorted(codes)
                named = doc["stations"]
            stations.update((s["_id"], {"code": s["_id"], **s}) for s in named)
        return known, assigned, stations

    def stations(self, codes):
        return {d["_id"]: {"code": d["_id"], **d} for d in self.db["stations"].find(
            {"_id": {"$in": list(codes)}, "region": {"$ne": None}})}

    def forms(self):
        return list(self.db["forms"].find({}, {"_id": 0}).sort("name", ASCENDING))

    def station_report(self, code):
        """Every form's master copy at the station, with its observers' copies."""
        copies = {}
        for copy in self.db["copies"].find({"station_code": code}):
            copies.setdefault(copy["form_id"], []).append(with_id(copy))
        return [{**doc, "overrides": doc.get("overrides", {}),
                 "copies": copies.get(doc["form_id"], [])}
                for doc in self.db["station_reports"].find({"station_code": code},
                                                           {"_id": 0})]

    def region_stats(self, region=None):
        """Per form: stations complete, partial, in conflict and missing; incidents
        by category and severity; all read from counters the projections keep."""
        scope = {"region": region} if region else {}
        stations = sum(d["stations"] for d in self.db["station_totals"].find(
            {"_id": region} if region else {}))
        forms = {}
        for doc in self.db["form_stats"].find(scope):
            counts = forms.setdefault(doc["form_id"], {"form_id": doc["form_id"],
                                                       "complete": 0, "partial": 0,
                                                       "conflict": 0})
            for status, count in doc["counts"].items():
                counts[status] += count
        for counts in forms.values():
            counts["missing"] = stations - counts["complete"] - counts["partial"] - \
                counts["conflict"]
        incidents = {}
        for doc in self.db["incident_stats"].find(scope):
            key = (doc["category"], doc["severity"])
            entry = incidents.setdefault(key, {"category": key[0], "severity": key[1],
                                               "count": 0})
            entry["count"] += sum(doc["counts"].values())
        return {"region": region, "stations": stations, "forms": list(forms.values()),
                "incidents": sorted(incidents.values(),
                                    key=lambda i: (i["category"], i["severity"]))}

    def missing_reports(self, region, form_id):
        """Observers assigned in the region who have sent no copy of the form."""
        reported = set(self.db["copies"].distinct(
            "observer_id", {"form_id": form_id, "region": region}))
        assigned = self.db["assignments"].find({"region": region, "active": True})
        missing = {}
        for a in assigned:
            if a["observer_id"] not in reported:
                missing.setdefault(a["observer_id"], []).append(a["station_code"])
        return [{"observer_id": o, "station_codes": sorted(codes)}
                for o, codes in sorted(missing.items())]

    def incidents(self, filter):
        """The incidents the filter names, each with the hotline's appeals on its
        station."""
        query = {k: filter[k] for k in ("region", "station_code", "category", "status",
                                        "severity") if filter.get(k)}
        incidents = [with_id(d) for d in self.db["incidents"].find(query).sort(
            "occurred_at", ASCENDING).limit(filter.get("first") or 100)]
        appeals = self.appeals_at({i["station_code"] for i in incidents})
        for incident in incidents:
            incident["appeals"] = appeals.get(incident["station_code"], [])
        return incidents

    def appeals_at(self, station_codes):
        """{station code: its appeals, oldest first}"""
        appeals = {}
        for appeal in self.db["appeals"].find(
                {"station_code": {"$in": list(station_codes)}, "region": {"$ne": None}},
                {"station_code": 1, "category": 1, "status": 1, "opened_at": 1}).sort(
                "opened_at", ASCENDING):
            appeals.setdefault(appeal["station_code"], []).append(with_id(appeal))
        return appeals

    def incidents_of_appeal(self, appeal_id):
        """The incidents on the station of a hotline appeal (none if it names none)."""
        appeal = self.db["appeals"].find_one({"_id": appeal_id}, {"station_code": 1})
        if not appeal or not appeal.get("station_code"):
            return []
        return [with_id(d) for d in self.db["incidents"].find(
            {"station_code": appeal["station_code"]},
            {"history": 0}).sort("occurred_at", ASCENDING).limit(100)]

    def turnout(self, region=None):
        """The counted share per checkpoint in the region (or the nation)."""
        curve = {}
        for doc in self.db["turnout_curves"].find({"region": region} if region else {}):
            point = curve.setdefault(doc["checkpoint"], {
                "checkpoint": doc["checkpoint"], "voters": 0, "registered_voters": 0,
                "stations": 0})
            for k in ("voters", "registered_voters", "stations"):
                point[k] += doc[k]
        for point in curve.values():
            point["share"] = (point["voters"] / point["registered_voters"]
                              if point["registered_voters"] else 0.0)
        return list(curve.values())

    def region_mean_shares(self):
        """{(region, checkpoint): the share of voters its stations reported} where
        enough stations did to draw a curve: a few documents per region, read whole."""
        return {(doc["region"], doc["checkpoint"]): doc["voters"] / doc["registered_voters"]
                for doc in self.db["turnout_curves"].find(
                    {"stations": {"$gte": 3}, "registered_voters": {"$gt": 0}})}

    def results(self, scope):
        doc = self.db["results"].find_one({"_id": scope}) or {}
        return {"scope": scope, "stations": doc.get("stations", 0),
                "votes": doc.get("votes", {}),
                "invalid_ballots": doc.get("invalid_ballots", 0),
                "flagged": self.db["protocols"].count_documents(
                    {"counted": False, **({} if scope == "nation" else {
                        scope.partition(":")[0]: scope.partition(":")[2]})})}

    def sampled_protocols(self, station_codes, region=None):
        query = {"_id": {"$in": station_codes}, "counted": True}
        if region:
            query["region"] = region
        return [p["votes"] for p in self.db["protocols"].find(query, {"votes": 1})]
