"""The registry's command handlers: from a validated request to aggregates decided and
appended. Plain Python over the injected event log, so they run the same in the
service and in a benchmark."""
import logging
from collections import Counter

from marshmallow import ValidationError

from services.registry import imports
from services.registry.domain import (District, Observer, Organization, PollingStation,
                                      Region, sms_code)
from shared.commands import Command, execute, execute_all, in_chunks
from shared.envelope import envelopes
from shared.errors import Problem, Rejected, problems_from_messages
from shared.eventstore import UniquenessError
from shared.ids import new_id, new_ids

logger = logging.getLogger(__name__)
OBSERVER_COLUMNS = ("full_name", "phone", "region_code")
# Where a command field's problem shows in an observer file.
OBSERVER_FILE_COLUMN = {"phones": "phone", "region": "region_code",
                        "district": "district_code", "organization_id": "organization"}
STATION_COLUMNS = ("region_code", "district_code", "station_code", "station_number",
                   "address", "registered_voters")

SMS_CODE_ATTEMPTS = 3


def register_organization(log, command, idempotency_key=None):
    return execute(log, Organization, new_id(),
                   lambda o: o.register(**command), idempotency_key, new=True)


def register_observer(log, references, command, phone_region, idempotency_key=None):
    references.check(command)
    [outcome] = register_observers(log, [command], phone_region, [idempotency_key])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def register_observers(log, commands, phone_region, idempotency_keys=None):
    """Registers many observers, whose references were checked; returns, in order,
    each one's Observer or Rejected.

    Each gets the SMS code of the next number of the registry's sequence (see
    domain.sms_code). The store still guards the codes' uniqueness: should a code be
    taken after all (the sequence's key was lost), the observer gets the next one.
    """
    keys = idempotency_keys or [None] * len(commands)
    outcomes = [None] * len(commands)
    todo = list(range(len(commands)))
    for _ in range(SMS_CODE_ATTEMPTS):
        if not todo:
            break
        numbers, key = log.reserve("sms_codes", len(todo))
        results = execute_all(log, [Command(
            Observer, observer_id,
            lambda o, c=commands[i], n=n: o.register(**c, sms_code=sms_code(n, key),
                                                     phone_region=phone_region),
            keys[i], new=True)
            for i, n, observer_id in zip(todo, numbers, new_ids(len(todo)))])
        retry = []
        for i, result in zip(todo, results):
            if isinstance(result, UniquenessError) and result.namespace == "sms_code":
                retry.append(i)
            elif isinstance(result, UniquenessError):
                outcomes[i] = _phone_taken(result)
            else:
                outcomes[i] = result
        todo = retry
    for i in todo:
        outcomes[i] = RuntimeError("no free SMS code found")
    return outcomes


def update_observer(log, references, command, phone_region, idempotency_key=None):
    observer_id, changes = command["observer_id"], command["changes"]

    def decide(observer):
        observer.require_visible(command["within_region"])
        references.check({"region": changes.get("region", observer.region),
                          "district": changes.get("district", observer.district),
                          "organization_id": changes.get("organization_id",
                                                         observer.organization_id)})
        observer.update(phone_region=phone_region, **changes)
    try:
        return execute(log, Observer, observer_id, decide, idempotency_key)
    except UniquenessError as clash:
        raise _phone_taken(clash)


def suspend_observer(log, command, idempotency_key=None):
    def decide(observer):
        observer.require_visible(command["within_region"])
        observer.suspend(command["reason"])
    return execute(log, Observer, command["observer_id"], decide, idempotency_key)


def verify_observer_phone(log, command, phone_region, idempotency_key=None):
    def decide(observer):
        observer.require_visible(command["within_region"])
        observer.verify_phone(command["phone"], command["method"], phone_region)
    return execute(log, Observer, command["observer_id"], decide, idempotency_key)


def follow_status(log, body):
    """Notes training or deployment events about observers (a message's run of them),
    moving their status. Each is recorded as caused by its event; a round decides each
    observer once, so two events about one observer are decided one after the other."""
    pending = [e for e in envelopes(body) if _names_an_observer(e)]
    while pending:
        wave, later, seen = [], [], set()
        for envelope in pending:
            observer_id = envelope["data"]["observer_id"]
            (later if observer_id in seen else wave).append(envelope)
            seen.add(observer_id)
        for outcome in execute_all(log, [Command(
                Observer, e["data"]["observer_id"],
                lambda o, e=e: o.follow(e["type"], e["id"], e["data"]),
                metadata={**log.metadata, "causation_id": e["id"],
                          "correlation_id": e.get("correlationid")}) for e in wave]):
            if isinstance(outcome, Exception):
                raise outcome
        pending = later


def _names_an_observer(envelope):
    """Whether an envelope is an event about an observer. Anything else is logged and
    left out: the run is retried when it fails, and must not fail for ever over it."""
    try:
        return bool(envelope["id"] and envelope["type"] and
                    envelope["data"].get("observer_id"))
    except (KeyError, TypeError, AttributeError):
        logger.error("not an event about an observer, left out: %.300r", envelope)
        return False


def _phone_taken(clash):
    return Rejected(Problem("PHONE_TAKEN", f"phone {clash.value} already belongs to "
                                           f"observer {clash.owner}", "phones"))


