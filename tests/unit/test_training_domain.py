"""Training's rules, without any I/O."""
from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from services.training.domain import (BookingReleased, Course, EnrollmentConfirmed,
                                      EnrollmentWithdrawn, ObserverCertified, Programme,
                                      Session, SessionBooked, Trainee)
from shared.aggregate import event_data, event_type
from shared.errors import Rejected

NOW = datetime(2026, 5, 1, 9, tzinfo=timezone.utc)
MODULES = [{"code": "rights", "title": "Rights and duties", "required": True},
           {"code": "procedure", "title": "Election-day procedure", "required": True},
           {"code": "security", "title": "Information security", "required": False}]
OBSERVER = {"region": "KG-C", "organization_id": "org-1"}


def codes(refused):
    return [(p.code, p.field) for p in refused.value.problems]


def course(**changes):
    c = Course(Course.stream("c-1"))
    c.define(**{"title": "Short-term observers", "modules": MODULES, "pass_mark": 70,
                "max_score": 100, "validity_days": 180, "roles": ["short_term"],
                **changes})
    return c


def settled(aggregate):
    """The aggregate as loaded from its stream: what it recorded is history now."""
    past = getattr(aggregate, "past", []) + aggregate.pending
    loaded = type(aggregate).replay(aggregate.id, [(event_type(e), event_data(e))
                                                   for e in past])
    loaded.past = past
    return loaded


def session(key="s-1", capacity=2, starts=NOW + timedelta(days=1), hours=6):
    s = Session(Session.stream(key))
    s.schedule(course(), "online", "KG-C", starts, starts + timedelta(hours=hours),
               "trainer:t-1", capacity, link="https://meet.example.org/x")
    return settled(s)


def enroll(s, *observer_ids, **options):
    for observer_id in observer_ids:
        s.enroll(f"e-{observer_id}", observer_id, OBSERVER, NOW, **options)
    return s


def test_a_course_needs_a_pass_mark_on_its_scale_and_distinct_modules():
    with pytest.raises(Rejected) as refused:
        course(pass_mark=120, modules=MODULES + [MODULES[0]])
    assert codes(refused) == [("DUPLICATE_MODULE", "modules.3.code"),
                              ("PASS_MARK_ABOVE_SCALE", "pass_mark")]


def test_a_session_must_end_after_it_starts_and_say_where():
    s = Session(Session.stream("s-1"))
    with pytest.raises(Rejected) as refused:
        s.schedule(course(), "online", "KG-C", NOW, NOW, "t", 10)
    assert codes(refused) == [("ENDS_BEFORE_START", "ends_at"), ("LINK_REQUIRED", "link")]
    with pytest.raises(Rejected) as refused:
        s.schedule(Course(Course.stream("none")), "in_person", "KG-C", NOW,
                   NOW + timedelta(hours=1), "t", 10)
    assert codes(refused) == [("UNKNOWN_COURSE", "course_id"), ("PLACE_REQUIRED", "place")]
    assert not s.pending


def test_a_full_session_wait_lists_and_a_withdrawal_moves_the_first_up():
    s = enroll(session(capacity=2), "a", "b", "c", "d")
    assert [e.waitlisted for e in s.pending] == [False, False, True, True]
    s = settled(s)
    s.withdraw("b")
    assert [type(e) for e in s.pending] == [EnrollmentWithdrawn, EnrollmentConfirmed]
    assert s.pending[1].observer_id == "c"
    assert list(s.seated) == ["a", "c"] and list(s.waiting) == ["d"]
    s.withdraw("d")  # leaving the waiting list frees no seat
    assert len(s.pending) == 3 and list(s.seated) == ["a", "c"]


def test_who_may_not_enroll():
    s = enroll(session(), "a")
    cases = [
        (dict(observer_id="x", observer=None), "UNKNOWN_OBSERVER"),
        (dict(observer_id="x", observer={**OBSERVER, "suspended": True}),
         "OBSERVER_SUSPENDED"),
        (dict(observer_id="a", observer=OBSERVER), "ALREADY_ENROLLED"),
        (dict(observer_id="x", observer=OBSERVER, certified=True), "ALREADY_CERTIFIED"),
        (dict(observer_id="x", observer=OBSERVER, now=NOW + timedelta(days=3)),
         "SESSION_OVER"),
    ]
    for options, code in cases:
        options = {"now": NOW, **options}
        with pytest.raises(Rejected) as refused:
            s.enroll("e-x", **options)
        assert codes(refused) == [(code, "observer_id" if code != "SESSION_OVER"
                                   else "session_id")]
    assert len(s.pending) == 1


