"""Training's part of the GraphQL schema: courses, sessions, enrollment, attendance,
assessment, certification, statistics and programmes."""
import graphene

from gateway.access import (COORDINATORS, EVERYONE, allow, own_region, region_scope,
                            require_region, within_own_region)
from gateway.common import (ClientMutationId, Payload, Timestamp, UserError, command_input,
                            page_size, plain, run_command)
from gateway.context import camel_path

NATIONAL = ("admin", "national_coordinator")
STAFF = (*COORDINATORS, "trainer")


class ObserverRole(graphene.Enum):
    SHORT_TERM = "short_term"
    LONG_TERM = "long_term"
    MOBILE_GROUP = "mobile_group"
    HOTLINE_OPERATOR = "hotline_operator"


class SessionFormat(graphene.Enum):
    IN_PERSON = "in_person"
    ONLINE = "online"


class Module(graphene.ObjectType):
    code = graphene.String(required=True)
    title = graphene.String(required=True)
    required = graphene.Boolean(required=True,
                                description="needed for the certificate")


class Course(graphene.ObjectType):
    id = graphene.ID(required=True)
    title = graphene.String(required=True)
    modules = graphene.List(graphene.NonNull(Module), required=True)
    pass_mark = graphene.Int(required=True)
    max_score = graphene.Int(required=True, description="the top of the score scale")
    validity_days = graphene.Int(required=True,
                                 description="how long a certificate stays valid")
    roles = graphene.List(graphene.NonNull(graphene.String), required=True,
                          description="observer roles that need this course")


class RosterEntry(graphene.ObjectType):
    observer_id = graphene.ID(required=True)
    full_name = graphene.String()
    status = graphene.String(required=True, description="enrolled or waitlisted")
    attended = graphene.List(graphene.NonNull(graphene.String), required=True)
    score = graphene.Int()
    certified = graphene.Boolean(required=True)


class Session(graphene.ObjectType):
    id = graphene.ID(required=True)
    course_id = graphene.ID(required=True)
    title = graphene.String(required=True)
    format = graphene.String(required=True, description="in_person or online")
    place = graphene.String()
    link = graphene.String()
    region = graphene.String(required=True)
    starts_at = Timestamp(required=True)
    ends_at = Timestamp(required=True)
    trainer = graphene.String(required=True)
    capacity = graphene.Int(required=True)
    seated = graphene.Int(required=True)
    waiting = graphene.Int(required=True, description="on the waiting list")
    free_seats = graphene.Int(required=True)
    modules = graphene.List(graphene.NonNull(graphene.String), required=True)
    required_modules = graphene.List(graphene.NonNull(graphene.String), required=True)
    roster = graphene.List(graphene.NonNull(RosterEntry),
                           description="who is enrolled and waiting; null for roles "
                                       "that do not run sessions")

    @staticmethod
    def resolve_free_seats(session, info):
        return max(session["capacity"] - session["seated"], 0)

    @staticmethod
    def resolve_roster(session, info):
        viewer = info.context.viewer
        if (viewer.role not in STAFF or not viewer.sees_region(session["region"])
                or viewer.role == "trainer" and session["trainer"] != viewer.subject):
            return None
        return info.context.call("training", "roster", session["id"])


class Enrollment(graphene.ObjectType):
    id = graphene.ID(required=True)
    session_id = graphene.ID(required=True)
    observer_id = graphene.ID(required=True)
    waitlisted = graphene.Boolean(required=True,
                                  description="the session was full: on its waiting list")


class EnrollmentRecord(graphene.ObjectType):
    id = graphene.ID(required=True)
    session = graphene.Field(Session)
    status = graphene.String(required=True, description="enrolled, waitlisted, withdrawn")
    attended = graphene.List(graphene.NonNull(graphene.String), required=True,
                             description="modules attended")
    score = graphene.Int()
    certified = graphene.Boolean(required=True)


class Certification(graphene.ObjectType):
    id = graphene.ID(required=True)
    observer_id = graphene.ID(required=True)
    course_id = graphene.ID(required=True)
    session_id = graphene.ID()
    certified_at = Timestamp()
    expires_at = Timestamp()
    roles = graphene.List(graphene.NonNull(graphene.String))
    status = graphene.String(required=True, description="valid, revoked or expired")
    reason = graphene.String(description="why it was revoked")


class ObserverTraining(graphene.ObjectType):
    observer_id = graphene.ID(required=True)
    enrollments = graphene.List(graphene.NonNull(EnrollmentRecord), required=True)
    certifications = graphene.List(graphene.NonNull(Certification), required=True)


