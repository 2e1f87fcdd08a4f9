"""Reporting's pure rules: reading answers by type, control relations, turnout and
protocol flags, the PVT estimate with known answers."""
import pytest
from marshmallow import Schema, ValidationError, fields, validate

from services.reporting.domain import (Form, Protocol, StationReport, Turnout,
                                       pvt_estimate, protocol_flags, turnout_flags)
from services.reporting.schemas import EVENTS, Answers
from shared.aggregate import Aggregates
from shared.errors import Rejected

QUESTIONS = [{"tag": "N", "text": "n", "type": "integer", "required": True,
              "range": {"min": 0, "max": 10}},
             {"tag": "M", "text": "m", "type": "integer", "required": False},
             {"tag": "Y", "text": "y", "type": "yes_no", "required": False},
             {"tag": "C", "text": "c", "type": "multiple_choice", "required": False,
              "options": [{"code": 1, "label": "a"}, {"code": 2, "label": "b"}]}]


def form(relations=()):
    f = Form(Form.stream("f"))
    f.publish("f", "F", "checklist", "F", [{"name": "g", "questions": QUESTIONS}],
              list(relations))
    return f


def test_answers_are_read_by_type_from_any_channel():
    values, unknown, invalid = form().read({"N": "7", "Y": True, "C": "21", "m": 3,
                                            "Q": 1})
    assert values == {"N": 7, "Y": 1, "C": [1, 2], "M": 3} and unknown == ["Q"]
    _, _, invalid = form().read({"N": 11, "Y": "2", "C": "13", "M": "x"})
    assert [i["tag"] for i in invalid] == ["N", "Y", "C", "M"]


def test_control_relations_judge_only_what_was_answered():
    f = form([{"name": "m within n", "left": ["M"], "op": "<=", "right": ["N"]}])
    assert f.broken_relations({"N": 3, "M": 4}) == ["m within n"]
    assert f.broken_relations({"N": 3}) == []
    with pytest.raises(Rejected) as refused:
        form([{"name": "r", "left": ["Y"], "op": "=", "right": ["N"]}])
    assert refused.value.problems[0].code == "INVALID_RELATION"


def test_the_master_copy_follows_the_copies_that_count_as_they_change():
    f, station = form(), {"code": "1", "region": "R", "district": "D"}
    report = StationReport(StationReport.stream("f", "1"))

    def submit(observer, answers, serial=None, verified=True, assigned=True):
        values, _, _ = f.read(answers)
        report.submit(f, observer, station, "sms", values, [], [], assigned, verified,
                      serial=serial)
        return report.master, report.conflicts, report.station_status

    assert submit("a", {"N": 3, "C": "12"}) == ({"N": 3, "C": [1, 2]}, [], "complete")
    # An unverified sender's copy does not count, nor does one breaking no rule but
    # sent by an observer not assigned here.
    assert submit("b", {"N": 4}, verified=False) == ({"N": 3, "C": [1, 2]}, [],
                                                      "complete")
    assert submit("c", {"N": 5}, assigned=False)[1] == []
    assert submit("d", {"N": 4, "C": "21"}) == ({"C": [1, 2]}, ["N"], "conflict")
    # d's next copy (a new serial) disagrees too; once d corrects both, they agree.
    assert submit("d", {"N": 6}, serial="2")[1] == ["N"]
    submit("d", {"N": 3}, serial="2")
    assert submit("d", {"N": 3}) == ({"N": 3, "C": [1, 2]}, [], "complete")


def test_turnout_flags():
    points = ["10:00", "12:00", "close"]
    assert turnout_flags(points, {}, "10:00", 100, 1000, None) == []
    assert turnout_flags(points, {"10:00": 300}, "12:00", 200, 1000, None) == [
        "impossible:decreasing_from_10:00"]
    assert turnout_flags(points, {}, "close", 1001, 1000, None) == [
        "impossible:above_100_percent"]
    assert turnout_flags(points, {}, "12:00", 500, 1000, 0.2) == [
        "suspicious:jump_above_region"]


