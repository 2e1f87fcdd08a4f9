"""The gateway's one error contract: every GraphQL error carries extensions.code."""
from graphql import GraphQLError

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
BAD_REQUEST = "BAD_REQUEST"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL = "INTERNAL_SERVER_ERROR"


class GatewayError(GraphQLError):
    def __init__(self, code, message):
        super().__init__(message, extensions={"code": code})


def error_dict(code, message):
    return {"message": message, "extensions": {"code": code}}
