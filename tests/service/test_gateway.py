"""The GraphQL gateway in front of the registry: access, errors, the first slice."""
from datetime import timedelta

import pytest

from shared import auth
from tests.service.conftest import eventually

pytestmark = pytest.mark.usefixtures("territory")

REGISTER = """
mutation Register($input: RegisterObserverInput!) {
  registerObserver(input: $input) {
    observer { id fullName phones { number verified } region locale status }
    errors { code field message }
    clientMutationId
  }
}"""
OBSERVER = "query One($id: ID!) { observer(id: $id) { id fullName phones { number verified } region status registeredAt } }"
AIDA = {"fullName": "Aida Bekova", "phones": ["+996 555 123 456"], "region": "KG-C",
        "locale": "ky"}


def register(gateway, observer=AIDA, **viewer):
    body = gateway(REGISTER, {"input": observer}, **viewer)
    assert "errors" not in body, body
    return body["data"]["registerObserver"]


def read(gateway, observer_id, **viewer):
    body = gateway(OBSERVER, {"id": observer_id}, **viewer)
    assert "errors" not in body, body
    return body["data"]["observer"]


def codes(body):
    return [e["extensions"]["code"] for e in body["errors"]]


def test_a_coordinator_registers_an_observer_and_reads_it_back(gateway):
    payload = register(gateway)
    assert payload["errors"] == []
    observer = payload["observer"]
    assert observer["phones"] == [{"number": "+996555123456", "verified": False}] and observer["status"] == "applicant"
    stored = eventually(lambda: read(gateway, observer["id"]))
    assert {k: stored[k] for k in ("id", "fullName", "region", "status")} == {
        "id": observer["id"], "fullName": "Aida Bekova", "region": "KG-C",
        "status": "applicant"}
    assert stored["registeredAt"].startswith("20")


def test_requests_without_a_valid_token_are_refused(gateway, registry_events):
    variables = {"input": AIDA}
    missing = gateway.post(REGISTER, variables)
    assert missing.status_code == 401 and codes(missing.json()) == ["UNAUTHENTICATED"]
    expired = gateway.post(REGISTER, variables, auth.mint(
        "admin", ttl=timedelta(seconds=-1)))
    assert expired.status_code == 401 and codes(expired.json()) == ["TOKEN_EXPIRED"]
    forged = gateway.post(REGISTER, variables, auth.mint("admin", secret="not-our-secret-but-long-enough-for-hs256"))
    assert forged.status_code == 401 and codes(forged.json()) == ["TOKEN_INVALID"]
    garbage = gateway.post(REGISTER, variables, "not.a.jwt")
    assert codes(garbage.json()) == ["TOKEN_INVALID"]
    assert registry_events.count_documents({"type": "ObserverRegistered"}) == 0


def test_a_role_without_the_right_is_refused(gateway, registry_events):
    for role, scope in (("trainer", {}), ("observer", {"observer": "o-1"}),
                        ("hotline_operator", {})):
        body = gateway(REGISTER, {"input": AIDA}, role=role, **scope)
        assert codes(body) == ["FORBIDDEN"], body
        assert body["data"] == {"registerObserver": None}
    assert registry_events.count_documents({"type": "ObserverRegistered"}) == 0


def test_a_regional_coordinator_acts_only_in_their_region(gateway, registry_events):
    body = gateway(REGISTER, {"input": AIDA}, role="regional_coordinator", region="KG-Y")
    assert codes(body) == ["FORBIDDEN"]
    assert registry_events.count_documents({"type": "ObserverRegistered"}) == 0

    own = register(gateway, role="regional_coordinator", region="KG-C")["observer"]
    eventually(lambda: read(gateway, own["id"]))
    assert read(gateway, own["id"], role="regional_coordinator",
                region="KG-C")["phones"] == [{"number": "+996555123456", "verified": False}]
    # Another region's observer answers exactly as a missing one does.
    assert read(gateway, own["id"], role="regional_coordinator", region="KG-Y") is None
    assert read(gateway, "no-such-id", role="regional_coordinator", region="KG-Y") is None


