"""Training's aggregates and events: courses, the sessions that teach them, and the
observers who enroll in a session, attend its modules, are assessed and certified.

A session holds its seats and waiting list (capacity is a rule over all of them), its
attendance, scores and the certifications they earned; it carries the rule of its
course (modules, pass mark, validity) as scheduled, so assessing needs no other read.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from shared.aggregate import Keyed, event_data
from shared.errors import Problem, Rejected

OBSERVER_ROLES = ("short_term", "long_term", "mobile_group", "hotline_operator")
FORMATS = ("in_person", "online")


def iso(moment):
    """Times travel in events as ISO 8601 UTC text."""
    return moment.astimezone(timezone.utc).isoformat()


def moment(text):
    return datetime.fromisoformat(text)


def refuse(problems):
    if problems:
        raise Rejected(*problems)


@dataclass(frozen=True)
class CourseDefined:
    course_id: str
    title: str
    modules: list
    """[{"code", "title", "required"}]"""
    pass_mark: int
    max_score: int
    validity_days: int
    roles: list


class Course(Keyed):
    prefix = "course"
    events = (CourseDefined,)

    def __init__(self, id):
        super().__init__(id)
        self.facts = {}

    def define(self, title, modules, pass_mark, max_score, validity_days, roles):
        codes = [m["code"] for m in modules]
        problems = [Problem("DUPLICATE_MODULE", f"module {code} is listed twice",
                            f"modules.{i}.code")
                    for i, code in enumerate(codes) if code in codes[:i]]
        if not any(m["required"] for m in modules):
            problems.append(Problem("NO_REQUIRED_MODULE",
                                    "at least one module must be required", "modules"))
        if pass_mark > max_score:
            problems.append(Problem("PASS_MARK_ABOVE_SCALE", f"the pass mark {pass_mark} "
                                    f"is above the top score {max_score}", "pass_mark"))
        refuse(problems)
        self.record(CourseDefined(self.key, " ".join(title.split()), list(modules),
                                  pass_mark, max_score, validity_days,
                                  list(dict.fromkeys(roles))))

    def on_course_defined(self, event):
        self.facts = event_data(event)


@dataclass(frozen=True)
class SessionScheduled:
    session_id: str
    course_id: str
    title: str
    format: str
    region: str
    starts_at: str
    ends_at: str
    trainer: str
    capacity: int
    modules: list
    required_modules: list
    pass_mark: int
    max_score: int
    validity_days: int
    roles: list
    place: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class ObserverEnrolled:
    enrollment_id: str
    session_id: str
    course_id: str
    observer_id: str
    waitlisted: bool
    region: str
    """The observer's region and organization, for statistics."""
    organization_id: str | None = None


@dataclass(frozen=True)
class EnrollmentWithdrawn:
    enrollment_id: str
    session_id: str
    observer_id: str
    waitlisted: bool


@dataclass(frozen=True)
class EnrollmentConfirmed:
    """The first on the waiting list moved up to a seat someone gave back."""
    enrollment_id: str
    session_id: str
    observer_id: str


@dataclass(frozen=True)
class AttendanceRecorded:
    session_id: str
    course_id: str
    module: str
    observer_ids: list


@dataclass(frozen=True)
class AssessmentRecorded:
    session_id: str
    course_id: str
    observer_id: str
    score: int
    max_score: int


@dataclass(frozen=True)
class ObserverCertified:
    certification_id: str
    observer_id: str
    course_id: str
    certified_at: str
    expires_at: str
    roles: list
    session_id: str


@dataclass(frozen=True)
class CertificationRevoked:
    certification_id: str
    observer_id: str
    course_id: str
    reason: str
    session_id: str


@dataclass(frozen=True)
class CertificationExpired:
    certification_id: str
    observer_id: str
    course_id: str
    session_id: str


