"""Structured JSON logs, one object a line, carrying the correlation id of the request
or event being handled so one election-day report can be followed across services."""
import json
import os
import logging
import sys
import threading
from datetime import datetime, timezone

_context = threading.local()  # green-local once eventlet has monkey-patched threading


def bind(**fields):
    """Fields added to every log line of the current worker (correlation_id, ...)."""
    _context.fields = fields


def bound():
    """The fields bound to the current worker's log lines."""
    return dict(getattr(_context, "fields", {}))


def clear():
    _context.fields = {}


class JsonFormatter(logging.Formatter):
    def __init__(self, service):
        super().__init__()
        self.service = service

    def format(self, record):
        line = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            **getattr(_context, "fields", {}),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(service, level=None):
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO"))
    # pymongo and kombu chatter at INFO about every connection
    for noisy in ("pymongo", "kombu", "amqp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
