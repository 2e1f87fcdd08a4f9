"""The gateway's web server log: a failed request's traceback, not a line per request."""
import logging

from gateway.http import _Failures


def test_a_failed_request_is_logged_and_an_answered_one_is_not(caplog):
    failures = _Failures(logging.getLogger("test.wsgi"))
    with caplog.at_level(logging.DEBUG, "test.wsgi"):
        failures.info('127.0.0.1 - - [02/Dec/2026 16:20:01] "POST /graphql HTTP/1.1" 200 '
                      '912 0.004210')
        failures.info("Traceback (most recent call last):\n  ...\nValueError: broken")
    assert [(r.levelname, r.getMessage().splitlines()[0]) for r in caplog.records] == [
        ("ERROR", "Traceback (most recent call last):")]
