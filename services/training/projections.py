"""Training's read models: what it knows of the registry's observers (from
registry.events, through an Inbox), its catalogue of courses, sessions and programmes,
and each observer's enrollments and certifications (from its own log)."""
from datetime import datetime, timezone

from pymongo import ASCENDING, IndexModel, UpdateMany, UpdateOne

from services.training.domain import moment
from shared.projections import Projection, handles, latest, with_id


class RegistryObservers(Projection):
    """Observers and organizations as the registry announced them: enough to enroll
    (region, organization, suspended) and to count by region and organization."""

    name = "registry-observers"
    collections = ("observers", "organizations")

    @handles("ObserverRegistered")
    def registered(self, event):
        return _observer(event, event.data)

    @handles("ObserverUpdated")
    def updated(self, event):
        return _observer(event, event.data["changes"])

    @handles("ObserverSuspended")
    def suspended(self, event):
        # Suspension is final, so it may land before the registration does.
        return [("observers", UpdateOne({"_id": event.data["observer_id"]},
                                        {"$set": {"suspended": True}}, upsert=True))]

    @handles("OrganizationRegistered")
    def organization(self, event):
        data = event.data
        return [("organizations", UpdateOne({"_id": data["organization_id"]}, {
            "$setOnInsert": {"name": data["name"], "region": data.get("region")}},
            upsert=True))]


OBSERVER_FACTS = ("full_name", "region", "district", "organization_id")


def _observer(event, data):
    """Sets each fact training keeps unless a later event of the observer set it
    already: the broker may hand over a registration and its updates in any order."""
    facts = {k: data.get(k) for k in OBSERVER_FACTS if k in data}
    if not facts:
        return []
    return [("observers", UpdateOne({"_id": event.data["observer_id"]},
                                    latest(event.version, facts), upsert=True))]


class Catalogue(Projection):
    """Courses, sessions (with seats taken and waiting) and programmes."""

    name = "catalogue"
    collections = ("courses", "sessions", "programmes")

    def indexes(self):
        return {"sessions": [IndexModel([("region", ASCENDING), ("starts_at", ASCENDING)]),
                             IndexModel([("trainer", ASCENDING), ("starts_at", ASCENDING)]),
                             IndexModel([("starts_at", ASCENDING)])]}

    @handles("CourseDefined")
    def course(self, event):
        return [("courses", UpdateOne({"_id": event.data["course_id"]},
                                      {"$setOnInsert": event.data}, upsert=True))]

    @handles("SessionScheduled")
    def session(self, event):
        data = event.data
        return [("sessions", UpdateOne({"_id": data["session_id"]}, {"$setOnInsert": {
            **data, "starts_at": moment(data["starts_at"]),
            "ends_at": moment(data["ends_at"]), "seated": 0, "waiting": 0}},
            upsert=True))]

    @handles("ObserverEnrolled")
    def enrolled(self, event):
        return _seats(event, **{"waiting" if event.data["waitlisted"] else "seated": 1})

    @handles("EnrollmentWithdrawn")
    def withdrawn(self, event):
        return _seats(event, **{"waiting" if event.data["waitlisted"] else "seated": -1})

    @handles("EnrollmentConfirmed")
    def confirmed(self, event):
        return _seats(event, waiting=-1, seated=1)

    @handles("ProgrammeDefined")
    def programme(self, event):
        return [("programmes", UpdateOne({"_id": event.data["programme_id"]},
                                         {"$setOnInsert": {**event.data, "mentors": {}}},
                                         upsert=True))]

    @handles("MentorAssigned")
    def mentor(self, event):
        data = event.data
        return [("programmes", UpdateOne(
            {"_id": data["programme_id"]},
            {"$set": {f"mentors.{data['organization_id']}": data["mentor"]}}))]


def _seats(event, **moves):
    return [("sessions", UpdateOne({"_id": event.data["session_id"]}, {"$inc": moves}))]


