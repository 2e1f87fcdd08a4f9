"""The training service with the registry and the gateway, on the real broker and
mongod: a seminar from scheduling to certification, and the refusals on the way."""
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from tests.service.conftest import eventually

pytestmark = pytest.mark.usefixtures("territory")

TRAINER = {"role": "trainer", "subject": "trainer:aida"}
START = datetime.now(timezone.utc) + timedelta(days=7)
MODULES = [{"code": "rights", "title": "Rights and duties of observers"},
           {"code": "procedure", "title": "Election-day procedure"},
           {"code": "security", "title": "Information security", "required": False}]

REGISTER = """mutation($input: RegisterObserverInput!) {
  registerObserver(input: $input) { observer { id } errors { code } } }"""
SUSPEND = """mutation($input: SuspendObserverInput!) {
  suspendObserver(input: $input) { errors { code } } }"""
STATUS = "query($id: ID!) { observer(id: $id) { status } }"
DEFINE = """mutation($input: DefineCourseInput!) {
  defineCourse(input: $input) { course { id title modules { code required } passMark }
                                errors { code field message } } }"""
SCHEDULE = """mutation($input: ScheduleSessionInput!) {
  scheduleSession(input: $input) { session { id trainer region capacity freeSeats }
                                   errors { code field message } } }"""
ENROLL = """mutation($input: EnrollmentInput!) {
  enrollObserver(input: $input) { enrollment { id observerId waitlisted }
                                  errors { code field message } } }"""
ENROLL_ROSTER = """mutation($input: EnrollObserversInput!) {
  enrollObservers(input: $input) {
    roster { enrollments { observerId waitlisted } refused { code field } }
    errors { code field } } }"""
WITHDRAW = """mutation($input: EnrollmentInput!) {
  withdrawEnrollment(input: $input) { withdrawal { movedUp } errors { code field } } }"""
ATTEND = """mutation($input: RecordAttendanceInput!) {
  recordAttendance(input: $input) { attendance { recorded } errors { code field } } }"""
ASSESS = """mutation($input: RecordAssessmentInput!) {
  recordAssessment(input: $input) { assessment { certified } errors { code field } } }"""
REVOKE = """mutation($input: RevokeCertificationInput!) {
  revokeCertification(input: $input) { certification { status reason }
                                       errors { code field } } }"""
TRAINING = """query($observer: ID!) { observerTraining(observer: $observer) {
  enrollments { status attended score certified session { id } }
  certifications { id courseId status expiresAt reason } } }"""
STATS = """query($region: String) { trainingStats(region: $region) {
  regions { region enrolled attended assessed certified rate }
  organizations { organizationId enrolled certified }
  upcomingSessions { id freeSeats } } }"""
ROSTER = """{ sessions { roster { observerId status attended score certified } } }"""
SESSIONS = """query($filter: SessionFilter) { sessions(filter: $filter) {
  id region trainer seated waiting freeSeats } }"""


@pytest.fixture
def training_events(training_db):
    return training_db["events"]


def mutate(gateway, query, viewer=None, **input):
    body = gateway(query, {"input": input}, **(viewer or {}))
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


def codes(payload):
    return [(e["code"], e["field"]) for e in payload["errors"]]


PHONES = count(1)


def register_observers(gateway, number, region="KG-C", organization_id=None):
    """Observers registered with the registry and known to training."""
    ids = []
    for i in range(number):
        input = {"fullName": f"Observer Number{i}",
                 "phones": [f"+996555{next(PHONES):06d}"], "region": region}
        if organization_id:
            input["organizationId"] = organization_id
        payload = mutate(gateway, REGISTER, **input)
        assert payload["errors"] == [], payload
        ids.append(payload["observer"]["id"])
    for observer_id in ids:
        assert eventually(lambda: gateway(TRAINING, {"observer": observer_id})[
            "data"]["observerTraining"])
    return ids


def define_course(gateway):
    payload = mutate(gateway, DEFINE, title="Short-term observers", modules=MODULES,
                     passMark=70, validityDays=180, roles=["SHORT_TERM"])
    assert payload["errors"] == [], payload
    return payload["course"]["id"]


