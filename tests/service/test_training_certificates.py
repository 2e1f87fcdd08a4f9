"""Certificates over time, through training's command handlers and read models on the
real mongod: expiry, re-training after it, and observers heard of once."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from services.training import commands
from services.training.projections import Catalogue, Records, RegistryObservers, Training
from shared.errors import Rejected
from shared.eventstore import RecordedEvent
from shared.projections import Inbox, ProjectionRunner
from shared.runtime import BoundEventLog

NOW = datetime.now(timezone.utc).replace(microsecond=0)
START = NOW + timedelta(days=1)
SCOPE = {"within_region": None, "trainer_scope": None}


def registry_event(type, version, **data):
    return RecordedEvent(id=str(uuid.uuid4()), stream_id=data["observer_id"],
                         version=version, position=version, type=type, schema_version=1,
                         data=data)


def registered(observer_id):
    return registry_event(
        "ObserverRegistered", 1, observer_id=observer_id, full_name="Aida Bekova",
        phones=[{"number": "+996555123456", "verified": False}], region="KG-C",
        locale="ky", organization_id=None, district="C-01")


def test_observers_are_known_whatever_order_their_events_come_in(db):
    inbox = Inbox(db, "training")
    events = [
        registry_event("ObserverUpdated", 3, observer_id="o-1",
                       changes={"district": "C-02", "phones": ["+996700000001"]},
                       previous={"district": "C-03", "phones": ["+996555123456"]}),
        registry_event("ObserverUpdated", 2, observer_id="o-1",
                       changes={"district": "C-03", "full_name": "Aida Beк"},
                       previous={"district": "C-01", "full_name": "Aida Bekova"}),
        registered("o-1"),
        registry_event("ObserverUpdated", 4, observer_id="o-1", changes={"locale": "ru"},
                       previous={"locale": "ky"}),
    ]
    for event in events:
        assert inbox.apply_projection(RegistryObservers(), event)
    observer = Training(db).observer("o-1")
    assert {k: observer[k] for k in ("full_name", "region", "district",
                                     "organization_id")} == {
        "full_name": "Aida Beк", "region": "KG-C", "district": "C-02",
        "organization_id": None}
    assert "phones" not in observer


class Harness:
    """Training's command handlers over a store, with its projections run on demand."""

    def __init__(self, store, db):
        self.log = BoundEventLog(store, {"actor": "test"})
        self.read = Training(db)
        self.runners = [ProjectionRunner(store, p()) for p in (Catalogue, Records)]
        for runner in self.runners:
            runner.setup()

    def caught_up(self):
        for runner in self.runners:
            runner.run_until_caught_up()
        return self.read

    def session(self, course_id, starts):
        return commands.schedule_session(self.log, {
            "course_id": course_id, "format": "in_person", "place": "School 1",
            "region": "KG-C", "starts_at": starts, "ends_at": starts + timedelta(hours=6),
            "trainer": "trainer:aida", "capacity": 10}).key

    def enroll(self, session_id, now):
        return commands.enroll_observer(self.log, self.caught_up(), {
            "session_id": session_id, "observer_id": "o-1", **SCOPE}, now)


def test_a_certificate_expires_and_the_observer_may_train_again(store, db):
    inbox = Inbox(db, "training")
    event = registered("o-1")
    assert [inbox.apply_projection(RegistryObservers(), event) for _ in range(2)] == [
        True, False]
    training = Harness(store, db)
    course_id = commands.define_course(training.log, {
        "title": "Short-term observers", "pass_mark": 70, "max_score": 100,
        "validity_days": 1, "roles": ["short_term"],
        "modules": [{"code": "rights", "title": "Rights", "required": True}]}).key
    first = training.session(course_id, START)
    assert training.enroll(first, NOW)["waitlisted"] is False
    commands.record_attendance(training.log, {"session_id": first, "module": "rights",
                                              "observer_ids": ["o-1"], **SCOPE})
    finished = START + timedelta(hours=6)
    assert commands.record_assessment(training.log, {
        "session_id": first, "scores": [{"observer_id": "o-1", "score": 80}], **SCOPE},
        finished)["certified"] == ["o-1"]

    # Still valid the next morning: no second course for them yet.
    second = training.session(course_id, START + timedelta(days=3))
    with pytest.raises(Rejected) as refused:
        training.enroll(second, finished + timedelta(hours=12))
    assert [p.code for p in refused.value.problems] == ["ALREADY_CERTIFIED"]

    assert commands.expire_certifications(training.log, training.caught_up(),
                                          finished + timedelta(hours=12)) == 0
    expired_at = finished + timedelta(days=1, seconds=1)
    assert commands.expire_certifications(training.log, training.caught_up(),
                                          expired_at) == 1
    assert commands.expire_certifications(training.log, training.caught_up(),
                                          expired_at) == 0
    [certificate] = training.caught_up().observer_training("o-1")["certifications"]
    assert certificate["status"] == "expired"
    assert training.enroll(second, expired_at)["waitlisted"] is False
    assert [e.type for e in store.read_all(0, limit=100)].count("CertificationExpired") == 1

    # Read models rebuilt from the log equal the live ones.
    training.caught_up()
    live = snapshot(db)
    for runner in training.runners:
        runner.rebuild()
    assert snapshot(db) == live


def snapshot(db):
    return {name: sorted(db[name].find(), key=lambda d: d["_id"])
            for name in (*Catalogue.collections, *Records.collections)}
