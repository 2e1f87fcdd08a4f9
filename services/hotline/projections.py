"""The hotline's read models: what it knows of observers (the registry's observers,
deployment's assignments, through the inbox), and the message log (from its own log)."""
import re
from datetime import datetime, timezone

from pymongo import ASCENDING, DESCENDING, IndexModel, InsertOne, UpdateOne

from shared.projections import Projection, handles, latest, with_id

OBSERVER_FACTS = ("sms_code", "locale", "phones", "region", "district",
                  "organization_id", "full_name")


class Observers(Projection):
    """Observers by SMS code and phone, with their language and assigned station.
    Fed from other services' events in any order, so every write is an upsert that is
    right in any order. Not rebuilt from the hotline's log: it is not among the
    service's `projections`."""

    name = "observers"
    collections = ("observers",)

    def indexes(self):
        return {"observers": [IndexModel([("sms_code", ASCENDING)]),
                              IndexModel([("phones", ASCENDING)]),
                              IndexModel([("region", ASCENDING)])]}

    @handles("ObserverRegistered")
    def registered(self, event):
        return _observer(event, latest(event.version, {
            k: event.data.get(k) for k in OBSERVER_FACTS}))

    @handles("ObserverUpdated")
    def updated(self, event):
        changes = {k: v for k, v in event.data["changes"].items() if k in OBSERVER_FACTS}
        return _observer(event, latest(event.version, changes)) if changes else []

    @handles("ObserverSuspended")
    def suspended(self, event):
        return _observer(event, [{"$set": {"suspended": True}}])

    @handles("ObserverStatusChanged")
    def status_changed(self, event):
        return _observer(event, latest(event.version, {"status": event.data["status"]}))

    @handles("ObserverPhoneVerified")
    def phone_verified(self, event):
        return _observer(event, [{"$set": {"verified_phones": {"$setUnion": [
            {"$ifNull": ["$verified_phones", []]}, [event.data["phone"]]]}}}])

    @handles("ObserverAssigned")
    def assigned(self, event):
        # A withdrawal that came first left its tombstone (None), which wins.
        data = event.data
        return _observer(event, [{"$set": {"assignments": {"$mergeObjects": [
            {data["assignment_id"]: data["station_code"]}, "$assignments"]}}}])

    @handles("AssignmentWithdrawn")
    def withdrawn(self, event):
        return [("observers", UpdateOne(
            {"_id": event.data["observer_id"]},
            {"$set": {f"assignments.{event.data['assignment_id']}": None}}, upsert=True))]


def _observer(event, pipeline):
    return [("observers", UpdateOne({"_id": event.data["observer_id"]}, pipeline,
                                    upsert=True))]


class MessageLog(Projection):
    """Every message in and out, one document each, linked to its observer."""

    name = "message-log"
    collections = ("messages",)

    def indexes(self):
        return {"messages": [IndexModel([("at", DESCENDING)]),
                             IndexModel([("broadcast_id", ASCENDING)], sparse=True),
                             IndexModel([("observer_id", ASCENDING), ("at", DESCENDING)]),
                             IndexModel([("number", ASCENDING), ("at", DESCENDING)]),
                             IndexModel([("status", ASCENDING), ("at", DESCENDING)])]}

    @handles("SmsReceived")
    def received(self, event):
        data = dict(event.data)
        return [("messages", InsertOne({
            "_id": data.pop("message_id"), "direction": "in", "number": data.pop("sender"),
            "at": datetime.fromisoformat(data["logged_at"]), **data}))]

    @handles("SmsReplied")
    def replied(self, event):
        data = event.data
        return [("messages", InsertOne({
            "_id": f"{data['message_id']}:reply", "direction": "out",
            "number": data["to"], "at": datetime.fromisoformat(data["sent_at"]),
            "reply_to": data["message_id"], "text": data["text"], "status": data["status"],
            "observer_id": data["observer_id"]}))]


    @handles("BroadcastSent")
    def broadcast(self, event):
        data = event.data
        at = datetime.fromisoformat(data["sent_at"])
        return [("messages", InsertOne({
            "_id": f"{data['broadcast_id']}:{r['observer_id']}", "direction": "out",
            "number": r["number"], "at": at, "text": data["text"], "status": "broadcast",
            "observer_id": r["observer_id"], "broadcast_id": data["broadcast_id"]}))
            for r in data["recipients"]]


