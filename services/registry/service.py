"""Registry entrypoints. Commands answer {"ok": true, "data"} or {"ok": false,
"errors"}; queries read the projections."""
import uuid

from nameko.rpc import rpc

from services.registry.domain import Observer
from services.registry.projections import ObserverDirectory, Observers
from services.registry.schemas import ObserverView, RegisterObserver
from shared import config
from shared.commands import execute
from shared.runtime import EventLog, ReadModel, RequestContext, replies


class RegistryService:
    name = "registry"

    context = RequestContext()
    log = EventLog(projections=[ObserverDirectory])
    observers = ReadModel(Observers)

    @rpc
    @replies(RegisterObserver())
    def register_observer(self, command, idempotency_key=None):
        observer = execute(
            self.log, Observer, str(uuid.uuid4()),
            lambda o: o.register(**command, phone_region=config.default_phone_region()),
            idempotency_key)
        return ObserverView().dump(observer)

    @rpc
    def get_observer(self, observer_id):
        observer = self.observers.get(observer_id)
        return ObserverView().dump(observer) if observer else None

    @rpc
    def ping(self):
        return "pong"
