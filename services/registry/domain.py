"""The registry's aggregates and events: the territory (regions, districts, polling
stations) and who observes it."""
from dataclasses import dataclass

import phonenumbers

from shared.aggregate import Aggregate, event_data
from shared.errors import Problem, Rejected

LOCALES = ("ru", "ky", "en")


@dataclass(frozen=True)
class RegionDefined:
    code: str
    names: dict


@dataclass(frozen=True)
class TerritoryChanged:
    """What changed (new values) and what it was before, field by field."""
    code: str
    changes: dict
    previous: dict


class RegionChanged(TerritoryChanged):
    pass


@dataclass(frozen=True)
class DistrictDefined:
    code: str
    region: str
    names: dict


class DistrictChanged(TerritoryChanged):
    pass


@dataclass(frozen=True)
class PollingStationRegistered:
    code: str
    number: int
    names: dict
    address: str
    district: str
    region: str
    registered_voters: int
    latitude: float | None = None
    longitude: float | None = None
    remote: bool = False
    abroad: bool = False
    special: bool = False


class PollingStationChanged(TerritoryChanged):
    pass


class Territory(Aggregate):
    """A region, district or station: defined once, then changed field by field.
    Stating the same facts again records nothing, so re-importing a file is harmless."""

    defined = changed = None

    def __init__(self, id):
        super().__init__(id)
        self.state = {}

    @classmethod
    def stream(cls, code):
        return f"{cls.__name__.lower()}:{code}"

    def define(self, **facts):
        if not self.exists:
            self.record(self.defined(**facts))
            return
        if "names" in facts:
            # A file without a language's column leaves that language's name alone.
            facts["names"] = {**self.state.get("names", {}), **facts["names"]}
        changes = {k: v for k, v in facts.items() if self.state.get(k) != v}
        if changes:
            self.record(self.changed(code=self.state["code"], changes=changes,
                                     previous={k: self.state.get(k) for k in changes}))

    def _mutate(self, event):
        if isinstance(event, self.defined):
            self.state = event_data(event)
        else:
            self.state.update(event.changes)


class Region(Territory):
    events = (RegionDefined, RegionChanged)
    defined, changed = events


class District(Territory):
    events = (DistrictDefined, DistrictChanged)
    defined, changed = events


class PollingStation(Territory):
    events = (PollingStationRegistered, PollingStationChanged)
    defined, changed = events


ORGANIZATION_KINDS = ("ngo", "coalition", "party", "candidate")


@dataclass(frozen=True)
class OrganizationRegistered:
    organization_id: str
    name: str
    kind: str
    region: str | None = None
    contact: str | None = None


class Organization(Aggregate):
    """A partner organization whose members observe: an NGO, a coalition, a party or
    a candidate's team; national when it has no region."""

    events = (OrganizationRegistered,)

    def __init__(self, id):
        super().__init__(id)
        self.name = self.kind = self.region = self.contact = None

    def register(self, name, kind, region=None, contact=None):
        if self.exists:
            raise Rejected(Problem("ALREADY_REGISTERED",
                                   f"organization {self.id} is already registered"))
        self.record(OrganizationRegistered(self.id, " ".join(name.split()), kind, region,
                                           contact))

    def on_organization_registered(self, event):
        self.name, self.kind = event.name, event.kind
        self.region, self.contact = event.region, event.contact


@dataclass(frozen=True)
class ObserverRegistered:
    observer_id: str
    full_name: str
    phones: list
    region: str
    locale: str
    organization_id: str | None = None
    district: str | None = None
    document_number: str | None = None
    sms_code: str | None = None


@dataclass(frozen=True)
class ObserverUpdated:
    observer_id: str
    changes: dict
    previous: dict


@dataclass(frozen=True)
class ObserverSuspended:
    observer_id: str
    reason: str


@dataclass(frozen=True)
class ObserverStatusChanged:
    """Another service's event moved the observer along: `cause` names it."""
    observer_id: str
    status: str
    previous: str
    cause: str
    cause_id: str


