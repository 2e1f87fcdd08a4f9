"""A lease in MongoDB so that only one instance of a service runs a background job
(the relay, a projection runner) at a time; another takes over when it stops renewing."""
import socket
import uuid
from datetime import datetime, timedelta, timezone

from pymongo.errors import DuplicateKeyError


class Lease:
    def __init__(self, db, name, ttl=10.0):
        self.leases = db["leases"]
        self.name = name
        self.ttl = timedelta(seconds=ttl)
        self.owner = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._held_until = None

    def acquire(self):
        """Take or renew the lease; True while this instance holds it."""
        now = datetime.now(timezone.utc)
        if self._held_until and self._held_until - now > self.ttl * 2 / 3:
            return True  # renewed recently; spare the database a write per loop
        try:
            # Matches only a lease that is ours or expired; for a live lease of another
            # instance the upsert tries to insert its _id again and clashes.
            self.leases.find_one_and_update(
                {"_id": self.name,
                 "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": now + self.ttl}},
                upsert=True)
        except DuplicateKeyError:
            self._held_until = None
            return False
        self._held_until = now + self.ttl
        return True

    def release(self):
        self._held_until = None
        self.leases.delete_one({"_id": self.name, "owner": self.owner})
