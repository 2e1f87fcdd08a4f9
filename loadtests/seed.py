"""Seeds a country for the election-day load through the public GraphQL edge only:
polling stations and observers by bulk import, the observers certified in seminars and
deployed by autoDeploy. Every step first asks what is already there, so a second run
against the same databases only reads (seconds instead of minutes). Answers the
deployed observers (id, region, SMS code, phone) that the locust users act as."""
import base64
import csv
import io
import json
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import requests

REGIONS = ["LT-B", "LT-C", "LT-GB", "LT-J", "LT-N", "LT-O", "LT-T", "LT-Y"]
DISTRICTS_PER_REGION = 10
MODULES = [{"code": "rights", "title": "Rights and duties of observers"},
           {"code": "procedure", "title": "Election-day procedure"}]
SEATS = 100
# Refusals of an enrollment that a second seeding run meets: the work is done.
ENROLLED_BEFORE = ("ALREADY_ENROLLED", "ALREADY_CERTIFIED")


class SeedingFailed(Exception):
    pass


class GraphQL:
    """A coordinator's session; one per thread."""

    def __init__(self, url, token):
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, query, variables=None):
        response = self.session.post(self.url, timeout=900,
                                     json={"query": query, "variables": variables})
        body = response.json()
        if body.get("errors"):
            raise SeedingFailed(f"GraphQL errors: {json.dumps(body['errors'])[:1000]}")
        return body["data"]

    def mutation(self, name, input_type, fields, input, accept=()):
        """The payload; refusals other than the codes in `accept` stop the seeding."""
        payload = self(f"""mutation($input: {input_type}!) {{ {name}(input: $input) {{
            {fields} errors {{ code field message }} }} }}""", {"input": input})[name]
        refused = [e for e in payload["errors"] if e["code"] not in accept]
        if refused:
            raise SeedingFailed(f"{name} refused: {json.dumps(refused)[:1000]}")
        return payload


def region_district(i):
    region = REGIONS[i % len(REGIONS)]
    return region, f"{region}-{(i // len(REGIONS)) % DISTRICTS_PER_REGION:02}"


def stations_csv(count):
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(["region_code", "region_name", "district_code", "district_name",
                   "station_code", "station_number", "station_name", "address",
                   "registered_voters"])
    for i in range(count):
        region, district = region_district(i)
        rows.writerow([region, f"Region {region}", district, f"District {district}",
                       f"LT{i:06}", i + 1, f"School {i}", f"Main street {i}",
                       800 + i % 2000])
    return out.getvalue()


def observers_csv(count):
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(["full_name", "phone", "region_code", "district_code"])
    for i in range(count):
        region, district = region_district(i)
        rows.writerow([f"Observer {i}", phone(i), region, district])
    return out.getvalue()


def phone(i):
    return f"+99670{i:07d}"


def import_file(graphql, mutation, data):
    payload = graphql.mutation(
        mutation, "ImportFileInput", "report { rows rejectedRows }",
        {"csvBase64": base64.b64encode(data.encode()).decode()})
    return payload["report"]


def regions(graphql):
    answer = graphql("{ regions { code stations districts { code } } }")
    return [r for r in answer["regions"] if r["code"] in REGIONS]


def count(graphql, status=None):
    filter = {"status": status} if status else {}
    return graphql("query($f: ObserverFilter) { observers(filter: $f, first: 1) { "
                   "totalCount } }", {"f": filter})["observers"]["totalCount"]


