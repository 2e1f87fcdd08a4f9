"""Hotline benchmark (`make bench`): the SMS parser in one process, and the SMS
webhook end to end on the running platform.

Parser: a mix of the forms observers send (Latin, Cyrillic look-alikes, look-alike
digits, comments, garbage). Target 20,000 messages/s (at most 50 µs a message).

Webhook: starts the platform as `make run` does (its own databases and RabbitMQ
vhost), imports stations and observers through the registry, announces their
assignments on deployment.events as deployment's relay would, publishes an opening
form in reporting, then posts SMS reports to POST /sms/inbound from concurrent
clients: each is parsed, submitted to reporting, accepted and answered. Target 300
SMS/s (at most 3.3 ms an SMS).

Run: MONGO_URI=... .venv/bin/python -m bench.hotline [--messages 3000]
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from nameko.standalone.rpc import ClusterRpcProxy

from bench.environment import announce, bench_platform, report
from bench.registry import (DISTRICTS_PER_REGION, REGIONS, Client, observers_csv,
                            stations_csv, timed_import, wait_for)
from services.hotline.sms import Malformed, parse
from shared.config import nameko_config

PARSER_TARGET_US = 50.0
WEBHOOK_TARGET_MS = 1000 / 300
WEBHOOK_SECRET = "bench-sms-webhook-secret"
JSON = {"Content-Type": "application/json"}
MESSAGES = [
    "OP1234 AA1 AB1 AC0 AD2 AE1 AF0 AG3",
    "TU1234 TA312",
    "IN1234! CA3 @ballots carried out at 11:20",
    "RS1234 PA512 PB130 PC7 PD4 PE0",
    "ор1234 аа1 ав0 ас1 ЕА135",
    "OP 1234 AA l AB O ACO RS5O2",
    "IN1234!X2 CB1 @Урна вынесена, наблюдателя удалили",
    "hello, is this the hotline?",
]
OPENING = {"name": "Opening", "kind": "checklist", "phase": "opening", "sms_prefix": "OP",
           "groups": [{"name": "Station", "questions": [
               {"tag": "AA", "text": "Open on time?", "type": "yes_no", "required": True},
               {"tag": "AB", "text": "Ballots received", "type": "integer",
                "required": True, "range": {"min": 0, "max": 100000}}]}]}


def parser_rate(rounds=20000):
    count = 0
    started = time.perf_counter()
    for _ in range(rounds):
        for text in MESSAGES:
            try:
                parse(text)
            except Malformed:
                pass
            count += 1
    return count, time.perf_counter() - started


def field(platform, db, amqp_uri, stations, observers):
    """Observers with SMS codes, each assigned to a station; the opening form."""
    graphql = Client(platform.url, platform)
    registry, reporting, hotline = db("registry"), db("reporting"), db("hotline")
    timed_import(graphql, "importPollingStations", stations_csv(stations))
    # Observers' districts are checked against the registry's read model of them.
    wait_for(lambda: registry["districts"].count_documents({}) == min(
        stations, REGIONS * DISTRICTS_PER_REGION))
    timed_import(graphql, "importObservers", observers_csv(observers))
    wait_for(lambda: registry["observers"].estimated_document_count() >= observers)
    people = list(registry["observers"].find({}, {"sms_code": 1, "phones": 1}))
    announce(amqp_uri, "deployment", "ObserverAssigned", [
        (f"station:{i % stations:06}", {
            "assignment_id": f"bench-{person['_id']}", "observer_id": person["_id"],
            "station_code": f"{i % stations:06}",
            "region": f"R{i % stations % REGIONS:02}",
            "district": f"R{i % stations % REGIONS:02}-D"
                        f"{(i % stations // REGIONS) % DISTRICTS_PER_REGION:02}",
            "role": "in_station", "shift": "full_day"})
        for i, person in enumerate(people)])
    with ClusterRpcProxy(nameko_config(AMQP_URI=amqp_uri)) as rpc:
        published = rpc.reporting.publish_form(OPENING)
    if not published["ok"]:
        sys.exit(f"the form was refused: {published}")
    wait_for(lambda: reporting["assignments"].count_documents({}) >= observers and
             hotline["observers"].count_documents(
                 {"sms_code": {"$ne": None}, "assignments": {"$ne": None}}) >= observers)
    return [(p["sms_code"], p["phones"][0]) for p in people]


def webhook_rate(url, people, messages, clients, first=0):
    """Posts `messages` SMS from `clients` threads, each on its own keep-alive
    connection. http.client, not requests: the SMS gateway runs on another host in
    production, so the client's own processor time here should be as small as it can."""
    address = urllib.parse.urlsplit(url)
    path = f"{address.path}?{urllib.parse.urlencode({'secret': WEBHOOK_SECRET})}"
    mine = threading.local()

    def send(n):
        if not hasattr(mine, "connection"):
            mine.connection = http.client.HTTPConnection(address.hostname, address.port,
                                                         timeout=60)
        code, phone = people[n % len(people)]
        sent = time.perf_counter()
        mine.connection.request("POST", path, headers=JSON, body=json.dumps(
            {"from": phone, "id": f"bench-{n}", "text": f"OP{code} AA1 AB{n}"}))
        response = mine.connection.getresponse()
        body = response.read()
        latency = time.perf_counter() - sent
        return (json.loads(body)["status"] if response.status == 200
                else response.status), latency

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        statuses, latencies = zip(*pool.map(send, range(first, first + messages)))
    elapsed = time.perf_counter() - started
    return list(statuses), sorted(latencies), elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--observers", type=int, default=1000)
    parser.add_argument("--stations", type=int, default=108)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    count, elapsed = parser_rate()
    figures = {"parser µs per message": elapsed / count * 1e6}
    print(f"parser: {count} messages in {elapsed:.2f} s = {count / elapsed:,.0f}/s")
    os.environ["SMS_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    with bench_platform() as (platform, db, amqp_uri):
        people = field(platform, db, amqp_uri, args.stations, args.observers)
        url = platform.url.replace("/graphql", "/sms/inbound")
        webhook_rate(url, people[:50], 100, 8, first=args.messages)  # warm up
        statuses, latencies, elapsed = webhook_rate(url, people, args.messages,
                                                    args.clients)
    accepted = statuses.count("accepted")
    print(f"webhook: {args.messages} SMS in {elapsed:.2f} s = "
          f"{args.messages / elapsed:,.0f} SMS/s, {accepted} accepted by reporting "
          f"({args.clients} clients; latency p50 {_percentile(latencies, 50):.0f} ms, "
          f"p99 {_percentile(latencies, 99):.0f} ms; the machine is shared, "
          f"so pessimistic)")
    if accepted != args.messages:
        others = {s: statuses.count(s) for s in set(statuses) if s != "accepted"}
        sys.exit(f"not every SMS was accepted: {others}")
    figures["webhook ms per SMS"] = elapsed / args.messages * 1000
    return report("hotline", "Hotline SMS", figures,
                  {"parser µs per message": PARSER_TARGET_US,
                   "webhook ms per SMS": WEBHOOK_TARGET_MS}, digits=2)


def _percentile(ordered, percent):
    """In milliseconds, of seconds in ascending order."""
    return ordered[min(len(ordered) - 1, len(ordered) * percent // 100)] * 1000


if __name__ == "__main__":
    raise SystemExit(main())
