"""The registry's aggregates and events: who observes, and for which region."""
from dataclasses import dataclass, field

import phonenumbers

from shared.aggregate import Aggregate
from shared.errors import Problem, Rejected

LOCALES = ("ru", "ky", "en")


@dataclass(frozen=True)
class ObserverRegistered:
    observer_id: str
    full_name: str
    phones: list
    region: str
    locale: str
    organization_id: str | None = None


class Observer(Aggregate):
    events = (ObserverRegistered,)

    def __init__(self, id):
        super().__init__(id)
        self.full_name = None
        self.phones = []
        self.region = None
        self.locale = None
        self.organization_id = None
        self.status = None

    def register(self, full_name, phones, region, locale, organization_id=None,
                 phone_region="KG"):
        if self.exists:
            raise Rejected(Problem("ALREADY_REGISTERED",
                                   f"observer {self.id} is already registered"))
        numbers = [normalize_phone(p, phone_region, f"phones.{i}")
                   for i, p in enumerate(phones)]
        self.record(ObserverRegistered(
            observer_id=self.id, full_name=" ".join(full_name.split()),
            phones=list(dict.fromkeys(numbers)), region=region, locale=locale,
            organization_id=organization_id))

    def on_observer_registered(self, event):
        self.full_name = event.full_name
        self.phones = list(event.phones)
        self.region = event.region
        self.locale = event.locale
        self.organization_id = event.organization_id
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