class Appeals(Projection):
    """One document per appeal with its workflow and timestamps; the FAQ."""

    name = "appeals"
    collections = ("appeals", "faq")

    def indexes(self):
        return {"appeals": [IndexModel([("opened_at", DESCENDING)]),
                            IndexModel([("region", ASCENDING), ("opened_at", DESCENDING)]),
                            IndexModel([("status", ASCENDING), ("due_at", ASCENDING)]),
                            IndexModel([("category", ASCENDING),
                                        ("opened_at", DESCENDING)])]}

    @handles("AppealOpened")
    def opened(self, event):
        data = dict(event.data)
        return [("appeals", InsertOne({
            **data, "_id": data.pop("appeal_id"), "status": "new", "assignee": None,
            "opened_at": _moment(data["opened_at"]), "due_at": _moment(data["due_at"]),
            "overdue": False, "comments": [], "escalation": None, "answer": None,
            "history": [{"status": "new", "at": data["opened_at"]}]}))]

    @handles("AppealAssigned")
    def assigned(self, event):
        return _step(event, {"assignee": event.data["assignee"]}, "in_progress",
                     only_from="new")

    @handles("AppealEscalated")
    def escalated(self, event):
        data = event.data
        return _step(event, {"escalation": {k: data[k] for k in ("group", "reason", "at")}},
                     "escalated")

    @handles("AppealAnswered")
    def answered(self, event):
        data = event.data
        return _step(event, {"answer": data["answer"], "faq_id": data["faq_id"],
                             "answered_at": _moment(data["at"])}, "answered")

    @handles("AppealClosed")
    def closed(self, event):
        return _step(event, {"closed_at": _moment(event.data["at"])}, "closed")

    @handles("AppealCommented")
    def commented(self, event):
        data = event.data
        return [("appeals", UpdateOne({"_id": data["appeal_id"]}, {"$push": {"comments": {
            k: data[k] for k in ("author", "text", "at")}}}))]

    @handles("AppealOverdue")
    def overdue(self, event):
        return [("appeals", UpdateOne({"_id": event.data["appeal_id"]},
                                      {"$set": {"overdue": True}}))]

    @handles("FaqDefined")
    def faq(self, event):
        data = dict(event.data)
        return [("faq", UpdateOne({"_id": data.pop("faq_id")}, {"$set": data},
                                  upsert=True))]


def _step(event, fields, status, only_from=None):
    """The appeal's new status, when it was reached, and the facts of the step."""
    at, appeal = event.data["at"], {"_id": event.data["appeal_id"]}
    history = {"history": {"status": status, "at": at}}
    if not only_from:
        return [("appeals", UpdateOne(appeal, {"$set": {**fields, "status": status},
                                               "$push": history}))]
    # Only a move from `only_from` changes the status; the facts are kept either way.
    return [("appeals", UpdateOne(appeal, {"$set": fields, "$push": history})),
            ("appeals", UpdateOne({**appeal, "status": only_from},
                                  {"$set": {"status": status}}))]


def _moment(text):
    return datetime.fromisoformat(text)


APPEAL_FILTERS = ("region", "district", "status", "category", "channel", "assignee",
                  "faq_id")


