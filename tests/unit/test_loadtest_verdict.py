"""The load test's readiness verdict, from locust's CSV stats, the reports' response
times and a reconciliation."""
import csv
import json

from loadtests import verdict

COLUMNS = ["Type", "Name", "Request Count", "Failure Count", "Requests/s", "Failures/s",
           "99%"]


def stats(path, rows):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        out.writerows(rows)


def judged(tmp_path, run_rows, reconciled, report_times, load_s=200, crashes=(),
           spent=None):
    stats(tmp_path / "locust_stats.csv", run_rows)
    stats(tmp_path / "floor_stats.csv", [
        ["GET", "floor: GET /ping", 9000, 0, 1500, 0, 40],
        ["", "Aggregated", 9000, 0, 1500, 0, 40]])
    with open(tmp_path / "locust_exceptions.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Count", "Message", "Traceback", "Nodes"])
        out.writerows([count, message, "", ""] for count, message in crashes)
    (tmp_path / "accepted.json").write_text(json.dumps(
        {"started_at": 1000.0, "stopped_at": 1000.0 + load_s, "accepted": {},
         "report_times": report_times}))
    code = verdict.main(tmp_path, reconciled, spent)
    return code, json.loads((tmp_path / "verdict.json").read_text())


GOOD = {"caught_up_after_s": 1.5, "lost": 0, "duplicated": 0,
        "accepted": {"submission": 90000}, "lost_examples": {"submission": []}}


def test_ready_when_every_objective_holds(tmp_path):
    # The opening burst's own p99 is over a second; of all reports, 0.9 % took longer.
    code, result = judged(tmp_path, [
        ["POST", "report: opening checklist", 2000, 0, 10, 0, 2700],
        ["POST", "report: voting checklist", 88000, 0, 440, 0, 800],
        ["POST", "sms: report", 20000, 0, 100, 0, 900],
        ["POST", "sms: malformed", 900, 0, 5, 0, 100],
        ["POST", "coordinator: regionStats", 3000, 0, 15, 0, 3000],
        ["", "Aggregated", 113900, 0, 570, 0, 900]], GOOD,
        {"150": 80000, "800": 29000, "2700": 1000})
    assert code == 0 and result["ready"]
    checks = {c["objective"]: c["measured"] for c in result["checks"]}
    assert checks["ratio reports/s : floor requests/s (reported)"] == \
        "550.0 : 1500.0 = 0.367"
    assert checks["p99 accept latency <= 1000 ms"] == "800 ms"
    assert checks["p99 of the slowest kind of report (reported)"] == \
        "report: opening checklist: 2700 ms"


def test_not_ready_on_slow_reports_failures_or_a_lost_report(tmp_path):
    code, result = judged(tmp_path, [
        ["POST", "report: opening checklist", 60000, 10, 300, 0.05, 1800],
        ["POST", "coordinator: regionStats", 3000, 0, 15, 0, 100],
        ["", "Aggregated", 63000, 10, 315, 0.05, 1700]],
        {"caught_up_after_s": None, "lost": 2, "duplicated": 0,
         "accepted": {"submission": 60000}, "lost_examples": {"submission": ["a", "b"]}},
        {"300": 59000, "1800": 1000}, load_s=60,
        crashes=[(167, "'NoneType' object is not subscriptable")])
    failed = {c["objective"] for c in result["checks"] if not c["passed"]}
    assert code == 1 and not result["ready"]
    assert failed == {"reports accepted/s >= 500", "sustained >= 180 s",
                      "p99 accept latency <= 1000 ms",
                      "failed requests (not deliberate bad input) = 0",
                      "errors in the simulated users' code = 0",
                      "projections caught up <= 5 s after the load",
                      "accepted reports lost = 0"}


def test_where_the_processor_time_went_is_printed_and_kept(tmp_path, capsys):
    _, written = judged(tmp_path, [["", "Aggregated", 90000, 0, 500, 0, 900]], GOOD,
                        {"400": 90000}, spent={"gateway": 1.0, "mongod": 0.9})
    assert "this machine's processes: gateway 1.00 ms, mongod 0.90 ms; in all 1.90 ms" \
        in capsys.readouterr().out
    assert written["processor_ms_per_report"] == {"gateway": 1.0, "mongod": 0.9}