class TrainingFigures(graphene.ObjectType):
    region = graphene.String()
    organization_id = graphene.ID()
    enrolled = graphene.Int(required=True)
    attended = graphene.Int(required=True, description="attended at least one module")
    assessed = graphene.Int(required=True)
    certified = graphene.Int(required=True, description="holding a valid certificate")
    rate = graphene.Float(required=True, description="certified / enrolled")


class TrainingStats(graphene.ObjectType):
    regions = graphene.List(graphene.NonNull(TrainingFigures), required=True)
    organizations = graphene.List(graphene.NonNull(TrainingFigures), required=True)
    upcoming_sessions = graphene.List(graphene.NonNull(Session), required=True,
                                      description="still to start, with a seat free")


class CourseProgress(graphene.ObjectType):
    course_id = graphene.ID(required=True)
    enrolled = graphene.Int(required=True)
    certified = graphene.Int(required=True)


class OrganizationProgress(graphene.ObjectType):
    organization_id = graphene.ID(required=True)
    mentor = graphene.String()
    courses = graphene.List(graphene.NonNull(CourseProgress), required=True)


class Programme(graphene.ObjectType):
    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    course_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)
    organization_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)
    progress = graphene.List(graphene.NonNull(OrganizationProgress))


def _scope(viewer):
    """What a command's session must fall within for this viewer."""
    return {"within_region": region_scope(viewer),
            "trainer_scope": viewer.subject if viewer.role == "trainer" else None}


class ModuleInput(graphene.InputObjectType):
    code = graphene.String(required=True, description="e.g. rights, procedure")
    title = graphene.String(required=True)
    required = graphene.Boolean(description="needed for the certificate (default true)")


class DefineCourseInput(ClientMutationId, graphene.InputObjectType):
    title = graphene.String(required=True)
    modules = graphene.List(graphene.NonNull(ModuleInput), required=True)
    pass_mark = graphene.Int(required=True)
    max_score = graphene.Int(description="top of the score scale (default 100)")
    validity_days = graphene.Int(required=True)
    roles = graphene.List(graphene.NonNull(ObserverRole), required=True)


class CoursePayload(Payload, graphene.ObjectType):
    course = graphene.Field(Course)


class DefineCourse(graphene.Mutation):
    class Arguments:
        input = DefineCourseInput(required=True)

    Output = CoursePayload

    @staticmethod
    @allow(*NATIONAL)
    def mutate(root, info, input):
        return run_command(info, CoursePayload, "course", "training", "define_course",
                           command_input(input), input)


class ScheduleSessionInput(ClientMutationId, graphene.InputObjectType):
    course_id = graphene.ID(required=True)
    format = SessionFormat(required=True)
    place = graphene.String(description="where an in-person session meets")
    link = graphene.String(description="where an online session meets")
    region = graphene.String(required=True)
    starts_at = graphene.DateTime(required=True)
    ends_at = graphene.DateTime(required=True)
    trainer = graphene.String(description="who trains; a trainer schedules for themself")
    capacity = graphene.Int(required=True)


class SessionPayload(Payload, graphene.ObjectType):
    session = graphene.Field(Session)


class ScheduleSession(graphene.Mutation):
    """Schedules a session of a course (SessionScheduled)."""

    class Arguments:
        input = ScheduleSessionInput(required=True)

    Output = SessionPayload

    @staticmethod
    @allow(*STAFF)
    def mutate(root, info, input):
        viewer = info.context.viewer
        require_region(viewer, input.region)
        command = command_input(input)
        command.update(starts_at=input.starts_at.isoformat(),
                       ends_at=input.ends_at.isoformat())
        if viewer.role == "trainer" or not input.trainer:
            command["trainer"] = viewer.subject
        return run_command(info, SessionPayload, "session", "training",
                           "schedule_session", command, input)


class EnrollmentInput(ClientMutationId, graphene.InputObjectType):
    session_id = graphene.ID(required=True)
    observer_id = graphene.ID(required=True)


class EnrollmentPayload(Payload, graphene.ObjectType):
    enrollment = graphene.Field(Enrollment)


def _session_command(info, payload_type, field, method, input, **command):
    """A command on a session within the viewer's scope."""
    return run_command(info, payload_type, field, "training", method,
                       {**command, **_scope(info.context.viewer)}, input)


class EnrollObserver(graphene.Mutation):
    """Enrolls an observer; in a full session they go on its waiting list and the
    enrollment says `waitlisted`."""

    class Arguments:
        input = EnrollmentInput(required=True)

    Output = EnrollmentPayload

    @staticmethod
    @allow(*STAFF)
    def mutate(root, info, input):
        return _session_command(info, EnrollmentPayload, "enrollment", "enroll_observer",
                                input, session_id=input.session_id,
                                observer_id=input.observer_id)


