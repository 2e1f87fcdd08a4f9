"""nameko's HTTP entrypoint on a lean HTTP/1.1 server of its own.

nameko serves HTTP through eventlet.wsgi and werkzeug's routing. For the gateway's
cheapest request (`GET /ping`) those cost 0.61 ms of processor time; eventlet.wsgi
alone, serving a no-op application, 0.28 ms (header parsing with the email package,
date formatting, its keep-alive loop); a bare eventlet socket loop 0.05 ms (wrk, one
process at 100 %). On election day that overhead was the gateway's largest cost. This
server reads requests straight off the socket, routes on exact paths and writes each
response in one send; what nameko does per request (a worker, its dependencies, the
correlation id) is unchanged.

What it takes: HTTP/1.0 and 1.1, keep-alive, `Expect: 100-continue`, bodies with a
Content-Length (a chunked body is refused with 411, which HTTP allows). Its limits answer
with a status that says why: 400 for a malformed request, 404, 405 with Allow, 411, 413,
431, 505. A connection that waits longer than IDLE_TIMEOUT_S for a whole request is
closed.

Like gunicorn's, its access log is off unless asked for (NAZAR_ACCESS_LOG=1): a JSON
line per request was 12 % of the gateway's processor time at election-day load. What
each request does is logged by the services, under its correlation id.
"""
import contextlib
import io
import logging
import socket
import sys
import time
from email.utils import formatdate
from functools import partial
from urllib.parse import unquote

import eventlet
from nameko.exceptions import ConfigurationError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from werkzeug.wrappers import Request, Response

from shared import config

log = logging.getLogger(__name__)

# gunicorn's default. nameko listens with eventlet's 50: when two thousand observers
# connect within a second, the kernel drops the rest and their clients retry after
# 1, 3, 7 s. The kernel caps it at net.core.somaxconn.
BACKLOG = 2048
MAX_HEAD = 64 * 1024
# The bulk imports carry their file in the body: 30,000 stations are 3.7 MB in base64.
MAX_BODY = 64 * 1024 * 1024
IDLE_TIMEOUT_S = 120  # longer than any client here thinks between requests
VERSIONS = ("HTTP/1.0", "HTTP/1.1")


class HttpError(Exception):
    """A request this server answers itself, then closes the connection."""

    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.response = Response(message + "\n", status=status, headers=list(headers),
                                 mimetype="text/plain")


class ClientGone(Exception):
    """The client closed the connection, at a request's boundary or within one."""


def parse_head(head):
    """(method, target, version, {lower-case name: value}) of a request's head, the
    bytes before its blank line."""
    request_line, *lines = head.decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
        raise HttpError(400, f"malformed request line: {request_line[:100]!r}")
    method, target, version = parts
    if version not in VERSIONS:
        raise HttpError(505, f"{version[:20]!r} is not served; use HTTP/1.1")
    headers = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise HttpError(400, f"malformed header line: {line[:100]!r}")
        name, value = name.lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return method, target, version, headers


def split_target(target):
    """(path, query string) of a request target, the path unquoted as WSGI has it."""
    path, _, query = target.partition("?")
    return unquote(path, "latin-1"), query


def wsgi_environ(method, path, query, version, headers, body, server_address, client):
    environ = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path,
        "QUERY_STRING": query, "SERVER_PROTOCOL": version,
        "SERVER_NAME": server_address[0], "SERVER_PORT": str(server_address[1]),
        "REMOTE_ADDR": client[0], "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    for name, value in headers.items():
        if "_" in name:  # as gunicorn: X_Forwarded_For would pass for X-Forwarded-For
            continue
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return environ


def keeps_alive(version, headers):
    connection = headers.get("connection", "").lower()
    return "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection


class _Date:
    """The Date header's value, formatted once a second."""

    def __init__(self):
        self.second, self.value = None, None

    def __call__(self):
        now = int(time.time())
        if now != self.second:
            self.second, self.value = now, formatdate(now, usegmt=True)
        return self.value


http_date = _Date()


def serialized(response, head_only, close):
    """The bytes of a werkzeug response: status line, headers, body."""
    body = response.get_data()
    lines = [f"HTTP/1.1 {response.status}", f"Date: {http_date()}",
             f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in response.headers.items()
              if name.lower() != "content-length"]
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head if head_only else head + body


class _Connection:
    """A client's socket, read a request at a time."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""
        self.waiting_since = None
        """Since when it waits for a request to arrive whole (monotonic), or None."""

    def head(self):
        """The next request's head, or None when the client closed between requests."""
        self.waiting_since = time.monotonic()
        while True:
            self.buffer = self.buffer.lstrip(b"\r\n")  # RFC 9112: ignore leading CRLFs
            end = self.buffer.find(b"\r\n\r\n")
            if 0 <= end <= MAX_HEAD:
                head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
                return head
            if end > MAX_HEAD or len(self.buffer) > MAX_HEAD:
                raise HttpError(431, f"the request's head is over {MAX_HEAD} bytes")
            data = self.sock.recv(65536)
            if not data:
                if self.buffer:
                    raise ClientGone()
                return None
            self.buffer += data

    def body(self, length):
        body = bytearray(length)
        have = min(len(self.buffer), length)
        body[:have], self.buffer = self.buffer[:have], self.buffer[have:]
        view = memoryview(body)
        while have < length:  # straight into place: an import's file is megabytes
            received = self.sock.recv_into(view[have:])
            if not received:
                raise ClientGone()
            have += received
        self.waiting_since = None
        return bytes(body)

    def close_if_idle(self, now):
        # shutdown() wakes the reader (it sees the end); close() would not.
        if self.waiting_since is not None and now - self.waiting_since > IDLE_TIMEOUT_S:
            self.sock.shutdown(socket.SHUT_RDWR)


