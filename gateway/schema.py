"""The one GraphQL schema: each domain module contributes its Query and Mutation."""
import graphene

from gateway import deployment, hotline, registry, reporting, training


class Query(registry.Query, training.Query, deployment.Query, reporting.Query,
            hotline.Query, graphene.ObjectType):
    pass


class Mutation(registry.Mutation, training.Mutation, deployment.Mutation,
               reporting.Mutation, hotline.Mutation, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
