"""The registry's part of the GraphQL schema: observers."""
import graphene

from gateway.access import COORDINATORS, allow, mask_phone, phone_view, require_region
from gateway.common import ClientMutationId, Payload, Timestamp


class Observer(graphene.ObjectType):
    id = graphene.ID(required=True)
    full_name = graphene.String(required=True)
    phones = graphene.List(
        graphene.NonNull(graphene.String),
        description="E.164 numbers; masked for hotline operators, null for roles that "
                    "may not see them.")
    region = graphene.String(required=True)
    locale = graphene.String(required=True, description="ru, ky or en")
    organization_id = graphene.ID()
    status = graphene.String(required=True)
    registered_at = Timestamp()

    @staticmethod
    def resolve_phones(observer, info):
        view = phone_view(info.context.viewer, observer)
        if view == "masked":
            return [mask_phone(p) for p in observer["phones"]]
        return observer["phones"] if view == "full" else None


class RegisterObserverInput(ClientMutationId, graphene.InputObjectType):
    full_name = graphene.String(required=True)
    phones = graphene.List(graphene.NonNull(graphene.String), required=True)
    region = graphene.String(required=True, description="region code, e.g. KG-C")
    locale = graphene.String(description="ru (default), ky or en")
    organization_id = graphene.ID()


class RegisterObserverPayload(Payload, graphene.ObjectType):
    observer = graphene.Field(Observer)


class RegisterObserver(graphene.Mutation):
    class Arguments:
        input = RegisterObserverInput(required=True)

    Output = RegisterObserverPayload

    @staticmethod
    @allow(*COORDINATORS)
    def mutate(root, info, input):
        require_region(info.context.viewer, input.region)
        command = {k: v for k, v in input.items()
                   if k != "client_mutation_id" and v is not None}
        observer, errors = info.context.command(
            "registry", "register_observer", command,
            idempotency_key=input.client_mutation_id)
        return RegisterObserverPayload(observer=observer, errors=errors,
                                       client_mutation_id=input.client_mutation_id)


class Query(graphene.ObjectType):
    observer = graphene.Field(Observer, id=graphene.ID(required=True),
                              description="null when it does not exist or is outside "
                                          "your scope")

    @staticmethod
    @allow(*COORDINATORS, "hotline_operator", "observer")
    def resolve_observer(root, info, id):
        viewer = info.context.viewer
        if viewer.role == "observer" and viewer.observer != id:
            return None
        observer = info.context.call("registry", "get_observer", id)
        if observer is None or not viewer.sees_region(observer["region"]):
            return None
        return observer


class Mutation(graphene.ObjectType):
    register_observer = RegisterObserver.Field()