class Session(Keyed):
    prefix = "session"
    events = (SessionScheduled, ObserverEnrolled, EnrollmentWithdrawn,
              EnrollmentConfirmed, AttendanceRecorded, AssessmentRecorded,
              ObserverCertified, CertificationRevoked, CertificationExpired)

    def __init__(self, id):
        super().__init__(id)
        self.facts = {}
        # observer id -> enrollment id, in the order they came: the waiting list's queue
        self.seated, self.waiting = {}, {}
        self.attended = {}
        self.scores = {}
        # certification id -> (observer id, expires at), while it holds
        self.certifications = {}
        # Certified here once: a revoked certificate is not earned back by a new score.
        self.ever_certified = set()

    def schedule(self, course, format, region, starts_at, ends_at, trainer, capacity,
                 place=None, link=None):
        problems = []
        if not course.exists:
            problems.append(Problem("UNKNOWN_COURSE", f"there is no course {course.key}",
                                    "course_id"))
        if ends_at <= starts_at:
            problems.append(Problem("ENDS_BEFORE_START",
                                    "a session must end after it starts", "ends_at"))
        if format == "online" and not link:
            problems.append(Problem("LINK_REQUIRED", "an online session needs a link",
                                    "link"))
        if format == "in_person" and not place:
            problems.append(Problem("PLACE_REQUIRED", "an in-person session needs a place",
                                    "place"))
        refuse(problems)
        c = course.facts
        self.record(SessionScheduled(
            session_id=self.key, course_id=c["course_id"], title=c["title"], format=format,
            region=region, starts_at=iso(starts_at), ends_at=iso(ends_at), trainer=trainer,
            capacity=capacity, modules=[m["code"] for m in c["modules"]],
            required_modules=[m["code"] for m in c["modules"] if m["required"]],
            pass_mark=c["pass_mark"], max_score=c["max_score"],
            validity_days=c["validity_days"], roles=c["roles"], place=place, link=link))

    def require_in_scope(self, region=None, trainer=None):
        """Refuses a missing session, and one outside the caller's region or not their
        own to train, in the same words: a scoped caller learns nothing more."""
        if (not self.exists or region not in (None, self.facts["region"])
                or trainer not in (None, self.facts["trainer"])):
            raise Rejected(Problem("NOT_FOUND", f"there is no session {self.key}",
                                   "session_id"))

    def enroll(self, enrollment_id, observer_id, observer, now, certified=False):
        """`observer`: training's view of them ({"region", "organization_id",
        "suspended"}) or None; `certified`: they hold a valid certificate of this
        course already. Overlaps with their other sessions are the Trainee's to find."""
        if observer is None:
            raise Rejected(Problem("UNKNOWN_OBSERVER", f"there is no observer "
                                   f"{observer_id}", "observer_id"))
        if observer.get("suspended"):
            raise Rejected(Problem("OBSERVER_SUSPENDED", f"observer {observer_id} is "
                                   "suspended", "observer_id"))
        if observer_id in self.seated or observer_id in self.waiting:
            raise Rejected(Problem("ALREADY_ENROLLED", f"observer {observer_id} is "
                                   "already enrolled in this session", "observer_id"))
        if now >= moment(self.facts["ends_at"]):
            raise Rejected(Problem("SESSION_OVER", "the session is over", "session_id"))
        if certified:
            raise Rejected(Problem("ALREADY_CERTIFIED", f"observer {observer_id} holds a "
                                   "valid certificate of this course", "observer_id"))
        self.record(ObserverEnrolled(
            enrollment_id, self.key, self.facts["course_id"], observer_id,
            waitlisted=len(self.seated) >= self.facts["capacity"],
            region=observer["region"], organization_id=observer.get("organization_id")))

    def withdraw(self, observer_id):
        """Gives the seat back; the first on the waiting list takes it."""
        if observer_id in self.waiting:
            self.record(EnrollmentWithdrawn(self.waiting[observer_id], self.key,
                                            observer_id, waitlisted=True))
            return
        self._require_seated([observer_id], "observer_id")
        self.record(EnrollmentWithdrawn(self.seated[observer_id], self.key, observer_id,
                                        waitlisted=False))
        if self.waiting:
            first, enrollment_id = next(iter(self.waiting.items()))
            self.record(EnrollmentConfirmed(enrollment_id, self.key, first))

    def record_attendance(self, module, observer_ids):
        """Who attended `module`; those already recorded are not recorded again."""
        if module not in self.facts["modules"]:
            raise Rejected(Problem("UNKNOWN_MODULE", f"the course has no module {module}",
                                   "module"))
        self._require_seated(observer_ids, "observer_ids")
        new = [o for o in dict.fromkeys(observer_ids)
               if module not in self.attended.get(o, ())]
        if new:
            self.record(AttendanceRecorded(self.key, self.facts["course_id"], module, new))

    def record_assessments(self, scores, now, new_id):
        """`scores`: (observer id, score) pairs. Whoever attended every required module
        and scored at least the pass mark is certified (once per session)."""
        top = self.facts["max_score"]
        self._require_seated([o for o, _ in scores], "scores", "observer_id")
        refuse([Problem("SCORE_OUT_OF_SCALE", f"a score is between 0 and {top}",
                        f"scores.{i}.score")
                for i, (_, score) in enumerate(scores) if not 0 <= score <= top])
        for observer_id, score in scores:
            self.record(AssessmentRecorded(self.key, self.facts["course_id"], observer_id,
                                           score, top))
            if self._earned(observer_id):
                self.record(ObserverCertified(
                    new_id(), observer_id, self.facts["course_id"], iso(now),
                    iso(now + timedelta(days=self.facts["validity_days"])),
                    self.facts["roles"], self.key))

    def _earned(self, observer_id):
        return (observer_id not in self.ever_certified
                and self.scores[observer_id] >= self.facts["pass_mark"]
                and set(self.facts["required_modules"]) <= self.attended.get(observer_id,
                                                                             set()))

    def revoke(self, certification_id, reason):
        observer_id = self._require_certification(certification_id)
        self.record(CertificationRevoked(certification_id, observer_id,
                                         self.facts["course_id"], reason, self.key))

    def expire(self, certification_id, now):
        """Records the expiry of a certificate whose time has come; others stay."""
        if certification_id not in self.certifications:
            return
        observer_id, expires_at = self.certifications[certification_id]
        if now >= moment(expires_at):
            self.record(CertificationExpired(certification_id, observer_id,
                                             self.facts["course_id"], self.key))

    def _require_certification(self, certification_id):
        if certification_id not in self.certifications:
            raise Rejected(Problem("NOT_CERTIFIED", f"certification {certification_id} "
                                   "does not hold", "certification_id"))
        return self.certifications[certification_id][0]

    def _require_seated(self, observer_ids, field, subfield=None):
        refuse([Problem("NOT_ENROLLED", f"observer {o} has no seat in this session",
                        f"{field}.{i}" + (f".{subfield}" if subfield else ""))
                for i, o in enumerate(observer_ids) if o not in self.seated])

    def enrollment(self, observer_id):
        """The observer's enrollment as it stands, for a reply."""
        waitlisted = observer_id in self.waiting
        return {"id": (self.waiting if waitlisted else self.seated).get(observer_id),
                "session_id": self.key, "observer_id": observer_id,
                "waitlisted": waitlisted}

    def on_session_scheduled(self, event):
        self.facts = event_data(event)

    def on_observer_enrolled(self, event):
        queue = self.waiting if event.waitlisted else self.seated
        queue[event.observer_id] = event.enrollment_id

    def on_enrollment_withdrawn(self, event):
        (self.waiting if event.waitlisted else self.seated).pop(event.observer_id)

    def on_enrollment_confirmed(self, event):
        self.seated[event.observer_id] = self.waiting.pop(event.observer_id)

    def on_attendance_recorded(self, event):
        for observer_id in event.observer_ids:
            self.attended.setdefault(observer_id, set()).add(event.module)

    def on_assessment_recorded(self, event):
        self.scores[event.observer_id] = event.score

    def on_observer_certified(self, event):
        self.certifications[event.certification_id] = (event.observer_id,
                                                       event.expires_at)
        self.ever_certified.add(event.observer_id)

    def on_certification_revoked(self, event):
        self.certifications.pop(event.certification_id)

    def on_certification_expired(self, event):
        self.certifications.pop(event.certification_id)


