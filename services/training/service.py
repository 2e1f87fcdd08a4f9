"""Training entrypoints. Commands answer {"ok": true, "data"} or {"ok": false,
"errors"}; queries read the projections; the registry's observer events keep training's
own view of observers (RegistryObservers, fed by a Subscriber)."""
from datetime import datetime, timezone

from nameko.rpc import rpc
from nameko.timer import timer

from services.training import commands
from services.training.projections import Catalogue, Records, RegistryObservers, Training
from services.training.schemas import (AssignMentor, CourseView, DefineCourse,
                                       DefineProgramme, EnrollmentView, EnrollObserver,
                                       EnrollObservers, RecordAssessment,
                                       RecordAttendance, RevokeCertification, RosterView,
                                       ScheduleSession, SessionView, WithdrawEnrollment)
from shared.runtime import EventLog, ReadModel, RequestContext, replies

EXPIRY_CHECK_S = 60


def now():
    return datetime.now(timezone.utc)


class TrainingService:
    name = "training"

    context = RequestContext()
    # What training knows of observers and organizations comes from the registry's
    # events, taken in batches by the background jobs.
    log = EventLog(projections=[Catalogue, Records],
                   subscriptions=[(RegistryObservers, {"registry": (
                       "ObserverRegistered", "ObserverUpdated", "ObserverSuspended",
                       "OrganizationRegistered")})])
    training = ReadModel(Training)

    @rpc
    @replies(DefineCourse())
    def define_course(self, command, idempotency_key=None):
        return CourseView().dump(commands.define_course(self.log, command,
                                                        idempotency_key).facts)

    @rpc
    @replies(ScheduleSession())
    def schedule_session(self, command, idempotency_key=None):
        session = commands.schedule_session(self.log, command, idempotency_key)
        return SessionView().dump({**session.facts, "seated": 0, "waiting": 0})

    @rpc
    @replies(EnrollObserver())
    def enroll_observer(self, command, idempotency_key=None):
        return EnrollmentView().dump(commands.enroll_observer(
            self.log, self.training, command, now(), idempotency_key))

    @rpc
    @replies(EnrollObservers())
    def enroll_observers(self, command, idempotency_key=None):
        return RosterView().dump(commands.enroll_roster(self.log, self.training, command,
                                                        now(), idempotency_key))

    @rpc
    @replies(WithdrawEnrollment())
    def withdraw_enrollment(self, command, idempotency_key=None):
        return commands.withdraw_enrollment(self.log, command, idempotency_key)

    @rpc
    @replies(RecordAttendance())
    def record_attendance(self, command, idempotency_key=None):
        return commands.record_attendance(self.log, command, idempotency_key)

    @rpc
    @replies(RecordAssessment())
    def record_assessment(self, command, idempotency_key=None):
        return commands.record_assessment(self.log, command, now(), idempotency_key)

    @rpc
    @replies(RevokeCertification())
    def revoke_certification(self, command, idempotency_key=None):
        return commands.revoke_certification(self.log, self.training, command,
                                             idempotency_key)

    @rpc
    @replies(DefineProgramme())
    def define_programme(self, command, idempotency_key=None):
        programme = commands.define_programme(self.log, self.training, command,
                                              idempotency_key)
        return {"id": programme.key, **command, "mentors": {}}

    @rpc
    @replies(AssignMentor())
    def assign_mentor(self, command, idempotency_key=None):
        commands.assign_mentor(self.log, command, idempotency_key)
        return command

    @timer(interval=EXPIRY_CHECK_S)
    def expire_certifications(self):
        commands.expire_certifications(self.log, self.training, now())

    @rpc
    def courses(self):
        return CourseView(many=True).dump(self.training.courses())

    @rpc
    def sessions(self, filter):
        return SessionView(many=True).dump(self.training.sessions(filter))

    @rpc
    def session(self, session_id):
        session = self.training.session(session_id)
        return SessionView().dump(session) if session else None

    @rpc
    def roster(self, session_id):
        return self.training.roster(session_id)

    @rpc
    def observer(self, observer_id):
        observer = self.training.observer(observer_id)
        return {"id": observer_id, "region": observer["region"]} if observer else None

    @rpc
    def observer_training(self, observer_id):
        return self.training.observer_training(observer_id)

    @rpc
    def stats(self, region=None):
        return self.training.stats(region)

    @rpc
    def programmes(self):
        return [{**p, "progress": self.training.programme_progress(p)}
                for p in self.training.programmes()]

    @rpc
    def ping(self):
        return "pong"
