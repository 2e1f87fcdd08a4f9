"""Where outgoing SMS go: a pluggable provider chosen by SMS_PROVIDER. Locally (the
default, `log`) each message is a JSON line in SMS_PROVIDER_LOG (var/sms-outbox.log),
which tests and operators read."""
import json
import threading

from shared import config


class LogFileProvider:
    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()

    def send_all(self, messages):
        """messages: [{"to", "text", "ref"}]; returns how many were handed over."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages)
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(lines)
        return len(messages)


PROVIDERS = {"log": lambda: LogFileProvider(config.sms_provider_log())}


def provider():
    name = config.sms_provider()
    if name not in PROVIDERS:
        raise ValueError(f"unknown SMS_PROVIDER {name!r}; known: {', '.join(PROVIDERS)}")
    return PROVIDERS[name]()
