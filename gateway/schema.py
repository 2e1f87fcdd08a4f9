"""The one GraphQL schema: each domain module contributes its Query and Mutation."""
import graphene

from gateway import deployment, registry, reporting, training


class Query(registry.Query, training.Query, deployment.Query, reporting.Query,
            graphene.ObjectType):
    pass


class Mutation(registry.Mutation, training.Mutation, deployment.Mutation,
               reporting.Mutation, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
