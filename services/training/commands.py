"""Training's command handlers: from a validated request to aggregates decided and
appended. Plain Python over the injected event log and read models, so they run the
same in the service and in a test."""
import dataclasses
import threading
from collections import defaultdict

from services.training.domain import (Course, EnrollmentConfirmed, ObserverCertified,
                                      Programme, Session, Trainee)
from shared.commands import Command, execute, execute_all, replay_stream
from shared.errors import Problem, Rejected
from shared.eventstore import ConcurrencyError
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


def _on_session(log, command, decide, idempotency_key):
    """Runs `decide(session)` on a session within the caller's scope."""
    def scoped(session):
        session.require_in_scope(command["within_region"], command["trainer_scope"])
        decide(session)
    with _session_locks[command["session_id"]]:
        return execute(log, Session, Session.stream(command["session_id"]), scoped,
                       idempotency_key)


def enroll_observer(log, training, command, now, idempotency_key=None):
    """Enrolls an observer training knows of; a full session puts them on its waiting
    list. Returns the enrollment."""
    observer_id = command["observer_id"]
    session, refused = enroll_observers(log, training, {
        **command, "observer_ids": [observer_id]}, now, idempotency_key)
    if refused:
        raise refused[observer_id]
    return session.enrollment(observer_id)


def enroll_observers(log, training, command, now, idempotency_key=None):
    """Enrolls each of `observer_ids` on their own merits, in the order given (seats
    first, then the waiting list). Returns the session after it and the refusals by
    observer id; a session out of the caller's scope refuses the whole command.

    The observers' time is booked first, each on their own stream, then the session
    enrolls them; a booking this request made for someone the session then refuses is
    given back.
    """
    ids = list(dict.fromkeys(command["observer_ids"]))
    trial = load(log, Session, command["session_id"])
    trial.require_in_scope(command["within_region"], command["trainer_scope"])
    observers = training.observers(ids)
    # A session's course never changes: one look-up serves every retry.
    certified = training.certified(ids, trial.facts["course_id"], now)
    refused, late = {}, {}

    def enroll(session, observer_ids, refusals):
        for observer_id in observer_ids:
            try:
                session.enroll(new_id(), observer_id, observers.get(observer_id), now,
                               certified=observer_id in certified)
            except Rejected as exc:
                refusals[observer_id] = exc
    # What the session would refuse is refused before any time is booked.
    enroll(trial, ids, refused)
    to_book = [o for o in ids if o not in refused]
    bookings = execute_all(log, [Command(Trainee, Trainee.stream(o),
                                         lambda t: t.book(trial)) for o in to_book])
    failed = next((b for b in bookings if isinstance(b, Exception)
                   and not isinstance(b, Rejected)), None)
    refused.update((o, b) for o, b in zip(to_book, bookings) if isinstance(b, Rejected))
    # Only bookings this request made are its own to give back.
    booked = [o for o, b in zip(to_book, bookings)
              if not isinstance(b, Exception) and b.pending]
    if failed:
        _release(log, command["session_id"], booked)
        raise failed

    def decide(session):
        late.clear()
        enroll(session, [o for o in to_book if o not in refused], late)
    try:
        session = _on_session(log, command, decide, idempotency_key)
    except (Rejected, ConcurrencyError):  # the session recorded none of them
        _release(log, command["session_id"], booked)
        raise
    _release(log, command["session_id"], [o for o in booked if o in late])
    return session, {**refused, **late}


def enroll_roster(log, training, command, now, idempotency_key=None):
    """enroll_observers answered for a roster: the enrollments made, and each refusal
    with the place in the list of whom it refuses."""
    session, refused = enroll_observers(log, training, command, now, idempotency_key)
    places = {}
    for i, observer_id in enumerate(command["observer_ids"]):
        places.setdefault(observer_id, i)
    return {"session_id": session.key,
            "enrollments": [session.enrollment(o) for o in places if o not in refused],
            "refused": [dataclasses.replace(p, field=f"observer_ids.{places[o]}")
                        for o in places if o in refused for p in refused[o].problems]}


def withdraw_enrollment(log, command, idempotency_key=None):
    observer_id = command["observer_id"]
    session = _on_session(log, command, lambda s: s.withdraw(observer_id),
                          idempotency_key)
    _release(log, session.key, [observer_id])
    return {"session_id": session.key, "observer_id": observer_id,
            "moved_up": [e.observer_id for e in session.pending
                         if isinstance(e, EnrollmentConfirmed)]}


def _release(log, session_id, observer_ids):
    for outcome in execute_all(log, [
            Command(Trainee, Trainee.stream(o), lambda t: t.release(session_id))
            for o in observer_ids]):
        if isinstance(outcome, Exception):
            raise outcome


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