@dataclass(frozen=True)
class SessionBooked:
    observer_id: str
    session_id: str
    starts_at: str
    ends_at: str


@dataclass(frozen=True)
class BookingReleased:
    observer_id: str
    session_id: str


class Trainee(Keyed):
    """An observer's time booked in sessions: one observer's enrollments pass through
    their own stream, so two overlapping ones cannot both be taken, however close
    together they come."""

    prefix = "trainee"
    events = (SessionBooked, BookingReleased)

    def __init__(self, id):
        super().__init__(id)
        self.bookings = {}

    def book(self, session):
        """Books the session's time; refuses if another booked session overlaps it."""
        starts, ends = (moment(session.facts[k]) for k in ("starts_at", "ends_at"))
        clash = next((key for key, (s, e) in self.bookings.items()
                      if key != session.key and s < ends and starts < e), None)
        if clash:
            raise Rejected(Problem("OVERLAPPING_SESSION", f"observer {self.key} is "
                                   f"enrolled in session {clash} at the same time",
                                   "observer_id"))
        if session.key not in self.bookings:
            self.record(SessionBooked(self.key, session.key, session.facts["starts_at"],
                                      session.facts["ends_at"]))

    def release(self, session_id):
        if session_id in self.bookings:
            self.record(BookingReleased(self.key, session_id))

    def on_session_booked(self, event):
        self.bookings[event.session_id] = (moment(event.starts_at), moment(event.ends_at))

    def on_booking_released(self, event):
        self.bookings.pop(event.session_id)


