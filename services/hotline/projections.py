"""The hotline's read models: what it knows of observers (the registry's observers,
deployment's assignments, through the inbox), and the message log (from its own log)."""
import re
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, IndexModel, InsertOne, UpdateOne

from shared.projections import Projection, handles, latest, with_id

OBSERVER_FACTS = ("sms_code", "locale", "phones", "region", "district",
                  "organization_id", "full_name")


class Observers(Projection):
    """Observers by SMS code and phone, with their language and assigned station.
    Fed from other services' events in any order, so every write is an upsert that is
    right in any order; no `name`: it cannot be rebuilt from the hotline's log."""

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


class Hotline:
    """Queries over the hotline's read models."""

    def __init__(self, db):
        self.db = db

    def observer_by_code(self, sms_code):
        doc = self.db["observers"].find_one({"sms_code": sms_code})
        return _observer_view(doc) if doc and doc.get("phones") is not None else None

    def observer_by_phone(self, number):
        doc = self.db["observers"].find_one({"phones": number})
        return _observer_view(doc) if doc else None

    def messages(self, filter):
        """Newest first; `text` matches anywhere, case-insensitive."""
        query = {k: filter[k] for k in ("observer_id", "number", "status", "direction")
                 if filter.get(k)}
        if filter.get("text"):
            query["text"] = {"$regex": re.escape(filter["text"]), "$options": "i"}
        if filter.get("before"):
            query["at"] = {"$lt": filter["before"]}
        return [_message(m) for m in self.db["messages"].find(
            query, sort=[("at", DESCENDING), ("_id", DESCENDING)],
            limit=filter.get("first") or 50)]


def _observer_view(doc):
    stations = [s for s in (doc.get("assignments") or {}).values() if s]
    return {**with_id(doc), "station_code": stations[0] if stations else None,
            "suspended": doc.get("suspended", False)}


def _message(doc):
    doc = with_id(doc)
    doc["at"] = doc["at"].isoformat()
    return doc
