"""The simulated users' HTTP client (loadtests/leanhttp.py) against a real server on
loopback: keep-alive, a server that closes, failures recorded as locust records them."""
import json
import sys
from pathlib import Path

import gevent
import pytest
from gevent.server import StreamServer
from locust import constant
from locust.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from leanhttp import LeanHttpUser, RequestFailed, refused  # noqa: E402


class Server:
    """Answers each request with its own body and the number of its connection; closes
    the connection after answering when the request's body is "close" (saying so), or
    after `close_after` requests on it (silently, as an idle timeout does)."""

    def __init__(self, close_after=None):
        self.connections = 0
        self.close_after = close_after
        self.server = StreamServer(("127.0.0.1", 0), self.handle)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def handle(self, sock, address):
        self.connections += 1
        number, served, buffered = self.connections, 0, b""
        while True:
            while b"\r\n\r\n" not in buffered:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffered += chunk
            head, _, buffered = buffered.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:])
            length = int(headers.get("Content-Length", 0))
            while len(buffered) < length:
                buffered += sock.recv(65536)
            body, buffered = buffered[:length], buffered[length:]
            served += 1
            says_so = body == b"close"
            answer = json.dumps({"connection": number, "line": lines[0],
                                 "body": body.decode()}).encode()
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (
                len(answer), b"Connection: close\r\n" if says_so else b"", answer))
            if says_so or served == self.close_after:
                sock.close()
                return

    def stop(self):
        self.server.stop()


@pytest.fixture
def server():
    server = Server()
    yield server
    server.stop()


def user_of(url):
    class Client(LeanHttpUser):
        host = url
        wait_time = constant(0)

    environment = Environment(user_classes=[Client])
    recorded = []
    environment.events.request.add_listener(
        lambda **kw: recorded.append((kw["name"], kw["exception"])))
    return Client(environment), recorded


def answer(status, content):
    return json.loads(content)


def test_requests_share_one_connection_and_are_recorded(server):
    user, recorded = user_of(server.url + "/api")
    first = user.request("first", "POST", "/graphql", b'{"a": 1}',
                         "Content-Type: application/json\r\n", answer)
    second = user.request("second", "GET", "/ping", judge=answer)
    assert first == {"connection": 1, "line": "POST /api/graphql HTTP/1.1",
                     "body": '{"a": 1}'}
    assert second["connection"] == 1 and second["line"] == "GET /api/ping HTTP/1.1"
    assert recorded == [("first", None), ("second", None)]


def test_a_connection_the_server_closed_is_replaced_before_the_next_request():
    server = Server(close_after=1)  # closes without saying so, as an idle timeout does
    try:
        user, recorded = user_of(server.url)
        assert user.request("a", "GET", "/", judge=answer)["connection"] == 1
        gevent.sleep(0.05)  # the close reaches the client while it is idle
        assert user.request("b", "GET", "/", judge=answer)["connection"] == 2
        assert [failure for _, failure in recorded] == [None, None]
    finally:
        server.stop()


def test_an_answer_that_says_connection_close_closes_it(server):
    user, recorded = user_of(server.url)
    assert user.request("a", "POST", "/", b"close", judge=answer)["connection"] == 1
    assert user.connection.sock is None
    assert user.request("b", "GET", "/", judge=answer)["connection"] == 2


def test_an_answer_the_judge_refuses_is_a_failure_and_gives_none(server):
    user, recorded = user_of(server.url)

    def judge(status, content):
        raise refused(status, content)

    assert user.request("refused", "GET", "/", judge=judge) is None
    [(name, failure)] = recorded
    assert name == "refused" and isinstance(failure, RequestFailed)
    assert str(failure).startswith('200: {"connection": 1')


def test_a_refused_connection_is_a_failure_with_status_0():
    server = Server()
    server.stop()  # nothing listens on its port any more
    user, recorded = user_of(server.url)
    assert user.request("nobody", "GET", "/", judge=answer) is None
    [(_, failure)] = recorded
    assert str(failure).startswith("0: ")
