"""The whole platform started as `make run` starts it, driven over HTTP like a
coordinator would, with a partner's queue bound to the registry's events."""
import json
import os
import time
import uuid
from pathlib import Path

import pytest
import requests
from kombu import Connection, Queue

from deploy.platform import running_platform
from shared import auth
from shared.relay import event_exchange
from tests.service.conftest import TERRITORY, eventually

pytestmark = pytest.mark.e2e

SECRET = "e2e-secret-that-is-long-enough-for-hs256-tokens"


def children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent has not collected it yet.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.fixture
def platform(mongo_uri, amqp_uri, tmp_path):
    with running_platform({"MONGO_URI": mongo_uri, "AMQP_URI": amqp_uri,
                           "NAZAR_TOKEN_SECRET": SECRET, "NAZAR_VAR_DIR": str(tmp_path),
                           "NAZAR_DB_PREFIX": f"test_e2e_{uuid.uuid4().hex[:6]}_"}) as p:
        yield p


def test_a_coordinator_registers_an_observer_through_the_running_platform(
        platform, amqp_uri):
    url = platform.url
    token = auth.mint("national_coordinator", secret=SECRET)
    headers = {"Authorization": f"Bearer {token}"}
    with Connection(amqp_uri) as connection:
        queue = Queue(f"e2e-partner-{uuid.uuid4().hex[:6]}", event_exchange("registry"),
                      routing_key="ObserverRegistered", auto_delete=True)
        queue(connection.channel()).declare()

        imported = requests.post(url, headers=headers, timeout=30, json={
            "query": """mutation($input: ImportFileInput!) {
                importPollingStations(input: $input) { report { stations { created } } } }""",
            "variables": {"input": {"csv": TERRITORY}},
        }).json()["data"]["importPollingStations"]["report"]
        assert imported["stations"]["created"] == 3
        eventually(lambda: requests.post(url, headers=headers, timeout=30, json={
            "query": "{ regions { code } }"}).json()["data"]["regions"])

        registered = requests.post(url, headers=headers, timeout=30, json={
            "query": """mutation($input: RegisterObserverInput!) {
                registerObserver(input: $input) { observer { id } errors { code } } }""",
            "variables": {"input": {"fullName": "Nurlan Asanov",
                                    "phones": ["+996 700 111 222"], "region": "KG-Y"}},
        }).json()["data"]["registerObserver"]
        assert registered["errors"] == []
        observer_id = registered["observer"]["id"]

        def read():
            return requests.post(url, headers=headers, timeout=30, json={
                "query": "query($id: ID!) { observer(id: $id) { fullName phones { number verified } region } }",
                "variables": {"id": observer_id}}).json()["data"]["observer"]

        assert eventually(read) == {"fullName": "Nurlan Asanov",
                                    "phones": [{"number": "+996700111222", "verified": False}],
                                    "region": "KG-Y"}
        [envelope] = json.loads(connection.SimpleQueue(queue).get(timeout=10).body)
        assert (envelope["type"], envelope["subject"]) == ("ObserverRegistered", observer_id)


def test_the_sms_secret_the_readme_reads_is_there_once_the_platform_runs(
        platform, tmp_path):
    secret = (tmp_path / "sms_webhook_secret").read_text().strip()
    url = platform.url.removesuffix("/graphql") + "/sms/inbound"
    message = {"from": "+996555123456", "text": "OP1234 AA1", "id": "e2e-1"}
    refused = requests.post(url, params={"secret": "wrong"}, timeout=30, json=message)
    answered = requests.post(url, params={"secret": secret}, timeout=30, json=message)
    assert refused.status_code == 401
    assert answered.status_code == 200 and answered.json()["reply"]
    # Given by the environment, the token secret is not written.
    assert not (tmp_path / "token_secret").exists()


def test_ctrl_c_stops_everything_within_ten_seconds(platform):
    started = children(platform.process.pid)
    assert started, "the launcher runs its services as child processes"
    stop_began = time.monotonic()
    assert platform.stop(timeout=10) == 0, platform.log()
    assert time.monotonic() - stop_began < 10
    assert not [pid for pid in started if alive(pid)]
