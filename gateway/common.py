"""GraphQL types every domain module uses."""
import base64
import binascii
import enum
from datetime import datetime

import graphene

from gateway.errors import BAD_USER_INPUT, GatewayError


class UserError(graphene.ObjectType):
    """Why a mutation refused its input; `field` is the input path, when there is one."""
    code = graphene.String(required=True)
    message = graphene.String(required=True)
    field = graphene.String()


class Payload:
    """Mixed into every mutation payload: the refusals and the echoed idempotency key."""
    errors = graphene.NonNull(graphene.List(graphene.NonNull(UserError)))
    client_mutation_id = graphene.String()


class ClientMutationId:
    """Mixed into every mutation input."""
    client_mutation_id = graphene.String(
        description="Idempotency key: a retry with the same value returns the first "
                    "result and changes nothing.")


class Timestamp(graphene.DateTime):
    """ISO 8601 date and time; services send it as a string over RPC."""

    @staticmethod
    def serialize(value):
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return graphene.DateTime.serialize(value)


class PageInfo(graphene.ObjectType):
    has_next_page = graphene.Boolean(required=True)
    end_cursor = graphene.String()


def cursor(kind, key):
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def key_from_cursor(kind, value):
    """The key a cursor of `kind` stands for; a foreign or broken cursor is bad input."""
    if value is None:
        return None
    try:
        found, _, key = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        found = key = None
    if found != kind or not key:
        raise GatewayError(BAD_USER_INPUT, f"{value!r} is not a {kind} cursor")
    return key


def connection_type(node):
    """`<Node>Connection` with `<Node>Edge`s, as Relay clients expect lists."""
    edge = type(f"{node.__name__}Edge", (graphene.ObjectType,), {
        "cursor": graphene.String(required=True),
        "node": graphene.Field(node, required=True)})
    return type(f"{node.__name__}Connection", (graphene.ObjectType,), {
        "edges": graphene.List(graphene.NonNull(edge), required=True),
        "page_info": graphene.Field(PageInfo, required=True),
        "total_count": graphene.Int(required=True)})


def connection(kind, key, items, has_next, total):
    """A Relay-style connection over one page of `items`; key(item) names its cursor."""
    edges = [{"cursor": cursor(kind, key(item)), "node": item} for item in items]
    return {"edges": edges, "total_count": total, "page_info": {
        "has_next_page": has_next, "end_cursor": edges[-1]["cursor"] if edges else None}}


def selects(info, field_name):
    """Whether the query asks for `field_name` directly under the resolved field, so
    costly parts (a total count) are computed only when wanted."""
    return any(getattr(getattr(selection, "name", None), "value", None) == field_name
               for node in info.field_nodes
               for selection in node.selection_set.selections)


def page_size(first, maximum=500):
    if first is None:
        return 50
    if not 1 <= first <= maximum:
        raise GatewayError(BAD_USER_INPUT, f"first must be between 1 and {maximum}")
    return first


class FileInput:
    """Mixed into inputs that carry a CSV file: as text, or as base64 bytes in any
    encoding (Windows-1251 from Excel, for example)."""
    csv = graphene.String(description="the file as text")
    csv_base64 = graphene.String(description="the file's bytes, base64-encoded")


def file_base64(input):
    if bool(input.csv) == bool(input.csv_base64):
        raise GatewayError(BAD_USER_INPUT, "give the file as either csv or csvBase64")
    return input.csv_base64 or base64.b64encode(input.csv.encode()).decode()


def plain(value):
    """Graphene input (enum members, nested input objects, lists) as plain data for a
    service, without the fields left unset."""
    # Only enum members: an input object with a field named `value` is a dict.
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def command_input(input):
    """A mutation's input as the service's command: given fields, snake_case."""
    return plain({k: v for k, v in input.items() if k != "client_mutation_id"})


def run_command(info, payload_type, result_field, service, method, command, input,
                timeout=None):
    """Runs a service command for a mutation and shapes its typed payload."""
    result, errors = info.context.command(service, method, command,
                                          idempotency_key=input.client_mutation_id,
                                          timeout=timeout)
    return payload_type(**{result_field: result}, errors=errors,
                        client_mutation_id=input.client_mutation_id)