class EnrollObserversInput(ClientMutationId, graphene.InputObjectType):
    session_id = graphene.ID(required=True)
    observer_ids = graphene.List(graphene.NonNull(graphene.ID), required=True,
                                 description="up to 1,000 observers, seats first in "
                                             "this order, then the waiting list")


class Roster(graphene.ObjectType):
    session_id = graphene.ID(required=True)
    enrollments = graphene.List(graphene.NonNull(Enrollment), required=True,
                                description="those this request enrolled")
    refused = graphene.List(graphene.NonNull(UserError), required=True,
                            description="why each of the others was not enrolled; the "
                                        "field (observerIds.<n>) says whom")


class RosterPayload(Payload, graphene.ObjectType):
    roster = graphene.Field(Roster)


class EnrollObservers(graphene.Mutation):
    """Enrolls a whole roster at once, each observer on their own merits (as
    enrollObserver would): one refused does not hold back the others. Sending the
    same roster again enrolls only those still missing."""

    class Arguments:
        input = EnrollObserversInput(required=True)

    Output = RosterPayload

    @staticmethod
    @allow(*STAFF)
    def mutate(root, info, input):
        payload = _session_command(info, RosterPayload, "roster", "enroll_observers",
                                   input, session_id=input.session_id,
                                   observer_ids=list(input.observer_ids))
        if payload.roster:
            payload.roster["refused"] = [{**r, "field": camel_path(r["field"])}
                                         for r in payload.roster["refused"]]
        return payload


class Withdrawal(graphene.ObjectType):
    session_id = graphene.ID(required=True)
    observer_id = graphene.ID(required=True)
    moved_up = graphene.List(graphene.NonNull(graphene.ID), required=True,
                             description="who took the seat from the waiting list")


class WithdrawalPayload(Payload, graphene.ObjectType):
    withdrawal = graphene.Field(Withdrawal)


class WithdrawEnrollment(graphene.Mutation):
    class Arguments:
        input = EnrollmentInput(required=True)

    Output = WithdrawalPayload

    @staticmethod
    @allow(*STAFF)
    def mutate(root, info, input):
        return _session_command(info, WithdrawalPayload, "withdrawal",
                                "withdraw_enrollment", input, session_id=input.session_id,
                                observer_id=input.observer_id)


class RecordAttendanceInput(ClientMutationId, graphene.InputObjectType):
    session_id = graphene.ID(required=True)
    module = graphene.String(required=True)
    observer_ids = graphene.List(graphene.NonNull(graphene.ID), required=True,
                                 description="everyone who attended the module")


class Attendance(graphene.ObjectType):
    session_id = graphene.ID(required=True)
    module = graphene.String(required=True)
    recorded = graphene.Int(required=True, description="newly recorded as present")


class AttendancePayload(Payload, graphene.ObjectType):
    attendance = graphene.Field(Attendance)


class RecordAttendance(graphene.Mutation):
    """Records who attended a module, for a whole session at once; if anyone named
    has no seat in the session nothing is recorded."""

    class Arguments:
        input = RecordAttendanceInput(required=True)

    Output = AttendancePayload

    @staticmethod
    @allow(*STAFF)
    def mutate(root, info, input):
        return _session_command(info, AttendancePayload, "attendance",
                                "record_attendance", input, session_id=input.session_id,
                                module=input.module, observer_ids=list(input.observer_ids))


class ScoreInput(graphene.InputObjectType):
    observer_id = graphene.ID(required=True)
    score = graphene.Int(required=True)


class RecordAssessmentInput(ClientMutationId, graphene.InputObjectType):
    session_id = graphene.ID(required=True)
    scores = graphene.List(graphene.NonNull(ScoreInput), required=True)


class Assessment(graphene.ObjectType):
    session_id = graphene.ID(required=True)
    assessed = graphene.Int(required=True)
    certified = graphene.List(graphene.NonNull(graphene.ID), required=True,
                              description="observers certified by these scores")


class AssessmentPayload(Payload, graphene.ObjectType):
    assessment = graphene.Field(Assessment)


class RecordAssessment(graphene.Mutation):
    """Records scores; whoever attended the required modules and reached the pass mark
    is certified (ObserverCertified, with its expiry)."""

    class Arguments:
        input = RecordAssessmentInput(required=True)

    Output = AssessmentPayload

    @staticmethod
    @allow(*STAFF)
    def mutate(root, info, input):
        return _session_command(info, AssessmentPayload, "assessment",
                                "record_assessment", input, session_id=input.session_id,
                                scores=[dict(s) for s in input.scores])


class RevokeCertificationInput(ClientMutationId, graphene.InputObjectType):
    certification_id = graphene.ID(required=True)
    reason = graphene.String(required=True)


class CertificationPayload(Payload, graphene.ObjectType):
    certification = graphene.Field(Certification)


