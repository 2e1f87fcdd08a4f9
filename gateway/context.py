"""What resolvers see of the request: the viewer, and calls to the services."""
import logging
import re

import eventlet
from nameko.exceptions import RemoteError, RpcTimeout

from gateway.errors import INTERNAL, SERVICE_UNAVAILABLE, GatewayError

log = logging.getLogger(__name__)

RPC_TIMEOUT = 10.0


class Context:
    def __init__(self, viewer, services, gathered=None, timeout=RPC_TIMEOUT):
        """`gathered`: {(service, method): call} for the methods whose calls go in
        rounds with other requests' (shared.runtime.Gathered)."""
        self.viewer = viewer
        self.services = services
        self.gathered = gathered or {}
        self.timeout = timeout

    def call(self, service, method, *args, timeout=None, **kwargs):
        """An RPC call that fails as a coded GraphQL error, never as a hang."""
        try:
            with eventlet.Timeout(timeout or self.timeout):
                call = self.gathered.get((service, method)) or getattr(
                    self.services[service], method)
                return call(*args, **kwargs)
        except (eventlet.Timeout, RpcTimeout):
            raise GatewayError(SERVICE_UNAVAILABLE,
                               f"the {service} service did not answer in time")
        except RemoteError as exc:
            log.error("%s.%s failed: %s", service, method, exc)
            raise GatewayError(INTERNAL, f"the {service} service failed; it has been logged")

    def command(self, service, method, payload, idempotency_key=None, timeout=None):
        """Runs a command; returns (data, errors) with errors shaped as UserError."""
        reply = self.call(service, method, payload, idempotency_key=idempotency_key,
                          timeout=timeout)
        if reply["ok"]:
            return reply["data"], []
        return None, [{**e, "field": camel_path(e.get("field"))} for e in reply["errors"]]


def camel_path(path):
    if not path:
        return path
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path)
