"""nameko's HTTP entrypoint, on a web server that takes a crowd's connections.

nameko listens with eventlet's default backlog of 50. When two thousand observers
connect within a second, the kernel drops the connections beyond it, and their clients
retry only after 1, 3, 7 s... (the load test saw 44 s and connections given up). The
backlog here is gunicorn's default; the kernel caps it at net.core.somaxconn.

Like gunicorn's, its access log is off unless asked for (NAZAR_ACCESS_LOG=1): a JSON
line per request was 12 % of the gateway's processor time at election-day load. What
each request does is logged by the services, under its correlation id.
"""
import logging

import eventlet
from eventlet import wsgi
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer

from shared import config

BACKLOG = 2048


class CrowdWebServer(WebServer):
    def start(self):
        # nameko's start(), with the backlog given.
        if not self._starting:
            self._starting = True
            self._sock = eventlet.listen(self.bind_addr, backlog=BACKLOG)
            self._sock.settimeout(None)  # https://github.com/celery/kombu/issues/838
            self._serv = self.get_wsgi_server(self._sock, self.get_wsgi_app())
            self._gt = self.container.spawn_managed_thread(self.run)

    def get_wsgi_server(self, sock, wsgi_app, protocol=HttpOnlyProtocol, debug=False):
        log = logging.getLogger("nameko.web.server")
        return wsgi.Server(sock, sock.getsockname(), wsgi_app, protocol=protocol,
                           debug=debug, log=log if config.access_log() else _Failures(log))


class _Failures:
    """eventlet's wsgi log without the access lines. It writes those and a failed
    request's traceback alike with info(), so a traceback is told by its first word."""

    def __init__(self, log):
        self.log = log

    def info(self, message, *args):
        if message.startswith("Traceback"):
            self.log.error(message, *args)

    def debug(self, message, *args):
        self.log.debug(message, *args)

    def error(self, message, *args):
        self.log.error(message, *args)


class HttpEntrypoint(HttpRequestHandler):
    server = CrowdWebServer()


http = HttpEntrypoint.decorator