# Which other services' events move an observer's status, from which statuses.
STATUS_MOVES = {
    "ObserverEnrolled": ("in_training", {"applicant"}),
    "ObserverCertified": ("certified", {"applicant", "in_training"}),
    "CertificationRevoked": ("in_training", {"certified", "deployed"}),
    "ObserverAssigned": ("deployed", {"certified"}),
    "AssignmentWithdrawn": ("certified", {"deployed"}),
}


class Observer(Aggregate):
    events = (ObserverRegistered, ObserverUpdated, ObserverSuspended,
              ObserverStatusChanged)

    def __init__(self, id):
        super().__init__(id)
        self.full_name = None
        self.phones = []
        self.region = self.district = None
        self.locale = None
        self.organization_id = None
        self.document_number = None
        self.sms_code = None
        self.status = None
        self.causes = set()

    def register(self, full_name, phones, region, locale, sms_code,
                 organization_id=None, district=None, document_number=None,
                 phone_region="KG"):
        """Phones and the SMS code are claimed: each belongs to one observer only."""
        if self.exists:
            raise Rejected(Problem("ALREADY_REGISTERED",
                                   f"observer {self.id} is already registered"))
        numbers = list(dict.fromkeys(normalize_phone(p, phone_region, f"phones.{i}")
                                     for i, p in enumerate(phones)))
        for number in numbers:
            self.claim("phone", number)
        self.claim("sms_code", sms_code)
        self.record(ObserverRegistered(
            observer_id=self.id, full_name=" ".join(full_name.split()), phones=numbers,
            region=region, locale=locale, organization_id=organization_id,
            district=district, document_number=document_number, sms_code=sms_code))

    def update(self, phone_region="KG", **facts):
        """Changes what was given; a phone added is claimed, a phone removed released."""
        self.require_visible()
        if "phones" in facts:
            facts["phones"] = list(dict.fromkeys(
                normalize_phone(p, phone_region, f"phones.{i}")
                for i, p in enumerate(facts["phones"])))
        if "full_name" in facts:
            facts["full_name"] = " ".join(facts["full_name"].split())
        changes = {k: v for k, v in facts.items() if getattr(self, k) != v}
        if not changes:
            return
        for number in set(changes.get("phones", self.phones)) - set(self.phones):
            self.claim("phone", number)
        for number in set(self.phones) - set(changes.get("phones", self.phones)):
            self.release("phone", number)
        self.record(ObserverUpdated(self.id, changes,
                                    {k: getattr(self, k) for k in changes}))

    def suspend(self, reason):
        self.require_visible()
        if self.status == "suspended":
            raise Rejected(Problem("ALREADY_SUSPENDED",
                                   f"observer {self.id} is already suspended"))
        self.record(ObserverSuspended(self.id, reason))

    def follow(self, cause, cause_id):
        """Moves the status on another service's event; the same event twice, or one
        that does not apply to the current status (a suspended observer), changes
        nothing."""
        status, allowed_from = STATUS_MOVES[cause]
        if cause_id in self.causes or self.status not in allowed_from:
            return
        self.record(ObserverStatusChanged(self.id, status, self.status, cause, cause_id))

    def require_visible(self, within_region=None):
        """Refuses a missing observer, and one outside `within_region` in exactly the
        same words, so a scoped caller learns nothing about other regions."""
        if not self.exists or within_region not in (None, self.region):
            raise Rejected(Problem("NOT_FOUND", f"there is no observer {self.id}", "id"))

    def on_observer_updated(self, event):
        for name, value in event.changes.items():
            setattr(self, name, value)

    def on_observer_suspended(self, event):
        self.status = "suspended"

    def on_observer_status_changed(self, event):
        self.status = event.status
        self.causes.add(event.cause_id)

    def on_observer_registered(self, event):
        self.full_name = event.full_name
        self.phones = list(event.phones)
        self.region, self.district = event.region, event.district
        self.locale = event.locale
        self.organization_id = event.organization_id
        self.document_number = event.document_number
        self.sms_code = event.sms_code
        self.status = "applicant"


def normalize_phone(raw, default_region, field_name="phone"):
    """E.164 form of a phone number as people type it (spaces, dashes, a leading 0)."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Rejected(Problem("INVALID_PHONE", f"{raw!r} is not a phone number",
                               field_name))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
