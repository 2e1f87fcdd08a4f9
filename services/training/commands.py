"""Training's command handlers: from a validated request to aggregates decided and
appended. Plain Python over the injected event log and read models, so they run the
same in the service and in a test."""
import threading
from collections import defaultdict

from services.training.domain import (Course, EnrollmentConfirmed, ObserverCertified,
                                      Programme, Session, Trainee)
from shared.commands import Command, execute, execute_all, replay_stream
from shared.errors import Problem, Rejected
from shared.ids import new_id


def load(log, cls, key):
    return replay_stream(log, cls, cls.stream(key))


def define_course(log, command, idempotency_key=None):
    return execute(log, Course, Course.stream(new_id()),
                   lambda c: c.define(**command), idempotency_key, new=True)


def schedule_session(log, command, idempotency_key=None):
    command = dict(command)
    course = load(log, Course, command.pop("course_id"))
    return execute(log, Session, Session.stream(new_id()),
                   lambda s: s.schedule(course, **command), idempotency_key, new=True)


# A popular session takes many enrollments at once: within a process they queue here
# instead of clashing in the store and exhausting their retries.
_session_locks = defaultdict(threading.Lock)


def _scoped(command, decide):
    def scoped(session):
        session.require_in_scope(command["within_region"], command["trainer_scope"])
        decide(session)
    return scoped


def _on_session(log, command, decide, idempotency_key):
    """Runs `decide(session)` on a session within the caller's scope."""
    with _session_locks[command["session_id"]]:
        return execute(log, Session, Session.stream(command["session_id"]),
                       _scoped(command, decide), idempotency_key)


def enroll_observer(log, training, command, now, idempotency_key=None):
    """Enrolls an observer training knows of; a full session puts them on its waiting
    list. Returns the enrollment.

    The observer's time is booked first, on their own stream, then the session
    enrolls them; if the session refuses, a booking this request made is given back.
    """
    observer_id = command["observer_id"]
    observer = training.observer(observer_id)
    trial = load(log, Session, command["session_id"])
    # A session's course never changes: one look-up serves every retry.
    certified = bool(trial.facts) and training.certified(observer_id,
                                                         trial.facts["course_id"], now)

    def decide(session):
        session.enroll(new_id(), observer_id, observer, now, certified=certified)
    # What the session would refuse is refused before any time is booked.
    _scoped(command, decide)(trial)
    trainee = execute(log, Trainee, Trainee.stream(observer_id), lambda t: t.book(trial))
    try:
        session = _on_session(log, command, decide, idempotency_key)
    except Rejected:
        if trainee.pending:  # the booking is this request's own to give back
            _release(log, observer_id, command["session_id"])
        raise
    return session.enrollment(observer_id)


def withdraw_enrollment(log, command, idempotency_key=None):
    observer_id = command["observer_id"]
    session = _on_session(log, command, lambda s: s.withdraw(observer_id),
                          idempotency_key)
    _release(log, observer_id, session.key)
    return {"session_id": session.key, "observer_id": observer_id,
            "moved_up": [e.observer_id for e in session.pending
                         if isinstance(e, EnrollmentConfirmed)]}


def _release(log, observer_id, session_id):
    execute(log, Trainee, Trainee.stream(observer_id), lambda t: t.release(session_id))


def record_attendance(log, command, idempotency_key=None):
    session = _on_session(log, command, lambda s: s.record_attendance(
        command["module"], command["observer_ids"]), idempotency_key)
    return {"session_id": session.key, "module": command["module"],
            "recorded": sum(len(e.observer_ids) for e in session.pending)}


def record_assessment(log, command, now, idempotency_key=None):
    """Records scores; returns who of them were certified by it."""
    session = _on_session(log, command, lambda s: s.record_assessments(
        [(s_["observer_id"], s_["score"]) for s_ in command["scores"]], now,
        lambda: new_id()), idempotency_key)
    return {"session_id": session.key, "assessed": len(command["scores"]),
            "certified": [e.observer_id for e in session.pending
                          if isinstance(e, ObserverCertified)]}


def revoke_certification(log, training, command, idempotency_key=None):
    certification_id = command["certification_id"]
    certification = training.certification(certification_id)
    # Out of the caller's scope reads exactly as missing.
    missing = Rejected(Problem("NOT_FOUND", f"there is no certification "
                                            f"{certification_id}", "certification_id"))
    if certification is None:
        raise missing

    def decide(session):
        try:
            session.require_in_scope(command["within_region"], command["trainer_scope"])
        except Rejected:
            raise missing
        session.revoke(certification_id, command["reason"])
    execute(log, Session, Session.stream(certification["session_id"]), decide,
            idempotency_key)
    return {"id": certification_id, "observer_id": certification["observer_id"],
            "course_id": certification["course_id"], "status": "revoked",
            "reason": command["reason"]}


def expire_certifications(log, training, now):
    """Records the expiry of every certificate whose time has come; returns how many."""
    due = {}
    for certification in training.expiring(now):
        due.setdefault(certification["session_id"], []).append(certification["_id"])

    def expire(session, ids):
        for certification_id in ids:
            session.expire(certification_id, now)
    outcomes = execute_all(log, [Command(Session, Session.stream(session_id),
                                         lambda s, ids=ids: expire(s, ids))
                                 for session_id, ids in due.items()])
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    return sum(map(len, due.values()))


def define_programme(log, training, command, idempotency_key=None):
    streams = log.read_streams({Course.stream(c) for c in command["course_ids"]})
    courses = {c for c in command["course_ids"] if Course.stream(c) in streams}
    organizations = training.organizations(command["organization_ids"])
    return execute(log, Programme, Programme.stream(new_id()),
                   lambda p: p.define(**command, known_courses=courses,
                                      known_organizations=organizations),
                   idempotency_key, new=True)


def assign_mentor(log, command, idempotency_key=None):
    return execute(log, Programme, Programme.stream(command["programme_id"]),
                   lambda p: p.assign_mentor(command["organization_id"],
                                             command["mentor"]), idempotency_key)
