"""bauhinia.faults: named kill points, inert unless BAUHINIA_FAULT_KILL_AT (through Settings) arms one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bauhinia import faults
from bauhinia.config import Settings


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    faults.reset()
    yield
    faults.reset()


def test_parse() -> None:
    assert faults.parse("") is None
    assert faults.parse("mint.after_send") == ("mint.after_send", 1)
    assert faults.parse(" payout.after_file:3 ") == ("payout.after_file", 3)
    for bad in ("mint.after_sned", "mint.after_send:0", "mint.after_send:x", "mint.after_send:-1"):
        with pytest.raises(ValueError):
            faults.parse(bad)


def test_the_setting_is_read_through_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAUHINIA_FAULT_KILL_AT", "bank.after_booking:2")
    assert Settings().fault_kill_at == "bank.after_booking:2"
    monkeypatch.delenv("BAUHINIA_FAULT_KILL_AT")
    assert Settings().fault_kill_at == ""


def test_unarmed_points_do_nothing_and_the_setting_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAUHINIA_FAULT_KILL_AT", raising=False)
    for point in faults.POINTS:
        faults.fault_point(point)
    monkeypatch.setenv("BAUHINIA_FAULT_KILL_AT", "mint.after_send")  # cached: not seen until reset
    faults.fault_point("mint.after_send")


def test_an_armed_point_counts_other_points_and_earlier_occurrences_pass() -> None:
    faults.reset("chain.after_send:3")
    faults.fault_point("chain.after_journal")
    faults.fault_point("chain.after_send")
    faults.fault_point("chain.after_send")
    with pytest.raises(ValueError, match="not listed"):
        faults.fault_point("chain.after_lunch")


def test_the_nth_occurrence_kills_the_process_by_sigkill() -> None:
    code = ("from bauhinia.faults import fault_point\n"
            "fault_point('payout.after_file'); print('first', flush=True)\n"
            "fault_point('payout.after_file'); print('second', flush=True)\n")
    env = {**os.environ, "BAUHINIA_FAULT_KILL_AT": "payout.after_file:2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["first"]


def test_an_armed_crash_raises_at_its_nth_occurrence_once() -> None:
    faults.arm("mint.after_send", 2)
    assert faults.armed() == {"mint.after_send": 2}
    faults.fault_point("mint.after_batch")  # another point does not count
    faults.fault_point("mint.after_send")
    with pytest.raises(faults.SimulatedCrash) as crash:
        faults.fault_point("mint.after_send")
    assert (crash.value.point, crash.value.nth) == ("mint.after_send", 2)
    assert not isinstance(crash.value, Exception)  # no `except Exception` in a service swallows it
    faults.fault_point("mint.after_send")  # fired once, then disarmed
    assert faults.armed() == {}


def test_crash_at_disarms_on_the_way_out_and_refuses_unknown_points() -> None:
    with faults.crash_at("payout.after_file", 3):
        faults.fault_point("payout.after_file")
    faults.fault_point("payout.after_file")
    faults.fault_point("payout.after_file")
    assert faults.armed() == {}
    for bad in (("payout.after_fil", 1), ("payout.after_file", 0)):
        with pytest.raises(ValueError):
            faults.arm(*bad)
    faults.arm("bank.after_booking")
    faults.reset()
    assert faults.armed() == {}
