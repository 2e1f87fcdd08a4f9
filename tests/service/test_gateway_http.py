"""The gateway's own HTTP server (gateway/http.py), spoken to over a raw socket: what a
client gets for well-formed, odd and malformed requests."""
import gc
import socket
import time

import pytest
import requests
from nameko.containers import WorkerContext
from werkzeug.wrappers import Request

from gateway import http
from shared.runtime import Gathered
from tests.service.conftest import eventually, gateway_container, start_gateway


def started_gateway(container_factory, service_config):
    """(host, port) of a gateway started now (with the environment as it is)."""
    host, _, port = start_gateway(container_factory, service_config).rpartition(":")
    return host.removeprefix("http://"), int(port)


@pytest.fixture
def address(container_factory, service_config):
    return started_gateway(container_factory, service_config)


class Client:
    def __init__(self, address):
        self.sock = socket.create_connection(address, timeout=10)
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data)
        return self

    def answer(self, head_only=False):
        """(status, {lower-case header: value}, body) of the next response; a response
        to HEAD has no body, whatever its Content-Length."""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        length = 0 if head_only else int(headers.get("content-length", 0))
        while len(self.buffer) < length:
            self.buffer += self._recv()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, body

    def closed(self):
        """Whether the server closed its side (after what it sent)."""
        return self.buffer == b"" and self.sock.recv(1) == b""

    def _recv(self):
        data = self.sock.recv(65536)
        assert data, "the server closed the connection"
        return data


def test_a_connection_serves_requests_in_turn(address):
    client = Client(address)
    for _ in range(3):
        status, headers, body = client.send(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n").answer()
        assert (status, body) == (200, b"pong")
        assert "date" in headers and "connection" not in headers


def test_http_1_0_closes_after_the_answer_unless_asked_to_keep_alive(address):
    client = Client(address)
    status, headers, _ = client.send(
        b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").answer()
    assert status == 200 and "connection" not in headers
    status, headers, _ = client.send(b"GET /ping HTTP/1.0\r\n\r\n").answer()
    assert status == 200 and headers["connection"] == "close"
    assert client.closed()


def test_head_gets_the_headers_of_get_without_the_body(address):
    client = Client(address)
    client.send(b"HEAD /ping HTTP/1.1\r\n\r\nGET /ping HTTP/1.1\r\n\r\n")
    status, headers, _ = client.answer(head_only=True)
    assert status == 200 and headers["content-length"] == "4"
    assert client.answer()[2] == b"pong"  # the next answer follows at once


@pytest.mark.parametrize("request_bytes, status, says", [
    (b"GET /nowhere HTTP/1.1\r\n\r\n", 404, b"nothing at /nowhere"),
    (b"DELETE /ping HTTP/1.1\r\n\r\n", 405, b"DELETE is not allowed"),
    (b"GET /ping\r\n\r\n", 400, b"malformed request line"),
    (b"GET /ping HTTP/2.0\r\n\r\n", 505, b"use HTTP/1.1"),
    (b"GET /ping HTTP/1.1\r\nno colon here\r\n\r\n", 400, b"malformed header line"),
    (b"POST /graphql HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411,
     b"Content-Length, not chunked"),
    (b"POST /graphql HTTP/1.1\r\nContent-Length: many\r\n\r\n", 400,
     b"Content-Length is not a number"),
    (b"POST /graphql HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (http.MAX_BODY + 1), 413,
     b"the body is over"),
    (b"GET /ping HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431,
     b"the request's head is over"),
])
def test_a_request_it_cannot_serve_gets_a_status_that_says_why(address, request_bytes,
                                                               status, says):
    client = Client(address)
    got, headers, body = client.send(request_bytes).answer()
    assert got == status and says in body, body
    assert headers["connection"] == "close" and client.closed()
    if status == 405:
        assert headers["allow"] == "GET, HEAD"


def test_a_client_that_expects_100_continue_gets_it_before_sending_the_body(address):
    client = Client(address)
    body = b'{"query": "{ __typename }"}'
    status, _, _ = client.send(b"POST /graphql HTTP/1.1\r\nContent-Type: application/json"
                               b"\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n"
                               % len(body)).answer()
    assert status == 100
    status, _, answer = client.send(body).answer()
    assert status == 401 and b"UNAUTHENTICATED" in answer  # GraphQL answered it


def test_a_client_gone_mid_request_leaves_the_server_serving(address):
    Client(address).send(b"POST /graphql HTTP/1.1\r\nContent-Length: 100\r\n\r\n{").sock.close()
    Client(address).send(b"GET /ping HTTP/1.1\r\nHost").sock.close()
    assert requests.get(f"http://{address[0]}:{address[1]}/ping", timeout=5).text == "pong"


def test_a_connection_idle_too_long_is_closed(monkeypatch, container_factory,
                                               service_config):
    monkeypatch.setattr(http, "IDLE_TIMEOUT_S", 0.4)
    client = Client(started_gateway(container_factory, service_config))
    assert client.send(b"GET /ping HTTP/1.1\r\n\r\n").answer()[0] == 200
    started = time.monotonic()
    assert client.closed()  # within two sweeps
    assert time.monotonic() - started < 2


def test_a_body_of_megabytes_arrives_whole(address):
    # As a bulk import's file does; JSON cut short would be answered BAD_REQUEST.
    body = b'{"query": "{ __typename }", "variables": {"file": "%s"}}' % (b"a" * 3_000_000)
    status, _, answer = Client(address).send(
        b"POST /graphql HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body).answer()
    assert status == 401 and b"UNAUTHENTICATED" in answer


def test_the_access_log_has_a_line_per_request_only_when_asked(
        monkeypatch, caplog, container_factory, service_config, address):
    monkeypatch.setenv("NAZAR_ACCESS_LOG", "1")  # read when a gateway starts
    logging = started_gateway(container_factory, service_config)
    with caplog.at_level("INFO", "gateway.http"):
        Client(address).send(b"GET /ping HTTP/1.1\r\n\r\n").answer()
        Client(logging).send(b"GET /ping?quiet=no HTTP/1.1\r\n\r\n").answer()
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.http"]
    assert len(lines) == 1 and '"GET /ping?quiet=no HTTP/1.1" 200' in lines[0]


def test_an_answered_request_leaves_nothing_for_the_cyclic_collector(address):
    """What a request held is freed by reference counting once it is answered: under
    election-day load the collector's passes over such garbage stopped the gateway for
    300 to 550 ms every few seconds."""
    client = Client(address)
    graphql = b'{"query": "{ __typename }"}'
    requests_ = (b"GET /ping HTTP/1.1\r\n\r\n" + b"POST /graphql HTTP/1.1\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(graphql), graphql))
    client.send(requests_).answer(), client.answer()  # the first of each warms caches
    gc.collect()
    gc.disable()
    try:
        for _ in range(10):
            assert [client.send(requests_).answer()[0], client.answer()[0]] == [200, 401]
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage if isinstance(o, (WorkerContext, Request))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []


def test_the_rounds_connect_to_their_services_as_the_gateway_starts(container_factory,
                                                                     service_config):
    """Before its first request: opened at the first round, a round's proxy held that
    round's callers some 350 ms longer, while the opening burst piled up behind it."""
    gateway = gateway_container(container_factory, service_config)
    rounds = [d for d in gateway.dependencies if isinstance(d, Gathered)]
    assert len(rounds) == 3
    assert eventually(lambda: all(len(r.proxies) == 1 for r in rounds))
