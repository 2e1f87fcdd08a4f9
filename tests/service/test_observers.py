"""Observers in the registry: uniqueness, references, personal data, filtered lists."""
import base64

import pytest

from tests.service.conftest import eventually

pytestmark = pytest.mark.usefixtures("territory")

REGISTER = """mutation($input: RegisterObserverInput!) {
  registerObserver(input: $input) {
    observer { id smsCode documentNumber district organizationId }
    errors { code field message } } }"""
ORGANIZATION = """mutation($input: RegisterOrganizationInput!) {
  registerOrganization(input: $input) { organization { id name kind region }
                                         errors { code field } } }"""
LIST = """query($filter: ObserverFilter, $first: Int, $after: String) {
  observers(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { fullName region district phones { number } documentNumber } } } }"""


def register(gateway, **fields):
    observer = {"fullName": "Aida Bekova", "phones": ["+996555123456"], "region": "KG-C",
                **fields}
    body = gateway(REGISTER, {"input": observer})
    assert "errors" not in body, body
    return body["data"]["registerObserver"]


def codes(payload):
    return [(e["code"], e["field"]) for e in payload["errors"]]


def test_a_phone_belongs_to_one_observer(gateway, registry_events):
    first = register(gateway)["observer"]
    again = register(gateway, fullName="Someone Else", phones=["0555 123 456"])
    assert codes(again) == [("PHONE_TAKEN", "phones")]
    assert first["id"] in again["errors"][0]["message"]
    assert registry_events.count_documents({"type": "ObserverRegistered"}) == 1


def test_each_observer_gets_a_short_unique_sms_code(gateway):
    sms_codes = {register(gateway, phones=[f"+99655512340{i}"])["observer"]["smsCode"]
                 for i in range(5)}
    assert len(sms_codes) == 5
    assert all(code.isdigit() and len(code) == 6 for code in sms_codes)


def test_references_must_exist_and_agree(gateway, registry_events):
    assert codes(register(gateway, region="KG-Z")) == [("UNKNOWN_REGION", "region")]
    assert codes(register(gateway, district="Z-99")) == [("UNKNOWN_DISTRICT", "district")]
    assert codes(register(gateway, district="Y-01")) == [
        ("DISTRICT_NOT_IN_REGION", "district")]
    assert codes(register(gateway, organizationId="nope")) == [
        ("UNKNOWN_ORGANIZATION", "organizationId")]
    assert registry_events.count_documents({"type": "ObserverRegistered"}) == 0


def test_observers_belong_to_organizations(gateway):
    body = gateway(ORGANIZATION, {"input": {"name": "Taza Shailoo", "kind": "ngo"}})
    organization = body["data"]["registerOrganization"]["organization"]
    assert organization["kind"] == "ngo" and organization["region"] is None
    bad = gateway(ORGANIZATION, {"input": {"name": "X", "kind": "club"}})
    assert codes(bad["data"]["registerOrganization"]) == [
        ("INVALID", "name"), ("INVALID", "kind")]

    def registered():
        payload = register(gateway, organizationId=organization["id"])
        return payload if not payload["errors"] else None
    observer = eventually(registered)["observer"]
    assert observer["organizationId"] == organization["id"]


def test_personal_data_by_role(gateway):
    observer = register(gateway, documentNumber="ID1234567")["observer"]
    eventually(lambda: gateway(LIST, {})["data"]["observers"]["totalCount"])
    query = "query($id: ID!) { observer(id: $id) { phones { number } documentNumber smsCode } }"
    assert gateway(query, {"id": observer["id"]})["data"]["observer"] == {
        "phones": [{"number": "+996555123456"}], "documentNumber": "ID1234567",
        "smsCode": observer["smsCode"]}
    assert gateway(query, {"id": observer["id"]}, role="hotline_operator")[
        "data"]["observer"] == {"phones": [{"number": "+996******456"}], "documentNumber": None,
                                "smsCode": observer["smsCode"]}