def import_observers(log, references, schema, data, phone_region):
    """Imports observers from CSV (full_name, phone, region_code; optionally phone2,
    district_code, organization (name or id), locale, document_number); returns the
    report. Each row is validated as registerObserver validates, and checked against
    the territory and organizations; bad rows are reported with all their problems and
    left out whole."""
    header, rows = imports.read_table(data)
    imports.require_columns(header, OBSERVER_COLUMNS)

    def parse(cells):
        command = _observer_command(cells, references)
        try:
            command = schema.load(command)
            problems = []
        except ValidationError as exc:
            problems = problems_from_messages(exc.messages)
        try:
            references.check(command)
        except Rejected as refused:
            # A field already refused by the schema is not refused twice.
            problems += [p for p in refused.problems
                         if p.field not in {q.field for q in problems}]
        if problems:
            raise Rejected(*problems)
        return command

    def import_chunk(chunk):
        parsed, problems = imports.parse_rows(chunk, parse, _file_column)
        outcomes = register_observers(log, [c for _, c in parsed], phone_region)
        for (number, _), outcome in zip(parsed, outcomes):
            if isinstance(outcome, Rejected):
                problems += imports.row_problems(number, outcome.problems, _file_column)
            elif isinstance(outcome, Exception):
                raise outcome  # not a row's fault: the store failed
        return problems, sum(not isinstance(o, Exception) for o in outcomes)

    with log.bulk():
        results = in_chunks(rows, import_chunk)
    return imports.report(rows, [p for problems, _ in results for p in problems],
                          imported=sum(registered for _, registered in results))


def _observer_command(cells, references):
    phones = [p for p in (cells.get("phone"), cells.get("phone2")) if p]
    organization = cells.get("organization")
    return {
        "full_name": cells.get("full_name", ""),
        "phones": phones,
        "region": cells.get("region_code", "").upper(),
        "district": cells.get("district_code", "").upper() or None,
        "organization_id": references.organization_id(organization) if organization
        else None,
        "locale": cells.get("locale", "").lower() or "ru",
        "document_number": cells.get("document_number") or None,
    }


def _file_column(field):
    name = field.split(".")[0]
    return OBSERVER_FILE_COLUMN.get(name, name)


def parse_station(cells):
    region = imports.code(cells, "region_code")
    district = imports.code(cells, "district_code")
    return {
        "region": {"code": region, "names": imports.names(cells, "region_name")},
        "district": {"code": district, "region": region,
                     "names": imports.names(cells, "district_name")},
        "station": {
            "code": imports.code(cells, "station_code"),
            "number": imports.integer(cells, "station_number", 1, 10**6),
            "names": imports.names(cells, "station_name"),
            "address": imports.text(cells, "address", max_length=500),
            "district": district,
            "region": region,
            "registered_voters": imports.integer(cells, "registered_voters", 0, 10**6),
            "latitude": imports.decimal(cells, "latitude", -90, 90),
            "longitude": imports.decimal(cells, "longitude", -180, 180),
            "remote": imports.flag(cells, "remote"),
            "abroad": imports.flag(cells, "abroad"),
            "special": imports.flag(cells, "special"),
        },
    }


def import_polling_stations(log, data):
    """Imports an election commission's station list; returns the import report.

    Idempotent: unchanged rows record nothing, changed rows record what changed. A row
    with any problem is reported and left out whole.
    """
    header, rows = imports.read_table(data)
    imports.require_columns(header, STATION_COLUMNS)
    parsed, problems = imports.parse_rows(rows, parse_station)
    parsed, conflicts = _consistent(parsed)
    problems += conflicts

    regions = {p["region"]["code"]: p["region"] for _, p in parsed}
    districts = {p["district"]["code"]: p["district"] for _, p in parsed}
    # Regions before districts before stations: consumers meet them in that order.
    with log.bulk():
        counts = {name: _define_all(log, cls, list(facts)) for name, cls, facts in (
            ("regions", Region, regions.values()),
            ("districts", District, districts.values()),
            ("stations", PollingStation, [p["station"] for _, p in parsed]))}
    return imports.report(rows, problems, **counts)


def _consistent(parsed):
    """Drops rows that contradict the rest of the file: a station code given twice,
    a district placed in two regions."""
    problems = []
    repeated = {code for code, n in Counter(
        p["station"]["code"] for _, p in parsed).items() if n > 1}
    district_region = {}
    kept = []
    for number, p in parsed:
        station, district = p["station"], p["district"]
        if station["code"] in repeated:
            problems.append(imports.RowProblem(
                number, "station_code", "DUPLICATE_IN_FILE",
                f"station {station['code']} is on more than one row of this file"))
            continue
        region = district_region.setdefault(district["code"], district["region"])
        if region != district["region"]:
            problems.append(imports.RowProblem(
                number, "region_code", "DISTRICT_IN_TWO_REGIONS",
                f"district {district['code']} is in region {region} on an earlier row"))
            continue
        kept.append((number, p))
    return kept, problems


def _define_all(log, cls, facts):
    def define_chunk(chunk):
        outcomes = execute_all(log, [
            Command(cls, cls.stream(f["code"]), lambda t, f=f: t.define(**f))
            for f in chunk])
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome  # not a row's fault: the store failed
        return Counter(_what_happened(outcome) for outcome in outcomes)
    counts = sum(in_chunks(facts, define_chunk), Counter())
    return {k: counts[k] for k in ("created", "changed", "unchanged")}


def _what_happened(territory):
    if not territory.pending:
        return "unchanged"
    return "created" if isinstance(territory.pending[0], territory.defined) else "changed"
