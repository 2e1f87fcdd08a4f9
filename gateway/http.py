"""nameko's HTTP entrypoint, on a web server that takes a crowd's connections.

nameko listens with eventlet's default backlog of 50. When two thousand observers
connect within a second, the kernel drops the connections beyond it, and their clients
retry only after 1, 3, 7 s... (the load test saw 44 s and connections given up). The
backlog here is gunicorn's default; the kernel caps it at net.core.somaxconn.
"""
import eventlet
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer

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


class HttpEntrypoint(HttpRequestHandler):
    server = CrowdWebServer()


http = HttpEntrypoint.decorator