def test_coordinators_filter_search_and_page_through_observers(gateway):
    people = [("Aida Bekova", "KG-C", "C-01"), ("Bakyt Asanov", "KG-C", "C-02"),
              ("Aigul Toktosunova", "KG-C", "C-01"), ("Nurlan Bekov", "KG-Y", "Y-01")]
    for i, (name, region, district) in enumerate(people):
        assert register(gateway, fullName=name, region=region, district=district,
                        phones=[f"+99670011122{i}"])["errors"] == []
    assert eventually(lambda: gateway(LIST, {})["data"]["observers"]["totalCount"] == 4)

    def names(variables, **viewer):
        body = gateway(LIST, variables, **viewer)
        assert "errors" not in body, body
        return [e["node"]["fullName"] for e in body["data"]["observers"]["edges"]]

    assert names({"filter": {"region": "KG-C"}}) == [
        "Aida Bekova", "Aigul Toktosunova", "Bakyt Asanov"]
    assert names({"filter": {"district": "C-01"}}) == ["Aida Bekova", "Aigul Toktosunova"]
    assert names({"filter": {"search": "bek"}}) == ["Aida Bekova", "Nurlan Bekov"]
    assert names({"filter": {"search": "ai bek"}}) == ["Aida Bekova"]
    assert names({"filter": {"search": "+996700111223"}}) == ["Nurlan Bekov"]

    first = gateway(LIST, {"first": 2})["data"]["observers"]
    assert first["pageInfo"]["hasNextPage"] and first["totalCount"] == 4
    rest = names({"first": 2, "after": first["pageInfo"]["endCursor"]})
    assert rest == ["Bakyt Asanov", "Nurlan Bekov"]

    # A regional coordinator sees only their region, and may not ask for another.
    assert names({}, role="regional_coordinator", region="KG-Y") == ["Nurlan Bekov"]
    other = gateway(LIST, {"filter": {"region": "KG-C"}}, role="regional_coordinator",
                    region="KG-Y")
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad_cursor = gateway(LIST, {"after": "bm90LWEtY3Vyc29y"})
    assert bad_cursor["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


IMPORT = """mutation($input: ImportFileInput!) {
  importObservers(input: $input) {
    report { rows imported rejectedRows problems { row field code message } }
    errors { code message } } }"""


def test_an_observer_list_imports_with_every_rejected_row_explained(gateway,
                                                                   registry_events):
    body = gateway(ORGANIZATION, {"input": {"name": "Taza Shailoo", "kind": "ngo"}})
    assert body["data"]["registerOrganization"]["errors"] == []
    eventually(lambda: register(gateway, fullName="Org Probe", phones=["+996555000001"],
                                organizationId=body["data"]["registerOrganization"][
                                    "organization"]["id"])["errors"] == [])
    rows = [
        "full_name;phone;phone2;region_code;district_code;organization;locale",
        "Айдана Бекова;0555 111 222;;KG-C;C-01;taza shailoo;ky",      # 2 ok, org by name
        "Бакыт Асанов;+996 700 333 444;0777 555 666;kg-y;Y-01;;",     # 3 ok
        "Нурлан;not a phone;;KG-C;;;",                                 # 4 bad phone
        "Гульнара Токтосунова;0555 111 222;;KG-C;;;",                  # 5 phone of row 2
        "Эрмек Алиев;0555 999 888;;KG-Z;;;",                           # 6 unknown region
        "Асель Жумабаева;0555 999 777;;KG-C;Y-01;;",                   # 7 district elsewhere
        "Тимур Садыков;0555 999 666;;KG-C;;Unknown Org;fr",            # 8 two problems
    ]
    file = "\n".join(rows).encode("cp1251")
    report = gateway(IMPORT, {"input": {"csvBase64": base64.b64encode(file).decode()}})[
        "data"]["importObservers"]["report"]
    assert (report["rows"], report["imported"], report["rejectedRows"]) == (7, 2, 5)
    problems = {(p["row"], p["field"], p["code"]) for p in report["problems"]}
    assert problems == {(4, "phone", "INVALID_PHONE"), (5, "phone", "PHONE_TAKEN"),
                        (6, "region_code", "UNKNOWN_REGION"),
                        (7, "district_code", "DISTRICT_NOT_IN_REGION"),
                        (8, "locale", "INVALID"),
                        (8, "organization", "UNKNOWN_ORGANIZATION")}
    assert registry_events.count_documents({"type": "ObserverRegistered"}) == 3
    names = eventually(lambda: {e["node"]["fullName"] for e in gateway(
        LIST, {"filter": {"search": "бекова"}})["data"]["observers"]["edges"]})
    assert names == {"Айдана Бекова"}
