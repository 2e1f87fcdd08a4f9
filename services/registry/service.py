"""Registry entrypoints. Commands answer {"ok": true, "data"} or {"ok": false,
"errors"}; queries read the projections."""
import functools

from nameko.events import event_handler
from nameko.rpc import rpc

from services.registry import commands
from services.registry.projections import (ObserverDirectory, Observers,
                                           OrganizationDirectory, References, Territories,
                                           TerritoryDirectory)
from services.registry.schemas import (ImportFile, ObserverView, OrganizationView,
                                       RegisterObserver, RegisterOrganization,
                                       SuspendObserver, UpdateObserver,
                                       VerifyObserverPhone)
from shared import config
from shared.runtime import EventLog, ReadModel, RequestContext, replies

# A run that failed (the store did not answer) goes back to its queue to be tried
# again, rather than being acknowledged and lost.
following = functools.partial(event_handler, requeue_on_error=True)


class RegistryService:
    name = "registry"

    context = RequestContext()
    log = EventLog(projections=[ObserverDirectory, TerritoryDirectory,
                                OrganizationDirectory])
    observers = ReadModel(Observers)
    territories = ReadModel(Territories)
    references = ReadModel(References)

    @rpc
    @replies(RegisterObserver())
    def register_observer(self, command, idempotency_key=None):
        observer = commands.register_observer(
            self.log, self.references, command, config.default_phone_region(),
            idempotency_key)
        return ObserverView().dump(observer)

    @rpc
    @replies(UpdateObserver())
    def update_observer(self, command, idempotency_key=None):
        observer = commands.update_observer(
            self.log, self.references, command, config.default_phone_region(),
            idempotency_key)
        return ObserverView().dump(observer)

    @rpc
    @replies(SuspendObserver())
    def suspend_observer(self, command, idempotency_key=None):
        return ObserverView().dump(commands.suspend_observer(self.log, command,
                                                             idempotency_key))

    @rpc
    @replies(VerifyObserverPhone())
    def verify_observer_phone(self, command, idempotency_key=None):
        return ObserverView().dump(commands.verify_observer_phone(
            self.log, command, config.default_phone_region(), idempotency_key))

    # Training and deployment move an observer's status along (domain.ACTIVITIES); a
    # message carries a run of events of one type.
    @following("training", "ObserverEnrolled")
    def on_enrolled(self, run):
        commands.follow_status(self.log, run)

    @following("training", "EnrollmentConfirmed")
    def on_enrollment_confirmed(self, run):
        commands.follow_status(self.log, run)

    @following("training", "EnrollmentWithdrawn")
    def on_enrollment_withdrawn(self, run):
        commands.follow_status(self.log, run)

    @following("training", "ObserverCertified")
    def on_certified(self, run):
        commands.follow_status(self.log, run)

    @following("training", "CertificationRevoked")
    def on_certification_revoked(self, run):
        commands.follow_status(self.log, run)

    @following("training", "CertificationExpired")
    def on_certification_expired(self, run):
        commands.follow_status(self.log, run)

    @following("deployment", "ObserverAssigned")
    def on_assigned(self, run):
        commands.follow_status(self.log, run)

    @following("deployment", "AssignmentWithdrawn")
    def on_assignment_withdrawn(self, run):
        commands.follow_status(self.log, run)

    @rpc
    @replies(RegisterOrganization())
    def register_organization(self, command, idempotency_key=None):
        organization = commands.register_organization(self.log, command, idempotency_key)
        return OrganizationView().dump(organization)

    @rpc
    def observers_page(self, filter, after=None, first=50, count=True):
        page = self.observers.page(filter, after, first, count)
        page["observers"] = ObserverView(many=True).dump(page["observers"])
        return page

    @rpc
    @replies(ImportFile())
    def import_polling_stations(self, command, idempotency_key=None):
        return commands.import_polling_stations(self.log, command["content"])

    @rpc
    @replies(ImportFile())
    def import_observers(self, command, idempotency_key=None):
        return commands.import_observers(self.log, self.references, RegisterObserver(),
                                         command["content"], config.default_phone_region())

    @rpc
    def regions(self):
        return self.territories.regions()

    @rpc
    def polling_stations(self, region=None, district=None, after=None, first=50):
        return self.territories.stations(region, district, after, first)

    @rpc
    def get_observer(self, observer_id):
        observer = self.observers.get(observer_id)
        return ObserverView().dump(observer) if observer else None

    @rpc
    def ping(self):
        return "pong"
