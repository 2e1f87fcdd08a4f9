"""The registry's part of the GraphQL schema: the territory and the observers."""
import graphene

from gateway.access import (COORDINATORS, EVERYONE, allow, mask_phone, phone_view,
                            require_region)
from gateway.common import (ClientMutationId, FileInput, PageInfo, Payload, Timestamp,
                            cursor, file_base64, key_from_cursor, page_size)

IMPORT_TIMEOUT = 600.0


class Names(graphene.ObjectType):
    """A name in each language it was given in."""
    ru = graphene.String()
    ky = graphene.String()
    en = graphene.String()


class District(graphene.ObjectType):
    code = graphene.String(required=True)
    region = graphene.String(required=True)
    names = graphene.Field(Names, required=True)


class Region(graphene.ObjectType):
    code = graphene.String(required=True)
    names = graphene.Field(Names, required=True)
    districts = graphene.List(graphene.NonNull(District), required=True)
    stations = graphene.Int(required=True, description="polling stations registered")
    registered_voters = graphene.Int(required=True)


class PollingStation(graphene.ObjectType):
    code = graphene.String(required=True)
    number = graphene.Int(required=True)
    names = graphene.Field(Names, required=True)
    address = graphene.String(required=True)
    region = graphene.String(required=True)
    district = graphene.String(required=True)
    registered_voters = graphene.Int(required=True)
    latitude = graphene.Float()
    longitude = graphene.Float()
    remote = graphene.Boolean(required=True)
    abroad = graphene.Boolean(required=True)
    special = graphene.Boolean(required=True)


class PollingStationEdge(graphene.ObjectType):
    cursor = graphene.String(required=True)
    node = graphene.Field(PollingStation, required=True)


class PollingStationConnection(graphene.ObjectType):
    edges = graphene.List(graphene.NonNull(PollingStationEdge), required=True)
    page_info = graphene.Field(PageInfo, required=True)
    total_count = graphene.Int(required=True)


class ImportCounts(graphene.ObjectType):
    created = graphene.Int(required=True)
    changed = graphene.Int(required=True)
    unchanged = graphene.Int(required=True)


class RowProblem(graphene.ObjectType):
    """Why a row of an imported file was left out."""
    row = graphene.Int(required=True, description="line number in the file; 1 is the header")
    field = graphene.String(description="the column, where one is at fault")
    code = graphene.String(required=True)
    message = graphene.String(required=True)


class PollingStationImport(graphene.ObjectType):
    rows = graphene.Int(required=True)
    rejected_rows = graphene.Int(required=True)
    regions = graphene.Field(ImportCounts, required=True)
    districts = graphene.Field(ImportCounts, required=True)
    stations = graphene.Field(ImportCounts, required=True)
    problems = graphene.List(graphene.NonNull(RowProblem), required=True,
                             description="the first 1,000 problems, by row")


class ImportPollingStationsInput(FileInput, ClientMutationId, graphene.InputObjectType):
    pass


class ImportPollingStationsPayload(Payload, graphene.ObjectType):
    report = graphene.Field(PollingStationImport)


class ImportPollingStations(graphene.Mutation):
    """Imports an election commission's list of polling stations (one row per
    station: region_code, region_name, district_code, district_name, station_code,
    station_number, station_name, address, registered_voters; optionally latitude,
    longitude, remote, abroad, special, and names per language as *_ru, *_ky, *_en).
    Importing the same or a corrected file again changes only what changed."""

    class Arguments:
        input = ImportPollingStationsInput(required=True)

    Output = ImportPollingStationsPayload

    @staticmethod
    @allow("admin", "national_coordinator")
    def mutate(root, info, input):
        report, errors = info.context.command(
            "registry", "import_polling_stations",
            {"content_base64": file_base64(input)}, timeout=IMPORT_TIMEOUT)
        return ImportPollingStationsPayload(report=report, errors=errors,
                                            client_mutation_id=input.client_mutation_id)


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
    regions = graphene.List(graphene.NonNull(Region), required=True)
    polling_stations = graphene.Field(
        PollingStationConnection, required=True, region=graphene.String(),
        district=graphene.String(), first=graphene.Int(), after=graphene.String(),
        description="stations in code order, `first` (default 50, at most 500) at a time")
    observer = graphene.Field(Observer, id=graphene.ID(required=True),
                              description="null when it does not exist or is outside "
                                          "your scope")

    @staticmethod
    @allow(*EVERYONE)
    def resolve_regions(root, info):
        return info.context.call("registry", "regions")

    @staticmethod
    @allow(*EVERYONE)
    def resolve_polling_stations(root, info, region=None, district=None, first=None,
                                 after=None):
        page = info.context.call(
            "registry", "polling_stations", region=region, district=district,
            after=key_from_cursor("station", after), first=page_size(first))
        edges = [{"cursor": cursor("station", s["code"]), "node": s}
                 for s in page["stations"]]
        return {"edges": edges, "total_count": page["total"], "page_info": {
            "has_next_page": page["has_next"],
            "end_cursor": edges[-1]["cursor"] if edges else None}}

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
    import_polling_stations = ImportPollingStations.Field()
