"""Make sure RabbitMQ answers, starting or installing it locally when it does not.

Also small helpers over the management HTTP API so tests can work in a vhost of their
own. `python -m deploy.broker [--management]` checks (and fixes) the broker.
"""
import argparse
import base64
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import quote, unquote, urlsplit

from shared.config import amqp_uri

MANAGEMENT_PORT = 15672
START_TIMEOUT = 60
MANAGEMENT_TIMEOUT = 30
SBIN_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"]  # often missing from a user's PATH


class BrokerError(RuntimeError):
    pass


def ensure_rabbitmq(amqp_uri, management=False):
    """Return once RabbitMQ answers on `amqp_uri` (and its management API, if asked)."""
    parts = urlsplit(amqp_uri)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    local = _is_local(host)
    if not _port_open(host, port):
        if not local:
            raise BrokerError(f"RabbitMQ does not answer at {host}:{port}")
        _start_local_rabbitmq(host, port)
    if management and not _management_answers(amqp_uri):
        if not local:
            raise BrokerError(f"the RabbitMQ management API does not answer at {host}")
        _run(_as_admin() + [_require("rabbitmq-plugins"), "enable", "rabbitmq_management"])
        _wait(lambda: _management_answers(amqp_uri), MANAGEMENT_TIMEOUT,
              f"the management API did not answer within {MANAGEMENT_TIMEOUT} s")


def amqp_uri_for_vhost(base_uri, vhost):
    """`base_uri` pointing at `vhost` instead of its own."""
    return urlsplit(base_uri)._replace(path="/" + quote(vhost, safe="")).geturl()


def create_vhost(name, base_uri=None):
    """Create vhost `name` and give the URI's user full rights on it."""
    user = _credentials(base_uri or amqp_uri())[0]
    _api("PUT", f"/api/vhosts/{quote(name, safe='')}", base_uri)
    set_permissions(name, user, ".*", ".*", ".*", base_uri)


def delete_vhost(name, base_uri=None):
    """Delete vhost `name` with its queues and exchanges; a missing vhost is fine."""
    _delete(f"/api/vhosts/{quote(name, safe='')}", base_uri)


def vhost_of(uri):
    """The vhost an AMQP URI points at ("/" when it names none)."""
    return unquote(urlsplit(uri).path[1:]) or "/"


def put_user(name, password, base_uri=None):
    """Create (or re-password) a broker user with no tags: it cannot use the API."""
    _api("PUT", f"/api/users/{quote(name, safe='')}", base_uri,
         {"password": password, "tags": ""})


def delete_user(name, base_uri=None):
    """Delete user `name` with its permissions; a missing user is fine."""
    _delete(f"/api/users/{quote(name, safe='')}", base_uri)


def set_permissions(vhost, user, configure, write, read, base_uri=None):
    _api("PUT", f"/api/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
         base_uri, {"configure": configure, "write": write, "read": read})


def set_topic_permissions(vhost, user, exchange, write, read, base_uri=None):
    """Routing keys `user` may publish with (write) and bind with (read) on `exchange`."""
    _api("PUT", f"/api/topic-permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
         base_uri, {"exchange": exchange, "write": write, "read": read})


def _delete(path, base_uri):
    try:
        _api("DELETE", path, base_uri)
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise


def _is_local(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", socket.gethostname())


def _port_open(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def _start_local_rabbitmq(host, port):
    if _which("rabbitmq-server") is None:
        _install_rabbitmq()
        if _port_open(host, port):  # the package's install script may have started it
            return
    _run(_as_admin() + [_require("rabbitmq-server"), "-detached"])
    _wait(lambda: _port_open(host, port), START_TIMEOUT,
          f"RabbitMQ did not open port {port} within {START_TIMEOUT} s")


def _install_rabbitmq():
    prefix = _sudo_prefix()
    if prefix is None or not shutil.which("apt-get"):
        raise BrokerError(
            "RabbitMQ is not installed and cannot be installed from here. Run:\n"
            "  sudo apt-get update\n"
            "  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server\n"
            "  sudo rabbitmq-server -detached")
    _run(prefix + ["apt-get", "update"])
    _run(prefix + ["env", "DEBIAN_FRONTEND=noninteractive",
                   "apt-get", "install", "-y", "rabbitmq-server"])


def _sudo_prefix():
    """Prefix for root-only commands: none as root, `sudo -n` if it needs no password, else None."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(
            ["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


def _as_admin():
    """Prefix for broker admin commands; without sudo, try as ourselves (e.g. Homebrew)."""
    prefix = _sudo_prefix()
    return [] if prefix is None else prefix


def _which(name):
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", "")] + SBIN_DIRS))


def _require(name):
    path = _which(name)
    if path is None:
        raise BrokerError(f"{name} is not on PATH nor in {', '.join(SBIN_DIRS)}")
    return path


def _run(command):
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if result.returncode != 0:
        raise BrokerError(f"`{' '.join(command)}` failed ({result.returncode}):\n"
                          f"{(result.stderr or result.stdout).strip()}")


def _wait(check, timeout, message):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise BrokerError(message)
        time.sleep(0.5)


def _credentials(uri):
    parts = urlsplit(uri)
    return unquote(parts.username or "guest"), unquote(parts.password or "guest")


def _management_url(uri):
    return f"http://{urlsplit(uri).hostname or '127.0.0.1'}:{MANAGEMENT_PORT}"


def _management_answers(uri):
    try:
        _api("GET", "/api/overview", uri)
        return True
    except OSError:  # URLError and HTTPError included
        return False


def queued_messages(uri):
    """How many messages wait in the queues of the URI's vhost (the management API's
    figures, refreshed every few seconds)."""
    queues = _api("GET", f"/api/queues/{quote(vhost_of(uri), safe='')}?columns=messages",
                  uri)
    return sum(q.get("messages") or 0 for q in queues)


def _api(method, path, base_uri=None, body=None):
    """One management API call, authenticated as the AMQP URI's user; returns the
    answer's JSON, if any."""
    uri = base_uri or amqp_uri()
    token = base64.b64encode(":".join(_credentials(uri)).encode()).decode()
    request = urllib.request.Request(
        _management_url(uri) + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"})
    # Deleting a vhost with many queues takes seconds on a busy broker.
    with urllib.request.urlopen(request, timeout=30) as response:  # HTTPError unless 2xx
        answer = response.read()
    return json.loads(answer) if answer else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--management", action="store_true",
                        help="also make sure the management API answers on port 15672")
    args = parser.parse_args(argv)
    uri = amqp_uri()
    try:
        ensure_rabbitmq(uri, management=args.management)
    except BrokerError as exc:
        print(f"RabbitMQ is not available: {exc}", file=sys.stderr)
        return 1
    parts = urlsplit(uri)
    status = f"RabbitMQ answers at {parts.hostname}:{parts.port or 5672}"
    if args.management:
        status += f", management API at {_management_url(uri)}"
    print(status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
