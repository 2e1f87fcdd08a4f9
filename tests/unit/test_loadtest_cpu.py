"""Where the load test's processor time goes (loadtests/cpu.py)."""
import subprocess
import sys

import pytest

from loadtests import cpu


@pytest.mark.parametrize("args, what", [
    (["/work/.venv/bin/python", "-m", "deploy.serve", "gateway.service:GatewayService"],
     "gateway"),
    (["python", "-m", "deploy.serve", "services.reporting.service:ReportingService"],
     "reporting"),
    (["python", "-m", "deploy.jobs", "services.reporting.service:ReportingService"],
     "reporting jobs"),
    (["/x/site-packages/fiftyone/db/bin/mongod", "--port", "27117"], "mongod"),
    (["/usr/lib/erlang/erts-13/bin/beam.smp", "-W", "w"], "rabbitmq"),
    (["loadtests/.venv/bin/python", "-m", "locust", "-f", "locustfile.py"], "locust"),
    (["python", "loadtests/run.py"], None), (["bash", "-c", "deploy.serve"], None), ([], None),
])
def test_a_process_is_told_by_its_arguments(args, what):
    assert cpu.label(args) == what


def test_processor_time_is_shared_out_per_report_the_costliest_first():
    before = {"1": ("gateway", 10.0), "2": ("mongod", 5.0)}
    after = {"1": ("gateway", 11.0), "2": ("mongod", 7.0), "3": ("locust", 0.5),
             "4": ("reporting", 3.0)}
    assert cpu.per_report(before, after, 1000) == {
        "reporting": 3.0, "mongod": 2.0, "gateway": 1.0, "locust": 0.5}
    assert cpu.per_report(before, after, 0) == {}


def test_a_child_that_ended_between_snapshots_counts_as_locust():
    before = cpu.snapshot()
    subprocess.run([sys.executable, "-c", "sum(range(3_000_000))"], check=True)
    assert cpu.per_report(before, cpu.snapshot(), 1)["locust"] > 0


def test_a_snapshot_of_this_machine_has_only_what_takes_part():
    # RabbitMQ and the tests' mongod run here; whatever is found is labelled and counted.
    for what, seconds in cpu.snapshot().values():
        assert what in ("rabbitmq", "mongod", "locust") or what.split()[0] in (
            "gateway", "registry", "training", "deployment", "reporting", "hotline",
            "partners")
        assert seconds >= 0