class Records(Projection):
    """One document per enrollment (with its attendance, score and certificate), and
    one per certification."""

    name = "records"
    collections = ("enrollments", "certifications")

    def indexes(self):
        return {
            "enrollments": [
                IndexModel([("session_id", ASCENDING), ("observer_id", ASCENDING)]),
                IndexModel([("observer_id", ASCENDING)]),
                IndexModel([("region", ASCENDING), ("organization_id", ASCENDING)]),
                IndexModel([("organization_id", ASCENDING), ("course_id", ASCENDING)]),
                IndexModel([("certification_id", ASCENDING)], sparse=True),
            ],
            "certifications": [
                IndexModel([("observer_id", ASCENDING), ("course_id", ASCENDING)]),
                IndexModel([("status", ASCENDING), ("expires_at", ASCENDING)]),
            ],
        }

    @handles("ObserverEnrolled")
    def enrolled(self, event):
        data = event.data
        return [("enrollments", UpdateOne({"_id": data["enrollment_id"]}, {"$setOnInsert": {
            **{k: data[k] for k in ("session_id", "course_id", "observer_id", "region",
                                    "organization_id")},
            "status": "waitlisted" if data["waitlisted"] else "enrolled",
            "attended": [], "score": None, "certification_id": None, "certified": False,
            "enrolled_at": event.metadata["occurred_at"]}}, upsert=True))]

    @handles("EnrollmentWithdrawn")
    def withdrawn(self, event):
        return [("enrollments", UpdateOne({"_id": event.data["enrollment_id"]},
                                          {"$set": {"status": "withdrawn"}}))]

    @handles("EnrollmentConfirmed")
    def confirmed(self, event):
        return [("enrollments", UpdateOne({"_id": event.data["enrollment_id"]},
                                          {"$set": {"status": "enrolled"}}))]

    @handles("AttendanceRecorded")
    def attended(self, event):
        data = event.data
        return [("enrollments", UpdateMany(
            {"session_id": data["session_id"], "observer_id": {"$in": data["observer_ids"]},
             "status": "enrolled"},
            {"$addToSet": {"attended": data["module"]}}))]

    @handles("AssessmentRecorded")
    def assessed(self, event):
        return _enrollment(event, score=event.data["score"])

    @handles("ObserverCertified")
    def certified(self, event):
        data = event.data
        return _enrollment(event, certification_id=data["certification_id"],
                           certified=True) + [
            ("certifications", UpdateOne({"_id": data["certification_id"]}, {
                "$setOnInsert": {
                    **{k: data[k] for k in ("observer_id", "course_id", "session_id",
                                            "roles")},
                    "certified_at": moment(data["certified_at"]),
                    "expires_at": moment(data["expires_at"]),
                    "status": "valid"}}, upsert=True))]

    @handles("CertificationRevoked")
    def revoked(self, event):
        return _ended(event, "revoked", reason=event.data["reason"])

    @handles("CertificationExpired")
    def expired(self, event):
        return _ended(event, "expired")


def _enrollment(event, **fields):
    data = event.data
    return [("enrollments", UpdateOne(
        {"session_id": data["session_id"], "observer_id": data["observer_id"],
         "status": "enrolled"}, {"$set": fields}))]


def _ended(event, status, **fields):
    certification_id = event.data["certification_id"]
    return [("certifications", UpdateOne({"_id": certification_id},
                                         {"$set": {"status": status, **fields}})),
            ("enrollments", UpdateOne({"certification_id": certification_id},
                                      {"$set": {"certified": False}}))]



