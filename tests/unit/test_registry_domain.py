"""The registry's domain rules, without any I/O."""
import pytest

from services.registry.domain import Observer, ObserverRegistered, normalize_phone
from shared.errors import Rejected


@pytest.mark.parametrize("typed,e164", [
    ("+996 555 123 456", "+996555123456"),
    ("+996555123456", "+996555123456"),
    ("+39 06 6982 1234", "+390669821234"),  # a significant leading zero
    ("0555-123-456", "+996555123456"),
    ("(0555) 12 34 56", "+996555123456"),
    ("+7 912 345-67-89", "+79123456789"),
])
def test_phones_are_normalized_to_e164(typed, e164):
    assert normalize_phone(typed, "KG") == e164


@pytest.mark.parametrize("typed", ["12", "hello", "+996 1", "", "+996 555 123 456 789",
                                   "+", "+0555123456", "+996555x23456"])
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


def registered(observer_id="o-1", phones=("+996555123456",)):
    return Observer.replay(observer_id, [("ObserverRegistered", {
        "observer_id": observer_id, "full_name": "Aida", "phones": list(phones),
        "region": "KG-C", "locale": "ky"})])


def follow(observer, cause, activity_id):
    field = {"ObserverEnrolled": "enrollment_id", "ObserverCertified": "certification_id",
             "CertificationRevoked": "certification_id",
             "ObserverAssigned": "assignment_id",
             "AssignmentWithdrawn": "assignment_id"}[cause]
    observer.follow(cause, f"event-{len(observer.pending)}", {field: activity_id})
    return observer.status


def test_status_follows_activities_in_whatever_order_they_arrive():
    observer = registered()
    assert follow(observer, "ObserverEnrolled", "e1") == "in_training"
    assert follow(observer, "ObserverCertified", "c1") == "certified"
    assert follow(observer, "ObserverEnrolled", "e2") == "certified"  # still certified
    assert follow(observer, "AssignmentWithdrawn", "a1") == "certified"  # overtook it
    assert follow(observer, "ObserverAssigned", "a1") == "certified"  # the late start
    assert follow(observer, "ObserverAssigned", "a2") == "deployed"
    assert follow(observer, "ObserverAssigned", "a3") == "deployed"
    assert follow(observer, "AssignmentWithdrawn", "a2") == "deployed"  # a3 remains
    assert follow(observer, "AssignmentWithdrawn", "a3") == "certified"
    assert follow(observer, "CertificationRevoked", "c1") == "in_training"
    changes = [e.status for e in observer.pending if type(e).__name__ ==
               "ObserverStatusChanged"]
    assert changes == ["in_training", "certified", "deployed", "certified", "in_training"]


def test_an_activity_event_delivered_twice_is_noted_once():
    observer = registered()
    follow(observer, "ObserverCertified", "c1")
    follow(observer, "ObserverCertified", "c1")
    follow(observer, "CertificationRevoked", "c1")
    follow(observer, "CertificationRevoked", "c1")
    assert [type(e).__name__ for e in observer.pending] == [
        "ObserverActivityNoted", "ObserverStatusChanged",
        "ObserverActivityNoted", "ObserverStatusChanged"]


def test_a_place_on_a_waiting_list_is_not_training_until_confirmed():
    observer = registered()
    observer.follow("ObserverEnrolled", "event-1", {"enrollment_id": "e1",
                                                   "waitlisted": True})
    assert observer.status == "applicant"
    observer.follow("EnrollmentConfirmed", "event-2", {"enrollment_id": "e1"})
    assert observer.status == "in_training"


def test_a_suspended_observer_keeps_the_status_whatever_else_happens():
    observer = registered()
    observer.suspend("campaigned at a station")
    assert follow(observer, "ObserverCertified", "c1") == "suspended"


def test_a_phone_is_verified_once_and_only_the_observers_own():
    observer = registered(phones=["+996555123456", "+996700000001"])
    observer.verify_phone("0555 123 456", "sms")
    observer.verify_phone("+996555123456", "call")
    assert [e.phone for e in observer.pending] == ["+996555123456"]
    with pytest.raises(Rejected) as refused:
        observer.verify_phone("+996700000002", "sms")
    assert refused.value.problems[0].code == "NOT_OBSERVERS_PHONE"
    observer.update(phones=["+996700000001"])
    assert observer.verified_phones == set()


def test_sms_codes_are_a_keyed_permutation_six_digits_first_then_seven():
    from services.registry.domain import _permute, sms_code
    assert sorted(_permute(x, 30, 20, "key") for x in range(600)) == list(range(600))
    assert len(sms_code(0, "key")) == len(sms_code(899_999, "key")) == 6
    assert len(sms_code(900_000, "key")) == 7
    first = [sms_code(n, "key") for n in range(1000)]
    assert len(set(first)) == 1000 and first != sorted(first)
    assert first != [sms_code(n, "another key") for n in range(1000)]
