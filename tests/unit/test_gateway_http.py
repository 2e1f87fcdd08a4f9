"""The gateway's HTTP server, its pure parts: reading a request's head, writing a
response. Over a socket: tests/service/test_gateway_http.py."""
import pytest
from werkzeug.wrappers import Response

from gateway.http import (HttpError, keeps_alive, parse_head, serialized, split_target,
                          wsgi_environ)


def test_a_head_is_read_into_method_target_version_and_headers():
    assert parse_head(b"POST /graphql?x=1 HTTP/1.1\r\nHost: gw\r\nContent-Length: 12\r\n"
                      b"X-Tag: a\r\nx-tag: b") == (
        "POST", "/graphql?x=1", "HTTP/1.1",
        {"host": "gw", "content-length": "12", "x-tag": "a, b"})


@pytest.mark.parametrize("head, status", [
    (b"GET /ping", 400), (b"GET  /ping HTTP/1.1", 400), (b"G3T /ping HTTP/1.1", 400),
    (b"GET /ping HTTP/3", 505), (b"GET /ping HTTP/1.1\r\nHost gw", 400),
    (b"GET /ping HTTP/1.1\r\n folded: line", 400),
])
def test_a_malformed_head_is_refused_with_its_status(head, status):
    with pytest.raises(HttpError) as refused:
        parse_head(head)
    assert refused.value.response.status_code == status


@pytest.mark.parametrize("version, connection, kept", [
    ("HTTP/1.1", None, True), ("HTTP/1.1", "close", False), ("HTTP/1.1", "Close", False),
    ("HTTP/1.0", None, False), ("HTTP/1.0", "Keep-Alive", True),
])
def test_whether_a_connection_is_kept_follows_the_version_and_the_header(
        version, connection, kept):
    assert keeps_alive(version, {"connection": connection} if connection else {}) == kept


def test_a_response_is_written_whole_with_its_length():
    response = Response('{"ok": true}', status=201, mimetype="application/json",
                        headers={"X-Correlation-Id": "c1"})
    head, _, body = serialized(response, head_only=False, close=True).partition(
        b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 201 CREATED" and body == b'{"ok": true}'
    assert {"Content-Length: 12", "X-Correlation-Id: c1", "Connection: close",
            "Content-Type: application/json"} <= set(lines)
    assert serialized(response, head_only=True, close=False).endswith(b"\r\n\r\n")


def test_the_environ_has_the_headers_but_those_spelt_with_underscores():
    environ = wsgi_environ("POST", *split_target("/graphql?x=1"), "HTTP/1.1", {
        "content-type": "application/json", "content-length": "2",
        "x-correlation-id": "c1", "x_correlation_id": "spoofed"}, b"{}",
        ("127.0.0.1", 8000), ("10.0.0.7", 50123))
    assert (environ["PATH_INFO"], environ["QUERY_STRING"]) == ("/graphql", "x=1")
    assert (environ["CONTENT_TYPE"], environ["CONTENT_LENGTH"]) == ("application/json", "2")
    assert environ["HTTP_X_CORRELATION_ID"] == "c1"
    assert environ["wsgi.input"].read() == b"{}"


def test_a_header_value_beyond_latin_1_is_written_not_failed():
    response = Response("", headers={"X-Station": "Школа 12"})
    assert b"X-Station: ????? 12" in serialized(response, head_only=True, close=False)