def schedule(gateway, course_id, capacity=2, starts=START, hours=6, region="KG-C",
             viewer=TRAINER):
    payload = mutate(gateway, SCHEDULE, viewer, courseId=course_id, format="ONLINE",
                     link="https://meet.example.org/seminar", region=region,
                     startsAt=starts.isoformat(),
                     endsAt=(starts + timedelta(hours=hours)).isoformat(),
                     capacity=capacity)
    assert payload["errors"] == [], payload
    return payload["session"]


def status(gateway, observer_id):
    return gateway(STATUS, {"id": observer_id})["data"]["observer"]["status"]


def test_a_seminar_from_scheduling_to_certification(gateway):
    a, b, c, d = register_observers(gateway, 4)
    course_id = define_course(gateway)
    session = schedule(gateway, course_id)
    assert session["trainer"] == "trainer:aida" and session["freeSeats"] == 2
    session_id = session["id"]

    enrolled = [mutate(gateway, ENROLL, TRAINER, sessionId=session_id, observerId=o)
                for o in (a, b, c, d)]
    assert [e["enrollment"]["waitlisted"] for e in enrolled] == [False, False, True, True]
    assert mutate(gateway, WITHDRAW, TRAINER, sessionId=session_id, observerId=b)[
        "withdrawal"]["movedUp"] == [c]
    assert eventually(lambda: gateway(SESSIONS, role="trainer", subject="trainer:aida")[
        "data"]["sessions"] == [{"id": session_id, "region": "KG-C",
                                 "trainer": "trainer:aida", "seated": 2, "waiting": 1,
                                 "freeSeats": 0}])

    refused = mutate(gateway, ATTEND, TRAINER, sessionId=session_id, module="rights",
                     observerIds=[a, c, d])
    assert codes(refused) == [("NOT_ENROLLED", "observerIds.2")]
    for module in ("rights", "procedure"):
        assert mutate(gateway, ATTEND, TRAINER, sessionId=session_id, module=module,
                      observerIds=[a, c])["attendance"]["recorded"] == 2

    out_of_scale = mutate(gateway, ASSESS, TRAINER, sessionId=session_id,
                          scores=[{"observerId": a, "score": 101}])
    assert codes(out_of_scale) == [("SCORE_OUT_OF_SCALE", "scores.0.score")]
    assessed = mutate(gateway, ASSESS, TRAINER, sessionId=session_id,
                      scores=[{"observerId": a, "score": 85}, {"observerId": c, "score": 60}])
    assert assessed["assessment"]["certified"] == [a]

    # The registry follows: enrolment, then certification.
    assert eventually(lambda: status(gateway, a) == "certified")
    assert eventually(lambda: status(gateway, c) == "in_training")
    assert eventually(lambda: gateway(ROSTER, role="trainer", subject="trainer:aida")[
        "data"]["sessions"] == [{"roster": [
        {"observerId": a, "status": "enrolled", "attended": ["rights", "procedure"],
         "score": 85, "certified": True},
        {"observerId": c, "status": "enrolled", "attended": ["rights", "procedure"],
         "score": 60, "certified": False},
        {"observerId": d, "status": "waitlisted", "attended": [], "score": None,
         "certified": False}]}])
    assert gateway(ROSTER, role="trainer", subject="trainer:other")["data"][
        "sessions"] == []
    record = gateway(TRAINING, {"observer": a})["data"]["observerTraining"]
    [certification] = record["certifications"]
    assert certification["status"] == "valid"
    assert record["enrollments"][0]["attended"] == ["rights", "procedure"]

    stats = eventually(lambda: gateway(STATS, role="regional_coordinator", region="KG-C")[
        "data"]["trainingStats"]["regions"])
    assert stats == [{"region": "KG-C", "enrolled": 2, "attended": 2, "assessed": 2,
                      "certified": 1, "rate": 0.5}]

    elsewhere = mutate(gateway, REVOKE, {"role": "regional_coordinator", "region": "KG-Y"},
                       certificationId=certification["id"], reason="campaigned")
    assert codes(elsewhere) == [("NOT_FOUND", "certificationId")]
    revoked = mutate(gateway, REVOKE, certificationId=certification["id"],
                     reason="campaigned for a candidate")
    assert revoked["certification"] == {"status": "revoked",
                                        "reason": "campaigned for a candidate"}
    assert eventually(lambda: status(gateway, a) == "in_training")


