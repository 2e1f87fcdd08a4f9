"""Election-day load, driven only through the platform's public edge: GraphQL and the SMS
webhook. loadtests/run.py picks the user classes: `Floor` alone for the floor run, the
election-day profile for the real one.

Every report the platform accepts is remembered by its submission id (workers send
theirs to the master with their stats); the master writes them to LOADTEST_ACCEPTED when
it quits, with when the load started and stopped, for the reconciliation, and how long
the reports took, for the verdict.
"""
import itertools
import json
import os
import random
import time
from datetime import datetime, timezone
from collections import defaultdict

import gevent
from locust import between, constant, events, task
from locust.runners import WorkerRunner

import verdict  # this folder is on locust's path; not a package (its own virtualenv)
from leanhttp import LeanHttpUser, refused
from pacing import paced

# {kind: [ids]} of reports accepted in this process (since the last report to master).
ACCEPTED = defaultdict(list)


@events.report_to_master.add_listener
def send_accepted(client_id, data):
    data["accepted"] = dict(ACCEPTED)
    ACCEPTED.clear()


@events.worker_report.add_listener
def gather_accepted(client_id, data):
    for kind, ids in data.get("accepted", {}).items():
        ACCEPTED[kind].extend(ids)


LOAD = {}


@events.test_start.add_listener
def load_started(environment, **kwargs):
    LOAD["started_at"] = time.time()


@events.test_stop.add_listener
def load_stopped(environment, **kwargs):
    LOAD["stopped_at"] = time.time()


@events.quitting.add_listener
def write_accepted(environment, **kwargs):
    if isinstance(environment.runner, WorkerRunner) or not os.environ.get(
            "LOADTEST_ACCEPTED"):
        return
    with open(os.environ["LOADTEST_ACCEPTED"], "w") as out:
        json.dump({**LOAD, "accepted": ACCEPTED,
                   "report_times": report_times(environment.stats)}, out)


def report_times(stats):
    """{response time in ms: requests} of every request that carried a report, all
    kinds together (the master's stats hold its workers'), for the verdict's p99."""
    times = defaultdict(int)
    for (name, _), entry in stats.entries.items():
        if name.startswith(verdict.REPORT_PREFIXES):
            for ms, count in entry.response_times.items():
                times[ms] += count
    return times


class Floor(LeanHttpUser):
    """As fast as it answers, the cheapest request the gateway has: the floor."""

    wait_time = constant(0)

    @task
    def ping(self):
        self.request("floor: GET /ping", "GET", "/ping")


def country():
    with open(os.environ["LOADTEST_COUNTRY"]) as f:
        return json.load(f)


COUNTRY = country() if os.environ.get("LOADTEST_COUNTRY") else None
_next_observer, _next_sms, _next_region = (itertools.count() for _ in range(3))


def next_observer(environment):
    """A deployed observer no other simulated user of any locust process acts as."""
    return in_turn(environment, COUNTRY["observers"], _next_observer)


def in_turn(environment, pool, counter):
    """The next of `pool` for this locust process; processes take disjoint shares."""
    runner = environment.runner
    index, stride = (runner.worker_index, max(runner.worker_count, 1)) \
        if isinstance(runner, WorkerRunner) else (0, 1)
    return pool[(index + stride * next(counter)) % len(pool)]


class Participant(LeanHttpUser):
    """Someone on the GraphQL edge with a token of their own."""

    abstract = True
    token = None

    def graphql(self, name, query, variables, expected=()):
        """The data; a failure when the answer is an error or a refusal whose code is
        not in `expected` (deliberate bad input)."""
        def judge(status, content):
            body = json.loads(content) if status == 200 else {}
            payloads = (body.get("data") or {}).values()
            if status != 200 or body.get("errors") or any(
                    e["code"] not in expected for p in payloads if isinstance(p, dict)
                    for e in p.get("errors") or ()):
                raise refused(status, content)
            return body["data"]
        return self.post_json(name, "/graphql", {"query": query, "variables": variables},
                              judge, f"Authorization: Bearer {self.token}\r\n")


OPEN_APPEAL = """mutation($input: OpenAppealInput!) { openAppeal(input: $input) {
  appeal { id } errors { code message } } }"""
ANSWER_APPEAL = """mutation($input: AnswerAppealInput!) { answerAppeal(input: $input) {
  appeal { id } errors { code message } } }"""
CLOSE_APPEAL = """mutation($input: CloseAppealInput!) { closeAppeal(input: $input) {
  appeal { id } errors { code message } } }"""