def observers(graphql, status=None):
    """Every observer (of a status): id, region, smsCode, phone."""
    found, after = [], None
    while True:
        page = graphql("""query($f: ObserverFilter, $after: String) {
          observers(filter: $f, first: 500, after: $after) {
            pageInfo { hasNextPage endCursor }
            edges { node { id region status smsCode phones { number } } } } }""",
                       {"f": {"status": status} if status else {}, "after": after}
                       )["observers"]
        found += [{"id": e["node"]["id"], "region": e["node"]["region"],
                   "status": e["node"]["status"], "sms_code": e["node"]["smsCode"],
                   "phone": e["node"]["phones"][0]["number"]} for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def wait_until(check, what, timeout=900, interval=2):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SeedingFailed(f"gave up waiting for {what}")
        time.sleep(interval)


def certify(graphql, url, token, everyone, per_region, log):
    """Certifies the first `per_region` observers of each region still to certify
    (applicants, or in training): online seminars of SEATS (today's, found again by
    their idempotency keys), every module attended and a passing score:
    ObserverCertified for each."""
    day = datetime.now(timezone.utc).date().isoformat()
    course = graphql.mutation("defineCourse", "DefineCourseInput", "course { id }", {
        "title": "Election-day observers", "modules": MODULES, "passMark": 70,
        "validityDays": 365, "roles": ["SHORT_TERM"],
        "clientMutationId": "loadtest-course"})["course"]["id"]
    starts = datetime.now(timezone.utc).replace(hour=23, minute=0, second=0,
                                                microsecond=0)
    seminars = defaultdict(list)  # (region, number): observers still to certify
    for region in REGIONS:
        of_region = [o for o in everyone if o["region"] == region][:per_region]
        for i, observer in enumerate(of_region):
            if observer["status"] in ("applicant", "in_training"):
                seminars[region, i // SEATS].append(observer)
    sessions = {seminar: graphql.mutation(
        "scheduleSession", "ScheduleSessionInput", "session { id }", {
            "courseId": course, "format": "ONLINE", "region": seminar[0],
            "link": "https://meet.example.org/loadtest", "startsAt": starts.isoformat(),
            "endsAt": (starts + timedelta(hours=12)).isoformat(), "capacity": SEATS,
            "trainer": "trainer:loadtest",
            "clientMutationId": f"loadtest-session-{seminar[0]}-{seminar[1]}-{day}"})[
        "session"]["id"] for seminar in seminars}
    log(f"enrolling {sum(map(len, seminars.values()))} observers in {len(sessions)} "
        "seminars")

    def enroll(seminar):
        client = GraphQL(url, token)
        missing = [o["id"] for o in seminars[seminar]]
        # Training learns of observers from the registry's events: wait for it.
        for _ in range(300):
            refused = client.mutation(
                "enrollObservers", "EnrollObserversInput",
                "roster { refused { code field } }",
                {"sessionId": sessions[seminar], "observerIds": missing})[
                "roster"]["refused"]
            wrong = [r for r in refused
                     if r["code"] not in (*ENROLLED_BEFORE, "UNKNOWN_OBSERVER")]
            if wrong:
                raise SeedingFailed(f"enrollObservers refused: {json.dumps(wrong)[:1000]}")
            missing = [missing[int(r["field"].rpartition(".")[2])] for r in refused
                       if r["code"] == "UNKNOWN_OBSERVER"]
            if not missing:
                break
            time.sleep(1)
        ids = [o["id"] for o in seminars[seminar]]
        for module in MODULES:
            client.mutation("recordAttendance", "RecordAttendanceInput",
                            "attendance { recorded }", {
                                "sessionId": sessions[seminar], "module": module["code"],
                                "observerIds": ids})
        client.mutation("recordAssessment", "RecordAssessmentInput",
                        "assessment { assessed }", {
                            "sessionId": sessions[seminar],
                            "scores": [{"observerId": o, "score": 90} for o in ids]},
                        accept=("ALREADY_CERTIFIED",))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(enroll, sessions))


def deploy(graphql, expected, log):
    """Two observers per station in every region, by autoDeploy, until the `expected`
    certified observers are deployed (deployment hears of certifications through
    events)."""
    # Observers of no organization: the per-organization limit does not bind them.
    for region in REGIONS:
        graphql.mutation("setCoveragePlan", "SetCoveragePlanInput", "plan { region }",
                         {"region": region, "minimumObservers": 2})

    def deployed_all():
        for region in REGIONS:
            graphql.mutation("autoDeploy", "AutoDeployInput",
                             "deployment { proposedCount unfilledCount }",
                             {"region": region, "apply": True})
        deployed = count(graphql, "DEPLOYED")
        log(f"{deployed} of {expected} observers deployed")
        return deployed >= expected
    wait_until(deployed_all, "every observer deployed", interval=5)


def yes_no(tag, text, required=True):
    return {"tag": tag, "text": text, "type": "YES_NO", "required": required}


FORMS = {
    "opening": {"name": "Opening checklist", "kind": "CHECKLIST", "phase": "opening",
                "smsPrefix": "OP", "groups": [{"name": "Opening", "questions": [
                    yes_no("AA", "Did the station open on time?"),
                    {"tag": "AB", "text": "Commission members present", "type": "INTEGER",
                     "required": True, "range": {"min": 0, "max": 15}},
                    yes_no("AC", "Were the ballot boxes shown empty and sealed?"),
                    {"tag": "AD", "text": "Who else observes?", "type": "SINGLE_CHOICE",
                     "options": [{"code": 1, "label": "nobody"},
                                 {"code": 2, "label": "party agents"},
                                 {"code": 3, "label": "other observers"}]}]}]},
    "voting": {"name": "Voting checklist", "kind": "CHECKLIST", "phase": "voting",
               "smsPrefix": "VT", "groups": [{"name": "Voting", "questions": [
                   yes_no("BA", "Were voters' fingers checked for ink?"),
                   yes_no("BB", "Was the secrecy of the vote kept?"),
                   {"tag": "BC", "text": "Voters turned away", "type": "INTEGER",
                    "range": {"min": 0, "max": 500}},
                   yes_no("BD", "Did anyone campaign inside?", required=False)]}]},
}
FORM = """id name smsPrefix
  groups { questions { tag type range { min max } options { code } } }"""


def publish_forms(graphql):
    """{key: {id, smsPrefix, questions}} of the election-day forms, published once."""
    published = {f["name"]: f for f in graphql(f"{{ forms {{ {FORM} }} }}")["forms"]}
    forms = {}
    for key, form in FORMS.items():
        found = published.get(form["name"]) or graphql.mutation(
            "publishForm", "PublishFormInput", f"form {{ {FORM} }}",
            {**form, "clientMutationId": f"loadtest-form-{key}"})["form"]
        forms[key] = {"id": found["id"], "smsPrefix": found["smsPrefix"], "questions": [
            {"tag": q["tag"], "type": q["type"], **(q["range"] or {}),
             "options": [o["code"] for o in q["options"] or []]}
            for group in found["groups"] for q in group["questions"]]}
    return forms


def verify_phones(graphql, observers):
    """SMS from unverified phones are kept out of the statistics: the SMS senders' phones
    are verified."""
    for observer in observers:
        graphql.mutation("verifyObserverPhone", "VerifyObserverPhoneInput",
                         "observer { id }", {
                             "id": observer["id"], "phone": observer["phone"],
                             "method": "in_person",
                             "clientMutationId": f"loadtest-phone-{observer['id']}"})


def seed(url, token, stations, observer_count, certified, sms_senders, log=print):
    """`certified` of the observers (all, normally) are certified and deployed."""
    graphql = GraphQL(url, token)
    started = time.monotonic()
    if sum(r["stations"] for r in regions(graphql)) < stations:
        log(f"importing {stations} polling stations")
        import_file(graphql, "importPollingStations", stations_csv(stations))
        # Observers name their districts: the registry's read model must know them
        # (fewer than every region's ten when there are fewer stations than that).
        districts = len({region_district(i) for i in range(stations)})
        wait_until(lambda: sum(len(r["districts"]) for r in regions(graphql))
                   >= districts, "the registry's districts")
    if count(graphql) < observer_count:
        log(f"importing {observer_count} observers")
        report = import_file(graphql, "importObservers", observers_csv(observer_count))
        log(f"  {report['rows'] - report['rejectedRows']} imported, "
            f"{report['rejectedRows']} already there")
        wait_until(lambda: count(graphql) >= observer_count, "the registry's observers")
    certified = min(certified, observer_count)
    if count(graphql, "DEPLOYED") < certified:
        per_region = -(-certified // len(REGIONS))
        certify(graphql, url, token, observers(graphql), per_region, log)
        wait_until(lambda: count(graphql, "CERTIFIED") + count(graphql, "DEPLOYED")
                   >= certified, "the registry to show the observers certified")
        deploy(graphql, certified, log)
    deployed = observers(graphql, "DEPLOYED")
    # The SMS senders are observers of their own, not also reporting over GraphQL.
    country = {"observers": deployed[sms_senders:],
               "sms_observers": deployed[:sms_senders], "regions": REGIONS,
               "forms": publish_forms(graphql)}
    verify_phones(graphql, country["sms_observers"])
    log(f"country ready: {len(country['observers'])} deployed observers "
        f"({time.monotonic() - started:.0f} s)")
    return country
