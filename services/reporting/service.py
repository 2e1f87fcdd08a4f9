"""Reporting entrypoints. Commands answer {"ok": true, "data"} or {"ok": false,
"errors"}; queries read the projections. What it knows of stations, observers and
assignments it learns from the registry's and deployment's events."""
from nameko.rpc import rpc

from services.reporting import commands
from services.reporting.projections import DIRECTORY_SOURCES, Directory, Forms, Reporting
from services.reporting.schemas import FormView, PublishForm, SubmitReport
from shared.errors import Rejected
from shared.runtime import EventLog, ReadModel, RequestContext, replies


class ReportingService:
    name = "reporting"

    context = RequestContext()
    log = EventLog(projections=[Forms], subscriptions=[(Directory, DIRECTORY_SOURCES)])
    reporting = ReadModel(Reporting)

    @rpc
    @replies(PublishForm())
    def publish_form(self, command, idempotency_key=None):
        return FormView().dump(commands.form_view(
            commands.publish_form(self.log, command, idempotency_key)))

    @rpc
    @replies(SubmitReport(), invalid_code="VALIDATION")  # the agreed contract
    def submit_report(self, command, idempotency_key=None):
        return commands.submit_report(self.log, self.reporting, command, idempotency_key)

    @rpc
    def form_by_prefix(self, sms_prefix, incident=False):
        """The published form an SMS prefix names, or None."""
        try:
            form = commands.published_form(self.log, sms_prefix=sms_prefix.upper(),
                                           incident=incident)
        except Rejected:
            return None
        return FormView(only=("form_id", "name", "kind", "questions")).dump(
            commands.form_view(form))

    @rpc
    def forms(self):
        return FormView(many=True).dump(self.reporting.forms())

    @rpc
    def ping(self):
        return "pong"
