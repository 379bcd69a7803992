"""Monitoring rules, each both ways: the pattern raises an alert that explains itself; its near miss does not."""

from __future__ import annotations

import pytest

from bauhinia.domain import monitoring as m
from bauhinia.domain.errors import ValidationError

H = m.NS_PER_HOUR
D = m.NS_PER_DAY
T0 = 1_800_000_000 * 10**9
ALICE_W = "0x" + "a1" * 20
BOB_W = "0x" + "b2" * 20
LISTED = "0x" + "cc" * 20


def ev(i: int | str, kind: m.EventKind, at_ns: int, amount: int, customer: str = "C1", **kw: str) -> m.MonitoredEvent:
    return m.MonitoredEvent(f"e{i}", kind, at_ns, amount, customer_id=customer, **kw)


def tr(i: int | str, at_ns: int, amount: int, frm: str, to: str) -> m.MonitoredEvent:
    return m.MonitoredEvent(f"t{i}", m.EventKind.TRANSFER, at_ns, amount, from_address=frm, to_address=to)


def only(config_field: str, rule: object | None = None) -> m.MonitoringConfig:
    """A config with just one rule switched on (its defaults unless given)."""
    off = {name: None for name in m.MonitoringConfig.__dataclass_fields__}
    base = m.MonitoringConfig()
    off[config_field] = rule if rule is not None else getattr(base, config_field)
    return m.MonitoringConfig(**off)


def run(events: list[m.MonitoredEvent], config: m.MonitoringConfig, **kw: object) -> list[m.Alert]:
    return list(m.evaluate(events, config, **kw).alerts)  # type: ignore[arg-type]


# --- structuring -----------------------------------------------------------------------------------------------


def test_structuring_three_deposits_just_under_threshold() -> None:
    events = [ev(i, m.EventKind.FIAT_IN, T0 + i * H, 790_000 + i) for i in range(3)]
    alerts = run(events, only("structuring"))
    assert len(alerts) == 1
    a = alerts[0]
    assert a.rule is m.RuleName.STRUCTURING and a.subject == "C1"
    assert a.event_ids == ("e0", "e1", "e2")
    facts = dict(a.facts)
    assert facts["threshold_hkd_minor"] == "800000" and facts["count_min"] == "3"
    assert "just under HK$8,000.00" in a.summary


@pytest.mark.parametrize(
    "amounts_gap",
    [
        ([790_000, 790_000, 800_000], H),  # the third is at the threshold, not under it
        ([790_000, 790_000, 600_000], H),  # the third is far under it
        ([790_000, 790_000, 790_000], 4 * D),  # spread beyond the 7-day window
    ],
)
def test_structuring_near_misses(amounts_gap: tuple[list[int], int]) -> None:
    amounts, gap = amounts_gap
    events = [ev(i, m.EventKind.FIAT_IN, T0 + i * gap, a) for i, a in enumerate(amounts)]
    assert run(events, only("structuring")) == []


def test_structuring_counts_per_subject() -> None:
    events = [ev(i, m.EventKind.FIAT_IN, T0 + i * H, 790_000, customer=f"C{i}") for i in range(3)]
    assert run(events, only("structuring")) == []


# --- rapid in and out ----------------------------------------------------------------------------------------


def test_rapid_in_out_alert() -> None:
    events = [ev(1, m.EventKind.FIAT_IN, T0, 10_000_000), ev(2, m.EventKind.FIAT_OUT, T0 + 5 * H, 4_000_000),
              ev(3, m.EventKind.FIAT_OUT, T0 + 10 * H, 5_000_000)]
    alerts = run(events, only("rapid_in_out"))
    assert len(alerts) == 1
    assert alerts[0].event_ids == ("e1", "e2", "e3")
    assert dict(alerts[0].facts)["out_hkd_minor"] == "9000000"


