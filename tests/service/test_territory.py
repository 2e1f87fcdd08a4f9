"""Importing an election commission's station list and browsing it through GraphQL."""
import base64

from tests.service.conftest import eventually

HEADER = ("region_code,region_name,region_name_ky,district_code,district_name,"
          "station_code,station_number,station_name,station_name_ky,address,"
          "registered_voters,latitude,longitude,remote,abroad,special")
ROWS = [
    'KG-C,Чуйская область,Чүй облусу,C-01,Аламединский район,1001,1001,Школа №1,'
    '№1 мектеп,"с. Лебединовка, ул. Ленина 1",1540,42.88,74.69,,,',
    'KG-C,Чуйская область,Чүй облусу,C-01,Аламединский район,1002,1002,Школа №2,,'
    '"с. Лебединовка, ул. Мира 5",980,,,да,,',
    'KG-Y,Иссык-Кульская область,,Y-01,Каракол,2001,2001,Дом культуры,,'
    '"г. Каракол, ул. Токтогула 10",2210,,,,,',
]
IMPORT = """mutation($input: ImportFileInput!) {
  importPollingStations(input: $input) {
    report { rows rejectedRows stations { created changed unchanged }
             regions { created changed unchanged } problems { row field code message } }
    errors { code message } } }"""
STATIONS = """query($region: String, $first: Int, $after: String) {
  pollingStations(region: $region, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { code number names { ru ky } address region district
                   registeredVoters latitude remote } } } }"""


def csv(*rows):
    return "\n".join((HEADER,) + rows) + "\n"


def import_csv(gateway, **file):
    body = gateway(IMPORT, {"input": file})
    assert "errors" not in body, body
    return body["data"]["importPollingStations"]


def events(registry_events, type):
    return registry_events.count_documents({"type": type})


def test_imports_stations_and_browses_them_page_by_page(gateway, registry_events):
    report = import_csv(gateway, csv=csv(*ROWS))["report"]
    assert report["stations"] == {"created": 3, "changed": 0, "unchanged": 0}
    assert report["regions"] == {"created": 2, "changed": 0, "unchanged": 0}
    assert report["problems"] == []

    def page(**variables):
        return gateway(STATIONS, variables, role="observer",
                       observer="o-1")["data"]["pollingStations"]

    assert eventually(lambda: page()["totalCount"] == 3)
    first = page(region="KG-C", first=1)
    assert first["totalCount"] == 2 and first["pageInfo"]["hasNextPage"]
    station = first["edges"][0]["node"]
    assert station == {"code": "1001", "number": 1001,
                       "names": {"ru": "Школа №1", "ky": "№1 мектеп"},
                       "address": "с. Лебединовка, ул. Ленина 1", "region": "KG-C",
                       "district": "C-01", "registeredVoters": 1540, "latitude": 42.88,
                       "remote": False}
    second = page(region="KG-C", first=1, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["code"] for e in second["edges"]] == ["1002"]
    assert second["edges"][0]["node"]["remote"] is True
    assert not second["pageInfo"]["hasNextPage"]

    regions = gateway("{ regions { code names { ru ky } stations registeredVoters "
                      "districts { code names { ru } } } }")["data"]["regions"]
    assert regions[0] == {"code": "KG-C", "names": {"ru": "Чуйская область",
                                                     "ky": "Чүй облусу"},
                          "stations": 2, "registeredVoters": 2520,
                          "districts": [{"code": "C-01",
                                         "names": {"ru": "Аламединский район"}}]}


def test_reimporting_is_idempotent_and_a_corrected_file_records_only_changes(
        gateway, registry_events):
    import_csv(gateway, csv=csv(*ROWS))
    appended = registry_events.count_documents({})
    again = import_csv(gateway, csv=csv(*ROWS))["report"]
    assert again["stations"] == {"created": 0, "changed": 0, "unchanged": 3}
    assert registry_events.count_documents({}) == appended

    corrected = [ROWS[0].replace(",1540,", ",1600,"), *ROWS[1:]]
    report = import_csv(gateway, csv=csv(*corrected))["report"]
    assert report["stations"] == {"created": 0, "changed": 1, "unchanged": 2}
    [change] = registry_events.find({"type": "PollingStationChanged"})
    assert change["data"] == {"code": "1001", "changes": {"registered_voters": 1600},
                              "previous": {"registered_voters": 1540}}


def test_a_windows_1251_file_imports_like_a_utf8_one(gateway):
    russian_only = csv(*ROWS).replace("Чүй облусу", "").replace("№1 мектеп", "")
    data = base64.b64encode(russian_only.encode("cp1251")).decode()
    report = import_csv(gateway, csvBase64=data)["report"]
    assert report["stations"]["created"] == 3 and report["problems"] == [], report
    body = gateway(STATIONS, {"region": "KG-Y"})
    station = eventually(lambda: gateway(STATIONS, {"region": "KG-Y"})[
        "data"]["pollingStations"]["edges"])[0]["node"]
    assert station["names"]["ru"] == "Дом культуры" and "errors" not in body


def test_bad_rows_are_reported_and_never_half_written(gateway, registry_events):
    rows = [
        ROWS[0],
        ROWS[1].replace(",980,", ",many,"),                       # not a number
        ROWS[2].replace("2001,2001", "1001,2001"),                # code twice in file
        ROWS[2].replace("KG-Y,", "KG-C,").replace("Y-01", "C-01").replace(
            "2001,2001", "2002,2002"),
        "KG-X,Region,,X-01,District,3001,3001,,,Somewhere,100,95.5,,,,",
    ]
    report = import_csv(gateway, csv=csv(*rows))["report"]
    problems = {(p["row"], p["field"], p["code"]) for p in report["problems"]}
    assert problems == {(3, "registered_voters", "INVALID"),
                        (2, "station_code", "DUPLICATE_IN_FILE"),
                        (4, "station_code", "DUPLICATE_IN_FILE"),
                        (6, "station_name", "REQUIRED")}
    assert report["rejectedRows"] == 4
    assert report["stations"]["created"] == 1  # row 5 only
    assert events(registry_events, "PollingStationRegistered") == 1


def test_a_file_that_is_not_a_station_list_is_refused(gateway, registry_events):
    for file, code in (({"csv": "just some text"}, "NOT_CSV"),
                       ({"csv": "station_code,address\n1,x\n"}, "MISSING_COLUMNS"),
                       ({"csvBase64": base64.b64encode(b"\x00\x01PK\x03").decode()},
                        "NOT_CSV"),
                       ({"csvBase64": "%%% not base64"}, "INVALID")):
        payload = import_csv(gateway, **file)
        assert payload["report"] is None and payload["errors"][0]["code"] == code, file
    assert registry_events.count_documents({}) == 0


def test_only_national_coordinators_import(gateway):
    body = gateway(IMPORT, {"input": {"csv": csv(*ROWS)}}, role="regional_coordinator",
                   region="KG-C")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
