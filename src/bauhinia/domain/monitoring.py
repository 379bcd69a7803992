"""Transaction monitoring: rules over ledger and chain events, each configured by data, each alert explained.

Pure and synchronous. The caller passes a window of events (fiat in and out, mints, redemptions, token
transfers), each valued in HKD minor units, plus what it knows from before the window (when each subject was last
active, which addresses are listed). `evaluate` returns alerts; every alert names its rule, its subject, the
events that triggered it and the thresholds they crossed.

Rules: structuring just under the HK$8,000 threshold, rapid in-and-out, fan-in, fan-out, a dormant wallet waking,
exposure to listed addresses (direct and one hop, via `compliance.assess_wallet`), repeated mint-and-redeem cycles.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bauhinia.domain.compliance import Transfer, WalletDecision, assess_wallet, normalise_address
from bauhinia.domain.errors import ValidationError
from bauhinia.domain.humanize import human_bps, human_duration_ns

events_max: int = 1_000_000
alerts_max: int = 100_000
event_ids_per_alert_max: int = 200

NS_PER_HOUR = 3_600 * 10**9
NS_PER_DAY = 24 * NS_PER_HOUR


class EventKind(StrEnum):
    FIAT_IN = "fiat_in"  # fiat received from the customer's bank account
    FIAT_OUT = "fiat_out"  # fiat paid out to the customer
    MINT = "mint"  # coins minted to the customer's wallet
    REDEEM = "redeem"  # coins redeemed (burned) by the customer
    TRANSFER = "transfer"  # token transfer between two addresses on chain


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class MonitoredEvent:
    """One ledger or chain event, valued in HKD minor units by the caller (coins at par, CNH at a rate)."""

    event_id: str
    kind: EventKind
    at_ns: int
    amount_hkd_minor: int
    customer_id: str = ""
    from_address: str = ""
    to_address: str = ""
    counterparty: str = ""  # the bank-side counterparty of a fiat movement

    def __post_init__(self) -> None:
        if not self.event_id:
            raise ValidationError("an event needs an event_id")
        if self.amount_hkd_minor < 0:
            raise ValidationError(f"event {self.event_id}: amount must be >= 0")
        if self.at_ns < 0:
            raise ValidationError(f"event {self.event_id}: at_ns must be >= 0")
        if self.kind is EventKind.TRANSFER and not (self.from_address and self.to_address):
            raise ValidationError(f"event {self.event_id}: a transfer needs from_address and to_address")
        if self.kind is not EventKind.TRANSFER and not self.customer_id:
            raise ValidationError(f"event {self.event_id}: a {self.kind.value} event needs a customer_id")


@dataclass(frozen=True, slots=True)
class Flow:
    """A subject's side of an event: money in or out, and with whom."""

    subject: str
    direction: Direction
    counterparty: str
    event: MonitoredEvent


def flows(event: MonitoredEvent) -> tuple[Flow, ...]:
    """Each subject an event touches (customer id and/or wallet address) with its direction."""
    out: list[Flow] = []
    frm, to = normalise_address(event.from_address), normalise_address(event.to_address)
    if event.kind is EventKind.TRANSFER:
        out.append(Flow(frm, Direction.OUT, to, event))
        out.append(Flow(to, Direction.IN, frm, event))
        return tuple(out)
    direction = Direction.IN if event.kind in (EventKind.FIAT_IN, EventKind.MINT) else Direction.OUT
    counterparty = event.counterparty or ("issuer" if event.kind in (EventKind.MINT, EventKind.REDEEM) else "")
    out.append(Flow(event.customer_id, direction, counterparty or "unknown", event))
    if event.kind is EventKind.MINT and to:
        out.append(Flow(to, Direction.IN, "issuer (mint)", event))
    if event.kind is EventKind.REDEEM and frm:
        out.append(Flow(frm, Direction.OUT, "issuer (redemption)", event))
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------------
# Rule configuration (all data)
# ---------------------------------------------------------------------------------------------------------------


class RuleName(StrEnum):
    STRUCTURING = "structuring"
    RAPID_IN_OUT = "rapid_in_out"
    FAN_IN = "fan_in"
    FAN_OUT = "fan_out"
    DORMANT_WAKE = "dormant_wake"
    LISTED_EXPOSURE = "listed_exposure"
    MINT_REDEEM_CYCLES = "mint_redeem_cycles"
    THIRD_PARTY_PAYER = "third_party_payer"  # a deposit not paid from the customer's verified bank account


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