def test_rapid_in_out_not_when_slow_or_partial() -> None:
    slow = [ev(1, m.EventKind.FIAT_IN, T0, 10_000_000), ev(2, m.EventKind.FIAT_OUT, T0 + 3 * D, 10_000_000)]
    partial = [ev(1, m.EventKind.FIAT_IN, T0, 10_000_000), ev(2, m.EventKind.FIAT_OUT, T0 + H, 7_000_000)]
    small = [ev(1, m.EventKind.FIAT_IN, T0, 100_000), ev(2, m.EventKind.FIAT_OUT, T0 + H, 100_000)]
    for events in (slow, partial, small):
        assert run(events, only("rapid_in_out")) == []


def test_rapid_in_out_on_chain_wallet() -> None:
    events = [tr(1, T0, 20_000_000, BOB_W, ALICE_W), tr(2, T0 + H, 19_000_000, ALICE_W, LISTED)]
    alerts = run(events, only("rapid_in_out"))
    assert [a.subject for a in alerts] == [ALICE_W]


# --- fan-in / fan-out ------------------------------------------------------------------------------------------


def _senders(n: int, spacing: int) -> list[m.MonitoredEvent]:
    return [tr(i, T0 + i * spacing, 100_000, "0x" + f"{i:040x}", ALICE_W) for i in range(n)]


def test_fan_in_many_senders() -> None:
    alerts = run(_senders(10, H), only("fan_in"))
    assert len(alerts) == 1 and alerts[0].rule is m.RuleName.FAN_IN and alerts[0].subject == ALICE_W
    assert len(alerts[0].event_ids) == 10


def test_fan_in_not_for_nine_or_spread_out() -> None:
    assert run(_senders(9, H), only("fan_in")) == []
    assert run(_senders(10, 3 * H), only("fan_in")) == []  # never 10 within 24 h
    same_sender = [tr(i, T0 + i * H, 100_000, BOB_W, ALICE_W) for i in range(12)]
    assert run(same_sender, only("fan_in")) == []


def test_fan_out_many_receivers_with_configured_threshold() -> None:
    rule = m.FanRule(counterparties_min=4, window_ns=H)
    events = [tr(i, T0 + i * 60 * 10**9, 50_000, ALICE_W, "0x" + f"{i + 1:040x}") for i in range(4)]
    alerts = run(events, only("fan_out", rule))
    assert [a.rule for a in alerts] == [m.RuleName.FAN_OUT]
    assert dict(alerts[0].facts)["counterparties_min"] == "4"
    assert run(events[:3], only("fan_out", rule)) == []


# --- dormant wallet waking -------------------------------------------------------------------------------------


def test_dormant_wallet_waking_from_history() -> None:
    events = [tr(1, T0, 5_000_000, ALICE_W, BOB_W)]
    alerts = run(events, only("dormant_wake"), last_seen_ns={ALICE_W: T0 - 200 * D})
    assert [a.subject for a in alerts] == [ALICE_W]
    assert "idle for 200 days" in alerts[0].summary


def test_dormant_not_when_recent_small_or_new() -> None:
    events = [tr(1, T0, 5_000_000, ALICE_W, BOB_W)]
    assert run(events, only("dormant_wake"), last_seen_ns={ALICE_W: T0 - 100 * D}) == []
    assert run(events, only("dormant_wake")) == []  # never seen before: new, not dormant
    small = [tr(1, T0, 100, ALICE_W, BOB_W)]
    assert run(small, only("dormant_wake"), last_seen_ns={ALICE_W: T0 - 365 * D}) == []


def test_dormant_within_the_window_and_last_seen_carried() -> None:
    events = [tr(1, T0, 5_000_000, ALICE_W, BOB_W), tr(2, T0 + 181 * D, 5_000_000, ALICE_W, BOB_W)]
    result = m.evaluate(events, only("dormant_wake"))
    assert {a.subject for a in result.alerts} == {ALICE_W, BOB_W}
    assert result.last_seen_ns[ALICE_W] == T0 + 181 * D


# --- listed exposure ---------------------------------------------------------------------------------------------


