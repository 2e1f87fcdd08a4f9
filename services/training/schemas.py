"""Training's boundaries: commands it accepts, events it publishes, replies."""
from marshmallow import Schema, fields, validate

from services.registry.schemas import REGION_CODE
from services.training.domain import (FORMATS, OBSERVER_ROLES, Course, Programme, Session,
                                      Trainee)
from shared.schemas import event_schema

ID = validate.Length(min=1, max=64)
# A whole seminar's roster in one request, bounded so that one request stays short.
MAX_ENROLLMENTS = 1000
MODULE_CODE = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,31}$",
                              error="a module code is 1-32 lower-case letters, digits, _ -")


class Module(Schema):
    code = fields.String(required=True, validate=MODULE_CODE)
    title = fields.String(required=True, validate=validate.Length(min=2, max=200))
    required = fields.Boolean(load_default=True)


class DefineCourse(Schema):
    title = fields.String(required=True, validate=validate.Length(min=2, max=200))
    modules = fields.List(fields.Nested(Module), required=True,
                          validate=validate.Length(min=1, max=50))
    pass_mark = fields.Integer(required=True, validate=validate.Range(min=0))
    max_score = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    validity_days = fields.Integer(required=True,
                                   validate=validate.Range(min=1, max=3650))
    roles = fields.List(fields.String(validate=validate.OneOf(OBSERVER_ROLES)),
                        required=True, validate=validate.Length(min=1))


class Scoped(Schema):
    """The caller's scope: a session elsewhere, or not theirs to train, is answered
    as missing."""
    within_region = fields.String(load_default=None, allow_none=True)
    trainer_scope = fields.String(load_default=None, allow_none=True)


class ScheduleSession(Schema):
    course_id = fields.String(required=True, validate=ID)
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    place = fields.String(load_default=None, allow_none=True,
                          validate=validate.Length(min=2, max=300))
    link = fields.Url(load_default=None, allow_none=True, schemes={"https", "http"})
    region = fields.String(required=True, validate=REGION_CODE)
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    trainer = fields.String(required=True, validate=validate.Length(min=1, max=200))
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=10000))


class EnrollObserver(Scoped):
    session_id = fields.String(required=True, validate=ID)
    observer_id = fields.String(required=True, validate=ID)


class WithdrawEnrollment(EnrollObserver):
    pass


class EnrollObservers(Scoped):
    session_id = fields.String(required=True, validate=ID)
    observer_ids = fields.List(fields.String(validate=ID), required=True,
                               validate=validate.Length(min=1, max=MAX_ENROLLMENTS))


class RecordAttendance(Scoped):
    session_id = fields.String(required=True, validate=ID)
    module = fields.String(required=True, validate=MODULE_CODE)
    observer_ids = fields.List(fields.String(validate=ID), required=True,
                               validate=validate.Length(min=1, max=10000))


class Score(Schema):
    observer_id = fields.String(required=True, validate=ID)
    score = fields.Integer(required=True)


class RecordAssessment(Scoped):
    session_id = fields.String(required=True, validate=ID)
    scores = fields.List(fields.Nested(Score), required=True,
                         validate=validate.Length(min=1, max=10000))


class RevokeCertification(Scoped):
    certification_id = fields.String(required=True, validate=ID)
    reason = fields.String(required=True, validate=validate.Length(min=3, max=1000))


class DefineProgramme(Schema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    course_ids = fields.List(fields.String(validate=ID), required=True,
                             validate=validate.Length(min=1, max=50))
    organization_ids = fields.List(fields.String(validate=ID), required=True,
                                   validate=validate.Length(min=1, max=1000))


class AssignMentor(Schema):
    programme_id = fields.String(required=True, validate=ID)
    organization_id = fields.String(required=True, validate=ID)
    mentor = fields.String(required=True, validate=validate.Length(min=1, max=200))


# What partners receive as each event's data (schema version 1).
EVENTS = {cls.__name__: event_schema(cls)
          for aggregate in (Course, Session, Trainee, Programme) for cls in aggregate.events}


class CourseView(Schema):
    id = fields.String(attribute="course_id")
    title = fields.String()
    modules = fields.List(fields.Dict())
    pass_mark = fields.Integer()
    max_score = fields.Integer()
    validity_days = fields.Integer()
    roles = fields.List(fields.String())


class SessionView(Schema):
    id = fields.String(attribute="session_id")
    course_id = fields.String()
    title = fields.String()
    format = fields.String()
    place = fields.String(allow_none=True)
    link = fields.String(allow_none=True)
    region = fields.String()
    starts_at = fields.String()
    ends_at = fields.String()
    trainer = fields.String()
    capacity = fields.Integer()
    seated = fields.Integer()
    waiting = fields.Integer()
    modules = fields.List(fields.String())
    required_modules = fields.List(fields.String())


class EnrollmentView(Schema):
    id = fields.String()
    session_id = fields.String()
    observer_id = fields.String()
    waitlisted = fields.Boolean()


class Refusal(Schema):
    code = fields.String()
    field = fields.String()
    message = fields.String()


class RosterView(Schema):
    session_id = fields.String()
    enrollments = fields.List(fields.Nested(EnrollmentView))
    refused = fields.List(fields.Nested(Refusal))