class HotlineOperator(Participant):
    """Takes a citizen's call, answers, closes the appeal: a call every half minute."""

    fixed_count = 8
    wait_time = between(20, 40)

    def on_start(self):
        self.token = COUNTRY["hotline_operator"]

    @task
    def take_a_call(self):
        caller = random.randrange(10_000_000)
        opened = self.graphql("hotline: openAppeal", OPEN_APPEAL, {"input": {
            "callerPhone": f"+99655{caller:07d}",
            "region": random.choice(COUNTRY["regions"]),
            "channel": "CALL", "category": random.choice(["VOTER_LIST", "PROCEDURE",
                                                          "PRESSURE", "OTHER"]),
            "description": "A voter asks where their polling station is"}})
        if not opened:
            return
        appeal = {"appealId": opened["openAppeal"]["appeal"]["id"]}
        if self.graphql("hotline: answerAppeal", ANSWER_APPEAL, {"input": {
                **appeal, "answer": "Told them the station and its hours"}}):
            self.graphql("hotline: closeAppeal", CLOSE_APPEAL, {"input": appeal})


SUBMIT_CHECKLIST = """mutation($input: SubmitChecklistInput!) {
  submitChecklist(input: $input) {
    submission { submissionId status changed } errors { code message } } }"""
SUBMIT_TURNOUT = """mutation($input: SubmitTurnoutInput!) { submitTurnout(input: $input) {
  turnout { stationCode } errors { code message } } }"""
REPORT_INCIDENT = """mutation($input: ReportIncidentInput!) {
  reportIncident(input: $input) { incident { id } errors { code message } } }"""
CHECKPOINTS = ["10:00", "12:00", "15:00", "18:00", "close"]
# Each run numbers its copies from its start, so that a rerun against the same platform
# within 12 hours is not answered as the last run's resends.
FIRST_SERIAL = int(time.time()) * 1000


def checklist_answers(form):
    """Plausible answers to every question of a published form."""
    answers = {}
    for question in form["questions"]:
        if question["type"] == "yes_no":
            answers[question["tag"]] = random.random() < 0.9
        elif question["type"] == "integer":
            answers[question["tag"]] = random.randint(question["min"], question["max"])
        else:
            answers[question["tag"]] = random.choice(question["options"])
    return answers


class Observer(Participant):
    """A deployed observer, reporting from their assigned station with their own token."""

    abstract = True

    def on_start(self):
        self.observer = next_observer(self.environment)
        self.token = self.observer["token"]

    def submit(self, name, form, serial=None):
        data = self.graphql(name, SUBMIT_CHECKLIST, {"input": {
            "formId": form["id"], "answers": json.dumps(checklist_answers(form)),
            **({"serial": serial} if serial else {})}})
        if data:
            ACCEPTED["submission"].append(data["submitChecklist"]["submission"][
                "submissionId"])


class OpeningBurst(Observer):
    """Every observer sends the opening checklist as the stations open, all within
    the same minute, then the voting checklist through the day, each time a new copy
    (Apollo's serial).

    The pace is the objective's: 2,000 observers at 500 reports/s is a report from each
    every 4 s. These 1,520 report every 3.2 s on average, and with the turnout,
    incidents and SMS of the others the platform is offered about 530 reports/s,
    whatever its latency: more than the objective, so that it can be met, and missed
    only by the platform. Each starts at a random moment of its first pace, so the
    opening checklists arrive at that rate too, not 1,520 in the same instant (which
    no objective of a rate describes: they wait their turn for seconds on any machine
    that takes 500 a second).
    """

    weight = 40
    PACE_S = 2.5, 3.9
    wait_time = paced(*PACE_S)

    def on_start(self):
        super().on_start()
        gevent.sleep(random.uniform(0, self.PACE_S[1]))
        self.paced_since = time.monotonic()
        self.submit("report: opening checklist", COUNTRY["forms"]["opening"])
        self.serial = FIRST_SERIAL

    @task
    def voting_checklist(self):
        self.serial += 1
        self.submit("report: voting checklist", COUNTRY["forms"]["voting"],
                    serial=str(self.serial))


class TurnoutWaves(Observer):
    """Turnout at each checkpoint of the day, in order, growing."""

    weight = 6
    wait_time = between(3, 8)

    def on_start(self):
        super().on_start()
        self.checkpoint, self.voters = 0, 0

    @task
    def turnout(self):
        checkpoint = CHECKPOINTS[self.checkpoint % len(CHECKPOINTS)]
        self.voters += random.randint(20, 120)
        data = self.graphql("report: turnout", SUBMIT_TURNOUT, {"input": {
            "checkpoint": checkpoint, "voters": self.voters}})
        if data:
            ACCEPTED["turnout"].append(
                f"{data['submitTurnout']['turnout']['stationCode']}|{checkpoint}")
        self.checkpoint += 1


