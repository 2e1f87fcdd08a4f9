"""`make loadtest [USERS=2000] [DURATION=3m] [HOST=https://...] [TOKEN=...]`: the
election-day load test in one command, in locust's own virtualenv.

Without HOST it starts the platform itself (loadtests/platform_side.py, in the platform's
.venv) and stops it afterwards. It seeds the country through GraphQL (skipped when it is
already there), runs the floor (the same locust set-up against the gateway's no-op
`GET /ping`), then the election-day profile, reconciles what the platform accepted with
the reporting read models, and prints the readiness verdict; the exit code is the
verdict's. HTML and CSV reports land in var/loadtest/.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cpu  # noqa: E402  (this folder is not a package: locust's virtualenv runs it)
import seed  # noqa: E402
import verdict  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "loadtest"
PLATFORM_PYTHON = str(ROOT / ".venv" / "bin" / "python")
FLOOR_USERS = ["Floor"]
ELECTION_DAY_USERS = ["OpeningBurst", "TurnoutWaves", "IncidentReporter", "SmsSender",
                      "Coordinator", "HotlineOperator"]


def log(message):
    print(f"[loadtest] {message}", flush=True)


def platform_side(*args, stdin=None, env=None):
    """A platform-side helper's output (it runs in the platform's own virtualenv)."""
    return subprocess.run([PLATFORM_PYTHON, "-m", "loadtests.platform_side", *args],
                          cwd=ROOT, check=True, capture_output=True, text=True,
                          input=stdin, env={**os.environ, **(env or {})}).stdout


def start_platform():
    """(process, {url, mongo_uri, prefix}) of a platform started for this run."""
    args = ["serve"] + (["--fresh"] if os.environ.get("RESEED") == "1" else []) + (
        ["--replay", os.environ["REPLAY"]] if os.environ.get("REPLAY") else [])
    process = subprocess.Popen([PLATFORM_PYTHON, "-m", "loadtests.platform_side", *args],
                               cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    line = process.stdout.readline()
    if not line:
        sys.exit(f"the platform did not start (exit code {process.wait()})")
    return process, json.loads(line)


def token(role):
    """A token of a role without a scope: TOKEN for the national coordinator, if given;
    minted with the platform's tool (its virtualenv, its secret) otherwise."""
    if role == "national_coordinator" and os.environ.get("TOKEN"):
        return os.environ["TOKEN"]
    return subprocess.run([PLATFORM_PYTHON, "-m", "deploy.token", role, "--subject",
                           f"loadtest:{role}"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()


def with_tokens(country):
    """Observers' and regional coordinators' own tokens, minted with the platform's
    secret (NAZAR_TOKEN_SECRET for a deployed cluster)."""
    observers = country["observers"]
    for observer, minted in zip(observers, platform_side(
            "tokens", "observer", stdin="\n".join(o["id"] for o in observers)).split()):
        observer["token"] = minted
    country["hotline_operator"] = token("hotline_operator")
    country["coordinators"] = dict(zip(country["regions"], platform_side(
        "tokens", "regional_coordinator", stdin="\n".join(country["regions"])).split()))
    return country


def locust(users, classes, csv_prefix, run_time, env):
    """Runs locust headless; its exit code (1 when any request failed)."""
    processes = os.environ.get("PROCESSES", "1")
    command = [sys.executable, "-m", "locust",
               "-f", str(ROOT / "loadtests" / "locustfile.py"),
               "--headless", "--host", env["LOADTEST_HOST"], "--users", users,
               "--spawn-rate", os.environ.get("SPAWN_RATE", users),
               "--run-time", run_time, "--stop-timeout", "10",
               "--csv", str(OUT / csv_prefix), "--html", str(OUT / f"{csv_prefix}.html"),
               "--only-summary",
               *(["--processes", processes] if processes != "1" else []),
               *classes]
    return subprocess.run(command, env={**os.environ, **env}).returncode


def reconciler(started, after=0):
    """The platform-side reconciliation of var/loadtest/accepted.json, started now: it
    watches reporting's read models until a run that stops after `after` is recorded."""
    return subprocess.Popen(
        [PLATFORM_PYTHON, "-m", "loadtests.platform_side", "reconcile",
         str(OUT / "accepted.json"), "--after", str(after)], cwd=ROOT,
        stdout=subprocess.PIPE, text=True, env={**os.environ, **{
            name: started[key] for name, key in (("MONGO_URI", "mongo_uri"),
                                                 ("NAZAR_DB_PREFIX", "prefix"))
            if started.get(key)}})


def judge(reconciling, processor_time=None):
    """The verdict's exit code, once the reconciliation has answered. `processor_time`:
    cpu snapshots (before, after) of the election-day run."""
    output, _ = reconciling.communicate()
    if reconciling.returncode:
        sys.exit(f"the reconciliation failed (exit code {reconciling.returncode})")
    reconciled = json.loads(output)
    return verdict.main(OUT, reconciled, processor_time and cpu.per_report(
        *processor_time, sum(reconciled["accepted"].values())))


def main():
    if sys.argv[1:] == ["--judge"]:  # after a distributed run (README)
        sys.exit(judge(reconciler({})))
    OUT.mkdir(parents=True, exist_ok=True)
    users = os.environ.get("USERS", "2000")
    duration = os.environ.get("DURATION", "3m")
    platform, started = None, {}
    if os.environ.get("HOST"):
        host = os.environ["HOST"].rstrip("/")
    else:
        log("starting the platform")
        platform, started = start_platform()
        host = started["url"].removesuffix("/graphql")
        log(f"platform at {host}, databases {started['prefix']}*")
    try:
        coordinator = token("national_coordinator")
        country = seed.seed(f"{host}/graphql", coordinator,
                            int(os.environ.get("STATIONS", 30_000)),
                            int(os.environ.get("OBSERVERS", 60_000)),
                            int(os.environ.get("CERTIFIED", 60_000)),
                            int(os.environ.get("SMS_SENDERS", 2000)), log=log)
        country["sms_secret"] = (os.environ.get("SMS_WEBHOOK_SECRET")
                                 or started["sms_secret"])
        (OUT / "country.json").write_text(json.dumps(with_tokens(country)))
        env = {"LOADTEST_HOST": host, "NAZAR_TOKEN": coordinator,
               "LOADTEST_COUNTRY": str(OUT / "country.json")}
        log(f"floor run: {users} users against GET /ping")
        locust(users, FLOOR_USERS, "floor", os.environ.get("FLOOR_DURATION", "30s"), env)
        log(f"election-day run: {users} users for {duration}")
        classes = os.environ.get("USER_CLASSES", "").split() or ELECTION_DAY_USERS
        (OUT / "accepted.json").unlink(missing_ok=True)
        reconciling = reconciler(started, after=time.time())
        before = cpu.snapshot()
        locust(users, classes, "locust", duration,
               {**env, "LOADTEST_ACCEPTED": str(OUT / "accepted.json")})
        processor_time = before, cpu.snapshot()
        if not (OUT / "accepted.json").exists():
            reconciling.kill()
            sys.exit("locust recorded no run: see its output above")
        code = judge(reconciling, processor_time)
    finally:
        if platform:
            log("stopping the platform")
            platform.stdin.close()
            platform.wait(timeout=60)
    sys.exit(code)


if __name__ == "__main__":
    main()
