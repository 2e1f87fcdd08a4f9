"""The hotline's part of the GraphQL schema: the citizens' appeals desk (appeals, their
workflow, the FAQ, statistics), the SMS message log operators search, and broadcasts
to observers."""
import graphene

from gateway.access import (COORDINATORS, allow, mask_phone, own_region, region_scope,
                            require_region, within_own_region)
from gateway.common import (ClientMutationId, Payload, Timestamp, command_input, page_size,
                            plain, run_command)
from services.hotline.domain import CATEGORIES, CHANNELS, GROUPS

DESK = ("admin", "hotline_operator", *COORDINATORS)
# Operators call citizens back; coordinators see the numbers masked.
FULL_PHONES = ("admin", "hotline_operator")


def _enum(name, values, description):
    return graphene.Enum(name, [(v.upper(), v) for v in values], description=description)


AppealCategory = _enum("AppealCategory", CATEGORIES, "pressure covers vote-buying")
AppealChannel = _enum("AppealChannel", CHANNELS, "how the citizen reached the hotline")
EscalationGroup = _enum("EscalationGroup", GROUPS, "who an appeal is escalated to")


class AppealStep(graphene.ObjectType):
    status = graphene.String(required=True)
    at = Timestamp(required=True)


class AppealComment(graphene.ObjectType):
    author = graphene.String(required=True)
    text = graphene.String(required=True)
    at = Timestamp(required=True)


class Escalation(graphene.ObjectType):
    group = graphene.String(required=True)
    reason = graphene.String(required=True)
    at = Timestamp(required=True)


class Appeal(graphene.ObjectType):
    id = graphene.ID(required=True)
    status = graphene.String(required=True,
                             description="new, in_progress, escalated, answered, closed")
    region = graphene.String()
    overdue = graphene.Boolean()
    caller_phone = graphene.String(description="masked for coordinators")
    caller_name = graphene.String()
    district = graphene.String()
    station_code = graphene.String()
    channel = graphene.String()
    category = graphene.String()
    description = graphene.String()
    assignee = graphene.String()
    escalation = graphene.Field(Escalation)
    answer = graphene.String()
    faq_id = graphene.ID()
    opened_at = Timestamp()
    due_at = Timestamp()
    answered_at = Timestamp()
    closed_at = Timestamp()
    comments = graphene.List(graphene.NonNull(AppealComment))
    history = graphene.List(graphene.NonNull(AppealStep))

    @staticmethod
    def resolve_caller_phone(appeal, info):
        phone = appeal.get("caller_phone")
        if phone is None or info.context.viewer.role in FULL_PHONES:
            return phone
        return mask_phone(phone)


class FaqEntry(graphene.ObjectType):
    id = graphene.ID(required=True)
    question = graphene.String(required=True)
    answer = graphene.String(required=True)
    category = graphene.String()


def _count_type(name, key, kind):
    return type(name, (graphene.ObjectType,), {key: kind(required=True),
                                               "count": graphene.Int(required=True)})


DayCount = _count_type("AppealDayCount", "day", graphene.String)
HourCount = _count_type("AppealHourCount", "hour", graphene.Int)
RegionCount = _count_type("AppealRegionCount", "region", graphene.String)
CategoryCount = _count_type("AppealCategoryCount", "category", graphene.String)
StatusCount = _count_type("AppealStatusCount", "status", graphene.String)


class TopQuestion(graphene.ObjectType):
    faq_id = graphene.ID(required=True)
    question = graphene.String()
    count = graphene.Int(required=True)


class HotlineStats(graphene.ObjectType):
    total = graphene.Int(required=True)
    per_day = graphene.List(graphene.NonNull(DayCount), required=True)
    per_hour = graphene.List(graphene.NonNull(HourCount), required=True,
                             description="hour of day, UTC")
    per_region = graphene.List(graphene.NonNull(RegionCount), required=True)
    per_category = graphene.List(graphene.NonNull(CategoryCount), required=True)
    per_status = graphene.List(graphene.NonNull(StatusCount), required=True)
    overdue = graphene.Int(required=True)
    average_handling_hours = graphene.Float(description="opened to answered")
    top_questions = graphene.List(graphene.NonNull(TopQuestion), required=True)


