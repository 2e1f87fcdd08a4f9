"""Reporting's command handlers: from a validated request to aggregates decided and
appended. Plain Python over the injected event log and read models."""
import uuid

from services.reporting.domain import PREFIX_CLAIM, Form, ObserverCopy, prefix_key
from shared.commands import execute, replay_stream
from shared.errors import Problem, Rejected
from shared.eventstore import UniquenessError


def publish_form(log, command, idempotency_key=None):
    """A new form, or the next version of `form_id`; returns the form."""
    command = dict(command)
    form_id = command.pop("form_id") or str(uuid.uuid4())
    try:
        return execute(log, Form, Form.stream(form_id),
                       lambda form: form.publish(form_id, **command), idempotency_key)
    except UniquenessError as exc:
        raise Rejected(Problem("SMS_PREFIX_TAKEN", f"the SMS prefix "
                               f"{command['sms_prefix']} belongs to another form "
                               f"({exc.owner.partition(':')[2]})", "sms_prefix"))


def published_form(log, form_id=None, sms_prefix=None, incident=False):
    """The published form named by id, or by SMS prefix; refuses UNKNOWN_FORM."""
    stream = (Form.stream(form_id) if form_id
              else log.owner_of(PREFIX_CLAIM, prefix_key(sms_prefix, incident)))
    form = replay_stream(log, Form, stream) if stream else None
    if form is None or not form.exists:
        named = (f"id {form_id}" if form_id else
                 f"SMS prefix {prefix_key(sms_prefix, incident)}")
        raise Rejected(Problem("UNKNOWN_FORM", f"no published form has the {named}",
                               "form_id" if form_id else "sms_prefix"))
    return form


def submit_report(log, reporting, command, idempotency_key=None):
    """Saves a submission into its observer copy; returns the reply's facts."""
    form = published_form(log, command["form_id"], command["sms_prefix"],
                          command["incident"])
    observer_id = command["observer_id"]
    if reporting.observer(observer_id) is None:
        raise Rejected(Problem("UNKNOWN_OBSERVER", f"no observer {observer_id} is known",
                               "observer_id"))
    assigned = reporting.assigned_stations(observer_id)
    code = command["station_code"] or _assigned_station(observer_id, assigned)
    station = reporting.station(code)
    if station is None:
        raise Rejected(Problem("VALIDATION", f"no polling station {code} is known",
                               "station_code"))
    values, unknown, invalid = form.read(command["answers"])
    received_at = command["received_at"]
    copy = execute(log, ObserverCopy, ObserverCopy.stream(
        form.facts["form_id"], observer_id, code, command["serial"]),
        lambda c: c.submit(form, observer_id, station, command["channel"], values,
                           unknown, invalid, code in assigned, command["sender_verified"],
                           command["comment"], received_at and received_at.isoformat(),
                           command["serial"]),
        idempotency_key)
    return {"submission_id": copy.submission_id, "form_name": form.facts["name"],
            **copy.outcome}


def _assigned_station(observer_id, assigned):
    if len(assigned) == 1:
        return assigned[0]
    raise Rejected(Problem("NO_STATION", f"observer {observer_id} is " + (
        "assigned to no station" if not assigned else
        f"assigned to several stations ({', '.join(assigned)}): name one"),
        "station_code"))


def form_view(form):
    return {**form.facts, "questions": list(form.questions.values())}