class AppealQueries:
    """The appeals desk's queries (mixed into Hotline)."""

    def appeals(self, filter):
        """Newest first; `overdue` only the flagged ones; `text` in the description."""
        query = {k: filter[k] for k in APPEAL_FILTERS if filter.get(k)}
        if filter.get("overdue") is not None:
            query["overdue"] = filter["overdue"]
        if filter.get("text"):
            query["description"] = {"$regex": re.escape(filter["text"]), "$options": "i"}
        return [_appeal(a) for a in self.db["appeals"].find(
            query, sort=[("opened_at", DESCENDING), ("_id", DESCENDING)],
            limit=filter.get("first") or 50)]

    def appeal(self, appeal_id):
        doc = self.db["appeals"].find_one({"_id": appeal_id})
        return _appeal(doc) if doc else None

    def faq(self):
        return [with_id(f) for f in self.db["faq"].find(sort=[("question", ASCENDING)])]

    def past_due(self, now, limit=1000):
        return [d["_id"] for d in self.db["appeals"].find(
            {"status": {"$in": ["new", "in_progress", "escalated"]}, "overdue": False,
             "due_at": {"$lte": now}}, {"_id": 1}, limit=limit)]

    def stats(self, region=None, start=None, end=None):
        """What networks publish: appeals per day and hour, region and category, the
        average handling time (opened to answered), overdue and the top questions."""
        match = {}
        if region:
            match["region"] = region
        if start or end:
            match["opened_at"] = {k: v for k, v in (("$gte", start), ("$lt", end)) if v}

        def count(key):
            return [{"$group": {"_id": key, "count": {"$sum": 1}}},
                    {"$sort": {"_id": ASCENDING}}]
        [facets] = self.db["appeals"].aggregate([{"$match": match}, {"$facet": {
            "total": [{"$count": "n"}],
            "days": count({"$dateToString": {"format": "%Y-%m-%d", "date": "$opened_at"}}),
            "hours": count({"$hour": "$opened_at"}),
            "regions": count("$region"),
            "categories": count("$category"),
            "statuses": count("$status"),
            "overdue": [{"$match": {"overdue": True}}, {"$count": "n"}],
            "handling": [{"$match": {"answered_at": {"$ne": None}}}, {"$group": {
                "_id": None, "ms": {"$avg": {"$subtract": ["$answered_at",
                                                           "$opened_at"]}}}}],
            "questions": [{"$match": {"faq_id": {"$ne": None}}},
                          {"$group": {"_id": "$faq_id", "count": {"$sum": 1}}},
                          {"$sort": {"count": DESCENDING, "_id": ASCENDING}},
                          {"$limit": 10}]}}])
        questions = {f["_id"]: f["question"] for f in self.db["faq"].find(
            {"_id": {"$in": [q["_id"] for q in facets["questions"]]}})}
        handling = facets["handling"]
        return {
            "total": facets["total"][0]["n"] if facets["total"] else 0,
            "per_day": _counts(facets["days"], "day"),
            "per_hour": _counts(facets["hours"], "hour"),
            "per_region": _counts(facets["regions"], "region"),
            "per_category": _counts(facets["categories"], "category"),
            "per_status": _counts(facets["statuses"], "status"),
            "overdue": facets["overdue"][0]["n"] if facets["overdue"] else 0,
            "average_handling_hours": handling[0]["ms"] / 3_600_000 if handling else None,
            "top_questions": [{"faq_id": q["_id"], "question": questions.get(q["_id"]),
                               "count": q["count"]} for q in facets["questions"]]}


class Hotline(AppealQueries):
    """Queries over the hotline's read models."""

    def __init__(self, db):
        self.db = db

    def observers_by_code(self, sms_codes):
        """{sms code: observer} of the codes that name an observer with a phone."""
        return {doc["sms_code"]: _observer_view(doc) for doc in self.db["observers"].find(
            {"sms_code": {"$in": list(sms_codes)}, "phones": {"$ne": None}})}

    def observer_by_phone(self, number):
        doc = self.db["observers"].find_one({"phones": number})
        return _observer_view(doc) if doc else None

    def recipients(self, filter):
        """[{"observer_id", "number"}] of the observers `filter` selects (region,
        organization_id, status, assigned), not suspended, with a phone; a verified
        phone first."""
        query = {k: filter[k] for k in ("region", "organization_id", "status")
                 if filter.get(k)}
        query.update({"suspended": {"$ne": True}, "phones.0": {"$exists": True}})
        if filter.get("assigned") is not None:
            stations = {"$filter": {"input": {"$objectToArray": {
                "$ifNull": ["$assignments", {}]}}, "cond": {"$ne": ["$$this.v", None]}}}
            query["$expr"] = {("$gt" if filter["assigned"] else "$eq"): [
                {"$size": stations}, 0]}
        return [{"observer_id": o["_id"], "number": next(
            (p for p in o["phones"] if p in (o.get("verified_phones") or [])),
            o["phones"][0])} for o in self.db["observers"].find(
                query, {"phones": 1, "verified_phones": 1}, sort=[("_id", ASCENDING)])]

    def messages(self, filter):
        """Newest first; `text` matches anywhere, case-insensitive."""
        query = {k: filter[k] for k in ("observer_id", "number", "status", "direction")
                 if filter.get(k)}
        if filter.get("text"):
            query["text"] = {"$regex": re.escape(filter["text"]), "$options": "i"}
        return [_message(m) for m in self.db["messages"].find(
            query, sort=[("at", DESCENDING), ("_id", DESCENDING)],
            limit=filter.get("first") or 50)]


def _observer_view(doc):
    stations = [s for s in (doc.get("assignments") or {}).values() if s]
    return {**with_id(doc), "station_code": stations[0] if stations else None,
            "suspended": doc.get("suspended", False)}


def _message(doc):
    doc = with_id(doc)
    doc["at"] = _utc(doc["at"])
    return doc


def _counts(rows, key):
    return [{key: row["_id"], "count": row["count"]} for row in rows]


def _appeal(doc):
    doc = with_id(doc)
    for name in ("opened_at", "due_at", "answered_at", "closed_at"):
        if doc.get(name) is not None:
            doc[name] = _utc(doc[name])
    return doc


def _utc(moment):
    return moment.replace(tzinfo=timezone.utc).isoformat()
