"""Reporting's reads for a round of reports, against the real mongod."""
from services.reporting.commands import publish_form, submit_together
from services.reporting.projections import Reporting
from services.reporting.schemas import PublishForm, SubmitReport
from shared.runtime import CallersLog
from tests.service.test_reporting import OPENING


def test_a_round_reads_its_reporters_and_their_stations_at_once(db):
    db["observers"].insert_many([
        {"_id": "o-1", "region": "KG-C"}, {"_id": "o-2", "region": "KG-C"},
        {"_id": "o-3", "region": "KG-Y"}, {"_id": "o-gone", "region": None}])
    db["assignments"].insert_many([
        {"_id": "a-1", "observer_id": "o-1", "station_code": "1002", "active": True},
        {"_id": "a-2", "observer_id": "o-1", "station_code": "1001", "active": True},
        {"_id": "a-3", "observer_id": "o-2", "station_code": "1003", "active": False},
        {"_id": "a-4", "observer_id": "o-3", "station_code": "9999", "active": True},
        {"_id": "a-5", "observer_id": "o-gone", "station_code": "1001", "active": True}])
    db["stations"].insert_many(
        [{"_id": code, "region": "KG-C", "district": "d"}
         for code in ("1001", "1002", "1003", "1004")] + [{"_id": "1005", "region": None}])
    known, assigned, stations = Reporting(db).reporters(
        {"o-1", "o-2", "o-3", "o-gone", "o-none"}, {"1004", "1005", "0000"})
    assert known == {"o-1", "o-2", "o-3"}
    # An assignment to a station the directory does not know (yet) is still theirs.
    assert assigned == {"o-1": ["1001", "1002"], "o-3": ["9999"]}
    assert set(stations) == {"1001", "1002", "1004"}
    assert stations["1004"] == {"code": "1004", "_id": "1004", "region": "KG-C",
                                "district": "d"}
    assert Reporting(db).reporters({"o-none"}) == (set(), {}, {})


def test_region_means_are_drawn_only_where_three_stations_reported(db):
    def curve(region, voters, registered, stations):
        return {"_id": f"{region}:10:00", "region": region, "checkpoint": "10:00",
                "voters": voters, "registered_voters": registered, "stations": stations}
    db["turnout_curves"].insert_many([curve("KG-C", 300, 3000, 3), curve("KG-Y", 1, 9, 2),
                                      curve("KG-Z", 0, 0, 3)])
    assert Reporting(db).region_mean_shares() == {("KG-C", "10:00"): 0.1}


def test_a_round_of_reports_goes_to_mongod_five_times(db, watched):
    """Each trip to mongod waits its turn on a busy machine: a round of reports makes
    as few as it can, however many reports it carries (the directory, the form, then
    the append's transaction)."""
    store, trips = watched
    db["observers"].insert_many([{"_id": f"o-{i}", "region": "KG-C"} for i in range(30)])
    db["assignments"].insert_many([{"_id": f"a-{i}", "observer_id": f"o-{i}",
                                    "station_code": f"{1000 + i}", "active": True}
                                   for i in range(30)])
    db["stations"].insert_many([{"_id": f"{1000 + i}", "region": "KG-C", "district": "d",
                                 "registered_voters": 900} for i in range(30)])
    log, reporting = CallersLog(store), Reporting(store.db)
    form = publish_form(log, PublishForm().load(OPENING))

    def round_of_reports(serial):
        return submit_together(log, reporting, [({"actor": f"o-{i}"}, SubmitReport().load({
            "observer_id": f"o-{i}", "form_id": form.facts["form_id"],
            "channel": "graphql", "answers": {"AA": True, "AB": 900},
            "serial": serial}), None) for i in range(30)])
    assert all(not isinstance(o, Exception) for o in round_of_reports("1"))
    trips.clear()
    assert all(o["changed"] for o in round_of_reports("2"))
    assert trips == ["aggregate", "find", "findAndModify", "insert",
                     "commitTransaction"]