def test_an_observer_is_not_in_two_sessions_at_once():
    trainee = Trainee(Trainee.stream("a"))
    trainee.book(session("s-1"))
    trainee = settled(trainee)
    overlapping = session("s-2", starts=NOW + timedelta(days=1, hours=5))
    with pytest.raises(Rejected) as refused:
        trainee.book(overlapping)
    assert codes(refused) == [("OVERLAPPING_SESSION", "observer_id")]
    assert "s-1" in refused.value.problems[0].message
    trainee.book(session("s-1"))  # booked already: nothing new
    trainee.book(session("s-3", starts=NOW + timedelta(days=1, hours=-6)))  # adjacent
    assert [e.session_id for e in trainee.pending] == ["s-3"]
    trainee.release("s-1")
    trainee.book(overlapping)
    assert [type(e) for e in trainee.pending] == [SessionBooked, BookingReleased,
                                                  SessionBooked]


def test_attendance_only_for_those_seated_and_only_once():
    s = settled(enroll(session(capacity=1), "a", "b"))
    with pytest.raises(Rejected) as refused:
        s.record_attendance("rights", ["a", "b", "nobody"])
    assert codes(refused) == [("NOT_ENROLLED", "observer_ids.1"),
                              ("NOT_ENROLLED", "observer_ids.2")]
    with pytest.raises(Rejected) as refused:
        s.record_attendance("cooking", ["a"])
    assert codes(refused) == [("UNKNOWN_MODULE", "module")]
    s.record_attendance("rights", ["a", "a"])
    s.record_attendance("rights", ["a"])
    assert [e.observer_ids for e in s.pending] == [["a"]]


def assessed(s, scores):
    ids = count(1)
    s.record_assessments(scores, NOW, lambda: f"cert-{next(ids)}")
    return [e for e in s.pending if isinstance(e, ObserverCertified)]


def test_certified_when_required_modules_attended_and_the_pass_mark_reached():
    s = enroll(session(capacity=3), "a", "b", "c")
    s.record_attendance("rights", ["a", "b", "c"])
    s.record_attendance("procedure", ["a", "b"])
    s = settled(s)
    with pytest.raises(Rejected) as refused:
        assessed(s, [("a", 101), ("b", -1)])
    assert codes(refused) == [("SCORE_OUT_OF_SCALE", "scores.0.score"),
                              ("SCORE_OUT_OF_SCALE", "scores.1.score")]
    [certified] = assessed(s, [("a", 70), ("b", 69), ("c", 100)])
    assert certified.observer_id == "a" and certified.roles == ["short_term"]
    assert certified.expires_at == (NOW + timedelta(days=180)).isoformat()


def test_revoked_is_not_earned_back_and_expiry_waits_for_its_time():
    s = enroll(session(), "a")
    s.record_attendance("rights", ["a"])
    s.record_attendance("procedure", ["a"])
    [certified] = assessed(s, [("a", 90)])
    s = settled(s)
    s.expire(certified.certification_id, NOW + timedelta(days=10))
    assert not s.pending
    s.revoke(certified.certification_id, "campaigned for a party")
    assert not assessed(s, [("a", 95)])
    with pytest.raises(Rejected) as refused:
        s.revoke(certified.certification_id, "again")
    assert codes(refused) == [("NOT_CERTIFIED", "certification_id")]


def test_a_session_outside_the_callers_scope_reads_as_missing():
    s = session()
    s.require_in_scope("KG-C", "trainer:t-1")
    for scope in ({"region": "KG-Y"}, {"trainer": "trainer:other"}):
        with pytest.raises(Rejected) as refused:
            s.require_in_scope(**scope)
        assert codes(refused) == [("NOT_FOUND", "session_id")]


def test_a_programme_names_known_courses_and_organizations_and_their_mentors():
    p = Programme(Programme.stream("p-1"))
    with pytest.raises(Rejected) as refused:
        p.define("Spring", ["c-1", "c-9"], ["org-1"], {"c-1"}, set())
    assert codes(refused) == [("UNKNOWN_COURSE", "course_ids.1"),
                              ("UNKNOWN_ORGANIZATION", "organization_ids.0")]
    p.define("Spring", ["c-1"], ["org-1"], {"c-1"}, {"org-1"})
    p.assign_mentor("org-1", "trainer:t-1")
    with pytest.raises(Rejected) as refused:
        p.assign_mentor("org-2", "trainer:t-1")
    assert codes(refused) == [("NOT_IN_PROGRAMME", "organization_id")]


def test_published_event_schemas_follow_the_event_classes():
    from services.training.schemas import EVENTS
    s = enroll(session(capacity=1), "a")
    s.record_attendance("rights", ["a"])
    s.record_attendance("procedure", ["a"])
    assessed(s, [("a", 90)])
    s.revoke(s.pending[-1].certification_id, "campaigned")
    for event in [*s.past, *s.pending]:
        schema = EVENTS[event_type(event)]
        assert schema().load(event_data(event)) == event_data(event)
        assert set(schema().fields) == set(event_data(event))
