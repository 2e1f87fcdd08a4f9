"""Election-day load, driven only through the platform's public edge: GraphQL and the SMS
webhook. loadtests/run.py picks the user classes: `Floor` alone for the floor run, the
election-day profile for the real one.

Every report the platform accepts is remembered by its submission id (workers send
theirs to the master with their stats); the master writes them to LOADTEST_ACCEPTED when
it quits, with when the load started and stopped, for the reconciliation.
"""
import json
import os
import time

from locust import FastHttpUser, constant, events
from locust.runners import WorkerRunner

from locust import task

ACCEPTED = []  # submission ids accepted, in this process, since the last report


@events.report_to_master.add_listener
def send_accepted(client_id, data):
    data["accepted"] = ACCEPTED[:]
    ACCEPTED.clear()


@events.worker_report.add_listener
def gather_accepted(client_id, data):
    ACCEPTED.extend(data.get("accepted", ()))


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