def test_who_cannot_be_enrolled_and_nothing_is_recorded(gateway, training_db,
                                                         training_events):
    [a, b] = register_observers(gateway, 2)
    course_id = define_course(gateway)
    session_id = schedule(gateway, course_id)["id"]
    mutate(gateway, SUSPEND, id=b, reason="no longer impartial")
    unknown = mutate(gateway, ENROLL, TRAINER, sessionId=session_id, observerId="nobody")
    assert codes(unknown) == [("UNKNOWN_OBSERVER", "observerId")]
    # Training hears of the suspension from the registry's events.
    assert eventually(lambda: training_db["observers"].find_one({"_id": b,
                                                                 "suspended": True}))
    suspended = mutate(gateway, ENROLL, TRAINER, sessionId=session_id, observerId=b)
    assert codes(suspended) == [("OBSERVER_SUSPENDED", "observerId")]

    overlapping = schedule(gateway, course_id, starts=START + timedelta(hours=3))["id"]
    mutate(gateway, ENROLL, TRAINER, sessionId=session_id, observerId=a)
    clash = mutate(gateway, ENROLL, TRAINER, sessionId=overlapping, observerId=a)
    assert codes(clash) == [("OVERLAPPING_SESSION", "observerId")]
    # Both at once: one wins, whatever the read models know yet.
    [c] = register_observers(gateway, 1)
    with ThreadPoolExecutor(2) as pool:
        raced = list(pool.map(lambda s: mutate(gateway, ENROLL, TRAINER, sessionId=s,
                                               observerId=c), (session_id, overlapping)))
    assert sorted(sum(map(codes, raced), [])) == [("OVERLAPPING_SESSION", "observerId")]
    again = mutate(gateway, ENROLL, TRAINER, sessionId=session_id, observerId=a)
    assert codes(again) == [("ALREADY_ENROLLED", "observerId")]
    assert training_events.count_documents({"type": "ObserverEnrolled"}) == 2


def test_a_roster_is_enrolled_at_once_each_on_their_own_merits(gateway, training_db,
                                                                training_events):
    a, b, c, d, e = register_observers(gateway, 5)
    course_id = define_course(gateway)
    session_id = schedule(gateway, course_id)["id"]
    elsewhere = schedule(gateway, course_id, starts=START + timedelta(hours=3))["id"]
    mutate(gateway, ENROLL, TRAINER, sessionId=elsewhere, observerId=d)
    mutate(gateway, SUSPEND, id=e, reason="no longer impartial")
    assert eventually(lambda: training_db["observers"].find_one({"_id": e,
                                                                 "suspended": True}))

    roster = [a, b, "nobody", c, d, a, e]
    first = mutate(gateway, ENROLL_ROSTER, TRAINER, sessionId=session_id,
                   observerIds=roster)
    assert first["errors"] == []
    assert first["roster"]["enrollments"] == [
        {"observerId": a, "waitlisted": False}, {"observerId": b, "waitlisted": False},
        {"observerId": c, "waitlisted": True}]
    assert first["roster"]["refused"] == [
        {"code": "UNKNOWN_OBSERVER", "field": "observerIds.2"},
        {"code": "OVERLAPPING_SESSION", "field": "observerIds.4"},
        {"code": "OBSERVER_SUSPENDED", "field": "observerIds.6"}]

    # Sent again, it enrolls nobody twice; a refused observer was left no booking.
    again = mutate(gateway, ENROLL_ROSTER, TRAINER, sessionId=session_id,
                   observerIds=[a, b, c])
    assert again["roster"] == {"enrollments": [], "refused": [
        {"code": "ALREADY_ENROLLED", "field": f"observerIds.{i}"} for i in range(3)]}
    assert training_events.count_documents({"type": "ObserverEnrolled"}) == 4
    assert training_events.count_documents({"type": "SessionBooked"}) == 4

    other = mutate(gateway, ENROLL_ROSTER, {"role": "trainer",
                                            "subject": "trainer:other"},
                   sessionId=session_id, observerIds=[a])
    assert other["roster"] is None and codes(other) == [("NOT_FOUND", "sessionId")]
    empty = mutate(gateway, ENROLL_ROSTER, TRAINER, sessionId=session_id, observerIds=[])
    assert empty["roster"] is None and codes(empty)[0][1] == "observerIds"


