"""`make loadtest [USERS=50] [DURATION=60s] [HOST=http://127.0.0.1:8000] [TOKEN=...]`:
runs locust headless against a running platform and writes its HTML and CSV reports
to var/loadtest/."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "loadtest"


def token():
    if os.environ.get("TOKEN"):
        return os.environ["TOKEN"]
    # Locally, mint one with the platform's own tool (its virtualenv, its secret).
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "deploy.token",
         "national_coordinator", "--subject", "loadtest"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    users = os.environ.get("USERS", "50")
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
        "--headless", "--host", os.environ.get("HOST", "http://127.0.0.1:8000"),
        "--users", users, "--spawn-rate", os.environ.get("SPAWN_RATE", users),
        "--run-time", os.environ.get("DURATION", "60s"), "--stop-timeout", "10",
        "--html", str(OUT / "report.html"), "--csv", str(OUT / "locust"),
    ]
    sys.exit(subprocess.run(command, env={**os.environ, "NAZAR_TOKEN": token()}).returncode)


if __name__ == "__main__":
    main()
