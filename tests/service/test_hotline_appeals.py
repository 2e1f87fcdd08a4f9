"""The citizens' appeals desk through GraphQL, on the real broker and mongod: a call
taken through to closure and into the statistics, overdue flags, FAQ, phone masking
and region scope."""
from nameko.standalone.rpc import ServiceRpcProxy

from tests.service.conftest import eventually

APPEAL_FIELDS = """id status region overdue callerPhone callerName category channel
  description assignee escalation { group reason } answer faqId openedAt answeredAt
  closedAt comments { author text } history { status at }"""
OPEN = """mutation($input: OpenAppealInput!) { openAppeal(input: $input) {
  appeal { id status } errors { code field message } } }"""
STEP = """mutation($input: %sInput!) { %s(input: $input) {
  appeal { id status } errors { code field message } } }"""
APPEAL = "query($id: ID!) { appeal(id: $id) { %s } }" % APPEAL_FIELDS
STATS = """query($region: String) { hotlineStats(region: $region) { total overdue
  averageHandlingHours perDay { day count } perHour { hour count }
  perRegion { region count } perCategory { category count } perStatus { status count }
  topQuestions { faqId question count } } }"""
CALL = {"callerPhone": "+996555777888", "callerName": "Айгуль", "region": "KG-C",
        "channel": "CALL", "category": "VOTER_LIST",
        "description": "My name is missing from the voter list"}


def step(gateway, name, input, role="hotline_operator", **scope):
    mutation = name[0].lower() + name[1:]
    return gateway(STEP % (name, mutation), {"input": input}, role, **scope)["data"][mutation]


def opened(gateway, role="hotline_operator", **call):
    payload = gateway(OPEN, {"input": {**CALL, **call}}, role)["data"]["openAppeal"]
    assert payload["errors"] == [], payload
    return payload["appeal"]["id"]


def test_a_call_is_taken_through_to_closure_and_counted(gateway):
    faq = gateway("""mutation($input: DefineFaqInput!) { defineFaq(input: $input) {
        faq { id question } errors { code } } }""", {"input": {
        "question": "How do I check the voter list?",
        "answer": "At the station or on the commission's site", "category": "VOTER_LIST"}},
        "hotline_operator")["data"]["defineFaq"]["faq"]
    appeal_id = opened(gateway)
    assert step(gateway, "AssignAppeal", {"appealId": appeal_id})["appeal"]["status"] == \
        "in_progress"
    assert step(gateway, "CommentAppeal", {"appealId": appeal_id,
                                           "text": "called the commission"})["errors"] == []
    escalated = step(gateway, "EscalateAppeal", {"appealId": appeal_id, "group": "LEGAL",
                                                 "reason": "needs a complaint"})
    assert escalated["appeal"]["status"] == "escalated"
    answered = step(gateway, "AnswerAppeal", {"appealId": appeal_id, "faqId": faq["id"],
                                              "answer": "Added back by the commission"})
    assert answered["appeal"]["status"] == "answered"
    closed = gateway("""mutation($input: CloseAppealInput!) { closeAppeal(input: $input) {
        appeal { %s } errors { code } } }""" % APPEAL_FIELDS, {"input": {
        "appealId": appeal_id}}, "hotline_operator")["data"]["closeAppeal"]["appeal"]
    assert closed["status"] == "closed"

    appeal = eventually(lambda: (a := gateway(APPEAL, {"id": appeal_id},
                                              "hotline_operator")["data"]["appeal"])
                        and a["status"] == "closed" and a)
    # A step's answer is the whole appeal as it left it, as the desk reads it back
    # (where MongoDB keeps times to the millisecond).
    assert _to_milliseconds(closed) == appeal
    assert appeal["callerPhone"] == "+996555777888"
    assert appeal["escalation"] == {"group": "legal", "reason": "needs a complaint"}
    assert [h["status"] for h in appeal["history"]] == [
        "new", "in_progress", "escalated", "answered", "closed"]
    assert appeal["comments"][0]["text"] == "called the commission"
    assert appeal["assignee"].startswith("hotline_operator")
    assert appeal["answeredAt"] and appeal["closedAt"] and not appeal["overdue"]

    stats = gateway(STATS, {"region": "KG-C"})["data"]["hotlineStats"]
    assert stats["total"] == 1 and stats["overdue"] == 0
    assert stats["perCategory"] == [{"category": "voter_list", "count": 1}]
    assert stats["perRegion"] == [{"region": "KG-C", "count": 1}]
    assert stats["perStatus"] == [{"status": "closed", "count": 1}]
    assert sum(h["count"] for h in stats["perHour"]) == 1 and len(stats["perDay"]) == 1
    assert stats["averageHandlingHours"] >= 0
    assert stats["topQuestions"] == [{"faqId": faq["id"], "count": 1,
                                      "question": "How do I check the voter list?"}]


