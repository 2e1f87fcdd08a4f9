"""Deployment benchmark (`make bench`): autoDeploy and coverage at national scale,
through GraphQL on the running platform.

Starts the platform as `make run` does (its own databases and RabbitMQ vhost), imports
100,000 polling stations (10,000 of them in one region) and 25,000 observers of that
region through the registry, certifies them by publishing ObserverCertified on
training.events as the training service would, waits for deployment's read models,
waits until every consumer has digested the imports, then times autoDeploy for the
region (proposing, then applying) and coverage(region).
"""
import argparse
import csv
import io
import json
import statistics
import sys
import time

from bench.environment import announce, bench_platform, report, settled
from bench.registry import Client, timed_import, wait_for

REGION, DISTRICTS = "R00", 20
OTHER_REGIONS = 9
AUTO_DEPLOY_TARGET_S, COVERAGE_TARGET_MS = 10, 100


def stations_csv(total, in_region):
    """`in_region` stations in REGION, the rest spread over the other regions."""
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(["region_code", "region_name", "district_code", "district_name",
                   "station_code", "station_number", "station_name", "address",
                   "registered_voters"])
    for i in range(total):
        if i < in_region:
            region, district = REGION, f"{REGION}-D{i % DISTRICTS:02}"
        else:
            region = f"R{1 + i % OTHER_REGIONS:02}"
            district = f"{region}-D{(i // OTHER_REGIONS) % 12:02}"
        rows.writerow([region, f"Область {region}", district, f"Район {district}",
                       f"{i:06}", i + 1, f"Школа №{i}", f"ул. Ленина {i}", 1000])
    return out.getvalue().encode()


def observers_csv(count):
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(["full_name", "phone", "region_code", "district_code"])
    for i in range(count):
        rows.writerow([f"Наблюдатель {i}", f"+99677{i:07d}", REGION,
                       f"{REGION}-D{i % DISTRICTS:02}"])
    return out.getvalue().encode()


def certify(amqp_uri, observer_ids):
    """ObserverCertified for each observer, as training's relay publishes it."""
    announce(amqp_uri, "training", "ObserverCertified", [
        (f"certification:{observer_id}",
         {"certification_id": f"bench-{observer_id}", "observer_id": observer_id,
          "course_id": "short-term", "certified_at": "2026-11-01T09:00:00+00:00",
          "expires_at": "2027-11-01T09:00:00+00:00", "roles": ["short_term"]})
        for observer_id in observer_ids])


class Certifications:
    """Certifies the observers as training would, until deployment and the registry
    both know every one certified. Training certifies long before deployment starts, so
    the registry must have caught up too (it ignores the assignment of an observer it
    does not yet know certified). Now and then the ones still missing are published
    again: at least once is the contract."""

    def __init__(self, amqp_uri, registry, deployment, ids, patience=60):
        self.amqp_uri = amqp_uri
        self.registry, self.deployment = registry, deployment
        self.ids = set(ids)
        self.patience = patience
        self.published_at = None

    def publish(self, ids):
        certify(self.amqp_uri, sorted(ids))
        self.published_at = time.monotonic()

    def complete(self):
        missing = self.ids - {d["_id"] for d in self.deployment["observers"].find(
            {"region": REGION, "certified": True}, {"_id": 1})}
        missing |= {d["_id"] for d in self.registry["observers"].find(
            {"status": "applicant"}, {"_id": 1})}
        if missing and time.monotonic() - self.published_at > self.patience:
            self.publish(missing)
        return not missing


AUTO_DEPLOY = """mutation($input: AutoDeployInput!) { autoDeploy(input: $input) {
  deployment { proposedCount unfilledCount } errors { code message } } }"""
PLAN = """mutation($input: SetCoveragePlanInput!) { setCoveragePlan(input: $input) {
  errors { code message } } }"""
COVERAGE = """query($region: String) { coverage(region: $region) {
  stations covered uncovered priorityUncovered checkedIn noShows
  parts { scope stations covered uncovered } } }"""