@dataclass(frozen=True)
class ProgrammeDefined:
    programme_id: str
    name: str
    course_ids: list
    organization_ids: list


@dataclass(frozen=True)
class MentorAssigned:
    programme_id: str
    organization_id: str
    mentor: str


class Programme(Keyed):
    """The courses a partner organization's members follow, with a mentor per
    organization."""

    prefix = "programme"
    events = (ProgrammeDefined, MentorAssigned)

    def __init__(self, id):
        super().__init__(id)
        self.organization_ids = []
        self.mentors = {}

    def define(self, name, course_ids, organization_ids, known_courses,
               known_organizations):
        refuse([Problem("UNKNOWN_COURSE", f"there is no course {c}", f"course_ids.{i}")
                for i, c in enumerate(course_ids) if c not in known_courses] +
               [Problem("UNKNOWN_ORGANIZATION", f"there is no organization {o}",
                        f"organization_ids.{i}")
                for i, o in enumerate(organization_ids) if o not in known_organizations])
        self.record(ProgrammeDefined(self.key, " ".join(name.split()),
                                     list(dict.fromkeys(course_ids)),
                                     list(dict.fromkeys(organization_ids))))

    def assign_mentor(self, organization_id, mentor):
        if not self.exists:
            raise Rejected(Problem("NOT_FOUND", f"there is no programme {self.key}",
                                   "programme_id"))
        if organization_id not in self.organization_ids:
            raise Rejected(Problem("NOT_IN_PROGRAMME", f"organization {organization_id} "
                                   "does not follow this programme", "organization_id"))
        if self.mentors.get(organization_id) != mentor:
            self.record(MentorAssigned(self.key, organization_id, mentor))

    def on_programme_defined(self, event):
        self.organization_ids = event.organization_ids

    def on_mentor_assigned(self, event):
        self.mentors[event.organization_id] = event.mentor
