"""Deployment's boundaries: commands it accepts, events it publishes, replies."""
from marshmallow import Schema, fields, validate

from services.deployment.domain import (ROLES, SHIFTS, CoveragePlan, Election,
                                        StationDeployment)
from services.registry.schemas import REGION_CODE
from shared.schemas import event_schema

ID = validate.Length(min=1, max=64)


class Scoped(Schema):
    within_region = fields.String(load_default=None, allow_none=True,
                                  metadata={"description": "the caller's scope: a record "
                                            "elsewhere is answered as missing"})


class AssignObserver(Scoped):
    observer_id = fields.String(required=True, validate=ID)
    station_code = fields.String(required=True, validate=ID)
    role = fields.String(load_default="in_station", validate=validate.OneOf(ROLES))
    shift = fields.String(load_default="whole_day", validate=validate.OneOf(SHIFTS))
    allow_other_region = fields.Boolean(load_default=False)


class WithdrawAssignment(Scoped):
    assignment_id = fields.String(required=True, validate=ID)
    reason = fields.String(required=True, validate=validate.Length(min=3, max=1000))


class SetCoveragePlan(Scoped):
    region = fields.String(required=True, validate=REGION_CODE)
    minimum_observers = fields.Integer(load_default=1, validate=validate.Range(1, 50))
    priority_stations = fields.List(fields.String(validate=ID), load_default=list,
                                    validate=validate.Length(max=20_000))


class AutoDeploy(Scoped):
    region = fields.String(required=True, validate=REGION_CODE)
    role = fields.String(load_default="in_station", validate=validate.OneOf(ROLES))
    shift = fields.String(load_default="whole_day", validate=validate.OneOf(SHIFTS))
    apply = fields.Boolean(load_default=False,
                           metadata={"description": "assign what it proposes"})


class CheckIn(Scoped):
    observer_id = fields.String(required=True, validate=ID)
    station_code = fields.String(required=True, validate=ID)
    at = fields.AwareDateTime(load_default=None, allow_none=True)


class ConfigureElection(Schema):
    observers_per_organization = fields.Integer(load_default=1,
                                                validate=validate.Range(1, 50))
    observers_per_station = fields.Integer(load_default=10, validate=validate.Range(1, 100))
    check_in_deadline = fields.AwareDateTime(load_default=None, allow_none=True)


# What partners receive as each event's data (schema version 1).
EVENTS = {cls.__name__: event_schema(cls) for aggregate in (
    StationDeployment, CoveragePlan, Election) for cls in aggregate.events}
# What regional partners may receive (each carries `region`): see shared/catalog.py.
PARTNER_EVENTS = ("ObserverAssigned", "ObserverCheckedIn", "ObserverNoShow")


class AssignmentView(Schema):
    id = fields.String(attribute="_id")
    observer_id = fields.String()
    station_code = fields.String()
    region = fields.String()
    district = fields.String()
    role = fields.String()
    shift = fields.String()
    organization_id = fields.String(allow_none=True)
    active = fields.Boolean()
    checked_in_at = fields.String(allow_none=True)
    no_show = fields.Boolean()


class CheckInView(Schema):
    assignment_id = fields.String(allow_none=True)
    observer_id = fields.String()
    station_code = fields.String()
    at = fields.String()
    assigned = fields.Boolean()
    flag = fields.String(allow_none=True)


class CoveragePlanView(Schema):
    region = fields.String()
    minimum_observers = fields.Integer()
    priority_stations = fields.List(fields.String())


class ElectionView(Schema):
    observers_per_organization = fields.Integer()
    observers_per_station = fields.Integer()
    check_in_deadline = fields.DateTime(allow_none=True)
