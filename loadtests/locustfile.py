"""Election-day load, driven only through the platform's public edge: GraphQL and the SMS
webhook. loadtests/run.py picks the user classes: `Floor` alone for the floor run, the
election-day profile for the real one.

Every report the platform accepts is remembered by its submission id (workers send
theirs to the master with their stats); the master writes them to LOADTEST_ACCEPTED when
it quits, with when the load started and stopped, for the reconciliation.
"""
import itertools
import json
import os
import random
import time
from collections import defaultdict

from locust import FastHttpUser, between, constant, events, task
from locust.runners import WorkerRunner

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
        json.dump({**LOAD, "accepted": ACCEPTED}, out)


class Floor(FastHttpUser):
    """As fast as it answers, the cheapest request the gateway has: the floor."""

    wait_time = constant(0)

    @task
    def ping(self):
        self.client.get("/ping", name="floor: GET /ping")


def country():
    with open(os.environ["LOADTEST_COUNTRY"]) as f:
        return json.load(f)


COUNTRY = country() if os.environ.get("LOADTEST_COUNTRY") else None
_next_observer = itertools.count()


def next_observer(environment):
    """A deployed observer no other simulated user of any locust process acts as."""
    runner = environment.runner
    index, stride = (runner.worker_index, max(runner.worker_count, 1)) \
        if isinstance(runner, WorkerRunner) else (0, 1)
    observers = COUNTRY["observers"]
    return observers[(index + stride * next(_next_observer)) % len(observers)]


class Participant(FastHttpUser):
    """Someone on the GraphQL edge with a token of their own."""

    abstract = True
    token = None

    def graphql(self, name, query, variables, expected=()):
        """The data; a failure when the answer is an error or a refusal whose code is
        not in `expected` (deliberate bad input)."""
        with self.client.post("/graphql", name=name, catch_response=True,
                              headers={"Authorization": f"Bearer {self.token}"},
                              json={"query": query, "variables": variables}) as response:
            body = response.json() if response.status_code == 200 else {}
            payloads = (body.get("data") or {}).values()
            refused = [e["code"] for p in payloads if isinstance(p, dict)
                       for e in p.get("errors") or () if e["code"] not in expected]
            if response.status_code != 200 or body.get("errors") or refused:
                response.failure(f"{response.status_code}: {response.text[:300]}")
                return None
            return body["data"]


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
            "callerPhone": f"+99655{caller:07d}", "region": random.choice(COUNTRY["regions"]),
            "channel": "CALL", "category": random.choice(["VOTER_LIST", "PROCEDURE",
                                                          "PRESSURE", "OTHER"]),
            "description": "A voter asks where their polling station is"}})
        if not opened:
            return
        appeal = {"appealId": opened["openAppeal"]["appeal"]["id"]}
        if self.graphql("hotline: answerAppeal", ANSWER_APPEAL, {"input": {
                **appeal, "answer": "Told them the station and its hours"}}):
            self.graphql("hotline: closeAppeal", CLOSE_APPEAL, {"input": appeal})