def test_listed_exposure_direct_and_one_hop() -> None:
    events = [tr(1, T0, 1_000_000, LISTED, ALICE_W), tr(2, T0 + H, 500_000, ALICE_W, BOB_W)]
    alerts = run(events, only("listed_exposure"), listed={LISTED.upper().replace("0X", "0x"): "OFAC SDN ofac-1"})
    by_subject = {a.subject: a for a in alerts}
    assert set(by_subject) == {LISTED, ALICE_W}  # Bob is two hops away
    assert by_subject[LISTED].severity is m.Severity.HIGH
    assert dict(by_subject[LISTED].facts)["exposure"] == "direct"
    assert by_subject[ALICE_W].severity is m.Severity.MEDIUM
    assert by_subject[ALICE_W].event_ids == ("t1",)
    assert "OFAC SDN ofac-1" in by_subject[ALICE_W].summary


def test_no_listed_exposure_without_listed_counterparties() -> None:
    events = [tr(1, T0, 1_000_000, BOB_W, ALICE_W)]
    assert run(events, only("listed_exposure"), listed={LISTED: "OFAC"}) == []
    assert run(events, only("listed_exposure")) == []


# --- mint-and-redeem cycles ------------------------------------------------------------------------------------


def _cycles(n: int, redeem_ratio_bps: int = 10_000, gap: int = H) -> list[m.MonitoredEvent]:
    out: list[m.MonitoredEvent] = []
    for i in range(n):
        start = T0 + i * D
        out.append(ev(f"m{i}", m.EventKind.MINT, start, 10_000_000))
        out.append(ev(f"r{i}", m.EventKind.REDEEM, start + gap, 10_000_000 * redeem_ratio_bps // 10_000))
    return out


def test_mint_redeem_cycles_alert() -> None:
    alerts = run(_cycles(3), only("mint_redeem_cycles"))
    assert len(alerts) == 1
    assert alerts[0].event_ids == ("em0", "er0", "em1", "er1", "em2", "er2")


def test_mint_redeem_cycles_near_misses() -> None:
    assert run(_cycles(2), only("mint_redeem_cycles")) == []
    assert run(_cycles(3, redeem_ratio_bps=5_000), only("mint_redeem_cycles")) == []  # not similar amounts
    assert run(_cycles(3, gap=4 * D), only("mint_redeem_cycles")) == []  # redeemed long after


# --- evaluation ----------------------------------------------------------------------------------------------------


def test_alert_ids_are_deterministic_and_events_order_free() -> None:
    events = [ev(i, m.EventKind.FIAT_IN, T0 + i * H, 790_000) for i in range(3)]
    a = m.evaluate(events).alerts
    b = m.evaluate(list(reversed(events))).alerts
    assert [x.alert_id for x in a] == [x.alert_id for x in b]


def test_duplicate_event_ids_and_bad_events_refused() -> None:
    e = ev(1, m.EventKind.FIAT_IN, T0, 1)
    with pytest.raises(ValidationError, match="twice"):
        m.evaluate([e, e])
    with pytest.raises(ValidationError, match="transfer needs"):
        m.MonitoredEvent("x", m.EventKind.TRANSFER, T0, 1, from_address=ALICE_W)
    with pytest.raises(ValidationError, match="amount"):
        m.event_from_mapping({"event_id": "x", "kind": "mint", "at_ns": T0, "amount_hkd_minor": 1.5})
    with pytest.raises(ValidationError, match="unknown event kind"):
        m.event_from_mapping({"event_id": "x", "kind": "gift", "at_ns": T0, "amount_hkd_minor": 1})


def test_config_from_data() -> None:
    cfg = m.monitoring_config_from_mapping({"structuring": {"count_min": 5}, "fan_in": None})
    assert cfg.structuring is not None and cfg.structuring.count_min == 5
    assert cfg.fan_in is None and cfg.fan_out is not None
    with pytest.raises(ValidationError, match="unknown rules"):
        m.monitoring_config_from_mapping({"smurfing": {}})
    with pytest.raises(ValidationError, match="structuring"):
        m.monitoring_config_from_mapping({"structuring": {"band_bps": 0}})