def test_sessions_are_checked_and_scoped(gateway, training_events):
    course_id = define_course(gateway)
    backwards = mutate(gateway, SCHEDULE, TRAINER, courseId=course_id, format="IN_PERSON",
                       region="KG-C", startsAt=START.isoformat(),
                       endsAt=(START - timedelta(hours=1)).isoformat(), capacity=10)
    assert codes(backwards) == [("ENDS_BEFORE_START", "endsAt"), ("PLACE_REQUIRED", "place")]
    unknown = mutate(gateway, SCHEDULE, TRAINER, courseId="nope", format="IN_PERSON",
                     place="School 1", region="KG-C", startsAt=START.isoformat(),
                     endsAt=(START + timedelta(hours=1)).isoformat(), capacity=10)
    assert codes(unknown) == [("UNKNOWN_COURSE", "courseId")]
    assert training_events.count_documents({"type": "SessionScheduled"}) == 0

    session_id = schedule(gateway, course_id)["id"]
    [a] = register_observers(gateway, 1)
    # Another trainer, and another region's coordinator, meet it as missing.
    for viewer in ({"role": "trainer", "subject": "trainer:other"},
                   {"role": "regional_coordinator", "region": "KG-Y"}):
        payload = mutate(gateway, ENROLL, viewer, sessionId=session_id, observerId=a)
        assert codes(payload) == [("NOT_FOUND", "sessionId")]
    body = gateway(SCHEDULE, {"input": {}}, role="regional_coordinator", region="KG-Y")
    assert body["errors"]
    body = gateway(ENROLL, {"input": {"sessionId": session_id, "observerId": a}},
                   role="observer", observer=a)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    forbidden = gateway(STATS, {"region": "KG-C"}, role="regional_coordinator",
                        region="KG-Y")
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert gateway(TRAINING, {"observer": a}, role="regional_coordinator",
                   region="KG-Y")["data"]["observerTraining"] is None


PROGRAMME = """mutation($input: DefineProgrammeInput!) {
  defineProgramme(input: $input) { programme { id } errors { code field } } }"""
MENTOR = """mutation($input: AssignMentorInput!) {
  assignMentor(input: $input) { assignment { mentor } errors { code field } } }"""
ORGANIZATION = """mutation($input: RegisterOrganizationInput!) {
  registerOrganization(input: $input) { organization { id } } }"""
PROGRESS = """{ programmes { name progress { organizationId mentor
  courses { courseId enrolled certified } } } }"""


def test_a_programme_shows_each_organizations_progress(gateway, training_db,
                                                       registry_events):
    organization_id = mutate(gateway, ORGANIZATION, name="Taza Shailoo",
                             kind="ngo")["organization"]["id"]
    # Both the registry's read model and training's view must know it.
    for db in (registry_events.database, training_db):
        assert eventually(lambda: db["organizations"].find_one({"_id": organization_id}))
    [a] = register_observers(gateway, 1, organization_id=organization_id)
    course_id = define_course(gateway)
    unknown = mutate(gateway, PROGRAMME, name="Spring", courseIds=[course_id],
                     organizationIds=["nope"])
    assert codes(unknown) == [("UNKNOWN_ORGANIZATION", "organizationIds.0")]
    programme_id = mutate(gateway, PROGRAMME, name="Spring", courseIds=[course_id],
                          organizationIds=[organization_id])["programme"]["id"]
    assert mutate(gateway, MENTOR, programmeId=programme_id,
                  organizationId=organization_id, mentor="trainer:aida")[
        "assignment"]["mentor"] == "trainer:aida"
    session_id = schedule(gateway, course_id)["id"]
    mutate(gateway, ENROLL, TRAINER, sessionId=session_id, observerId=a)
    expected = [{"name": "Spring", "progress": [{
        "organizationId": organization_id, "mentor": "trainer:aida",
        "courses": [{"courseId": course_id, "enrolled": 1, "certified": 0}]}]}]
    assert eventually(lambda: gateway(PROGRESS)["data"]["programmes"] == expected)
