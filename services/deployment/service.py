"""Deployment entrypoints. Commands answer {"ok": true, "data"} or {"ok": false,
"errors"}; queries read the projections. What it knows of stations, observers and
certifications it learns from the registry's and training's events, never by asking."""
from nameko.rpc import rpc
from nameko.timer import timer

from services.deployment import commands
from services.deployment.projections import (Assignments, Coverage, Deployments,
                                             Directory)
from services.deployment.schemas import (AssignmentView, AssignObserver, AutoDeploy,
                                         CheckIn, CheckInView, ConfigureElection,
                                         CoveragePlanView, ElectionView, SetCoveragePlan,
                                         WithdrawAssignment)
from shared.runtime import EventLog, ReadModel, RequestContext, replies

NO_SHOW_CHECK_INTERVAL = 30
# What deployment decides from: stations and observers from the registry,
# certifications from training.
DIRECTORY_SOURCES = {
    "registry": ("PollingStationRegistered", "PollingStationChanged", "ObserverRegistered",
                 "ObserverUpdated", "ObserverSuspended"),
    "training": ("ObserverCertified", "CertificationRevoked", "CertificationExpired"),
}


class DeploymentService:
    name = "deployment"

    context = RequestContext()
    log = EventLog(projections=[Assignments, Coverage],
                   subscriptions=[(Directory, DIRECTORY_SOURCES)])
    deployments = ReadModel(Deployments)

    @rpc
    @replies(AssignObserver())
    def assign_observer(self, command, idempotency_key=None):
        return AssignmentView().dump(commands.assign_observer(
            self.log, self.deployments, command, idempotency_key))

    @rpc
    @replies(WithdrawAssignment())
    def withdraw_assignment(self, command, idempotency_key=None):
        return AssignmentView().dump(commands.withdraw_assignment(
            self.log, command, idempotency_key))

    @rpc
    @replies(SetCoveragePlan())
    def set_coverage_plan(self, command, idempotency_key=None):
        return CoveragePlanView().dump(commands.set_coverage_plan(
            self.log, self.deployments, command, idempotency_key))

    @rpc
    @replies(ConfigureElection())
    def configure_election(self, command, idempotency_key=None):
        return ElectionView().dump(commands.configure_election(
            self.log, command, idempotency_key))

    @rpc
    @replies(AutoDeploy())
    def auto_deploy(self, command, idempotency_key=None):
        return commands.auto_deploy(self.log, self.deployments, command)

    @rpc
    @replies(CheckIn())
    def check_in(self, command, idempotency_key=None):
        return CheckInView().dump(commands.check_in(
            self.log, self.deployments, command, idempotency_key))

    @timer(interval=NO_SHOW_CHECK_INTERVAL)
    def watch_check_in_deadline(self):
        commands.detect_no_shows(self.log, self.deployments)

    @rpc
    def detect_no_shows(self):
        return commands.detect_no_shows(self.log, self.deployments)

    @rpc
    def coverage(self, region=None):
        return self.deployments.coverage(region)

    @rpc
    def coverage_plan(self, region):
        return self.deployments.plan(region)

    @rpc
    def station(self, code):
        station = self.deployments.station(code)
        return station and {"code": station.code, "region": station.region,
                            "district": station.district}

    @rpc
    def assignments(self, station_code=None, observer_id=None):
        return AssignmentView(many=True).dump(
            self.deployments.assignments(station_code, observer_id))

    @rpc
    def check_ins(self, station_code):
        return self.deployments.check_ins(station_code)

    @rpc
    def uncovered_stations(self, region, priority_only=False, after=None, first=50,
                           count=True):
        return self.deployments.uncovered(region, priority_only, after, first, count)

    @rpc
    def replacements(self, station_code, shift="whole_day", within_region=None):
        return commands.replacements(self.deployments, station_code, shift, within_region)

    @rpc
    def ping(self):
        return "pong"
