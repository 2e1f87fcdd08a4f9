"""The one GraphQL schema: each domain module contributes its Query and Mutation."""
import graphene

from gateway import registry


class Query(registry.Query, graphene.ObjectType):
    pass


class Mutation(registry.Mutation, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
