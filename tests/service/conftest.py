"""The registry and the gateway as nameko containers on the real broker and mongod."""
import base64
import time

import pytest
import requests

from nameko.standalone.rpc import ServiceRpcProxy

from deploy.platform import free_port
from gateway.service import GatewayService
from services.deployment.service import DeploymentService
from services.hotline.service import HotlineService
from services.partners.service import PartnersService
from services.registry.service import RegistryService
from services.reporting.service import ReportingService
from services.training.service import TrainingService
from shared import auth, config
from shared.mongo import connect


def eventually(check, timeout=10.0):
    """Polls until check() returns something truthy; projections are eventually
    consistent, so tests wait for them instead of sleeping a fixed time."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def projections_caught_up(db):
    """Whether every projection of the service whose database is `db` has its log."""
    head = (db["counters"].find_one({"_id": "position"}) or {}).get("value", 0)
    return all(doc["position"] >= head for doc in db["checkpoints"].find(
        {"_id": {"$regex": "^projection:"}}))


def started(container_factory, service, config):
    """A running nameko container of `service`."""
    container = container_factory(service, config)
    container.start()
    return container


@pytest.fixture
def registry(container_factory, service_config):
    return started(container_factory, RegistryService, service_config)


TERRITORY = """region_code,region_name,district_code,district_name,station_code,station_number,station_name,address,registered_voters
KG-C,Чуйская область,C-01,Аламединский район,1001,1001,Школа №1,ул. Ленина 1,1500
KG-C,Чуйская область,C-02,Сокулукский район,1101,1101,Школа №7,ул. Садовая 3,900
KG-Y,Иссык-Кульская область,Y-01,Каракол,2001,2001,Дом культуры,ул. Токтогула 10,2200
"""


@pytest.fixture
def territory(registry, service_config):
    """Regions KG-C (districts C-01, C-02) and KG-Y (Y-01), as observers need them."""
    with ServiceRpcProxy("registry", service_config) as rpc:
        reply = rpc.import_polling_stations(
            {"content_base64": base64.b64encode(TERRITORY.encode()).decode()})
        assert reply["ok"], reply
        assert eventually(lambda: len(rpc.regions()) == 2)


@pytest.fixture
def service_database(platform_env, mongo_uri):
    """service name -> its database, to look at what the containers wrote."""
    client = connect(mongo_uri)
    yield lambda service: client[config.database_name(service)]
    client.close()


@pytest.fixture
def registry_events(service_database):
    """The registry's event log, to check what was (not) appended."""
    return service_database("registry")["events"]


@pytest.fixture
def training_db(service_database):
    return service_database("training")


@pytest.fixture
def deployment_db(service_database):
    return service_database("deployment")


@pytest.fixture
def reporting_db(service_database):
    return service_database("reporting")


@pytest.fixture
def hotline_db(service_database):
    return service_database("hotline")


class GraphQL:
    def __init__(self, url):
        self.url = url
        self.session = requests.Session()

    def token(self, role="national_coordinator", **scope):
        return auth.mint(role, **scope)

    def post(self, query, variables=None, token=None, headers=None):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.post(self.url, json={"query": query, "variables": variables},
                                 headers=headers, timeout=30)

    def __call__(self, query, variables=None, role="national_coordinator", **scope):
        """Runs a request as a viewer of `role` and returns the JSON body."""
        return self.post(query, variables, self.token(role, **scope)).json()


@pytest.fixture
def training(container_factory, service_config):
    return started(container_factory, TrainingService, service_config)


@pytest.fixture
def deployment(container_factory, service_config):
    return started(container_factory, DeploymentService, service_config)


@pytest.fixture
def hotline(container_factory, service_config):
    return started(container_factory, HotlineService, service_config)


@pytest.fixture
def partners(container_factory, service_config):
    return started(container_factory, PartnersService, service_config)


@pytest.fixture
def reporting_service(container_factory, service_config):
    return started(container_factory, ReportingService, service_config)


@pytest.fixture
def reporting(reporting_service, service_config):
    """Reporting's RPC, as the hotline and partners call it."""
    with ServiceRpcProxy("reporting", service_config) as rpc:
        yield rpc


def gateway_container(container_factory, service_config):
    """The gateway's container, started on a free port."""
    return started(container_factory, GatewayService,
                   {**service_config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"})


def start_gateway(container_factory, service_config):
    """Starts the gateway on a free port; returns its base URL."""
    container = gateway_container(container_factory, service_config)
    return f"http://{container.config['WEB_SERVER_ADDRESS']}"


@pytest.fixture
def gateway(container_factory, service_config, registry, training, deployment,
            reporting_service, hotline):
    return GraphQL(start_gateway(container_factory, service_config) + "/graphql")
