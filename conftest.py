# Green threads before anything imports socket or threading: nameko 2.14's pytest
# plugin no longer patches, and broker tests hang without it.
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()