class SmsMessage(graphene.ObjectType):
    id = graphene.ID(required=True)
    direction = graphene.String(required=True, description="in or out")
    number = graphene.String(required=True)
    text = graphene.String(required=True)
    status = graphene.String(required=True)
    at = Timestamp(required=True)
    observer_id = graphene.ID()
    form_prefix = graphene.String()
    submission_id = graphene.ID()
    duplicate_of = graphene.ID()
    reply_to = graphene.ID()


class AppealFilter(graphene.InputObjectType):
    region = graphene.String()
    district = graphene.String()
    status = graphene.String()
    category = AppealCategory()
    channel = AppealChannel()
    assignee = graphene.String()
    faq_id = graphene.ID()
    overdue = graphene.Boolean()
    text = graphene.String(description="in the description")
    first = graphene.Int()


class SmsMessageFilter(graphene.InputObjectType):
    observer_id = graphene.ID()
    number = graphene.String()
    status = graphene.String()
    direction = graphene.String()
    text = graphene.String()
    first = graphene.Int()


class Query(graphene.ObjectType):
    appeals = graphene.List(graphene.NonNull(Appeal), required=True, filter=AppealFilter(),
                            description="newest first; a regional coordinator's region")
    appeal = graphene.Field(Appeal, id=graphene.ID(required=True),
                            description="null when unknown or outside your scope")
    hotline_stats = graphene.Field(HotlineStats, required=True, region=graphene.String(),
                                   **{"from": Timestamp(), "to": Timestamp()})
    faq = graphene.List(graphene.NonNull(FaqEntry), required=True)
    sms_messages = graphene.List(graphene.NonNull(SmsMessage), required=True,
                                 filter=SmsMessageFilter(),
                                 description="the SMS log, newest first")

    @staticmethod
    @allow(*DESK)
    def resolve_appeals(root, info, filter=None):
        wanted = plain(filter or {})
        viewer = info.context.viewer
        within_own_region(viewer, wanted)
        wanted["first"] = page_size(wanted.get("first"))
        return info.context.call("hotline", "appeals", wanted)

    @staticmethod
    @allow(*DESK)
    def resolve_appeal(root, info, id):
        appeal = info.context.call("hotline", "appeal", id)
        if appeal is None or not info.context.viewer.sees_region(appeal["region"]):
            return None
        return appeal

    @staticmethod
    @allow(*DESK)
    def resolve_hotline_stats(root, info, region=None, **period):
        viewer = info.context.viewer
        region = own_region(viewer, region)
        start, end = period.get("from"), period.get("to")
        return info.context.call("hotline", "stats", region,
                                 start and start.isoformat(), end and end.isoformat())

    @staticmethod
    @allow(*DESK)
    def resolve_faq(root, info):
        return info.context.call("hotline", "faq")

    @staticmethod
    @allow("admin", "hotline_operator", "national_coordinator")
    def resolve_sms_messages(root, info, filter=None):
        wanted = plain(filter or {})
        wanted["first"] = page_size(wanted.get("first"))
        return info.context.call("hotline", "messages", wanted)


class AppealPayload(Payload, graphene.ObjectType):
    appeal = graphene.Field(Appeal)


class OpenAppealInput(ClientMutationId, graphene.InputObjectType):
    caller_phone = graphene.String(required=True)
    caller_name = graphene.String()
    region = graphene.String(required=True)
    district = graphene.String()
    station_code = graphene.String()
    channel = AppealChannel(required=True)
    category = AppealCategory(required=True)
    description = graphene.String(required=True)
    faq_id = graphene.ID()


class AppealInput(ClientMutationId, graphene.InputObjectType):
    appeal_id = graphene.ID(required=True)


class AssignAppealInput(AppealInput):
    assignee = graphene.String(description="the operator; yourself when left out")


class EscalateAppealInput(AppealInput):
    group = EscalationGroup(required=True)
    reason = graphene.String(required=True)


class AnswerAppealInput(AppealInput):
    answer = graphene.String(required=True)
    faq_id = graphene.ID(description="the question this appeal asked")


class CloseAppealInput(AppealInput):
    pass


class CommentAppealInput(AppealInput):
    text = graphene.String(required=True)


