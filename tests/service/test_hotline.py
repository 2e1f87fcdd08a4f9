"""The observers' SMS channel end to end on the real broker and mongod: the gateway's
webhook, the hotline, reporting (and deployment for check-ins), and the reply."""
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from nameko.standalone.rpc import ServiceRpcProxy

from services.hotline.domain import RATE_LIMIT
from tests.service.conftest import eventually, start_gateway
from tests.service.deployment_world import announce
from tests.service.test_reporting import INCIDENT, OPENING, assign, station

SECRET = "sms-webhook-secret-for-tests"
PHONE = "+996555123456"


class Webhook:
    def __init__(self, url):
        self.url = url
        self.session = requests.Session()

    def __call__(self, text, sender=PHONE, id=None, secret=SECRET, form=False, **extra):
        fields = {"text": text, "id": id, **extra}
        fields["sender" if form else "from"] = sender
        fields = {k: v for k, v in fields.items() if v is not None}
        body = {"data": fields} if form else {"json": fields}
        return self.session.post(self.url, params={"secret": secret} if secret else None,
                                 timeout=30, **body)

    def reply(self, text, **kwargs):
        response = self(text, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def webhook(monkeypatch, container_factory, service_config, hotline, reporting,  # noqa: F811
            deployment):
    monkeypatch.setenv("SMS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("SMS_OWN_NUMBER", "+996700000000")
    return Webhook(start_gateway(container_factory, service_config) + "/sms/inbound")


@pytest.fixture
def hotline_rpc(hotline, service_config):
    with ServiceRpcProxy("hotline", service_config) as rpc:
        yield rpc


def observer(amqp_uri, observer_id, sms_code, locale, phones=(PHONE,)):
    announce(amqp_uri, "registry", "ObserverRegistered", {
        "observer_id": observer_id, "full_name": "Test Observer", "phones": list(phones),
        "region": "KG-C", "locale": locale, "district": "C-01", "sms_code": sms_code})


@pytest.fixture
def field(webhook, reporting, reporting_db, hotline_db, amqp_uri):  # noqa: F811
    """Observers 1234 (en, +996555123456), 5678 (ru) and 9012 (ky), each on their own
    phone, all assigned to station 1001; forms OP and OP! published."""
    station(amqp_uri, "1001")
    for observer_id, code, locale, phone in (("o-en", "1234", "en", PHONE),
                                             ("o-ru", "5678", "ru", "+996555000002"),
                                             ("o-ky", "9012", "ky", "+996555000003")):
        observer(amqp_uri, observer_id, code, locale, [phone])
        assign(amqp_uri, observer_id, "1001")
    assert eventually(lambda: reporting_db["assignments"].count_documents({}) == 3 and
                      hotline_db["observers"].count_documents(
                          {"sms_code": {"$ne": None}, "assignments": {"$ne": None}}) == 3)
    assert reporting.publish_form(OPENING)["ok"]
    assert reporting.publish_form(INCIDENT)["ok"]
    return reporting


def test_a_report_lands_in_reporting_and_is_answered_in_the_observers_language(
        webhook, field, reporting_db):
    answer = webhook.reply("OP1234 AA1 AB120 AC100 AD135 AE1", id="g-1")
    assert answer == {"reply": "OP: received AA, AB, AC, AD, AE. Thank you.",
                      "status": "accepted", "problems": []}
    [submitted] = reporting_db["events"].find({"type": "ReportSubmitted"})
    assert submitted["data"]["observer_id"] == "o-en"
    ru = webhook.reply("ор5678 аа1 ав120", sender="+996555000002")
    assert ru["status"] == "accepted" and ru["reply"].startswith("OP: принято AA, AB")
    ky = webhook.reply("OP9012 AA1 AB9", sender="+996555000003", form=True)
    assert ky["status"] == "accepted" and "кабыл алынды AA, AB" in ky["reply"]


def test_an_incident_in_cyrillic_look_alikes_keeps_its_comment(webhook, field,
                                                                reporting_db):
    answer = webhook.reply("ОР1234! С1 @Урна вынесена в 11:20!")
    assert answer["status"] == "accepted", answer
    assert answer["reply"] == "OP!: received C. Thank you."
    [incident] = reporting_db["events"].find({"type": "ReportSubmitted"})
    assert (incident["data"]["kind"], incident["data"]["comment"]) == (
        "incident", "Урна вынесена в 11:20!")


def test_each_reply_names_what_went_wrong(webhook, field):
    partial = webhook.reply("OP1234 AA1")
    assert partial["status"] == "partial"
    assert partial["reply"] == "OP: received AA. Still missing: AB."
    assert {"code": "MISSING", "tag": "AB"} in partial["problems"]
    unknown = webhook.reply("OP1234 AA1 AB5 ZZ1")
    assert unknown["status"] == "unknown_codes"
    assert unknown["reply"].startswith("OP: unknown codes ZZ.")
    invalid = webhook.reply("OP1234 AA1 AB9999 AC1")
    assert invalid["status"] == "invalid_values", invalid
    assert invalid["reply"].startswith("OP: invalid values AB.")
    assert "AC" in invalid["reply"]  # the valid answers are still saved
    no_value = webhook.reply("OP1234 AA1 AB5 AC")
    assert no_value["status"] == "invalid_values"
    assert {"code": "NO_VALUE", "tag": "AC"} in no_value["problems"]
    stranger = webhook.reply("OP7777 AA1 AB1")
    assert stranger["status"] == "unknown_observer"
    assert stranger["reply"].startswith("Observer code 7777 is unknown")
    form = webhook.reply("ZZ1234 AA1")
    assert form["status"] == "unknown_codes"
    assert form["reply"].startswith("Form ZZ is unknown")
    garbage = webhook.reply("hello, is this the hotline?")
    assert garbage["status"] == "malformed"
    assert garbage["reply"].startswith("Message not understood")


def test_messages_sent_at_once_are_each_decided_and_logged_as_their_own(
        webhook, field, hotline_db, reporting_db):
    """The gateway hands concurrent messages to the hotline in rounds: each is answered
    in its sender's language, a resend racing its first copy is still a duplicate, and
    each is logged once with its own request's correlation id."""
    senders = [("1234", PHONE, "OP: received"), ("5678", "+996555000002", "OP: принято"),
               ("9012", "+996555000003", "OP: кабыл алынды")]
    sent = [(code, phone, f"g-{code}-{copy}") for code, phone, _ in senders
            for copy in (1, 2)]

    def send(message):
        code, phone, gateway_id = message
        return Webhook(webhook.url).reply(f"OP{code} AA1 AB7", sender=phone,
                                          id=gateway_id)
    with ThreadPoolExecutor(len(sent)) as pool:
        answers = list(pool.map(send, sent))
    for (code, _, accepted), pair in zip(senders, (answers[:2], answers[2:4],
                                                   answers[4:])):
        assert sorted(a["status"] for a in pair) == ["accepted", "duplicate"], pair
        assert any(a["reply"].startswith(accepted) for a in pair), pair
    received = list(hotline_db["events"].find({"type": "SmsReceived"}))
    assert sorted(e["data"]["gateway_id"] for e in received) == sorted(
        g for _, _, g in sent)
    assert len({e["metadata"]["correlation_id"] for e in received}) == len(sent)
    assert reporting_db["events"].count_documents({"type": "ReportSubmitted"}) == 3


def test_a_round_is_read_at_once_and_each_message_answered_on_its_own(field,
                                                                      hotline_rpc):
    """A round's senders and observers are read together; a message that reads as
    nothing (no text, an unknown code, garbage) is still answered as itself."""
    def item(n, **message):
        return [{"correlation_id": f"round-{n}"}, message, None]
    answers = hotline_rpc.receive_sms_of([
        item(1, sender=PHONE, text="OP1234 AA1 AB7", gateway_id="r-1"),
        item(2, sender="+996555000002"),
        item(3, sender="+996555000002", text="OP4444 AA1", gateway_id="r-3"),
        item(4, sender="+996555000003", text="hello", gateway_id="r-4"),
        item(5, sender=PHONE, text="OP1234 AA1 AB7", gateway_id="r-5")])
    assert [a["ok"] for a in answers] == [True, False, True, True, True]
    assert answers[1]["errors"][0]["field"] == "text"
    statuses = [a["ok"] and a["data"]["status"] for a in answers]
    # The same text twice from one number: whichever is decided first is the news.
    assert sorted([statuses[0], statuses[4]]) == ["accepted", "duplicate"]
    assert statuses[2:4] == ["unknown_observer", "malformed"]
    assert "4444" in answers[2]["data"]["reply"]
    assert answers[3]["data"]["reply"].startswith("Билдирүү")


def test_a_phone_not_registered_to_the_observer_is_stored_unverified(webhook, field,
                                                                     reporting_db):
    answer = webhook.reply("OP5678 AA1 AB7", sender="+996555999999")
    assert answer["status"] == "unverified_sender"
    assert answer["reply"].startswith("OP: получено, но этот номер не закреплён")


def test_redeliveries_and_resends_are_stored_once(webhook, field, hotline_rpc):
    first = webhook.reply("OP1234 AA1 AB5", id="g-7")
    assert first["status"] == "accepted"
    again = webhook.reply("OP1234 AA1 AB5", id="g-7")
    assert again == {"reply": "This message was already received.", "status": "duplicate",
                     "problems": again["problems"]}
    resent = webhook.reply("op 1234 aa1 ab5", id="g-8")
    assert resent["status"] == "duplicate"
    received = eventually(lambda: [m for m in hotline_rpc.messages(
        {"observer_id": "o-en", "direction": "in"})] if len(hotline_rpc.messages(
            {"observer_id": "o-en", "direction": "in"})) == 2 else None)
    assert [m["status"] for m in received] == ["duplicate", "accepted"]
    assert received[0]["duplicate_of"] == received[1]["id"]


def test_machines_short_codes_and_our_own_number_are_ignored(webhook, field, hotline_rpc):
    for sender in ("MegaCom", "1234", "+996700000000"):
        answer = webhook.reply("OP1234 AA1 AB5", sender=sender)
        assert (answer["reply"], answer["status"]) == (None, "ignored"), sender
    assert eventually(lambda: len(hotline_rpc.messages({"status": "ignored"})) == 3)
    assert hotline_rpc.messages({"direction": "out"}) == []


def test_a_number_over_the_rate_limit_is_logged_and_not_answered(webhook, field):
    statuses = [webhook.reply(f"note {i}", sender="+996555000111")["status"]
                for i in range(RATE_LIMIT + 1)]
    assert statuses == ["unknown_observer"] * RATE_LIMIT + ["ignored"]


def test_wrong_or_missing_secret_is_refused_and_nothing_stored(webhook, field, hotline_db):
    assert webhook("OP1234 AA1", secret=None).status_code == 401
    assert webhook("OP1234 AA1", secret="guess").status_code == 401
    assert hotline_db["events"].count_documents({}) == 0


@pytest.mark.parametrize("body, content_type", [
    (b"", "application/json"),
    (b"{not json", "application/json"),
    (b"\xff\xfe\x00garbage\x80", "application/octet-stream"),
    (json.dumps({"from": PHONE, "text": "x" * 200_000}).encode(), "application/json"),
    (json.dumps({"from": PHONE, "text": ["OP1234"], "id": 5}).encode(),
     "application/json"),
    ("from=%2B996555123456&text=%D0%9E%D0%A01234%20AA1&received_at=yesterday".encode(),
     "application/x-www-form-urlencoded"),
    (b"sender=%2B996555123456&text=%FF%FEbroken", "application/x-www-form-urlencoded"),
])
def test_garbage_never_crashes_and_is_logged(webhook, field, hotline_db, body,
                                             content_type):
    response = webhook.session.post(webhook.url, params={"secret": SECRET}, data=body,
                                    headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"reply", "status", "problems"}
    assert eventually(lambda: hotline_db["messages"].count_documents(
        {"direction": "in"}) == 1)


def test_check_in_by_sms_reaches_deployment(webhook, field, deployment,
                                            service_config, deployment_db, hotline_db):
    """...as the observer's own request, whatever round carried it."""
    webhook.session.headers["X-Correlation-Id"] = "sms-check-in-7"
    answer = webhook.reply("CI1234")
    assert answer["status"] == "accepted", answer
    assert answer["reply"] == "Check-in at station 1001 recorded."
    with ServiceRpcProxy("deployment", service_config) as rpc:
        assert eventually(lambda: rpc.check_ins("1001"))[0]["observer_id"] == "o-en"
    [checked_in] = deployment_db["events"].find({"type": "ObserverCheckedIn"})
    [received] = hotline_db["events"].find({"type": "SmsReceived"})
    assert checked_in["metadata"]["correlation_id"] == "sms-check-in-7"
    assert received["metadata"]["correlation_id"] == "sms-check-in-7"
    assert checked_in["metadata"]["channel"] == received["metadata"]["channel"]


def test_a_broadcast_reaches_the_filtered_observers_through_the_provider(
        webhook, field, amqp_uri, hotline_db, hotline_rpc, monkeypatch, tmp_path):
    outbox = tmp_path / "outbox.log"
    monkeypatch.setenv("SMS_PROVIDER_LOG", str(outbox))
    observer(amqp_uri, "o-far", "3456", "ru", ["+996555000009"])
    announce(amqp_uri, "registry", "ObserverUpdated", {
        "observer_id": "o-far", "changes": {"region": "KG-Y"}, "previous": {}}, version=2)
    assert eventually(lambda: hotline_db["observers"].count_documents(
        {"region": "KG-Y"}) == 1)
    sent = hotline_rpc.broadcast({"text": "Polls open at 8:00", "filter": {
        "region": "KG-C", "assigned": True}})
    assert sent["ok"] and sent["data"]["recipients"] == 3, sent
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert sorted(m["to"] for m in lines) == ["+996555000002", "+996555000003", PHONE]
    assert {m["text"] for m in lines} == {"Polls open at 8:00"}
    unassigned = hotline_rpc.broadcast({"text": "Come to training", "filter": {
        "assigned": False}})
    assert unassigned["data"]["recipients"] == 1
    nobody = hotline_rpc.broadcast({"text": "x", "filter": {"region": "KG-Z"}})
    assert [e["code"] for e in nobody["errors"]] == ["NO_RECIPIENTS"]
    assert eventually(lambda: len(hotline_rpc.messages({"status": "broadcast"})) == 4)
