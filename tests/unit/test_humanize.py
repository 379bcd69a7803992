"""Durations and rates are written for people, and the demo directory is only emptied when the demo made it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bauhinia.domain import monitoring as mon
from bauhinia.domain.humanize import human_bps, human_duration, human_duration_ns
from bauhinia.entrypoints.cli.demo import DEMO_MARKER, DemoDirRefused, default_demo_dir, fresh_demo_dir
from bauhinia.entrypoints.formatting import progress_bar


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (0.0001, "0.1 ms"), (0.035, "0.04 s"), (0.004, "4 ms"), (0.117, "0.12 s"), (1.0, "1 s"),
    (9.5, "9.5 s"), (42.4, "42 s"), (60, "1 min"), (200, "3 min 20 s"), (3600, "1 h"), (7500, "2 h 5 min"),
    (24 * 3600, "24 h"), (3 * 86400, "3 days"), (3 * 86400 + 4 * 3600, "3 days 4 h"), (-90, "-1 min 30 s"),
])
def test_a_duration_reads_as_a_person_says_it(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_a_nanosecond_count_is_the_same_duration() -> None:
    assert human_duration_ns(117_000_000) == "0.12 s"
    assert human_duration_ns(36 * 3600 * 10**9) == "36 h"
    assert "e-" not in human_duration_ns(117_108)  # the demo once printed "within 3.253e-05 h"


@pytest.mark.parametrize(("bps", "text"), [
    (16_000, "160.00% (16,000 bps)"), (50, "0.50% (50 bps)"), (0, "0.00% (0 bps)"), (13_780, "137.80% (13,780 bps)"),
    (12.5, "0.12% (12.50 bps)"), (None, "n/a"),
])
def test_basis_points_read_as_a_percentage_with_the_bps(bps: int | float | None, text: str) -> None:
    assert human_bps(bps) == text


def test_a_rate_can_be_a_bare_percentage() -> None:
    assert human_bps(9_213, with_bps=False) == "92.13%"


def test_the_rapid_in_out_alert_says_its_window_and_ratio_for_people() -> None:
    hour = 3600 * 10**9
    rule = mon.RapidInOutRule()
    incoming = mon.MonitoredEvent("in", mon.EventKind.FIAT_IN, 0, 100_000_00, customer_id="c1")
    out = mon.MonitoredEvent("out", mon.EventKind.REDEEM, 117_108, 100_000_00, customer_id="c1")
    alerts = mon.check_rapid_in_out(mon._by_subject(f for e in (incoming, out) for f in mon.flows(e)), rule)
    assert alerts, "a full round trip in 0.1 ms must raise the rapid in-and-out alert"
    summary = alerts[0].summary
    assert "e-0" not in summary and "100.00% (10,000 bps) of it" in summary
    assert human_duration_ns(rule.window_ns) in summary and rule.window_ns >= hour


def test_progress_bar_off_a_terminal_gives_no_callback() -> None:
    with progress_bar("work") as progress:
        assert progress is None  # pytest captures stderr: not a terminal


def test_progress_bar_forced_draws_and_takes_updates() -> None:
    with progress_bar("work", force=True) as progress:
        assert progress is not None
        for done in range(3):
            progress(done + 1, 3)


def test_the_demo_directory_follows_bauhinia_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAUHINIA_DATA_DIR", str(tmp_path / "data"))
    assert default_demo_dir() == tmp_path / "data" / "demo"


def test_a_new_demo_directory_is_made_and_marked(tmp_path: Path) -> None:
    d = fresh_demo_dir(tmp_path / "demo")
    assert d.is_dir() and (d / DEMO_MARKER).is_file() and [p.name for p in d.iterdir()] == [DEMO_MARKER]


def test_a_directory_the_demo_made_is_emptied_for_a_fresh_run(tmp_path: Path) -> None:
    d = fresh_demo_dir(tmp_path / "demo")
    (d / "bauhinia.db").write_text("old")
    (d / "bank" / "in").mkdir(parents=True)
    (d / "bank" / "in" / "camt.xml").write_text("old")
    fresh_demo_dir(d)
    assert sorted(p.name for p in d.iterdir()) == [DEMO_MARKER]


def test_a_directory_the_demo_did_not_make_is_refused_and_kept(tmp_path: Path) -> None:
    d = tmp_path / "mine"
    d.mkdir()
    (d / "ledger.db").write_text("the issuer's book")
    with pytest.raises(DemoDirRefused, match="not made by `bauhinia demo`"):
        fresh_demo_dir(d)
    assert (d / "ledger.db").read_text() == "the issuer's book"
    f = tmp_path / "a-file"
    f.write_text("x")
    with pytest.raises(DemoDirRefused, match="not a directory"):
        fresh_demo_dir(f)


def test_an_empty_directory_is_taken(tmp_path: Path) -> None:
    d = tmp_path / "empty"
    d.mkdir()
    assert (fresh_demo_dir(d) / DEMO_MARKER).is_file()