def _appeal_mutation(name, input_type, method, doc, viewer_field=None):
    """A workflow step on one appeal, within the viewer's region."""
    def mutate(root, info, input):
        viewer = info.context.viewer
        command = command_input(input)
        command["within_region"] = region_scope(viewer)
        if viewer_field and not command.get(viewer_field):
            command[viewer_field] = viewer.subject
        return run_command(info, AppealPayload, "appeal", "hotline", method, command,
                           input)
    return type(name, (graphene.Mutation,), {
        "__doc__": doc, "Arguments": type("Arguments", (), {
            "input": input_type(required=True)}),
        "Output": AppealPayload, "mutate": staticmethod(allow(*DESK)(mutate))})


class OpenAppeal(graphene.Mutation):
    """Records a citizen's appeal (AppealOpened)."""

    class Arguments:
        input = OpenAppealInput(required=True)

    Output = AppealPayload

    @staticmethod
    @allow(*DESK)
    def mutate(root, info, input):
        viewer = info.context.viewer
        require_region(viewer, input.region)
        command = command_input(input)
        command["opened_by"] = viewer.subject
        return run_command(info, AppealPayload, "appeal", "hotline", "open_appeal",
                           command, input)


AssignAppeal = _appeal_mutation("AssignAppeal", AssignAppealInput, "assign_appeal",
                                "Gives an appeal to an operator (AppealAssigned).",
                                viewer_field="assignee")
EscalateAppeal = _appeal_mutation("EscalateAppeal", EscalateAppealInput,
                                  "escalate_appeal",
                                  "Escalates to the legal or monitoring group.")
AnswerAppeal = _appeal_mutation("AnswerAppeal", AnswerAppealInput, "answer_appeal",
                                "Records the answer given to the citizen.")
CloseAppeal = _appeal_mutation("CloseAppeal", CloseAppealInput, "close_appeal",
                               "Closes an answered appeal.")
CommentAppeal = _appeal_mutation("CommentAppeal", CommentAppealInput, "comment_appeal",
                                 "Adds a comment to an appeal.", viewer_field="author")


class DefineFaqInput(ClientMutationId, graphene.InputObjectType):
    faq_id = graphene.ID(description="to change an existing question")
    question = graphene.String(required=True)
    answer = graphene.String(required=True)
    category = AppealCategory()


class FaqPayload(Payload, graphene.ObjectType):
    faq = graphene.Field(FaqEntry)


class DefineFaq(graphene.Mutation):
    """Adds or changes a frequently-asked question and the desk's answer."""

    class Arguments:
        input = DefineFaqInput(required=True)

    Output = FaqPayload

    @staticmethod
    @allow("admin", "hotline_operator", "national_coordinator")
    def mutate(root, info, input):
        return run_command(info, FaqPayload, "faq", "hotline", "define_faq",
                           command_input(input), input)


class BroadcastSmsInput(ClientMutationId, graphene.InputObjectType):
    text = graphene.String(required=True)
    region = graphene.String()
    organization_id = graphene.ID()
    status = graphene.String(description="the observer's status in the registry")
    assigned = graphene.Boolean(description="only observers with (true) or without "
                                            "(false) a station")


class BroadcastResult(graphene.ObjectType):
    id = graphene.ID(required=True)
    recipients = graphene.Int(description="how many observers it was sent to")


class BroadcastPayload(Payload, graphene.ObjectType):
    broadcast = graphene.Field(BroadcastResult)


class BroadcastSms(graphene.Mutation):
    """Sends an SMS to the observers the filter selects (BroadcastSent); a regional
    coordinator reaches their region's."""

    class Arguments:
        input = BroadcastSmsInput(required=True)

    Output = BroadcastPayload

    @staticmethod
    @allow(*COORDINATORS, "hotline_operator")
    def mutate(root, info, input):
        viewer = info.context.viewer
        wanted = command_input(input)
        text = wanted.pop("text")
        within_own_region(viewer, wanted)
        return run_command(info, BroadcastPayload, "broadcast", "hotline", "broadcast",
                           {"text": text, "filter": wanted, "sent_by": viewer.subject},
                           input)


class Mutation(graphene.ObjectType):
    open_appeal = OpenAppeal.Field()
    assign_appeal = AssignAppeal.Field()
    escalate_appeal = EscalateAppeal.Field()
    answer_appeal = AnswerAppeal.Field()
    close_appeal = CloseAppeal.Field()
    comment_appeal = CommentAppeal.Field()
    define_faq = DefineFaq.Field()
    broadcast_sms = BroadcastSms.Field()