def test_personal_data_is_shown_only_to_roles_that_need_it(gateway):
    observer = register(gateway)["observer"]
    eventually(lambda: read(gateway, observer["id"]))
    assert read(gateway, observer["id"], role="hotline_operator")["phones"] == [
        {"number": "+996******456", "verified": False}]
    assert read(gateway, observer["id"], role="observer",
                observer=observer["id"])["phones"] == [{"number": "+996555123456", "verified": False}]
    assert read(gateway, observer["id"], role="observer", observer="someone-else") is None
    assert codes(gateway(OBSERVER, {"id": observer["id"]}, role="trainer")) == ["FORBIDDEN"]


def test_invalid_field_values_are_payload_errors_and_append_nothing(
        gateway, registry_events):
    payload = register(gateway, {**AIDA, "fullName": "A", "phones": ["12"],
                                 "locale": "fr"})
    assert payload["observer"] is None
    assert {(e["code"], e["field"]) for e in payload["errors"]} == {
        ("INVALID", "fullName"), ("INVALID", "phones.0"), ("INVALID", "locale")}
    payload = register(gateway, {**AIDA, "phones": ["call me maybe"]})
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID_PHONE", "phones.0")]
    assert registry_events.count_documents({"type": "ObserverRegistered"}) == 0


def test_malformed_graphql_gets_a_coded_error(gateway):
    token = gateway.token()
    cases = {
        "mutation { registerObserver(input: {": "GRAPHQL_PARSE_FAILED",
        "query { observer(id: \"x\") { shoeSize } }": "GRAPHQL_VALIDATION_FAILED",
        "query { observer { id } }": "GRAPHQL_VALIDATION_FAILED",
    }
    for query, code in cases.items():
        response = gateway.post(query, token=token)
        assert response.status_code == 400 and codes(response.json()) == [code], query
    not_json = gateway.session.post(gateway.url, data="{oops", headers={
        "Authorization": f"Bearer {token}"})
    assert not_json.status_code == 400 and codes(not_json.json()) == ["BAD_REQUEST"]
    wrong_type = gateway.post(REGISTER, {"input": {**AIDA, "phones": 5}}, token)
    assert codes(wrong_type.json()) == ["BAD_USER_INPUT"]


def test_deep_queries_are_refused(gateway):
    deep = "query { " + "__schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } }" + " }"
    response = gateway.post(deep, token=gateway.token())
    assert codes(response.json()) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "levels deep" in response.json()["errors"][0]["message"]


def test_a_retried_mutation_with_its_client_id_registers_once(gateway, registry_events):
    token = gateway.token()
    variables = {"input": {**AIDA, "clientMutationId": "tablet-7-attempt"}}
    first, again = (gateway.post(REGISTER, variables, token).json()["data"]
                    ["registerObserver"] for _ in range(2))
    assert first["observer"]["id"] == again["observer"]["id"]
    assert again["clientMutationId"] == "tablet-7-attempt"
    assert registry_events.count_documents({"type": "ObserverRegistered"}) == 1


def test_the_correlation_id_reaches_the_event_log(gateway, registry_events):
    response = gateway.post(REGISTER, {"input": AIDA}, gateway.token(),
                            headers={"X-Correlation-Id": "call-centre-42"})
    assert response.headers["X-Correlation-Id"] == "call-centre-42"
    [event] = registry_events.find({"type": "ObserverRegistered"})
    assert event["metadata"]["correlation_id"] == "call-centre-42"
    assert event["metadata"]["channel"] == "graphql"
    assert event["metadata"]["role"] == "national_coordinator"
    assert event["metadata"]["actor"].startswith("national_coordinator:")


def test_health_reports_each_service(gateway, partners):
    health = gateway.session.get(gateway.url.replace("/graphql", "/health")).json()
    assert health == {"status": "ok", "services": {
        "registry": "ok", "training": "ok", "deployment": "ok", "reporting": "ok",
        "hotline": "ok", "partners": "ok"}}


def test_graphiql_is_served_on_get(gateway):
    page = gateway.session.get(gateway.url)
    assert page.status_code == 200 and "GraphiQL" in page.text


def test_ping_answers_without_a_token(gateway):
    pong = gateway.session.get(gateway.url.replace("/graphql", "/ping"))
    assert pong.status_code == 200 and pong.text == "pong"