def test_a_kept_turnout_leaves_the_figures_an_earlier_reply_reads_alone():
    station = {"code": "1", "region": "A", "district": "a1", "registered_voters": 1000}
    points = ["10:00", "12:00"]
    first = Turnout(Turnout.stream("1"))
    first.report(points, station, "10:00", 100, "o", "graphql", True, None)
    aggregates = Aggregates()
    aggregates.keep(first)
    [kept] = aggregates.take([first.id]).values()
    kept.report(points, station, "12:00", 300, "o", "graphql", True, None)
    assert list(first.reported) == ["10:00"]
    assert list(kept.reported) == ["10:00", "12:00"] and kept.version == 1


def test_protocol_control_lines():
    assert protocol_flags({"A": 5, "B": 4}, 10, 10, 1, 100) == []
    assert protocol_flags({"A": 5}, 10, 11, 1, 9) == [
        "control_relation_broken:votes_plus_invalid_equal_ballots_in_boxes",
        "control_relation_broken:ballots_in_boxes_within_issued",
        "control_relation_broken:ballots_issued_within_registered_voters"]


def test_pvt_ratio_estimate_with_cluster_variance_known_answer():
    sample = [{"A": 60, "B": 40}, {"A": 30, "B": 70}, {"A": 50, "B": 50}]
    # p = 140/300; sum of (y - p m)^2 = 466.67, / (n-1) = 233.33; mean m = 100;
    # v = 233.33 / (3 * 100^2) = 0.0077778; margin = 1.96 * 0.088192 = 0.172856.
    estimate = pvt_estimate(sample)
    assert estimate["shares"]["A"]["share"] == pytest.approx(0.466667, abs=1e-6)
    assert estimate["shares"]["A"]["margin"] == pytest.approx(0.172856, abs=1e-6)
    # 3 of 30 stations: the finite population correction is 0.9.
    assert pvt_estimate(sample, 30)["shares"]["A"]["margin"] == pytest.approx(
        0.163986, abs=1e-6)
    assert pvt_estimate(sample[:1])["shares"] == {}


def test_every_event_has_a_published_schema():
    assert {"FormPublished", "ReportSubmitted", "MasterValueOverridden",
            "IncidentReported", "IncidentStatusChanged", "TurnoutReported",
            "ProtocolSubmitted", "PvtSampleDefined"} <= set(EVENTS)


def test_a_stations_reports_follow_its_moves_once_and_in_order():
    station = {"code": "1", "region": "A", "district": "a1", "registered_voters": 100}
    protocol = Protocol(Protocol.stream("1"))
    protocol.submit(station, {"X": 50}, 60, 55, 5, "o", "sms", True)
    protocol.follow("1", {"region": "B", "district": "b1", "registered_voters": 90}, 3)
    protocol.follow("1", {"region": "B", "district": "b1"}, 3)  # delivered again
    protocol.follow("1", {"region": "C", "district": "c1"}, 2)  # older, late
    protocol.follow("1", {"registered_voters": 80}, 4)  # not a move
    [_, moved] = protocol.pending
    assert (moved.previous_region, moved.previous_district, moved.region,
            moved.district, moved.counted) == ("A", "a1", "B", "b1", {
                "votes": {"X": 50}, "invalid_ballots": 5})
    # Decided on a directory that has not heard of the move: counted in B all the same.
    protocol.submit(station, {"X": 55}, 60, 60, 5, "o", "sms", True)
    assert (protocol.pending[-1].region, protocol.pending[-1].district) == ("B", "b1")


class _DictAnswers(Schema):
    """How submissions' answers were checked before the one-pass Answers field."""
    answers = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=8)),
                          values=fields.Raw(allow_none=False), required=True,
                          validate=validate.Length(max=Answers.MAX_ANSWERS))


class _Answers(Schema):
    answers = Answers(required=True)


@pytest.mark.parametrize("answers", [
    {"A": 1, "BC": "x", "D": [1, 2], "E": False}, {}, [1], "A1", None, {"": 1},
    {"ABCDEFGHI": 1, "B": None}, {1: 2}, {f"K{i}": 1 for i in range(301)},
    {f"K{i}": 1 for i in range(300)}])
def test_answers_are_refused_in_the_words_of_a_dict_of_strings(answers):
    def outcome(schema):
        try:
            return schema.load({"answers": answers})
        except ValidationError as exc:
            return exc.messages
    assert outcome(_Answers()) == outcome(_DictAnswers())