def timed(call):
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def measure(platform, db, amqp_uri, args):
    graphql = Client(platform.url, platform)
    registry, deployment = db("registry"), db("deployment")
    figures = {"stations_import_s": timed_import(graphql, "importPollingStations",
                                                 stations_csv(args.stations,
                                                              args.region_stations))}
    figures["observers_import_s"] = timed_import(graphql, "importObservers",
                                                 observers_csv(args.observers))
    wait_for(lambda: registry["observers"].estimated_document_count() >= args.observers)
    ids = [d["_id"] for d in registry["observers"].find({"region": REGION}, {"_id": 1})]
    certifications = Certifications(amqp_uri, registry, deployment, ids)
    _, figures["certify_publish_s"] = timed(lambda: certifications.publish(ids))
    figures["deployment_catch_up_s"] = wait_for(
        lambda: deployment["stations"].estimated_document_count() >= args.stations
        and certifications.complete(), timeout=1200)
    # autoDeploy is planned long after the imports: it is timed once every consumer has
    # digested them, not while their fan-out still loads mongod.
    figures["platform_settled_s"] = wait_for(lambda: settled(amqp_uri), timeout=900)
    priority = [f"{i:06}" for i in range(0, args.region_stations, 50)]
    graphql(PLAN, {"input": {"region": REGION, "minimumObservers": args.minimum,
                             "priorityStations": priority}})
    proposed, figures["auto_deploy_propose_s"] = timed(lambda: graphql(
        AUTO_DEPLOY, {"input": {"region": REGION}})["autoDeploy"])
    applied, figures["auto_deploy_apply_s"] = timed(lambda: graphql(
        AUTO_DEPLOY, {"input": {"region": REGION, "apply": True}})["autoDeploy"])
    if applied["errors"] or not applied["deployment"]["proposedCount"]:
        sys.exit(f"autoDeploy did not deploy: {json.dumps(applied)}")
    figures["assignments_applied"] = applied["deployment"]["proposedCount"]
    wait_for(lambda: graphql(COVERAGE, {"region": REGION})["coverage"]["covered"]
             >= args.region_stations - applied["deployment"]["unfilledCount"])
    # Coverage is timed once the platform has settled: the registry marks each
    # assigned observer deployed, ten thousand commands of its own.
    figures["registry_follows_s"] = wait_for(lambda: registry["observers"].count_documents(
        {"status": "deployed"}) >= figures["assignments_applied"], timeout=300)

    latencies = []
    for _ in range(args.samples):
        _, seconds = timed(lambda: graphql(COVERAGE, {"region": REGION}))
        latencies.append(seconds * 1000)
    figures["coverage_region_median_ms"] = statistics.median(latencies)
    figures["coverage_region_p95_ms"] = statistics.quantiles(latencies, n=20)[-1]
    _, seconds = timed(lambda: graphql(COVERAGE))
    figures["coverage_country_ms"] = seconds * 1000
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=100_000)
    parser.add_argument("--region-stations", type=int, default=10_000)
    parser.add_argument("--observers", type=int, default=25_000)
    parser.add_argument("--minimum", type=int, default=1,
                        help="observers per station the region's plan asks for")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

    with bench_platform() as (platform, database, amqp_uri):
        figures = measure(platform, database, amqp_uri, args)

    sys.exit(report("deployment", (
        f"Deployment benchmark: {args.stations} stations ({args.region_stations} in "
        f"{REGION}), {args.observers} certified observers, plan minimum "
        f"{args.minimum}, through GraphQL on the running platform"), figures, {
        "auto_deploy_propose_s": AUTO_DEPLOY_TARGET_S,
        "auto_deploy_apply_s": AUTO_DEPLOY_TARGET_S,
        "coverage_region_median_ms": COVERAGE_TARGET_MS}))


if __name__ == "__main__":
    main()
