"""Load scenarios, driven only through the platform's public edge (GraphQL).

Foundation scenario: coordinators registering observers and reading them back. The
election-day profile (checklists, turnout, incidents, SMS) comes with the services.
"""
import os
import uuid

import requests
from locust import HttpUser, between, events, task

TOKEN = os.environ["NAZAR_TOKEN"]
REGIONS = ["KG-B", "KG-C", "KG-GB", "KG-J", "KG-N", "KG-O", "KG-T", "KG-Y"]
REGISTER = """mutation($input: RegisterObserverInput!) {
  registerObserver(input: $input) { observer { id } errors { code message } } }"""
READ = "query($id: ID!) { observer(id: $id) { id fullName region status } }"
SEED = """mutation($input: ImportFileInput!) {
  importPollingStations(input: $input) { errors { code message } } }"""


@events.test_start.add_listener
def seed_regions(environment, **kwargs):
    """Observers need their regions: import one station per region (idempotent)."""
    rows = [f"{r},Region {r},{r}-01,District {r},LT-{r},1,School,Main street,1000"
            for r in REGIONS]
    csv = ("region_code,region_name,district_code,district_name,station_code,"
           "station_number,station_name,address,registered_voters\n" + "\n".join(rows))
    response = requests.post(f"{environment.host}/graphql", timeout=60,
                             headers={"Authorization": f"Bearer {TOKEN}"},
                             json={"query": SEED, "variables": {"input": {"csv": csv}}})
    response.raise_for_status()


class Coordinator(HttpUser):
    wait_time = between(0.5, 2)

    def on_start(self):
        self.client.headers["Authorization"] = f"Bearer {TOKEN}"
        self.registered = []

    def graphql(self, name, query, variables):
        with self.client.post("/graphql", name=name, catch_response=True,
                              json={"query": query, "variables": variables}) as response:
            body = response.json() if response.status_code == 200 else {}
            payloads = (body.get("data") or {}).values()
            refused = any(isinstance(p, dict) and p.get("errors") for p in payloads)
            if response.status_code != 200 or body.get("errors") or refused:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return None
            return body["data"]

    @task(3)
    def register_observer(self):
        n = uuid.uuid4().int % 10_000_000
        data = self.graphql("registerObserver", REGISTER, {"input": {
            "fullName": f"Load Observer {n}", "phones": [f"+99655{n:07d}"],
            "region": REGIONS[n % len(REGIONS)],
            "clientMutationId": str(uuid.uuid4())}})
        payload = data and data["registerObserver"]
        if payload and payload["observer"]:
            self.registered.append(payload["observer"]["id"])

    @task(1)
    def read_observer(self):
        if self.registered:
            self.graphql("observer", READ, {"id": self.registered[-1]})
