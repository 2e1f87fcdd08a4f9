"""Configuration from the environment, with safe local defaults.

Every process reads the same variables; nothing secret is committed. Locally the token
secret is generated once into var/ (ignored by git) so that `make token` and the running
gateway agree without anyone setting it.
"""
import functools
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("NAZAR_VAR_DIR", ROOT / "var"))

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_MONGO_PORT = 27117
DEFAULT_GATEWAY_PORT = 8000


def amqp_uri():
    return os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)


def mongo_uri():
    """The MongoDB URI; the launcher sets it to the embedded mongod when none is given."""
    return os.environ.get("MONGO_URI") or (
        f"mongodb://127.0.0.1:{mongo_port()}/?replicaSet=nazar&directConnection=true")


def mongo_port():
    return int(os.environ.get("NAZAR_MONGO_PORT", DEFAULT_MONGO_PORT))


def database_name(service):
    """Each service owns one database; the prefix isolates test runs and deployments."""
    return os.environ.get("NAZAR_DB_PREFIX", "nazar_") + service


def gateway_port():
    return int(os.environ.get("GATEWAY_PORT", DEFAULT_GATEWAY_PORT))


def access_log():
    """Whether the gateway logs a line per HTTP request (NAZAR_ACCESS_LOG=1)."""
    return os.environ.get("NAZAR_ACCESS_LOG", "") not in ("", "0")


def gateway_host():
    return os.environ.get("GATEWAY_HOST", "127.0.0.1")


def default_phone_region():
    """Region used to read phone numbers written without a country code."""
    return os.environ.get("NAZAR_PHONE_REGION", "KG")


def event_jobs_in_process():
    """Whether a service runs its relay and projections itself (tests, a single
    process) or leaves them to a `deploy.jobs` process beside it (the launcher)."""
    return os.environ.get("NAZAR_EVENT_JOBS", "in-process") == "in-process"


def jobs_niceness():
    """How much a `deploy.jobs` process defers to the services' own (os.nice)."""
    return int(os.environ.get("NAZAR_JOBS_NICE", 10))


def token_secret():
    return _secret("NAZAR_TOKEN_SECRET", "token_secret")


def sms_webhook_secret():
    """What the SMS gateway sends as `?secret=` to POST /sms/inbound."""
    return _secret("SMS_WEBHOOK_SECRET", "sms_webhook_secret")


def sms_own_number():
    """The hotline's own number (E.164): what it sends never comes back as news."""
    return os.environ.get("SMS_OWN_NUMBER") or None


def sms_provider():
    """How the hotline sends SMS: `log` writes them to sms_provider_log()."""
    return os.environ.get("SMS_PROVIDER", "log")


def sms_provider_log():
    return Path(os.environ.get("SMS_PROVIDER_LOG", VAR / "sms-outbox.log"))


def hotline_overdue_hours():
    """Per-category answer times of the appeals desk: "pressure=2,voter_list=12"."""
    return os.environ.get("HOTLINE_OVERDUE_HOURS", "")


def ensure_local_secrets():
    """Generate into var/ now the secrets the environment does not give, so that what
    the README reads from var/ is there as soon as the platform runs."""
    token_secret()
    sms_webhook_secret()


def _secret(variable, filename):
    """From the environment, else one generated locally once and kept in var/."""
    return os.environ.get(variable) or _kept_secret(VAR / filename)


@functools.lru_cache(maxsize=None)  # asked for on every request: read the file once
def _kept_secret(path):
    if not path.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def max_workers(service_name=None):
    """How many requests a service works on at once. The gateway's workers mostly wait
    for a round to come back (shared.runtime.Gathered): with nameko's 50, a crowd of
    observers queued for a worker while the rounds stayed small (465 reports/s at
    election-day load, 592 with 400)."""
    if service_name == "gateway":
        return int(os.environ.get("NAZAR_GATEWAY_WORKERS", 2000))
    return int(os.environ.get("NAZAR_MAX_WORKERS", 50))


def nameko_config(service_name=None, **overrides):
    config = {
        "AMQP_URI": amqp_uri(),
        "serializer": "json",
        "max_workers": max_workers(service_name),
        "WEB_SERVER_ADDRESS": f"{gateway_host()}:{gateway_port()}",
        "SERVICE_CONTAINER_CLS": "shared.runtime.ServiceContainer",
    }
    config.update(overrides)
    return config
