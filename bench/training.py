"""Training benchmark (`make bench`): a 500-person online seminar, measured the way a
trainer meets it, through GraphQL on the running platform.

Starts the platform as `make run` does (its own databases and RabbitMQ vhost), imports
observers through the registry, waits for training to hear of them, enrolls them all in
one online session, and times recording attendance for the whole session per module,
then how soon a certification reaches the registry's and deployment's views of the
observer.
"""
import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from bench.environment import bench_platform, report
from bench.registry import (DISTRICTS_PER_REGION, REGIONS, Client, observers_csv,
                            stations_csv, timed_import, wait_for)

ATTENDANCE_TARGET_S, CERTIFICATION_TARGET_S = 2.0, 2.0
# One station per district is enough for the observers' districts to exist.
DISTRICTS = REGIONS * DISTRICTS_PER_REGION
MODULES = [{"code": "rights", "title": "Rights and duties of observers"},
           {"code": "procedure", "title": "Election-day procedure"},
           {"code": "complaints", "title": "Complaints"},
           {"code": "security", "title": "Information security", "required": False}]


def mutation(client, name, input_type, fields, input):
    payload = client(f"""mutation($input: {input_type}!) {{ {name}(input: $input) {{
        {fields} errors {{ code field message }} }} }}""", {"input": input})[name]
    if payload["errors"]:
        sys.exit(f"{name} refused: {json.dumps(payload)[:2000]}")
    return payload


def seminar(client, observers):
    """An online session of a new course with every observer enrolled; its id."""
    course_id = mutation(client, "defineCourse", "DefineCourseInput", "course { id }", {
        "title": "Short-term observers", "modules": MODULES, "passMark": 70,
        "validityDays": 180, "roles": ["SHORT_TERM"]})["course"]["id"]
    starts = datetime.now(timezone.utc) + timedelta(hours=1)
    session_id = mutation(client, "scheduleSession", "ScheduleSessionInput",
                          "session { id }", {
                              "courseId": course_id, "format": "ONLINE",
                              "link": "https://meet.example.org/seminar", "region": "R00",
                              "startsAt": starts.isoformat(),
                              "endsAt": (starts + timedelta(hours=6)).isoformat(),
                              "capacity": len(observers), "trainer": "trainer:bench"})[
        "session"]["id"]

    def enroll(observer_id):
        mutation(client, "enrollObserver", "EnrollmentInput", "enrollment { waitlisted }",
                 {"sessionId": session_id, "observerId": observer_id})
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(enroll, observers))
    return session_id


def timed(action):
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(platform, registry, training, deployment, args):
    graphql = Client(platform.url, platform)
    timed_import(graphql, "importPollingStations", stations_csv(DISTRICTS))
    wait_for(lambda: registry["districts"].count_documents({}) == DISTRICTS)
    timed_import(graphql, "importObservers", observers_csv(args.observers))
    wait_for(lambda: training["observers"].count_documents({}) >= args.observers)
    observers = [o["_id"] for o in training["observers"].find({}, {"_id": 1})]
    session_id = seminar(graphql, observers)

    attendance = [timed(lambda m=m: mutation(
        graphql, "recordAttendance", "RecordAttendanceInput", "attendance { recorded }",
        {"sessionId": session_id, "module": m["code"], "observerIds": observers}))
        for m in MODULES]

    # One observer at a time: from the score recorded to the registry showing them
    # certified and to deployment counting them as deployable (ObserverCertified
    # relayed, consumed by each, projected).
    to_registry, to_deployment = [], []
    for observer_id in observers[:args.samples]:
        started = time.perf_counter()
        mutation(graphql, "recordAssessment", "RecordAssessmentInput",
                 "assessment { certified }",
                 {"sessionId": session_id, "scores": [{"observerId": observer_id,
                                                       "score": 90}]})
        for view, seen, took in (
                (registry, {"status": "certified"}, to_registry),
                (deployment, {"certifications.0": {"$exists": True}}, to_deployment)):
            wait_for(lambda o=observer_id, v=view, s=seen: v["observers"].count_documents(
                {"_id": o, **s}), timeout=60, interval=0.01)
            took.append(time.perf_counter() - started)

    rest = observers[args.samples:]
    bulk_assessment = timed(lambda: mutation(
        graphql, "recordAssessment", "RecordAssessmentInput", "assessment { assessed }",
        {"sessionId": session_id,
         "scores": [{"observerId": o, "score": 60 + i % 40} for i, o in enumerate(rest)]}))
    return {"attendance_500_median_s": statistics.median(attendance),
            "attendance_500_max_s": max(attendance),
            "certification_to_registry_median_s": statistics.median(to_registry),
            "certification_to_registry_max_s": max(to_registry),
            "certification_to_deployment_median_s": statistics.median(to_deployment),
            "certification_to_deployment_max_s": max(to_deployment),
            "assessment_bulk_s": bulk_assessment}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observers", type=int, default=500)
    parser.add_argument("--samples", type=int, default=10,
                        help="observers certified one at a time")
    args = parser.parse_args()

    with bench_platform() as (platform, database, _):
        figures = measure(platform, database("registry"), database("training"),
                          database("deployment"), args)
    sys.exit(report("training", f"Training benchmark: an online session of "
                    f"{args.observers} observers, through GraphQL on the running platform",
                    figures, {"attendance_500_max_s": ATTENDANCE_TARGET_S,
                              "certification_to_registry_max_s": CERTIFICATION_TARGET_S,
                              "certification_to_deployment_max_s":
                                  CERTIFICATION_TARGET_S},
                    width=36, digits=3))


if __name__ == "__main__":
    main()
