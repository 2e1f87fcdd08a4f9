"""Runs GraphQL requests: parses and validates each distinct query once (that is where
the time goes; executing a validated document is cheap), enforces depth and size limits,
and gives every error a machine-readable code."""
import functools
import logging

from graphql import (FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLError,
                     OperationDefinitionNode, execute, parse, validate)

from gateway.errors import (BAD_USER_INPUT, INTERNAL, PARSE_FAILED, VALIDATION_FAILED,
                            GatewayError)

log = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 20_000


class Executor:
    def __init__(self, schema, max_depth=10, max_fields=300, cache_size=2000):
        self.schema = schema.graphql_schema
        self.max_depth = max_depth
        self.max_fields = max_fields
        self.document = functools.lru_cache(maxsize=cache_size)(self._document)

    def _document(self, query):
        """The parsed, validated document; raises GatewayError when it is not one."""
        if len(query) > MAX_QUERY_LENGTH:
            raise GatewayError(VALIDATION_FAILED,
                               f"the query is longer than {MAX_QUERY_LENGTH} characters")
        try:
            document = parse(query)
        except GraphQLError as exc:
            raise GatewayError(PARSE_FAILED, exc.message)
        errors = validate(self.schema, document)
        if errors:
            raise GatewayError(VALIDATION_FAILED, "; ".join(e.message for e in errors))
        depth, fields = _measure(document)
        if depth > self.max_depth:
            raise GatewayError(VALIDATION_FAILED,
                               f"the query is {depth} levels deep; at most {self.max_depth}")
        if fields > self.max_fields:
            raise GatewayError(VALIDATION_FAILED,
                               f"the query asks for {fields} fields; at most {self.max_fields}")
        return document

    def execute(self, document, variables, operation_name, context):
        result = execute(self.schema, document, context_value=context,
                         variable_values=variables, operation_name=operation_name)
        response = {"data": result.data}
        if result.errors:
            response["errors"] = [_formatted(e) for e in result.errors]
        return response


def _formatted(error):
    original = error.original_error
    if isinstance(original, GatewayError):
        error.extensions = original.extensions
    elif original is None or isinstance(original, GraphQLError):
        # graphql-core's own: coercing variables and arguments failed.
        error.extensions = {"code": BAD_USER_INPUT}
    else:
        log.error("resolver failed at %s", error.path, exc_info=original)
        error = GraphQLError("internal error; it has been logged", error.nodes,
                             path=error.path, extensions={"code": INTERNAL})
    return error.formatted


def _measure(document):
    """(deepest field nesting, number of fields) over all operations, fragments expanded."""
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}

    def walk(selection_set, depth):
        fields, deepest = 0, depth
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields += 1
                if selection.selection_set:
                    inner, deepest_inner = walk(selection.selection_set, depth + 1)
                    fields, deepest = fields + inner, max(deepest, deepest_inner)
            else:
                target = (fragments[selection.name.value]
                          if isinstance(selection, FragmentSpreadNode) else selection)
                inner, deepest_inner = walk(target.selection_set, depth)
                fields, deepest = fields + inner, max(deepest, deepest_inner)
        return fields, deepest

    depth = fields = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            inner, deepest = walk(definition.selection_set, 1)
            fields, depth = fields + inner, max(depth, deepest)
    return depth, fields


