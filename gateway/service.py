"""The gateway: GraphQL over HTTP for coordinators, operators, trainers and observers.
It owns no data; resolvers call the services over RPC."""
import hmac
import json
import logging
from pathlib import Path

import eventlet
from werkzeug.wrappers import Response

from gateway.context import RPC_TIMEOUT, Context
from gateway.errors import (BAD_REQUEST, SERVICE_UNAVAILABLE, UNAUTHENTICATED,
                            GatewayError, error_dict)
from gateway.executor import Executor
from gateway.http import http
from gateway.schema import schema
from gateway.sms import inbound_message
from shared import auth, config
from shared.runtime import Gathered, RequestContext, RpcProxy

GRAPHIQL = (Path(__file__).parent / "graphiql.html").read_text()
SERVICES = ("registry", "training", "deployment", "reporting", "hotline")
"""The services GraphQL resolvers call."""
MONITORED = (*SERVICES, "partners")
"""The services /health asks after: partners answers no GraphQL but runs the platform's
event contract."""
executor = Executor(schema)
log = logging.getLogger(__name__)
SMS_TIMEOUT_S = 20


class GatewayService:
    name = "gateway"

    request_context = RequestContext()
    registry = RpcProxy("registry")
    training = RpcProxy("training")
    deployment = RpcProxy("deployment")
    reporting = RpcProxy("reporting")
    hotline = RpcProxy("hotline")
    partners = RpcProxy("partners")
    # Observers' checklists and turnout, the bulk of election day, reach reporting in
    # rounds.
    submissions = Gathered("reporting", "submit_reports_of", timeout=RPC_TIMEOUT)
    turnouts = Gathered("reporting", "submit_turnouts_of", timeout=RPC_TIMEOUT)
    # So do the SMS gateway's messages, to the hotline.
    messages = Gathered("hotline", "receive_sms_of", timeout=SMS_TIMEOUT_S)

    @http("POST", "/graphql")
    def graphql(self, request):
        try:
            query, variables, operation = _graphql_request(request)
            viewer = _viewer(request)
            document = executor.document(query)
        except GatewayError as exc:
            code = exc.extensions["code"]
            status = 401 if code in (UNAUTHENTICATED, "TOKEN_EXPIRED", "TOKEN_INVALID") \
                else 400
            return self._json(status, {"errors": [error_dict(code, exc.message)]})
        # Who acts, and through what, travels with every RPC call into the event log.
        self.request_context.update(actor=viewer.subject, role=viewer.role,
                                    channel="graphql")
        context = Context(viewer, {name: getattr(self, name) for name in SERVICES},
                          {("reporting", "submit_report"): self.submissions,
                           ("reporting", "submit_turnout"): self.turnouts})
        return self._json(200, executor.execute(document, variables, operation, context))

    @http("POST", "/sms/inbound")
    def sms_inbound(self, request):
        """The SMS gateway's webhook (Kannel and the like): the shared secret in the
        `secret` query parameter; answers {"reply", "status", "problems"}."""
        if not hmac.compare_digest(request.args.get("secret", "").encode(),
                                   config.sms_webhook_secret().encode()):
            return self._json(401, {"errors": [error_dict(
                UNAUTHENTICATED, "send the shared secret as ?secret=")]})
        self.request_context.update(actor="sms-gateway", role="sms_gateway",
                                    channel="sms")
        try:
            with eventlet.Timeout(SMS_TIMEOUT_S):
                answer = self.messages(inbound_message(request))
        except (Exception, eventlet.Timeout) as exc:
            # The gateway keeps the message and delivers it again.
            log.error("the hotline did not take an SMS: %r", exc)
            return self._json(503, {"reply": None, "status": "pending", "problems": [
                error_dict(SERVICE_UNAVAILABLE, "the hotline did not answer")]})
        if answer["ok"]:
            return self._json(200, answer["data"])
        # Logged but not decided (reporting did not answer): the gateway delivers it
        # again, and the redelivery is decided then.
        return self._json(503, {"reply": None, "status": "pending",
                                "problems": answer["errors"]})

    @http("GET", "/graphql")
    def graphiql(self, request):
        return Response(GRAPHIQL, mimetype="text/html")

    @http("GET", "/health")
    def health(self, request):
        services = {name: _ping(getattr(self, name)) for name in MONITORED}
        healthy = all(state == "ok" for state in services.values())
        return self._json(200 if healthy else 503,
                          {"status": "ok" if healthy else "degraded", "services": services})

    @http("GET", "/ping")
    def ping(self, request):
        """No work at all: the load test's floor, what the web server alone sustains."""
        return "pong"

    def _json(self, status, body):
        return Response(json.dumps(body, default=str, ensure_ascii=False), status=status,
                        mimetype="application/json",
                        headers={RequestContext.HEADER:
                                 self.request_context["correlation_id"]})


def _graphql_request(request):
    try:
        body = json.loads(request.get_data(as_text=True))
    except ValueError:
        raise GatewayError(BAD_REQUEST, "the body must be JSON: "
                                        '{"query": "...", "variables": {...}}')
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise GatewayError(BAD_REQUEST, 'the body needs a "query" string')
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        raise GatewayError(BAD_REQUEST, '"variables" must be an object')
    operation = body.get("operationName")
    return body["query"], variables, operation if isinstance(operation, str) else None


def _viewer(request):
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GatewayError(UNAUTHENTICATED,
                           "send a bearer token: Authorization: Bearer <token>")
    try:
        return auth.verify(token.strip())
    except auth.InvalidToken as exc:
        raise GatewayError(exc.code, str(exc))


def _ping(service, timeout=2.0):
    try:
        with eventlet.Timeout(timeout):
            return "ok" if service.ping() == "pong" else "unexpected answer"
    except eventlet.Timeout:
        return "no answer"
    except Exception as exc:
        return f"error: {exc}"
