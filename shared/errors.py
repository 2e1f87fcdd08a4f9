"""Refusals a caller can act on, each with a machine-readable code.

Commands answer over RPC with {"ok": true, "data": ...} or {"ok": false, "errors":
[problem, ...]}; the gateway turns problems into typed GraphQL payload errors.
"""
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    field: str | None = None

    def as_dict(self):
        return asdict(self)


class Rejected(Exception):
    def __init__(self, *problems):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def problems_from_messages(messages, prefix=""):
    """Flattens marshmallow's nested error messages into one Problem per field."""
    problems = []
    for name, value in messages.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            problems.extend(problems_from_messages(value, f"{path}."))
            continue
        for message in value if isinstance(value, list) else [value]:
            code = "REQUIRED" if message == "Missing data for required field." else (
                "UNKNOWN_FIELD" if message == "Unknown field." else "INVALID")
            problems.append(Problem(code, f"{path}: {message}", path))
    return problems
