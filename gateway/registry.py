"""The registry's part of the GraphQL schema: the territory and the observers."""
import json

import graphene

from gateway.access import (COORDINATORS, EVERYONE, allow, mask_phone, phone_view,
                            region_scope, require_region, within_own_region)
from gateway.common import (ClientMutationId, FileInput, Payload, Timestamp, command_input,
                            connection, connection_type, file_base64, key_from_cursor,
                            page_size, plain, run_command, selects)
from gateway.errors import BAD_USER_INPUT, GatewayError

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


PollingStationConnection = connection_type(PollingStation)


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


class ImportFileInput(FileInput, ClientMutationId, graphene.InputObjectType):
    pass


class ObserverImport(graphene.ObjectType):
    rows = graphene.Int(required=True)
    imported = graphene.Int(required=True)
    rejected_rows = graphene.Int(required=True)
    problems = graphene.List(graphene.NonNull(RowProblem), required=True,
                             description="the first 1,000 problems, by row")


class ImportObserversPayload(Payload, graphene.ObjectType):
    report = graphene.Field(ObserverImport)


class ImportObservers(graphene.Mutation):
    """Imports observers, one row each: full_name, phone, region_code; optionally
    phone2, district_code, organization (its name or id), locale (ru, ky, en),
    document_number. Valid rows are registered; each bad row is reported (row, column,
    reason) and registers nothing."""

    class Arguments:
        input = ImportFileInput(required=True)

    Output = ImportObserversPayload

    @staticmethod
    @allow("admin", "national_coordinator")
    def mutate(root, info, input):
        return run_command(info, ImportObserversPayload, "report", "registry",
                           "import_observers", {"content_base64": file_base64(input)},
                           input, timeout=IMPORT_TIMEOUT)


class ImportPollingStationsPayload(Payload, graphene.ObjectType):
    report = graphene.Field(PollingStationImport)


class ImportPollingStations(graphene.Mutation):
    """Imports an election commission's list of polling stations (one row per
    station: region_code, region_name, district_code, district_name, station_code,
    station_number, station_name, address, registered_voters; optionally latitude,
    longitude, remote, abroad, special, and names per language as *_ru, *_ky, *_en).
    Importing the same or a corrected file again changes only what changed."""

    class Arguments:
        input = ImportFileInput(required=True)

    Output = ImportPollingStationsPayload

    @staticmethod
    @allow("admin", "national_coordinator")
    def mutate(root, info, input):
        return run_command(info, ImportPollingStationsPayload, "report", "registry",
                           "import_polling_stations", {"content_base64": file_base64(input)},
                           input, timeout=IMPORT_TIMEOUT)


class ObserverStatus(graphene.Enum):
    APPLICANT = "applicant"
    IN_TRAINING = "in_training"
    CERTIFIED = "certified"
    DEPLOYED = "deployed"
    SUSPENDED = "suspended"


class ObserverPhone(graphene.ObjectType):
    number = graphene.String(required=True, description="E.164; masked for hotline "
                                                        "operators")
    verified = graphene.Boolean(required=True,
                                description="the observer was shown to hold it")


class Observer(graphene.ObjectType):
    id = graphene.ID(required=True)
    full_name = graphene.String(required=True)
    phones = graphene.List(graphene.NonNull(ObserverPhone),
                           description="null for roles that may not see them")
    document_number = graphene.String(
        description="null for roles that may not see personal data")
    sms_code = graphene.String(description="the code the observer signs SMS reports "
                                           "with; null for roles that may not see it")
    region = graphene.String(required=True)
    district = graphene.String()
    locale = graphene.String(required=True, description="ru, ky or en")
    organization_id = graphene.ID()
    status = graphene.String(required=True)
    registered_at = Timestamp()

    @staticmethod
    def resolve_phones(observer, info):
        view = phone_view(info.context.viewer, observer)
        if view == "masked":
            return [{**p, "number": mask_phone(p["number"])} for p in observer["phones"]]
        return observer["phones"] if view == "full" else None

    @staticmethod
    def resolve_document_number(observer, info):
        full = phone_view(info.context.viewer, observer) == "full"
        return observer.get("document_number") if full else None

    @staticmethod
    def resolve_sms_code(observer, info):
        return observer.get("sms_code") if phone_view(info.context.viewer, observer) else None


ObserverConnection = connection_type(Observer)


class ObserverFilter(graphene.InputObjectType):
    region = graphene.String()
    district = graphene.String()
    organization_id = graphene.ID()
    status = ObserverStatus()
    search = graphene.String(description="beginnings of name words, or of a phone number")


class RegisterObserverInput(ClientMutationId, graphene.InputObjectType):
    full_name = graphene.String(required=True)
    phones = graphene.List(graphene.NonNull(graphene.String), required=True)
    region = graphene.String(required=True, description="region code, e.g. KG-C")
    district = graphene.String(description="district code, within the region")
    locale = graphene.String(description="ru (default), ky or en")
    organization_id = graphene.ID()
    document_number = graphene.String()


class Organization(graphene.ObjectType):
    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    kind = graphene.String(required=True, description="ngo, coalition, party or candidate")
    region = graphene.String(description="null for a national organization")
    contact = graphene.String()


class UpdateObserverInput(ClientMutationId, graphene.InputObjectType):
    id = graphene.ID(required=True)
    full_name = graphene.String()
    region = graphene.String(description="moves the observer; give the district in the "
                                         "new region too, or null")
    phones = graphene.List(graphene.NonNull(graphene.String),
                           description="the whole new list of phones")
    district = graphene.String()
    locale = graphene.String()
    organization_id = graphene.ID()
    document_number = graphene.String()


