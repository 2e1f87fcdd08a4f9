"""Registry benchmark (`make bench`): national-scale imports and observer lists,
measured the way a coordinator meets them, through GraphQL on the running platform.

Starts the platform as `make run` does (its own databases and RabbitMQ vhost), imports
a generated list of polling stations and then of observers, waits for the read models
to catch up, and times `observers(filter)` pages.
"""
import argparse
import base64
import csv
import io
import json
import statistics
import sys
import time

import requests

from bench.environment import SECRET, bench_platform, report, settled
from shared import auth

REGIONS, DISTRICTS_PER_REGION = 9, 12
STATIONS_TARGET_S, OBSERVERS_TARGET_S, PAGE_TARGET_MS = 60, 120, 50


def stations_csv(count):
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(["region_code", "region_name", "district_code", "district_name",
                   "station_code", "station_number", "station_name", "address",
                   "registered_voters", "latitude", "longitude"])
    for i in range(count):
        region, district = i % REGIONS, (i // REGIONS) % DISTRICTS_PER_REGION
        rows.writerow([f"R{region:02}", f"Область {region}", f"R{region:02}-D{district:02}",
                       f"Район {district}", f"{i:06}", i + 1, f"Школа №{i}",
                       f"ул. Ленина {i}", 500 + i % 2500, 40 + (i % 300) / 100,
                       70 + (i % 500) / 100])
    return out.getvalue().encode()


FIRST_NAMES = ["Айдана", "Бакыт", "Гульнара", "Эрмек", "Асель", "Тимур", "Нурлан",
               "Жылдыз", "Азамат", "Чолпон", "Улан", "Динара"]
LAST_NAMES = ["Бекова", "Асанов", "Токтосунова", "Алиев", "Жумабаева", "Садыков",
              "Иманалиев", "Мамытова", "Осмонов", "Кадырова", "Сыдыков", "Абдыкадырова"]


def observers_csv(count):
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(["full_name", "phone", "region_code", "district_code", "locale"])
    for i in range(count):
        region, district = i % REGIONS, (i // REGIONS) % DISTRICTS_PER_REGION
        name = f"{FIRST_NAMES[i % 12]} {LAST_NAMES[(i // 12) % 12]} {i}"
        rows.writerow([name, f"+99655{i:07d}", f"R{region:02}",
                       f"R{region:02}-D{district:02}", ("ru", "ky", "en")[i % 3]])
    return out.getvalue().encode()


class Client:
    def __init__(self, url, platform):
        self.url = url
        self.platform = platform
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + auth.mint(
            "national_coordinator", secret=SECRET)

    def __call__(self, query, variables=None):
        body = self.session.post(self.url, json={"query": query, "variables": variables},
                                 timeout=900).json()
        if body.get("errors"):
            errors = [line for line in self.platform.log(200_000).splitlines()
                      if '"level": "error"' in line or "Traceback" in line]
            sys.exit(f"GraphQL errors: {body['errors']}\n" + "\n".join(errors[-5:]))
        return body["data"]


def timed_import(client, mutation, data):
    started = time.perf_counter()
    payload = client(f"""mutation($input: ImportFileInput!) {{ {mutation}(input: $input) {{
        report {{ rows rejectedRows }} errors {{ code message }} }} }}""",
                     {"input": {"csvBase64": base64.b64encode(data).decode()}})[mutation]
    elapsed = time.perf_counter() - started
    if payload["errors"] or payload["report"]["rejectedRows"]:
        sys.exit(f"{mutation} refused rows: {json.dumps(payload)[:2000]}")
    return elapsed


def wait_for(check, timeout=600, interval=0.5):
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            sys.exit("read models did not catch up")
        time.sleep(interval)
    return time.perf_counter() - started


PAGE = """query($filter: ObserverFilter, $after: String) {
  observers(filter: $filter, first: 50, after: $after) {
    totalCount pageInfo { endCursor } edges { node { id fullName region district status phones { number verified } } } } }"""


PAGE_FILTERS = {"region": {"region": "R03"}, "district": {"district": "R05-D07"},
                "name": {"search": "айдана"}, "full_name": {"search": "бакыт асанов"},
                "phone": {"search": "+99655000123"}, "none": {},
                "region_and_name": {"region": "R01", "search": "гульнара"}}


def page_latencies(client, samples):
    """{filter's name: [ms]}, the filters taken in turn."""
    latencies = {name: [] for name in PAGE_FILTERS}
    for i in range(samples):
        name = list(PAGE_FILTERS)[i % len(PAGE_FILTERS)]
        started = time.perf_counter()
        client(PAGE, {"filter": PAGE_FILTERS[name]})
        latencies[name].append((time.perf_counter() - started) * 1000)
    return latencies


def measure(platform, database, amqp_uri, args):
    graphql = Client(platform.url, platform)
    registry = database("registry")
    figures = {"stations_import_s": timed_import(graphql, "importPollingStations",
                                                 stations_csv(args.stations))}
    wait_for(lambda: registry["regions"].count_documents({}) == REGIONS)
    figures["observers_import_s"] = timed_import(graphql, "importObservers",
                                                 observers_csv(args.observers))
    # Every service's view of observers: the registry's own, and those training and
    # deployment build from its events (in the background, behind requests).
    figures["registry_caught_up_after_s"] = wait_for(
        lambda: registry["observers"].estimated_document_count() >= args.observers)
    figures["all_caught_up_after_s"] = figures["registry_caught_up_after_s"] + wait_for(
        lambda: all(database(service)["observers"].estimated_document_count()
                    >= args.observers for service in ("training", "deployment")))
    # A coordinator browses once the platform has taken the imports in, not while
    # every consumer's share of them still loads mongod.
    figures["platform_settled_s"] = wait_for(lambda: settled(amqp_uri), timeout=900)
    by_filter = page_latencies(graphql, args.samples)
    latencies = [ms for each in by_filter.values() for ms in each]
    figures["observers_page_median_ms"] = statistics.median(latencies)
    figures["observers_page_p95_ms"] = statistics.quantiles(latencies, n=20)[-1]
    figures.update((f"page_by_{name}_median_ms", statistics.median(each))
                   for name, each in by_filter.items())
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=100_000)
    parser.add_argument("--observers", type=int, default=300_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

    with bench_platform() as (platform, database, amqp_uri):
        figures = measure(platform, database, amqp_uri, args)
    sys.exit(report("registry", f"Registry benchmark: {args.stations} stations, "
                    f"{args.observers} observers, through GraphQL on the running platform",
                    figures, {"stations_import_s": STATIONS_TARGET_S,
                              "observers_import_s": OBSERVERS_TARGET_S,
                              "observers_page_median_ms": PAGE_TARGET_MS}))


if __name__ == "__main__":
    main()