def _positive(name: str, value: int) -> None:
    if value <= 0:
        raise ValidationError(f"monitoring rule: {name} must be > 0, got {value}")


@dataclass(frozen=True, slots=True)
class StructuringRule:
    """`count_min` amounts in [threshold - band, threshold) within `window_ns` by one subject."""

    threshold_hkd_minor: int = 800_000
    band_bps: int = 1_500  # "just under": within 15% below the threshold
    count_min: int = 3
    window_ns: int = 7 * NS_PER_DAY

    def __post_init__(self) -> None:
        _positive("threshold_hkd_minor", self.threshold_hkd_minor)
        _positive("count_min", self.count_min)
        _positive("window_ns", self.window_ns)
        if not 0 < self.band_bps < 10_000:
            raise ValidationError("structuring band_bps must be in 1..9999")

    @property
    def floor_hkd_minor(self) -> int:
        return self.threshold_hkd_minor - self.threshold_hkd_minor * self.band_bps // 10_000


@dataclass(frozen=True, slots=True)
class RapidInOutRule:
    """Money in, then at least `out_ratio_bps` of it out again within `window_ns`."""

    in_min_hkd_minor: int = 5_000_000  # HK$50,000
    out_ratio_bps: int = 8_000
    window_ns: int = 48 * NS_PER_HOUR

    def __post_init__(self) -> None:
        _positive("in_min_hkd_minor", self.in_min_hkd_minor)
        _positive("window_ns", self.window_ns)
        if not 0 < self.out_ratio_bps <= 10_000:
            raise ValidationError("rapid in-out out_ratio_bps must be in 1..10000")


@dataclass(frozen=True, slots=True)
class FanRule:
    """At least `counterparties_min` distinct counterparties in one direction within `window_ns`."""

    counterparties_min: int = 10
    window_ns: int = 24 * NS_PER_HOUR
    amount_min_hkd_minor: int = 0  # ignore flows below this

    def __post_init__(self) -> None:
        _positive("counterparties_min", self.counterparties_min)
        _positive("window_ns", self.window_ns)
        if self.amount_min_hkd_minor < 0:
            raise ValidationError("fan amount_min_hkd_minor must be >= 0")


@dataclass(frozen=True, slots=True)
class DormantWakeRule:
    """A subject idle for `dormant_ns` or longer moves at least `amount_min_hkd_minor`."""

    dormant_ns: int = 180 * NS_PER_DAY
    amount_min_hkd_minor: int = 1_000_000  # HK$10,000

    def __post_init__(self) -> None:
        _positive("dormant_ns", self.dormant_ns)
        if self.amount_min_hkd_minor < 0:
            raise ValidationError("dormant amount_min_hkd_minor must be >= 0")


@dataclass(frozen=True, slots=True)
class ListedExposureRule:
    """A listed address moving the token (direct) or a wallet dealing with one (one hop)."""

    direct_severity: Severity = Severity.HIGH
    indirect_severity: Severity = Severity.MEDIUM


@dataclass(frozen=True, slots=True)
class MintRedeemCycleRule:
    """At least `cycles_min` mints each followed within `pair_window_ns` by a redemption of a similar amount,
    all within `window_ns`."""

    cycles_min: int = 3
    window_ns: int = 30 * NS_PER_DAY
    pair_window_ns: int = 72 * NS_PER_HOUR
    similar_bps: int = 1_000  # redemption within 10% of the mint
    amount_min_hkd_minor: int = 1_000_000

    def __post_init__(self) -> None:
        _positive("cycles_min", self.cycles_min)
        _positive("window_ns", self.window_ns)
        _positive("pair_window_ns", self.pair_window_ns)
        if not 0 <= self.similar_bps <= 10_000:
            raise ValidationError("cycle similar_bps must be in 0..10000")