class ObserverPayload(Payload, graphene.ObjectType):
    observer = graphene.Field(Observer)


class UpdateObserver(graphene.Mutation):
    """Changes what is given and leaves the rest; records ObserverUpdated."""

    class Arguments:
        input = UpdateObserverInput(required=True)

    Output = ObserverPayload

    @staticmethod
    @allow(*COORDINATORS)
    def mutate(root, info, input):
        changes = command_input(input)
        observer_id = changes.pop("id")
        if "region" in changes:  # a regional coordinator cannot hand observers away
            require_region(info.context.viewer, changes["region"])
        return _on_visible_observer(info, input, "update_observer",
                                    {"observer_id": observer_id, "changes": changes})


class SuspendObserverInput(ClientMutationId, graphene.InputObjectType):
    id = graphene.ID(required=True)
    reason = graphene.String(required=True)


class SuspendObserver(graphene.Mutation):
    """Suspends an observer (records ObserverSuspended with the reason); other
    services stop deploying and counting them."""

    class Arguments:
        input = SuspendObserverInput(required=True)

    Output = ObserverPayload

    @staticmethod
    @allow(*COORDINATORS)
    def mutate(root, info, input):
        return _on_visible_observer(info, input, "suspend_observer",
                                    {"observer_id": input.id, "reason": input.reason})


class VerifyObserverPhoneInput(ClientMutationId, graphene.InputObjectType):
    id = graphene.ID(required=True)
    phone = graphene.String(required=True)
    method = graphene.String(required=True, description="how the observer showed the "
                                                        "phone is theirs: sms, call or "
                                                        "in_person")


class VerifyObserverPhone(graphene.Mutation):
    """Marks one of an observer's phones as verified (records ObserverPhoneVerified);
    verifying it again changes nothing."""

    class Arguments:
        input = VerifyObserverPhoneInput(required=True)

    Output = ObserverPayload

    @staticmethod
    @allow(*COORDINATORS, "hotline_operator")
    def mutate(root, info, input):
        return _on_visible_observer(info, input, "verify_observer_phone", {
            "observer_id": input.id, "phone": input.phone, "method": input.method})


def _on_visible_observer(info, input, method, command):
    """Runs a command on an observer; one outside a regional coordinator's region is
    answered for by the registry exactly as a missing one is."""
    return run_command(info, ObserverPayload, "observer", "registry", method,
                       {**command, "within_region": region_scope(info.context.viewer)},
                       input)


class RegisterOrganizationInput(ClientMutationId, graphene.InputObjectType):
    name = graphene.String(required=True)
    kind = graphene.String(required=True, description="ngo, coalition, party or candidate")
    region = graphene.String(description="leave out for a national organization")
    contact = graphene.String()


class RegisterOrganizationPayload(Payload, graphene.ObjectType):
    organization = graphene.Field(Organization)


class RegisterOrganization(graphene.Mutation):
    class Arguments:
        input = RegisterOrganizationInput(required=True)

    Output = RegisterOrganizationPayload

    @staticmethod
    @allow("admin", "national_coordinator")
    def mutate(root, info, input):
        return run_command(info, RegisterOrganizationPayload, "organization", "registry",
                           "register_organization", command_input(input), input)


def _observer_after(after):
    """The (full name, id) an observer cursor stands for."""
    key = key_from_cursor("observer", after)
    if key is None:
        return None
    try:
        name, observer_id = json.loads(key)
    except (ValueError, TypeError):
        raise GatewayError(BAD_USER_INPUT, f"{after!r} is not an observer cursor")
    return [name, observer_id]


class RegisterObserver(graphene.Mutation):
    class Arguments:
        input = RegisterObserverInput(required=True)

    Output = ObserverPayload

    @staticmethod
    @allow(*COORDINATORS)
    def mutate(root, info, input):
        require_region(info.context.viewer, input.region)
        return run_command(info, ObserverPayload, "observer", "registry",
                           "register_observer", command_input(input), input)


class Query(graphene.ObjectType):
    regions = graphene.List(graphene.NonNull(Region), required=True)
    polling_stations = graphene.Field(
        PollingStationConnection, required=True, region=graphene.String(),
        district=graphene.String(), first=graphene.Int(), after=graphene.String(),
        description="stations in code order, `first` (default 50, at most 500) at a time")
    observers = graphene.Field(
        ObserverConnection, required=True, filter=ObserverFilter(), first=graphene.Int(),
        after=graphene.String(),
        description="observers in name order; a regional coordinator sees their region")
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
        return connection("station", lambda s: s["code"], page["stations"],
                          page["has_next"], page["total"])

    @staticmethod
    @allow(*COORDINATORS, "hotline_operator")
    def resolve_observers(root, info, filter=None, first=None, after=None):
        viewer = info.context.viewer
        wanted = plain(filter or {})
        within_own_region(viewer, wanted)
        page = info.context.call("registry", "observers_page", wanted,
                                 first=page_size(first), after=_observer_after(after),
                                 count=selects(info, "totalCount"))
        return connection("observer", lambda o: json.dumps([o["full_name"], o["id"]]),
                          page["observers"], page["has_next"], page["total"])

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
    register_organization = RegisterOrganization.Field()
    update_observer = UpdateObserver.Field()
    suspend_observer = SuspendObserver.Field()
    verify_observer_phone = VerifyObserverPhone.Field()
    import_polling_stations = ImportPollingStations.Field()
    import_observers = ImportObservers.Field()