class Training:
    """Queries over training's read models."""

    def __init__(self, db):
        self.db = db

    def observer(self, observer_id):
        """Training's view of a registered observer, or None."""
        return self.observers([observer_id]).get(observer_id)

    def observers(self, ids):
        """Training's view of those of `ids` registered, by id."""
        return {d["_id"]: d for d in self.db["observers"].find({"_id": {"$in": list(ids)}})
                if d.get("region")}

    def certified(self, ids, course_id, now):
        """Those of the observers `ids` who hold a valid certificate of the course."""
        return {d["observer_id"] for d in self.db["certifications"].find({
            "observer_id": {"$in": list(ids)}, "course_id": course_id, "status": "valid",
            "expires_at": {"$gt": now}}, {"observer_id": 1})}

    def certification(self, certification_id):
        return self.db["certifications"].find_one({"_id": certification_id})

    def expiring(self, now, limit=1000):
        """Certifications past their expiry not yet recorded as expired."""
        return list(self.db["certifications"].find(
            {"status": "valid", "expires_at": {"$lte": now}},
            {"session_id": 1}, limit=limit))

    def organizations(self, ids):
        """Those of `ids` the registry announced."""
        return {d["_id"] for d in self.db["organizations"].find(
            {"_id": {"$in": list(ids)}}, {"_id": 1})}

    def courses(self):
        return list(self.db["courses"].find({}, {"_id": 0}, sort=[("title", ASCENDING)]))

    def sessions(self, filter, now=None):
        """Sessions in start order; `upcoming` only those still to start, `free_seats`
        only those with a seat left."""
        query = {k: filter[k] for k in ("region", "course_id", "trainer", "format")
                 if filter.get(k)}
        if filter.get("upcoming"):
            query["starts_at"] = {"$gt": now or datetime.now(timezone.utc)}
        if filter.get("free_seats"):
            query["$expr"] = {"$lt": ["$seated", "$capacity"]}
        return [_session(s) for s in self.db["sessions"].find(
            query, sort=[("starts_at", ASCENDING), ("_id", ASCENDING)],
            limit=filter.get("first", 50))]

    def session(self, session_id):
        doc = self.db["sessions"].find_one({"_id": session_id})
        return _session(doc) if doc else None

    def roster(self, session_id):
        """Who holds a seat or waits in a session, in the order they enrolled, with
        their names as the registry gave them."""
        enrollments = list(self.db["enrollments"].find(
            {"session_id": session_id, "status": {"$in": ["enrolled", "waitlisted"]}},
            sort=[("enrolled_at", ASCENDING), ("_id", ASCENDING)]))
        names = {o["_id"]: o.get("full_name") for o in self.db["observers"].find(
            {"_id": {"$in": [e["observer_id"] for e in enrollments]}}, {"full_name": 1})}
        return [{**with_id(e), "full_name": names.get(e["observer_id"])}
                for e in enrollments]

    def observer_training(self, observer_id):
        enrollments = list(self.db["enrollments"].find(
            {"observer_id": observer_id}, sort=[("enrolled_at", ASCENDING)]))
        sessions = {s["session_id"]: s for s in map(_session, self.db["sessions"].find(
            {"_id": {"$in": [e["session_id"] for e in enrollments]}}))}
        certifications = [with_id(c) for c in self.db["certifications"].find(
            {"observer_id": observer_id}, sort=[("certified_at", ASCENDING)])]
        for e in enrollments:
            e["session"] = sessions.get(e["session_id"])
        return {"observer_id": observer_id,
                "enrollments": [with_id(e) for e in enrollments],
                "certifications": [_iso(c, "certified_at", "expires_at")
                                   for c in certifications]}

    def stats(self, region=None, now=None):
        """Per region and per organization: enrolled (holding a seat or done),
        attended (at least one module), assessed, certified, and the certification
        rate; upcoming sessions with free seats."""
        match = {"status": "enrolled"}
        if region:
            match["region"] = region

        def group(key):
            rows = self.db["enrollments"].aggregate([
                {"$match": match},
                {"$group": {"_id": f"${key}",
                            "enrolled": {"$sum": 1},
                            "attended": {"$sum": {"$cond": [
                                {"$gt": [{"$size": "$attended"}, 0]}, 1, 0]}},
                            "assessed": {"$sum": {"$cond": [
                                {"$ne": ["$score", None]}, 1, 0]}},
                            "certified": {"$sum": {"$cond": ["$certified", 1, 0]}}}},
                {"$sort": {"_id": ASCENDING}}])
            return [{key: row.pop("_id"), **row,
                     "rate": row["certified"] / row["enrolled"]} for row in rows]

        upcoming = self.sessions({"region": region, "upcoming": True, "free_seats": True},
                                 now)
        return {"regions": group("region"), "organizations": group("organization_id"),
                "upcoming_sessions": upcoming}

    def programmes(self):
        return [with_id(p) for p in self.db["programmes"].find(sort=[("name", ASCENDING)])]

    def programme_progress(self, programme):
        """Per organization of the programme: members enrolled and certified in each
        of its courses."""
        rows = self.db["enrollments"].aggregate([
            {"$match": {"organization_id": {"$in": programme["organization_ids"]},
                        "course_id": {"$in": programme["course_ids"]},
                        "status": "enrolled"}},
            {"$group": {"_id": {"organization_id": "$organization_id",
                                "course_id": "$course_id"},
                        "enrolled": {"$sum": 1},
                        "certified": {"$sum": {"$cond": ["$certified", 1, 0]}}}}])
        found = {(r["_id"]["organization_id"], r["_id"]["course_id"]): r for r in rows}
        progress = []
        for organization_id in programme["organization_ids"]:
            courses = []
            for course_id in programme["course_ids"]:
                row = found.get((organization_id, course_id), {})
                courses.append({"course_id": course_id,
                                "enrolled": row.get("enrolled", 0),
                                "certified": row.get("certified", 0)})
            progress.append({"organization_id": organization_id,
                             "mentor": programme["mentors"].get(organization_id),
                             "courses": courses})
        return progress


def _iso(doc, *names):
    for name in names:
        if doc.get(name) is not None:
            doc[name] = doc[name].replace(tzinfo=timezone.utc).isoformat()
    return doc


def _session(doc):
    return _iso(with_id(doc), "starts_at", "ends_at")