@dataclass(frozen=True, slots=True)
class MonitoringConfig:
    """Which rules run, with which thresholds. `None` switches a rule off."""

    structuring: StructuringRule | None = field(default_factory=StructuringRule)
    rapid_in_out: RapidInOutRule | None = field(default_factory=RapidInOutRule)
    fan_in: FanRule | None = field(default_factory=FanRule)
    fan_out: FanRule | None = field(default_factory=FanRule)
    dormant_wake: DormantWakeRule | None = field(default_factory=DormantWakeRule)
    listed_exposure: ListedExposureRule | None = field(default_factory=ListedExposureRule)
    mint_redeem_cycles: MintRedeemCycleRule | None = field(default_factory=MintRedeemCycleRule)


_RULE_TYPES: dict[str, type[Any]] = {
    "structuring": StructuringRule,
    "rapid_in_out": RapidInOutRule,
    "fan_in": FanRule,
    "fan_out": FanRule,
    "dormant_wake": DormantWakeRule,
    "listed_exposure": ListedExposureRule,
    "mint_redeem_cycles": MintRedeemCycleRule,
}


def monitoring_config_from_mapping(data: Mapping[str, Any]) -> MonitoringConfig:
    """{"structuring": {"count_min": 4, ...}, "fan_in": null, ...}: missing rules keep their defaults."""
    unknown = set(data) - set(_RULE_TYPES)
    if unknown:
        raise ValidationError(f"monitoring config: unknown rules {sorted(unknown)}; known: {sorted(_RULE_TYPES)}")
    values: dict[str, Any] = {}
    for name, kind in _RULE_TYPES.items():
        if name not in data:
            continue
        settings = data[name]
        if settings is None or settings is False:
            values[name] = None
            continue
        if not isinstance(settings, Mapping):
            raise ValidationError(f"monitoring config: {name} must be an object or null")
        try:
            if kind is ListedExposureRule:
                values[name] = ListedExposureRule(**{k: Severity(v) for k, v in settings.items()})
            else:
                values[name] = kind(**{k: int(v) for k, v in settings.items()})
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"monitoring config: {name}: {exc}") from None
    return MonitoringConfig(**values)


# ---------------------------------------------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str  # deterministic: the same rule, subject and events always give the same id
    rule: RuleName
    subject: str  # a customer id or a wallet address
    severity: Severity
    summary: str
    event_ids: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]  # thresholds and measured values, as text
    first_at_ns: int
    last_at_ns: int
    total_hkd_minor: int = 0


def alert_id_for(rule: RuleName, subject: str, event_ids: Sequence[str]) -> str:
    digest = hashlib.sha256("\x1f".join((rule.value, subject, *event_ids)).encode()).hexdigest()
    return f"al-{digest[:20]}"


def _alert(
    rule: RuleName,
    subject: str,
    severity: Severity,
    summary: str,
    events: Sequence[MonitoredEvent],
    facts: Mapping[str, object],
) -> Alert:
    ids = tuple(e.event_id for e in events)[:event_ids_per_alert_max]
    return Alert(
        alert_id=alert_id_for(rule, subject, ids),
        rule=rule,
        subject=subject,
        severity=severity,
        summary=summary,
        event_ids=ids,
        facts=tuple((k, str(v)) for k, v in facts.items()),
        first_at_ns=min(e.at_ns for e in events),
        last_at_ns=max(e.at_ns for e in events),
        total_hkd_minor=sum(e.amount_hkd_minor for e in events),
    )


def _hk(amount_minor: int) -> str:
    return f"HK${amount_minor // 100:,}.{amount_minor % 100:02d}"


def _hours(ns: int) -> str:
    return human_duration_ns(ns)


# ---------------------------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------------------------


def _by_subject(all_flows: Iterable[Flow]) -> dict[str, list[Flow]]:
    grouped: dict[str, list[Flow]] = defaultdict(list)
    for f in all_flows:
        grouped[f.subject].append(f)
    return grouped


