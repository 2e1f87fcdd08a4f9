"""The registry's aggregates and events: the territory (regions, districts, polling
stations) and who observes it."""
import functools
import hashlib
import hmac
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
class ObserverPhoneVerified:
    """The observer was shown to hold the phone: `method` says how (sms, call,
    in_person)."""
    observer_id: str
    phone: str
    method: str


@dataclass(frozen=True)
class ObserverActivityNoted:
    """Another service's event started or ended one of the observer's activities (an
    enrollment, a certification, an assignment); `cause` names the event."""
    observer_id: str
    activity: str
    activity_id: str
    active: bool
    cause: str
    cause_id: str


@dataclass(frozen=True)
class ObserverStatusChanged:
    """The observer's status follows from their activities; `cause` names the other
    service's event that moved it."""
    observer_id: str
    status: str
    previous: str
    cause: str
    cause_id: str


# Which other services' events start (True) or end (False) which activity, and the
# field of their data that names it.
ACTIVITIES = {
    "ObserverEnrolled": ("enrollment", "enrollment_id", True),
    "EnrollmentConfirmed": ("enrollment", "enrollment_id", True),
    "EnrollmentWithdrawn": ("enrollment", "enrollment_id", False),
    "ObserverCertified": ("certification", "certification_id", True),
    "CertificationRevoked": ("certification", "certification_id", False),
    "CertificationExpired": ("certification", "certification_id", False),
    "ObserverAssigned": ("assignment", "assignment_id", True),
    "AssignmentWithdrawn": ("assignment", "assignment_id", False),
}
# The furthest an observer has come, by what they have going on.
STATUS_BY_ACTIVITY = (("assignment", "deployed"), ("certification", "certified"),
                      ("enrollment", "in_training"))
VERIFICATION_METHODS = ("sms", "call", "in_person")


class Observer(Aggregate):
    events = (ObserverRegistered, ObserverUpdated, ObserverSuspended,
              ObserverPhoneVerified, ObserverActivityNoted, ObserverStatusChanged)

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
        self.verified_phones = set()
        self.activities = {activity: set() for activity, _ in STATUS_BY_ACTIVITY}
        self.ended = set()

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

    def verify_phone(self, phone, method, phone_region="KG"):
        """Marks one of the observer's phones as theirs; verifying it again is no news."""
        self.require_visible()
        number = normalize_phone(phone, phone_region)
        if number not in self.phones:
            raise Rejected(Problem("NOT_OBSERVERS_PHONE", f"{number} is not a phone of "
                                   f"observer {self.id}", "phone"))
        if number not in self.verified_phones:
            self.record(ObserverPhoneVerified(self.id, number, method))

    def follow(self, cause, cause_id, data):
        """Notes another service's event about the observer and moves the status to
        match. Events may arrive in any order and more than once: an activity that
        already ended is not started again, and repeats change nothing."""
        activity, id_field, active = ACTIVITIES[cause]
        if active and data.get("waitlisted"):
            return  # a place on a waiting list is not training yet: EnrollmentConfirmed is
        activity_id = data.get(id_field) or cause_id
        # An end that overtook its start is noted too, so the late start is ignored.
        if activity_id in self.ended or (active and activity_id in self.activities[activity]):
            return
        self.record(ObserverActivityNoted(self.id, activity, activity_id, active, cause,
                                          cause_id))
        status = self._status_by_activities()
        if self.status != "suspended" and status != self.status:
            self.record(ObserverStatusChanged(self.id, status, self.status, cause, cause_id))

    def _status_by_activities(self):
        return next((status for activity, status in STATUS_BY_ACTIVITY
                     if self.activities[activity]), "applicant")

    def require_visible(self, within_region=None):
        """Refuses a missing observer, and one outside `within_region` in exactly the
        same words, so a scoped caller learns nothing about other regions."""
        if not self.exists or within_region not in (None, self.region):
            raise Rejected(Problem("NOT_FOUND", f"there is no observer {self.id}", "id"))

    def on_observer_updated(self, event):
        for name, value in event.changes.items():
            setattr(self, name, value)
        self.verified_phones &= set(self.phones)  # a phone given up loses its mark

    def on_observer_phone_verified(self, event):
        self.verified_phones.add(event.phone)

    def on_observer_activity_noted(self, event):
        if event.active:
            self.activities[event.activity].add(event.activity_id)
        else:
            self.activities[event.activity].discard(event.activity_id)
            self.ended.add(event.activity_id)

    def on_observer_suspended(self, event):
        self.status = "suspended"

    def on_observer_status_changed(self, event):
        self.status = event.status

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
        number = _international(raw) or phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Rejected(Problem("INVALID_PHONE", f"{raw!r} is not a phone number",
                               field_name))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_SEPARATORS = str.maketrans("", "", " -().\u00a0")


def _international(raw):
    """The number of a plain "+<country code><number>", without the general parser,
    which costs a quarter of an observer import; None for any other form."""
    compact = raw.translate(_SEPARATORS)
    if not (compact.startswith("+") and compact[1:].isdigit()):
        return None
    for length in (1, 2, 3):  # country codes are prefix-free
        code, national = compact[1:1 + length], compact[1 + length:]
        if int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            # A leading zero is significant in a few countries: leave it to the parser.
            if not national or national.startswith("0"):
                return None
            return phonenumbers.PhoneNumber(country_code=int(code),
                                            national_number=int(national))
    return None


# SMS codes: six digits for the first 900,000 observers, seven for the next 9,000,000.
# The n-th observer's code is n passed through a keyed permutation of the code space:
# unique by construction (no clashes to retry as the space fills up), and without the
# key one code tells nothing about another.
SMS_CODE_SPACES = ((6, 1000, 900), (7, 3000, 3000))  # digits, and the space as a x b


def sms_code(number, key):
    for digits, a, b in SMS_CODE_SPACES:
        if number < a * b:
            return str(10 ** (digits - 1) + _permute(number, a, b, key))
        number -= a * b
    raise ValueError("no SMS codes left")


def _permute(x, a, b, key, rounds=4):
    # A Feistel network over [0, a*b) (Black and Rogaway's FE1): each round is a
    # bijection, so the whole is one.
    keyed = _keyed(key)
    for round_ in range(rounds):
        left, right = divmod(x, b)
        digest = keyed.copy()
        digest.update(b"%d:%d" % (round_, right))
        x = a * right + (left + int.from_bytes(digest.digest()[:8], "big")) % a
    return x


@functools.lru_cache(maxsize=4)
def _keyed(key):
    return hmac.new(key.encode(), digestmod=hashlib.sha256)