def _to_milliseconds(appeal):
    return {k: v[:23] + "000" + v[26:] if k.endswith("At") and v else v
            for k, v in appeal.items()}


def test_coordinators_see_phones_masked_and_only_their_region(gateway):
    appeal_id = opened(gateway)
    assert eventually(lambda: gateway(APPEAL, {"id": appeal_id})["data"]["appeal"])
    masked = gateway(APPEAL, {"id": appeal_id})["data"]["appeal"]["callerPhone"]
    assert masked != "+996555777888" and masked.endswith("888") and "*" in masked
    assert gateway(APPEAL, {"id": appeal_id}, "regional_coordinator",
                   region="KG-Y")["data"]["appeal"] is None
    outside = step(gateway, "CloseAppeal", {"appealId": appeal_id},
                   "regional_coordinator", region="KG-Y")
    assert [e["code"] for e in outside["errors"]] == ["NOT_FOUND"]
    refused = gateway(APPEAL, {"id": appeal_id}, "observer", observer="o-1")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_the_workflow_refuses_steps_out_of_order_with_a_code(gateway):
    appeal_id = opened(gateway)
    closing = step(gateway, "CloseAppeal", {"appealId": appeal_id})
    assert [e["code"] for e in closing["errors"]] == ["INVALID_TRANSITION"]
    unknown = step(gateway, "AssignAppeal", {"appealId": "nope"})
    assert [e["code"] for e in unknown["errors"]] == ["NOT_FOUND"]
    bad = gateway(OPEN, {"input": {**CALL, "region": "not a region"}}, "hotline_operator")
    assert [(e["code"], e["field"]) for e in bad["data"]["openAppeal"]["errors"]] == [
        ("INVALID", "region")]


def test_an_appeal_unanswered_past_its_categorys_time_is_flagged_overdue(
        gateway, monkeypatch, service_config):
    monkeypatch.setenv("HOTLINE_OVERDUE_HOURS", "pressure=0")
    late = opened(gateway, category="PRESSURE", description="They pay 500 som a vote")
    on_time = opened(gateway)
    with ServiceRpcProxy("hotline", service_config) as rpc:
        assert eventually(lambda: len(rpc.appeals({})) == 2)
        assert rpc.flag_overdue() == 1
        assert rpc.flag_overdue() == 0  # once
    overdue = eventually(lambda: (a := gateway(APPEAL, {"id": late})["data"]["appeal"])
                         and a["overdue"] and a)
    assert overdue["category"] == "pressure"
    assert gateway(APPEAL, {"id": on_time})["data"]["appeal"]["overdue"] is False
    assert gateway(STATS)["data"]["hotlineStats"]["overdue"] == 1


def test_broadcasts_and_the_sms_log_through_graphql(gateway):
    nobody = gateway("""mutation($input: BroadcastSmsInput!) { broadcastSms(input: $input) {
        broadcast { id recipients } errors { code field } } }""",
                     {"input": {"text": "Polls open at 8:00", "region": "KG-C"}},
                     "regional_coordinator", region="KG-C")["data"]["broadcastSms"]
    assert nobody["errors"] == [{"code": "NO_RECIPIENTS", "field": "filter"}]
    elsewhere = gateway("""mutation($input: BroadcastSmsInput!) { broadcastSms(
        input: $input) { errors { code } } }""", {"input": {"text": "x", "region": "KG-Y"}},
                        "regional_coordinator", region="KG-C")
    assert elsewhere["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    log = gateway("{ smsMessages(filter: {text: \"OP\"}) { id text status } }",
                  role="hotline_operator")
    assert log == {"data": {"smsMessages": []}}
    assert gateway("{ smsMessages { id } }", role="trainer")["errors"][0][
        "extensions"]["code"] == "FORBIDDEN"
