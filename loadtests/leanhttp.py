"""The simulated users' HTTP client: one keep-alive connection each, a request written
in one send, the answer parsed by geventhttpclient's C parser.

locust's FastHttpUser took 0.55 to 0.6 ms of processor time per report, a sixth of
everything this machine spent on a report, platform included: its session, user agent,
cookie jar, header objects and a timeout object per socket operation, around the same
parser. On the 2-core machine the load generator shares with the platform, that time
was taken from the platform being measured. This client takes about 0.35 ms. It
measures the same span (from sending a request to its answer's last byte) and reports
to locust's statistics the same way.
"""
import json
import select
import time
from urllib.parse import urlsplit

import gevent.socket
import gevent.ssl
from gevent.monkey import get_original
from geventhttpclient.response import HTTPParseError, HTTPSocketResponse
from locust import User

TIMEOUT_S = 60  # FastHttpUser's connection and network timeouts
_poll = get_original("select", "poll")


class RequestFailed(Exception):
    """What a failed request got, as locust's failure report shows it."""


class Connection:
    """A keep-alive connection to the host, opened when first needed and again after
    the server closed it."""

    def __init__(self, base_url):
        parts = urlsplit(base_url)
        self.tls = parts.scheme == "https"
        self.address = (parts.hostname, parts.port or (443 if self.tls else 80))
        self.host = parts.netloc
        self.prefix = parts.path.rstrip("/")
        self.sock = None

    def exchange(self, method, path, body, headers):
        """(status, body) of one request; `headers` are lines, each ending in CRLF."""
        if self.sock is None or not self._alive():
            self.sock = self._connect()
        head = (f"{method} {self.prefix}{path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Length: {len(body)}\r\n{headers}\r\n")
        try:
            self.sock.sendall(head.encode("latin-1") + body)
            response = HTTPSocketResponse(self.sock, method=method)
            content = response.read()
        except BaseException:
            self.close()
            raise
        if response.should_close():
            self.close()
        return response.status_code, content

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _alive(self):
        """Readable while idle means the server closed it (idle timeout, restart):
        the request would be lost on it, so it goes on a new one."""
        poller = _poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        if poller.poll(0):
            self.close()
            return False
        return True

    def _connect(self):
        sock = gevent.socket.create_connection(self.address, timeout=TIMEOUT_S)
        sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)
        if self.tls:
            sock = gevent.ssl.create_default_context().wrap_socket(
                sock, server_hostname=self.address[0])
        return sock


class LeanHttpUser(User):
    """A locust user on a Connection of its own."""

    abstract = True

    def __init__(self, environment):
        super().__init__(environment)
        self.connection = Connection(self.host)

    def on_stop(self):
        self.connection.close()

    def request(self, name, method, path, body=b"", headers="", judge=None):
        """Sends a request and records it in locust's statistics as `name`. Returns
        what `judge(status, body)` makes of the answer (by default its body, if its
        status is 200); judge raises RequestFailed for an answer that counts as a
        failure. None when it failed."""
        started = time.time()
        result, failure = None, None
        try:
            status, content = self.connection.exchange(method, path, body, headers)
        except (OSError, HTTPParseError) as exc:  # refused, reset, timed out
            content, failure = b"", RequestFailed(f"0: {exc!r}")
        elapsed_ms = (time.time() - started) * 1000
        if failure is None:
            try:
                result = (judge or succeeded)(status, content)
            except RequestFailed as exc:
                failure = exc
        self.environment.events.request.fire(
            request_type=method, name=name, response_time=elapsed_ms,
            response_length=len(content), exception=failure, context={},
            response=None, url=path, start_time=started)
        return result

    def post_json(self, name, path, payload, judge, headers=""):
        """request() of a POST whose body is `payload` in JSON."""
        return self.request(name, "POST", path, json.dumps(payload).encode(),
                            "Content-Type: application/json\r\n" + headers, judge)


def succeeded(status, content):
    """The body of an answer with status 200; any other is a failure."""
    if status != 200:
        raise refused(status, content)
    return content


def refused(status, content):
    """The failure of an answer that was not what the user expected."""
    return RequestFailed(f"{status}: {content[:300].decode(errors='replace')}")