class LeanWebServer(WebServer):
    """nameko's WebServer (providers register with it as before), serving HTTP itself."""

    def start(self):
        if not self._starting:
            self._starting = True
            self.routes = self._routes()
            self.connections = set()
            # Both read once: a property that parses the config, and the environment.
            self.address, self.access_log = self.bind_addr, config.access_log()
            self._sock = eventlet.listen(self.address, backlog=BACKLOG)
            self._sock.settimeout(None)  # https://github.com/celery/kombu/issues/838
            self._gt = self.container.spawn_managed_thread(self.run)
            self.container.spawn_managed_thread(self.close_idle_connections)

    def _routes(self):
        """{path: {method: provider}}; HEAD is served by GET."""
        routes = {}
        for provider in self._providers:
            if "<" in provider.url:
                raise ConfigurationError(
                    f"{provider.url}: this server routes exact paths, not converters")
            for method in provider.method.upper().split(","):
                routes.setdefault(provider.url, {})[method.strip()] = provider
        for methods in routes.values():
            if "GET" in methods:
                methods.setdefault("HEAD", methods["GET"])
        return routes

    def run(self):
        while self._is_accepting:
            try:
                sock, client = self._sock.accept()
            except OSError as exc:  # out of file descriptors, say: the next may do
                log.error("accepting a connection failed: %s", exc)
                eventlet.sleep(0.1)
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.container.spawn_managed_thread(partial(self.serve, sock, client))

    def close_idle_connections(self):
        """Closes the connections that waited for a request for over IDLE_TIMEOUT_S (a
        socket timeout instead would cost a timer on every read)."""
        while True:
            eventlet.sleep(IDLE_TIMEOUT_S / 4)
            now = time.monotonic()
            for connection in list(self.connections):
                with contextlib.suppress(OSError):
                    connection.close_if_idle(now)

    def serve(self, sock, client):
        """Answers the requests of one connection, in turn, until either side closes."""
        connection = _Connection(sock)
        self.connections.add(connection)
        try:
            while self._answer(connection, client):
                pass
        except (ClientGone, OSError):  # reset, shut for idling, or gone mid-request
            pass
        except Exception:  # nameko kills the container when a managed thread fails
            log.exception("serving a connection from %s failed", client[0])
        finally:
            self.connections.discard(connection)
            sock.close()

    def _answer(self, connection, client):
        """Reads and answers one request; whether the connection stays open."""
        method = target = version = None
        started = time.perf_counter()
        try:
            head = connection.head()
            if head is None:
                return False
            started = time.perf_counter()  # from the request, not the idle wait for it
            method, target, version, headers = parse_head(head)
            close = not keeps_alive(version, headers)
            path, query = split_target(target)
            provider = self._provider(method, path)
            body = self._body(connection, version, headers)
            # Without the environ's link back to the request: a cycle per request.
            request = Request(wsgi_environ(method, path, query, version, headers, body,
                                           self.address, client), populate_request=False)
            request.path_values = {}
            response = provider.handle_request(request)
        except HttpError as exc:
            response, close = exc.response, True
        except (ClientGone, OSError):
            raise
        except Exception:
            log.exception("serving %s %s failed", method, target)
            response, close = Response("internal error; it has been logged\n",
                                       status=500, mimetype="text/plain"), True
        connection.sock.sendall(serialized(response, method == "HEAD", close))
        if self.access_log:
            log.info('%s "%s %s %s" %s %.4f', client[0], method, target, version,
                     response.status_code, time.perf_counter() - started)
        return not close

    def _provider(self, method, path):
        methods = self.routes.get(path)
        if methods is None:
            raise HttpError(404, f"nothing at {path[:200]}")
        if method not in methods:
            raise HttpError(405, f"{method} is not allowed here",
                            headers=[("Allow", ", ".join(sorted(methods)))])
        return methods[method]

    def _body(self, connection, version, headers):
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise HttpError(411, "send the body with a Content-Length, not chunked")
        length = headers.get("content-length", "0")
        if not length.isdigit():
            raise HttpError(400, f"Content-Length is not a number: {length[:20]!r}")
        if int(length) > MAX_BODY:
            raise HttpError(413, f"the body is over {MAX_BODY} bytes")
        if version == "HTTP/1.1" and headers.get("expect", "").lower() == "100-continue":
            connection.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        return connection.body(int(length))


class HttpEntrypoint(HttpRequestHandler):
    server = LeanWebServer()

    def check_signature(self, args, kwargs):
        """Every method here takes the request alone, as setup() checked once; nameko
        checked each call (inspect.getcallargs, 5 % of a request to /ping)."""

    def setup(self):
        super().check_signature((None,), {})
        super().setup()


http = HttpEntrypoint.decorator