class RevokeCertification(graphene.Mutation):
    class Arguments:
        input = RevokeCertificationInput(required=True)

    Output = CertificationPayload

    @staticmethod
    @allow(*COORDINATORS)
    def mutate(root, info, input):
        return _session_command(info, CertificationPayload, "certification",
                                "revoke_certification", input,
                                certification_id=input.certification_id,
                                reason=input.reason)


class DefineProgrammeInput(ClientMutationId, graphene.InputObjectType):
    name = graphene.String(required=True)
    course_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)
    organization_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)


class ProgrammePayload(Payload, graphene.ObjectType):
    programme = graphene.Field(Programme)


class DefineProgramme(graphene.Mutation):
    """A set of courses that partner organizations' members follow."""

    class Arguments:
        input = DefineProgrammeInput(required=True)

    Output = ProgrammePayload

    @staticmethod
    @allow(*NATIONAL)
    def mutate(root, info, input):
        return run_command(info, ProgrammePayload, "programme", "training",
                           "define_programme", command_input(input), input)


class AssignMentorInput(ClientMutationId, graphene.InputObjectType):
    programme_id = graphene.ID(required=True)
    organization_id = graphene.ID(required=True)
    mentor = graphene.String(required=True, description="the trainer who mentors them")


class MentorAssignment(graphene.ObjectType):
    programme_id = graphene.ID(required=True)
    organization_id = graphene.ID(required=True)
    mentor = graphene.String(required=True)


class MentorPayload(Payload, graphene.ObjectType):
    assignment = graphene.Field(MentorAssignment)


class AssignMentor(graphene.Mutation):
    class Arguments:
        input = AssignMentorInput(required=True)

    Output = MentorPayload

    @staticmethod
    @allow(*NATIONAL)
    def mutate(root, info, input):
        return run_command(info, MentorPayload, "assignment", "training",
                           "assign_mentor", command_input(input), input)


class SessionFilter(graphene.InputObjectType):
    region = graphene.String()
    course_id = graphene.ID()
    trainer = graphene.String()
    format = SessionFormat()
    upcoming = graphene.Boolean(description="only sessions still to start")
    free_seats = graphene.Boolean(description="only sessions with a seat left")
    first = graphene.Int(description="at most this many (default 50, at most 500)")


class Query(graphene.ObjectType):
    courses = graphene.List(graphene.NonNull(Course), required=True)
    sessions = graphene.List(
        graphene.NonNull(Session), required=True, filter=SessionFilter(),
        description="sessions in start order; a regional coordinator sees their region, "
                    "a trainer their own sessions")
    observer_training = graphene.Field(
        ObserverTraining, observer=graphene.ID(required=True),
        description="null when the observer is unknown or outside your scope")
    training_stats = graphene.Field(
        TrainingStats, required=True, region=graphene.String(),
        description="per region and organization; a regional coordinator's region")
    programmes = graphene.List(graphene.NonNull(Programme), required=True)

    @staticmethod
    @allow(*EVERYONE)
    def resolve_courses(root, info):
        return info.context.call("training", "courses")

    @staticmethod
    @allow(*STAFF, "observer")
    def resolve_sessions(root, info, filter=None):
        viewer = info.context.viewer
        wanted = plain(filter or {})
        within_own_region(viewer, wanted)
        if viewer.role == "trainer":
            wanted["trainer"] = viewer.subject
        wanted["first"] = page_size(wanted.get("first"))
        return info.context.call("training", "sessions", wanted)

    @staticmethod
    @allow(*COORDINATORS, "observer")
    def resolve_observer_training(root, info, observer):
        viewer = info.context.viewer
        if viewer.role == "observer" and viewer.observer != observer:
            return None
        known = info.context.call("training", "observer", observer)
        if known is None or not viewer.sees_region(known["region"]):
            return None
        return info.context.call("training", "observer_training", observer)

    @staticmethod
    @allow(*COORDINATORS)
    def resolve_training_stats(root, info, region=None):
        viewer = info.context.viewer
        region = own_region(viewer, region)
        return info.context.call("training", "stats", region)

    @staticmethod
    @allow(*NATIONAL, "trainer")
    def resolve_programmes(root, info):
        return info.context.call("training", "programmes")


class Mutation(graphene.ObjectType):
    define_course = DefineCourse.Field()
    schedule_session = ScheduleSession.Field()
    enroll_observer = EnrollObserver.Field()
    enroll_observers = EnrollObservers.Field()
    withdraw_enrollment = WithdrawEnrollment.Field()
    record_attendance = RecordAttendance.Field()
    record_assessment = RecordAssessment.Field()
    revoke_certification = RevokeCertification.Field()
    define_programme = DefineProgramme.Field()
    assign_mentor = AssignMentor.Field()