def check_structuring(by_subject: Mapping[str, Sequence[Flow]], rule: StructuringRule) -> list[Alert]:
    alerts: list[Alert] = []
    floor, ceiling = rule.floor_hkd_minor, rule.threshold_hkd_minor
    for subject, subject_flows in by_subject.items():
        near = [f.event for f in subject_flows if floor <= f.event.amount_hkd_minor < ceiling]
        window: deque[MonitoredEvent] = deque()
        for event in near:
            window.append(event)
            while event.at_ns - window[0].at_ns > rule.window_ns:
                window.popleft()
            if len(window) >= rule.count_min:
                group = list(window)
                alerts.append(
                    _alert(
                        RuleName.STRUCTURING, subject, Severity.HIGH,
                        f"{len(group)} amounts between {_hk(floor)} and just under {_hk(ceiling)} within "
                        f"{_hours(rule.window_ns)} (at least {rule.count_min} trigger)",
                        group,
                        {"threshold_hkd_minor": ceiling, "floor_hkd_minor": floor, "count": len(group),
                         "count_min": rule.count_min, "window_ns": rule.window_ns},
                    )
                )
                window.clear()  # the next alert needs a fresh set of events
    return alerts


def check_rapid_in_out(by_subject: Mapping[str, Sequence[Flow]], rule: RapidInOutRule) -> list[Alert]:
    alerts: list[Alert] = []
    for subject, subject_flows in by_subject.items():
        used_out: set[str] = set()
        for i, incoming in enumerate(subject_flows):
            if incoming.direction is not Direction.IN or incoming.event.amount_hkd_minor < rule.in_min_hkd_minor:
                continue
            start = incoming.event.at_ns
            outs: list[MonitoredEvent] = []
            total = 0
            needed = -(-incoming.event.amount_hkd_minor * rule.out_ratio_bps // 10_000)
            for later in subject_flows[i + 1 :]:
                if later.event.at_ns - start > rule.window_ns:
                    break
                if later.direction is Direction.OUT and later.event.event_id not in used_out:
                    outs.append(later.event)
                    total += later.event.amount_hkd_minor
                    if total >= needed:
                        break
            if outs and total >= needed:
                used_out.update(e.event_id for e in outs)
                elapsed = outs[-1].at_ns - start
                alerts.append(
                    _alert(
                        RuleName.RAPID_IN_OUT, subject, Severity.MEDIUM,
                        f"received {_hk(incoming.event.amount_hkd_minor)} and sent {_hk(total)} "
                        f"({human_bps(total * 10_000 // incoming.event.amount_hkd_minor)} of it) out within "
                        f"{_hours(elapsed)} (limit: {human_bps(rule.out_ratio_bps)} within {_hours(rule.window_ns)})",
                        [incoming.event, *outs],
                        {"in_hkd_minor": incoming.event.amount_hkd_minor, "out_hkd_minor": total,
                         "out_ratio_bps_min": rule.out_ratio_bps, "elapsed_ns": elapsed,
                         "window_ns": rule.window_ns},
                    )
                )
    return alerts


def check_fan(
    by_subject: Mapping[str, Sequence[Flow]], rule: FanRule, direction: Direction
) -> list[Alert]:
    name = RuleName.FAN_IN if direction is Direction.IN else RuleName.FAN_OUT
    word = "senders" if direction is Direction.IN else "receivers"
    alerts: list[Alert] = []
    for subject, subject_flows in by_subject.items():
        relevant = [
            f
            for f in subject_flows
            if f.direction is direction and f.event.amount_hkd_minor >= rule.amount_min_hkd_minor
        ]
        window: deque[Flow] = deque()
        counts: dict[str, int] = defaultdict(int)
        for f in relevant:
            window.append(f)
            counts[f.counterparty] += 1
            while f.event.at_ns - window[0].event.at_ns > rule.window_ns:
                old = window.popleft()
                counts[old.counterparty] -= 1
                if not counts[old.counterparty]:
                    del counts[old.counterparty]
            if len(counts) >= rule.counterparties_min:
                group = [w.event for w in window]
                alerts.append(
                    _alert(
                        name, subject, Severity.MEDIUM,
                        f"{len(counts)} distinct {word} within {_hours(rule.window_ns)} "
                        f"(at least {rule.counterparties_min} trigger)",
                        group,
                        {"counterparties": len(counts), "counterparties_min": rule.counterparties_min,
                         "window_ns": rule.window_ns, "amount_min_hkd_minor": rule.amount_min_hkd_minor},
                    )
                )
                window.clear()
                counts.clear()
    return alerts


def check_dormant_wake(
    by_subject: Mapping[str, Sequence[Flow]], rule: DormantWakeRule, last_seen_ns: Mapping[str, int]
) -> list[Alert]:
    alerts: list[Alert] = []
    for subject, subject_flows in by_subject.items():
        previous = last_seen_ns.get(subject)
        for f in subject_flows:
            at = f.event.at_ns
            if (
                previous is not None
                and at - previous >= rule.dormant_ns
                and f.event.amount_hkd_minor >= rule.amount_min_hkd_minor
            ):
                alerts.append(
                    _alert(
                        RuleName.DORMANT_WAKE, subject, Severity.MEDIUM,
                        f"idle for {(at - previous) // NS_PER_DAY} days (dormant from {_hours(rule.dormant_ns)}), "
                        f"then moved {_hk(f.event.amount_hkd_minor)}",
                        [f.event],
                        {"idle_ns": at - previous, "dormant_ns": rule.dormant_ns, "last_seen_ns": previous,
                         "amount_min_hkd_minor": rule.amount_min_hkd_minor},
                    )
                )
            previous = at if previous is None else max(previous, at)
    return alerts


def check_listed_exposure(
    events: Sequence[MonitoredEvent], rule: ListedExposureRule, listed: Mapping[str, str]
) -> list[Alert]:
    """Uses the wallet screening decision: a listed address blocks (direct), a listed counterparty alerts."""
    if not listed:
        return []
    normalised = {normalise_address(a): why for a, why in listed.items()}
    involving: dict[str, list[MonitoredEvent]] = defaultdict(list)
    for e in events:
        for address in (e.from_address, e.to_address):
            if address:
                involving[normalise_address(address)].append(e)
    alerts: list[Alert] = []
    for address, its_events in involving.items():
        transfers = [
            Transfer(e.from_address or "issuer", e.to_address or "issuer", e.amount_hkd_minor) for e in its_events
        ]
        assessment = assess_wallet(address, normalised, transfers)
        if assessment.decision is WalletDecision.CLEAR:
            continue
        if assessment.decision is WalletDecision.BLOCK:
            alerts.append(
                _alert(
                    RuleName.LISTED_EXPOSURE, address, rule.direct_severity,
                    f"listed address moved the token: {normalised[address]}",
                    its_events, {"exposure": "direct", "listed_as": normalised[address]},
                )
            )
            continue
        exposed = [
            e for e in its_events
            if normalise_address(e.from_address) in normalised or normalise_address(e.to_address) in normalised
        ]
        alerts.append(
            _alert(
                RuleName.LISTED_EXPOSURE, address, rule.indirect_severity,
                "dealt with listed addresses: " + "; ".join(assessment.reasons[:5]).replace("base units", "HKD minor"),
                exposed, {"exposure": "one hop", "exposed_hkd_minor": assessment.exposed_amount_base_units},
            )
        )
    return alerts


def check_mint_redeem_cycles(events: Sequence[MonitoredEvent], rule: MintRedeemCycleRule) -> list[Alert]:
    alerts: list[Alert] = []
    by_customer: dict[str, list[MonitoredEvent]] = defaultdict(list)
    for e in events:
        if e.kind in (EventKind.MINT, EventKind.REDEEM) and e.amount_hkd_minor >= rule.amount_min_hkd_minor:
            by_customer[e.customer_id].append(e)
    for customer, its_events in by_customer.items():
        cycles: list[tuple[MonitoredEvent, MonitoredEvent]] = []
        used: set[str] = set()
        for i, mint in enumerate(its_events):
            if mint.kind is not EventKind.MINT:
                continue
            for later in its_events[i + 1 :]:
                if later.at_ns - mint.at_ns > rule.pair_window_ns:
                    break
                if later.kind is EventKind.REDEEM and later.event_id not in used:
                    gap = abs(later.amount_hkd_minor - mint.amount_hkd_minor)
                    if gap * 10_000 <= mint.amount_hkd_minor * rule.similar_bps:
                        cycles.append((mint, later))
                        used.add(later.event_id)
                        break
        window: deque[tuple[MonitoredEvent, MonitoredEvent]] = deque()
        for cycle in cycles:
            window.append(cycle)
            while cycle[1].at_ns - window[0][0].at_ns > rule.window_ns:
                window.popleft()
            if len(window) >= rule.cycles_min:
                group = [e for pair in window for e in pair]
                alerts.append(
                    _alert(
                        RuleName.MINT_REDEEM_CYCLES, customer, Severity.MEDIUM,
                        f"{len(window)} mint-then-redeem cycles of similar amounts "
                        f"(within {human_bps(rule.similar_bps)}) "
                        f"within {_hours(rule.window_ns)} (at least {rule.cycles_min} trigger)",
                        group,
                        {"cycles": len(window), "cycles_min": rule.cycles_min, "window_ns": rule.window_ns,
                         "pair_window_ns": rule.pair_window_ns, "similar_bps": rule.similar_bps},
                    )
                )
                window.clear()
    return alerts


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonitoringResult:
    alerts: tuple[Alert, ...]
    events_seen: int
    last_seen_ns: Mapping[str, int]  # per subject, to carry into the next window's dormancy check


def evaluate(
    events: Iterable[MonitoredEvent],
    config: MonitoringConfig | None = None,
    listed: Mapping[str, str] | None = None,
    last_seen_ns: Mapping[str, int] | None = None,
) -> MonitoringResult:
    """Every enabled rule over the window of events (any order in; evaluated by time, then event id)."""
    config = config if config is not None else MonitoringConfig()
    ordered: list[MonitoredEvent] = []
    seen: set[str] = set()
    for count, event in enumerate(events, start=1):
        if count > events_max:
            raise ValidationError(f"more than {events_max} events in one monitoring window")
        if event.event_id in seen:
            raise ValidationError(f"event {event.event_id} appears twice in the window")
        seen.add(event.event_id)
        ordered.append(event)
    ordered.sort(key=lambda e: (e.at_ns, e.event_id))
    by_subject = _by_subject(f for e in ordered for f in flows(e))
    alerts: list[Alert] = []
    if config.structuring is not None:
        alerts += check_structuring(by_subject, config.structuring)
    if config.rapid_in_out is not None:
        alerts += check_rapid_in_out(by_subject, config.rapid_in_out)
    if config.fan_in is not None:
        alerts += check_fan(by_subject, config.fan_in, Direction.IN)
    if config.fan_out is not None:
        alerts += check_fan(by_subject, config.fan_out, Direction.OUT)
    if config.dormant_wake is not None:
        alerts += check_dormant_wake(by_subject, config.dormant_wake, last_seen_ns or {})
    if config.listed_exposure is not None:
        alerts += check_listed_exposure(ordered, config.listed_exposure, listed or {})
    if config.mint_redeem_cycles is not None:
        alerts += check_mint_redeem_cycles(ordered, config.mint_redeem_cycles)
    if len(alerts) > alerts_max:
        raise ValidationError(f"more than {alerts_max} alerts from one window; tighten the rules")
    latest: dict[str, int] = dict(last_seen_ns or {})
    for subject, subject_flows in by_subject.items():
        latest[subject] = max(latest.get(subject, 0), subject_flows[-1].event.at_ns)
    unique = {a.alert_id: a for a in alerts}
    return MonitoringResult(
        alerts=tuple(sorted(unique.values(), key=lambda a: (a.first_at_ns, a.rule.value, a.subject))),
        events_seen=len(ordered),
        last_seen_ns=latest,
    )


def event_from_mapping(data: Mapping[str, Any]) -> MonitoredEvent:
    """{"event_id","kind","at_ns","amount_hkd_minor","customer_id","from_address","to_address","counterparty"}."""
    try:
        kind = EventKind(str(data["kind"]))
    except KeyError:
        raise ValidationError("an event needs a kind") from None
    except ValueError:
        raise ValidationError(
            f"unknown event kind {data.get('kind')!r}; known: {', '.join(k.value for k in EventKind)}"
        ) from None
    for key in ("at_ns", "amount_hkd_minor"):
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(f"event {data.get('event_id')!r}: {key} must be an integer")
    return MonitoredEvent(
        event_id=str(data.get("event_id", "")),
        kind=kind,
        at_ns=int(data["at_ns"]),
        amount_hkd_minor=int(data["amount_hkd_minor"]),
        customer_id=str(data.get("customer_id", "")),
        from_address=str(data.get("from_address", "")),
        to_address=str(data.get("to_address", "")),
        counterparty=str(data.get("counterparty", "")),
    )