class IncidentReporter(Observer):
    """A few percent of stations see an incident now and then."""

    weight = 2
    wait_time = between(10, 30)

    @task
    def incident(self):
        data = self.graphql("report: incident", REPORT_INCIDENT, {"input": {
            "category": random.choice(["carousel_voting", "pressure_on_voters",
                                       "campaigning_at_station", "other"]),
            "severity": random.choice(["low", "medium", "high"]),
            "description": "Seen at the station during voting",
            "occurredAt": datetime.now(timezone.utc).isoformat()}})
        if data:
            ACCEPTED["incident"].append(data["reportIncident"]["incident"]["id"])


def sms_text(form, observer, serial):
    """Apollo's format: prefix, observer code, X<serial>, then TAG<digits> pairs."""
    answers = checklist_answers(form)
    digits = {tag: str(int(value)) for tag, value in answers.items()}
    return f"{form['smsPrefix']}{observer['sms_code']}X{serial}" + "".join(
        f"{tag}{value}" for tag, value in digits.items())


MALFORMED = ["when does the station open?", "VT", "VT12X", "!!!", "VT999999999BA",
             "помогите"]


# Each phone's serials, for the copies it sends (this process's share of the phones).
_sms_serials = defaultdict(lambda: FIRST_SERIAL)


class SmsSender(LeanHttpUser):
    """The SMS gateway's share of observers without a smartphone: their voting
    checklists through the webhook, each from the next of the SMS senders' phones in
    turn (one phone texting every few seconds would be rate-limited, as it should),
    now and then one sent twice (the network resends), and people texting the number
    something that is not a report at all."""

    weight = 4
    wait_time = between(3, 8)

    def on_start(self):
        self.last = None

    def send(self, name, observer, text, expected):
        """The webhook's status, or None when the platform gave no answer."""
        def judge(status, content):
            answer = json.loads(content).get("status") if status == 200 else None
            if answer not in expected:
                raise refused(status, content)
            return answer
        return self.post_json(name, f"/sms/inbound?secret={COUNTRY['sms_secret']}",
                              {"from": observer["phone"], "text": text}, judge)

    def next_phone(self):
        return in_turn(self.environment, COUNTRY["sms_observers"], _next_sms)

    @task(10)
    def report(self):
        observer = self.next_phone()
        _sms_serials[observer["id"]] += 1
        text = sms_text(COUNTRY["forms"]["voting"], observer,
                        _sms_serials[observer["id"]])
        # Only a message the platform answered can be resent as a duplicate.
        if self.send("sms: report", observer, text, ("accepted", "partial")):
            self.last = observer, text

    @task(1)
    def resend(self):
        if self.last:
            self.send("sms: resend", *self.last, ("duplicate",))

    @task(1)
    def malformed(self):
        # Answered with why, never accepted; the same text again is a duplicate.
        self.send("sms: malformed", self.next_phone(), random.choice(MALFORMED),
                  ("malformed", "unknown_observer", "unknown_codes", "invalid_values",
                   "ignored", "duplicate"))


REGION_STATS = """query($region: String) { regionStats(region: $region) {
  stations forms { formId complete partial conflict missing }
  incidents { category severity count } } }"""
COVERAGE = """query($region: String) { coverage(region: $region) {
  stations covered uncovered checkedIn noShows } }"""
INCIDENTS = """query($filter: IncidentFilter) { incidents(filter: $filter) {
  id status category severity stationCode } }"""
VERIFY_INCIDENT = """mutation($input: VerifyIncidentInput!) {
  verifyIncident(input: $input) { incident { id status } errors { code message } } }"""


class Coordinator(Participant):
    """A regional coordinator's dashboard, refreshed every few seconds; now and then
    they verify (or reject) an incident just reported."""

    fixed_count = 16
    wait_time = between(3, 6)

    def on_start(self):
        self.region = COUNTRY["regions"][next(_next_region) % len(COUNTRY["regions"])]
        self.token = COUNTRY["coordinators"][self.region]

    @task(3)
    def region_stats(self):
        self.graphql("coordinator: regionStats", REGION_STATS, {"region": self.region})

    @task(3)
    def coverage(self):
        self.graphql("coordinator: coverage", COVERAGE, {"region": self.region})

    @task(2)
    def incidents(self):
        data = self.graphql("coordinator: incidents", INCIDENTS, {"filter": {
            "region": self.region, "status": "reported", "first": 20}})
        for incident in (data or {}).get("incidents", [])[:2]:
            self.graphql("coordinator: verifyIncident", VERIFY_INCIDENT, {"input": {
                "incidentId": incident["id"],
                "status": random.choice(["VERIFIED", "VERIFIED", "REJECTED"]),
                "reason": "called the observer back"}},
                # Two coordinators of a region may take the same one.
                expected=("INVALID_TRANSITION",))
