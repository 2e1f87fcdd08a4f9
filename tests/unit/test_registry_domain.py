"""The registry's domain rules, without any I/O."""
import pytest

from services.registry.domain import Observer, ObserverRegistered, normalize_phone
from shared.errors import Rejected


@pytest.mark.parametrize("typed,e164", [
    ("+996 555 123 456", "+996555123456"),
    ("0555-123-456", "+996555123456"),
    ("(0555) 12 34 56", "+996555123456"),
    ("+7 912 345-67-89", "+79123456789"),
])
def test_phones_are_normalized_to_e164(typed, e164):
    assert normalize_phone(typed, "KG") == e164


@pytest.mark.parametrize("typed", ["12", "hello", "+996 1", "", "+996 555 123 456 789"])
def test_what_is_not_a_phone_is_refused(typed):
    with pytest.raises(Rejected) as refused:
        normalize_phone(typed, "KG", "phones.0")
    [problem] = refused.value.problems
    assert (problem.code, problem.field) == ("INVALID_PHONE", "phones.0")


def test_registering_records_one_event_and_sets_the_status():
    observer = Observer("o-1")
    observer.register("  Aida   Bekova ", ["0555 123 456", "+996555123456"], "KG-C", "ky",
                      sms_code="123456", district="C-01")
    [event] = observer.pending
    assert event == ObserverRegistered("o-1", "Aida Bekova", ["+996555123456"], "KG-C",
                                       "ky", district="C-01", sms_code="123456")
    assert observer.status == "applicant"
    # Each phone and the SMS code may belong to this observer only.
    assert observer.claims == [("phone", "+996555123456"), ("sms_code", "123456")]


def test_an_observer_is_registered_once():
    observer = Observer.replay("o-1", [("ObserverRegistered", {
        "observer_id": "o-1", "full_name": "Aida", "phones": ["+996555123456"],
        "region": "KG-C", "locale": "ky", "organization_id": None})])
    assert observer.version == 1
    with pytest.raises(Rejected) as refused:
        observer.register("Aida", ["+996555123456"], "KG-C", "ky", sms_code="123456")
    assert refused.value.problems[0].code == "ALREADY_REGISTERED"


def test_published_event_schemas_follow_the_event_classes():
    from services.registry.schemas import EVENTS
    from shared.aggregate import event_data
    observer = Observer("o-1")
    observer.register("Aida Bekova", ["0555 123 456"], "KG-C", "ky", sms_code="123456")
    [event] = observer.pending
    assert EVENTS["ObserverRegistered"]().load(event_data(event)) == event_data(event)
    assert set(EVENTS["ObserverRegistered"]().fields) == set(event_data(event))
