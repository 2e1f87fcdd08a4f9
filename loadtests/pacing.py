"""How often a simulated observer reports."""
import random
import time


def paced(shortest, longest):
    """A wait that starts each task a random `shortest` to `longest` seconds after the
    last one started, however long the platform took to answer it (locust's
    constant_pacing, jittered so that users started together drift apart). Observers
    fill in a checklist at their own pace: they send no more when the platform answers
    at once, and no less when it lags, up to the pace itself. A user may set
    `paced_since` to when its pace began."""
    def wait(user):
        now = time.monotonic()
        started = getattr(user, "paced_since", now)
        user.paced_since = started + random.uniform(shortest, longest)
        if user.paced_since < now:  # lagging by more than the pace: go on from now
            user.paced_since = now
        return user.paced_since - now
    return wait
