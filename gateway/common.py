"""GraphQL types every domain module uses."""
from datetime import datetime

import graphene


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
