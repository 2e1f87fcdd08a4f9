"""The observers' pace in the load test (loadtests/pacing.py)."""
import pytest

from loadtests import pacing


class User:
    pass


def test_each_task_starts_a_pace_after_the_last_started_however_long_it_took(
        monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(pacing.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(pacing.random, "uniform", lambda low, high: 3.0)
    wait, user = pacing.paced(2.5, 3.5), User()
    user.paced_since = 100.0
    clock[0] = 100.4  # the first answer took 0.4 s
    assert wait(user) == pytest.approx(2.6)
    clock[0] = 105.2  # started at 103, answered 2.2 s later
    assert wait(user) == pytest.approx(0.8)
    clock[0] = 113.0  # answered 4 s after the pace had run out: no catching up
    assert wait(user) == 0
    clock[0] = 113.5
    assert wait(user) == pytest.approx(2.5)


def test_a_user_that_set_no_start_is_paced_from_now(monkeypatch):
    monkeypatch.setattr(pacing.time, "monotonic", lambda: 50.0)
    monkeypatch.setattr(pacing.random, "uniform", lambda low, high: high)
    assert pacing.paced(1, 2)(User()) == 2
