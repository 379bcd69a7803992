"""Regulatory evidence: the requirements register, test evidence per requirement, incidents with their
regulator-notification deadlines, periodic-return figures and the auditor export manifest.

Pure and synchronous (stdlib only, no clock: callers pass `now_ns`). The register itself is data
(src/bauhinia/compliance_register.json); this module checks its shape and judges what the tests proved.

Words:
- a *requirement* is one obligation from a source (HKMA Guideline on Supervision of Licensed Stablecoin
  Issuers, its AML/CFT Guideline, the Stablecoins Ordinance or the AMLO), met by a *control* in Bauhinia
  (`module:function`) with a *configuration*, and proven by *tests* marked `@pytest.mark.requirement(ID)`.
- a requirement is *proven* when at least one of its marked tests passed and none failed; *failing* when one
  failed; *unproven* when none ran (or all were skipped).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from bauhinia.domain.calendar import from_ns
from bauhinia.domain.errors import ConflictError, ValidationError

NS_PER_S = 1_000_000_000
requirements_max: int = 500
tests_per_requirement_max: int = 100
requirement_id_pattern = re.compile(r"^[A-Z]{2,5}(-[A-Z0-9]{1,20}){1,4}$")
control_pattern = re.compile(r"^[a-z_][a-z0-9_.]*(:[A-Za-z_][A-Za-z0-9_.]*)?$|^contracts/[A-Za-z]+\.vy:[a-zA-Z_]+$")
incident_timeline_max: int = 1_000
retention_years_min: int = 5


# ---------------------------------------------------------------------------------------------------------
# The register
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requirement:
    """One row of the register."""

    id: str
    requirement: str  # one line
    source: str  # guideline / ordinance and chapter or paragraph
    controls: tuple[str, ...]  # "bauhinia.domain.reserves:check_mint" or "contracts/StableCoin.vy:retire"
    configuration: str
    tests: tuple[str, ...]  # pytest node ids (file::function), each marked with this id
    mutation: str = ""  # what the mutation check switches off
    note: str = ""  # gaps and honest caveats

    def check_invariants(self) -> None:
        if not requirement_id_pattern.fullmatch(self.id):
            raise ValidationError(f"requirement id {self.id!r} must look like RES-FULL-BACKING", code="bad_register")
        if not self.requirement.strip() or "\n" in self.requirement:
            raise ValidationError(f"{self.id}: the requirement is one non-empty line", code="bad_register")
        if not self.source.strip():
            raise ValidationError(f"{self.id}: a source (guideline and paragraph) is required", code="bad_register")
        if not self.controls:
            raise ValidationError(f"{self.id}: at least one control is required", code="bad_register")
        for c in self.controls:
            if not control_pattern.fullmatch(c):
                raise ValidationError(f"{self.id}: control {c!r} is not module:function", code="bad_register")
        if not 0 < len(self.tests) <= tests_per_requirement_max:
            raise ValidationError(f"{self.id}: 1..{tests_per_requirement_max} tests are required",
                                  code="bad_register")
        for t in self.tests:
            if "::" not in t or not t.startswith("tests/"):
                raise ValidationError(f"{self.id}: test {t!r} must be a node id tests/...py::name",
                                      code="bad_register")


@dataclass(frozen=True, slots=True)
class Register:
    version: str
    requirements: tuple[Requirement, ...]

    def get(self, requirement_id: str) -> Requirement:
        for r in self.requirements:
            if r.id == requirement_id:
                return r
        raise ValidationError(f"no requirement {requirement_id!r} in the register", code="unknown_requirement")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.requirements)


def _strs(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{what} must be a string or a list of strings", code="bad_register")
    return tuple(value)


def parse_register(data: Mapping[str, Any]) -> Register:
    """The register from its JSON data; every row checked, ids unique."""
    rows = data.get("requirements")
    if not isinstance(rows, list) or not rows:
        raise ValidationError("the register needs a non-empty 'requirements' list", code="bad_register")
    if len(rows) > requirements_max:
        raise ValidationError(f"at most {requirements_max} requirements", code="bad_register")
    out: list[Requirement] = []
    seen: set[str] = set()
    for row in rows:
        if not isinstance(row, Mapping):
            raise ValidationError("each requirement is an object", code="bad_register")
        try:
            req = Requirement(
                id=str(row["id"]), requirement=str(row["requirement"]), source=str(row["source"]),
                controls=_strs(row["control"], "control"), configuration=str(row.get("configuration", "")),
                tests=_strs(row["tests"], "tests"), mutation=str(row.get("mutation", "")),
                note=str(row.get("note", "")),
            )
        except KeyError as exc:
            raise ValidationError(f"requirement {row.get('id', '?')}: missing field {exc}", code="bad_register") \
                from None
        req.check_invariants()
        if req.id in seen:
            raise ValidationError(f"requirement {req.id} appears twice", code="bad_register")
        seen.add(req.id)
        out.append(req)
    return Register(str(data.get("version", "1")), tuple(out))


# ---------------------------------------------------------------------------------------------------------
# Evidence: what the tests proved
# ---------------------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class Status(StrEnum):
    PROVEN = "proven"
    FAILING = "failing"
    UNPROVEN = "unproven"


@dataclass(frozen=True, slots=True)
class TestResult:
    nodeid: str  # with parameters: tests/x.py::test_y[sqlite]
    requirements: tuple[str, ...]
    outcome: Outcome
    duration_s: float = 0.0
    message: str = ""

    @property
    def base_id(self) -> str:
        """The node id without its parameters: what the register lists."""
        return self.nodeid.split("[", 1)[0]


@dataclass(frozen=True, slots=True)
class RequirementEvidence:
    requirement: Requirement
    results: tuple[TestResult, ...]
    status: Status
    listed_not_marked: tuple[str, ...]  # register lists it but no marked test with that id ran
    marked_not_listed: tuple[str, ...]  # marked with this id but not in the register's list

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.outcome is Outcome.PASSED)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.outcome is Outcome.FAILED)

    @property
    def skipped(self) -> int:
        return sum(1 for r in self.results if r.outcome is Outcome.SKIPPED)


def status_of(results: Iterable[TestResult]) -> Status:
    outcomes = [r.outcome for r in results]
    if Outcome.FAILED in outcomes:
        return Status.FAILING
    if Outcome.PASSED in outcomes:
        return Status.PROVEN
    return Status.UNPROVEN


def evaluate(register: Register, results: Iterable[TestResult]) -> tuple[RequirementEvidence, ...]:
    """Each requirement with the marked tests that ran for it and its status."""
    by_req: dict[str, list[TestResult]] = {r.id: [] for r in register.requirements}
    unknown: set[str] = set()
    for res in results:
        for rid in res.requirements:
            if rid in by_req:
                by_req[rid].append(res)
            else:
                unknown.add(rid)
    if unknown:
        raise ValidationError(f"tests are marked with requirements the register does not have: "
                              f"{', '.join(sorted(unknown))}", code="unknown_requirement")
    out = []
    for req in register.requirements:
        got = tuple(sorted(by_req[req.id], key=lambda r: r.nodeid))
        ran = {r.base_id for r in got}
        listed = set(req.tests)
        out.append(RequirementEvidence(req, got, status_of(got), tuple(sorted(listed - ran)),
                                       tuple(sorted(ran - listed))))
    return tuple(out)


def evidence_ok(evidence: Sequence[RequirementEvidence]) -> bool:
    """The pack passes when every requirement is proven (a passing test, no failing one)."""
    return bool(evidence) and all(e.status is Status.PROVEN for e in evidence)


# ---------------------------------------------------------------------------------------------------------
# Incidents and regulator notification
# ---------------------------------------------------------------------------------------------------------


class IncidentKind(StrEnum):
    RECONCILIATION_BREAK = "reconciliation_break"
    RESERVE_SHORTFALL = "reserve_shortfall"
    REDEMPTION_DEADLINE_BREACH = "redemption_deadline_breach"  # an inability to pay on time
    CONTRACT_PAUSE = "contract_pause"
    KEY_COMPROMISE = "key_compromise"
    OUTAGE = "outage"


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class NotificationRule:
    kind: IncidentKind
    default_severity: Severity
    notify_within_s: int  # 0 = immediately
    why: str


# How soon the HKMA hears of each kind. A reserve shortfall and an inability to meet redemptions are notified
# immediately; the others as soon as practicable, which we fix at a bounded number of hours.
NOTIFICATION_RULES: Mapping[IncidentKind, NotificationRule] = {
    IncidentKind.RESERVE_SHORTFALL: NotificationRule(
        IncidentKind.RESERVE_SHORTFALL, Severity.HIGH, 0, "reserve below outstanding coins: notify immediately"),
    IncidentKind.REDEMPTION_DEADLINE_BREACH: NotificationRule(
        IncidentKind.REDEMPTION_DEADLINE_BREACH, Severity.HIGH, 0,
        "a redemption not paid by its deadline is an inability to pay: notify immediately"),
    IncidentKind.KEY_COMPROMISE: NotificationRule(
        IncidentKind.KEY_COMPROMISE, Severity.HIGH, 3_600, "a compromised role key: notify within 1 hour"),
    IncidentKind.RECONCILIATION_BREAK: NotificationRule(
        IncidentKind.RECONCILIATION_BREAK, Severity.HIGH, 24 * 3_600,
        "bank, ledger and chain disagree, minting halted: notify within 24 hours"),
    IncidentKind.CONTRACT_PAUSE: NotificationRule(
        IncidentKind.CONTRACT_PAUSE, Severity.MEDIUM, 24 * 3_600,
        "the token contract was paused: notify within 24 hours"),
    IncidentKind.OUTAGE: NotificationRule(
        IncidentKind.OUTAGE, Severity.MEDIUM, 24 * 3_600, "a service outage: notify within 24 hours"),
}
IMMEDIATE_KINDS: frozenset[IncidentKind] = frozenset(
    k for k, r in NOTIFICATION_RULES.items() if r.notify_within_s == 0)


def parse_kind(text: str) -> IncidentKind:
    try:
        return IncidentKind(text.strip().lower())
    except ValueError:
        kinds = ", ".join(k.value for k in IncidentKind)
        raise ValidationError(f"unknown incident kind {text!r} (one of: {kinds})", code="bad_incident_kind") \
            from None


def notification_deadline_ns(kind: IncidentKind, opened_at_ns: int, severity: Severity | None = None) -> int:
    """When the regulator must have been told. An incident raised to high severity above its kind's default
    (an outage that stops redemptions, say) waits at most 1 hour."""
    rule = NOTIFICATION_RULES[kind]
    within = rule.notify_within_s
    if severity is Severity.HIGH and rule.default_severity is not Severity.HIGH:
        within = min(within, 3_600)
    return opened_at_ns + within * NS_PER_S


class IncidentState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    at_ns: int
    actor: str
    action: str  # opened | notified | update | closed
    text: str


@dataclass(frozen=True, slots=True)
class RegIncident:
    """An incident as the regulator sees it: severity, timeline and the notification step with its deadline.
    `incident_id` is shared with the reserves incident row when the incident began there (composition)."""

    incident_id: str
    kind: IncidentKind
    severity: Severity
    coin: str
    summary: str
    opened_at_ns: int
    notify_by_ns: int
    state: IncidentState = IncidentState.OPEN
    notified_at_ns: int | None = None
    notification_ref: str = ""
    closed_at_ns: int | None = None
    timeline: tuple[TimelineEvent, ...] = field(default=())

    def check_invariants(self) -> None:
        if self.notify_by_ns < self.opened_at_ns:
            raise ValidationError("the notification deadline is before the incident opened")
        if self.notified_at_ns is not None and not self.notification_ref:
            raise ValidationError("a notification needs its reference")
        if self.state is IncidentState.CLOSED and self.notified_at_ns is None:
            raise ConflictError(f"incident {self.incident_id} cannot close before the regulator is notified",
                                code="incident_not_notified")
        if len(self.timeline) > incident_timeline_max:
            raise ValidationError("incident timeline too long")


def open_incident(incident_id: str, kind: IncidentKind, coin: str, summary: str, *, actor: str, now_ns: int,
                  severity: Severity | None = None) -> RegIncident:
    if not incident_id.strip() or len(incident_id) > 64:
        raise ValidationError("incident id of 1..64 characters required", code="bad_incident")
    if not summary.strip():
        raise ValidationError("an incident needs a summary", code="bad_incident")
    sev = severity or NOTIFICATION_RULES[kind].default_severity
    inc = RegIncident(incident_id, kind, sev, coin, summary.strip()[:512], now_ns,
                      notification_deadline_ns(kind, now_ns, sev),
                      timeline=(TimelineEvent(now_ns, actor, "opened", summary.strip()[:512]),))
    inc.check_invariants()
    return inc


def record_notification(inc: RegIncident, reference: str, *, actor: str, now_ns: int) -> RegIncident:
    if inc.notified_at_ns is not None:
        raise ConflictError(f"incident {inc.incident_id} was already notified ({inc.notification_ref})",
                            code="incident_already_notified")
    if not reference.strip():
        raise ValidationError("the notification reference (the regulator's or our letter number) is required",
                              code="bad_incident")
    late = now_ns > inc.notify_by_ns
    text = f"regulator notified, reference {reference.strip()}" + (" (after the deadline)" if late else "")
    out = replace(inc, notified_at_ns=now_ns, notification_ref=reference.strip()[:120],
                  timeline=(*inc.timeline, TimelineEvent(now_ns, actor, "notified", text)))
    out.check_invariants()
    return out


def add_update(inc: RegIncident, text: str, *, actor: str, now_ns: int) -> RegIncident:
    if inc.state is IncidentState.CLOSED:
        raise ConflictError(f"incident {inc.incident_id} is closed", code="incident_closed")
    if not text.strip():
        raise ValidationError("an update needs text", code="bad_incident")
    return replace(inc, timeline=(*inc.timeline, TimelineEvent(now_ns, actor, "update", text.strip()[:1_000])))


def close_incident(inc: RegIncident, resolution: str, *, actor: str, now_ns: int) -> RegIncident:
    if inc.state is IncidentState.CLOSED:
        raise ConflictError(f"incident {inc.incident_id} is already closed", code="incident_closed")
    if not resolution.strip():
        raise ValidationError("closing an incident needs the resolution", code="bad_incident")
    out = replace(inc, state=IncidentState.CLOSED, closed_at_ns=now_ns,
                  timeline=(*inc.timeline, TimelineEvent(now_ns, actor, "closed", resolution.strip()[:1_000])))
    out.check_invariants()
    return out


def notification_status(inc: RegIncident, now_ns: int) -> str:
    """notified | notified_late | due | overdue."""
    if inc.notified_at_ns is not None:
        return "notified_late" if inc.notified_at_ns > inc.notify_by_ns else "notified"
    return "overdue" if now_ns > inc.notify_by_ns else "due"


def incident_to_dict(inc: RegIncident, now_ns: int) -> dict[str, Any]:
    return {"incident_id": inc.incident_id, "kind": inc.kind.value, "severity": inc.severity.value,
            "coin": inc.coin, "summary": inc.summary, "state": inc.state.value,
            "opened_at": from_ns(inc.opened_at_ns).isoformat(), "notify_by": from_ns(inc.notify_by_ns).isoformat(),
            "notification": notification_status(inc, now_ns), "notification_ref": inc.notification_ref,
            "notified_at": from_ns(inc.notified_at_ns).isoformat() if inc.notified_at_ns is not None else None,
            "closed_at": from_ns(inc.closed_at_ns).isoformat() if inc.closed_at_ns is not None else None,
            "timeline": [{"at": from_ns(e.at_ns).isoformat(), "actor": e.actor, "action": e.action, "text": e.text}
                         for e in inc.timeline]}


def kind_for_reserves_incident(kind: str) -> IncidentKind | None:
    """Map a reserves incident's kind (reserves service) onto the regulatory kinds; None when unknown."""
    try:
        return IncidentKind(kind)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------------------
# Periodic returns: redemption statistics
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RedemptionFact:
    amount_minor: int
    fee_minor: int
    valid_at_ns: int | None  # coins received and burned (the clock starts)
    deadline_ns: int | None
    paid_at_ns: int | None


@dataclass(frozen=True, slots=True)
class RedemptionStats:
    count: int
    value_minor: int
    fees_minor: int
    paid_count: int
    time_to_pay_s_median: int | None
    time_to_pay_s_max: int | None
    breaches: int  # paid after the deadline, or unpaid past it at period end


def redemption_stats(facts: Iterable[RedemptionFact], period_end_ns: int) -> RedemptionStats:
    count = value = fees = 0
    times: list[int] = []
    breaches = 0
    for f in facts:
        count += 1
        value += f.amount_minor
        fees += f.fee_minor
        if f.paid_at_ns is not None and f.valid_at_ns is not None:
            times.append(max(0, (f.paid_at_ns - f.valid_at_ns) // NS_PER_S))
        if f.deadline_ns is not None:
            paid_late = f.paid_at_ns is not None and f.paid_at_ns > f.deadline_ns
            unpaid_past = f.paid_at_ns is None and period_end_ns > f.deadline_ns
            breaches += int(paid_late or unpaid_past)
    times.sort()
    median = times[(len(times) - 1) // 2] if times else None
    return RedemptionStats(count, value, fees, len(times), median, times[-1] if times else None, breaches)


def coverage_bps(reserve_value_minor: int, outstanding_minor: int) -> int | None:
    """Reserve / coins outstanding (both at par, minor units) in basis points, rounded down."""
    if reserve_value_minor < 0 or outstanding_minor < 0:
        raise ValidationError("reserve and outstanding must be >= 0")
    if outstanding_minor == 0:
        return None
    return reserve_value_minor * 10_000 // outstanding_minor


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One coin on one day: what is owed at par and what backs it."""

    coin: str
    fiat: str
    as_of: str  # ISO date, Hong Kong
    outstanding_minor: int  # coins in circulation at par, frozen included
    redemptions_in_flight_minor: int  # burned, not yet paid
    reserve_value_minor: int  # eligible assets after haircuts + reserve cash available
    composition_minor: dict[str, int]  # kind -> value; cash at bank included as "cash_at_bank"
    coverage_bps: int | None  # reserve / (outstanding + in flight)

    def check_invariants(self) -> None:
        if sum(self.composition_minor.values()) != self.reserve_value_minor:
            raise ValidationError(f"{self.coin} {self.as_of}: composition does not add up to the reserve value")


def statement_line(coin: str, fiat: str, as_of: str, *, outstanding_minor: int, redemptions_in_flight_minor: int,
                   composition_minor: Mapping[str, int]) -> StatementLine:
    """A daily statement line; the reserve value is the sum of its composition."""
    if outstanding_minor < 0 or redemptions_in_flight_minor < 0 or any(v < 0 for v in composition_minor.values()):
        raise ValidationError("statement figures must be >= 0")
    comp = {k: int(v) for k, v in sorted(composition_minor.items()) if v}
    reserve = sum(comp.values())
    return StatementLine(coin, fiat, as_of, outstanding_minor, redemptions_in_flight_minor, reserve, comp,
                         coverage_bps(reserve, outstanding_minor + redemptions_in_flight_minor))


def month_bounds(year: int, month: int) -> tuple[str, str]:
    """ISO first day of the month and first day of the next month."""
    if not 1 <= month <= 12 or not 2000 <= year <= 2200:
        raise ValidationError(f"bad period {year}-{month:02d}", code="bad_period")
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}-01", f"{ny:04d}-{nm:02d}-01"


def parse_period(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m:
        raise ValidationError(f"period must be YYYY-MM, got {text!r}", code="bad_period")
    year, month = int(m.group(1)), int(m.group(2))
    month_bounds(year, month)
    return year, month


# ---------------------------------------------------------------------------------------------------------
# Auditor export: manifest of hashes
# ---------------------------------------------------------------------------------------------------------

MANIFEST_FORMAT = "bauhinia-records-export/1"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_manifest(files: Mapping[str, bytes], *, created_at_ns: int, retention: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest naming each file with its size and SHA-256, plus one hash over the sorted file list."""
    for name in files:
        if name.startswith("/") or ".." in name.split("/") or name == "manifest.json":
            raise ValidationError(f"bad file name in export: {name!r}", code="bad_export")
    entries = [{"name": n, "bytes": len(files[n]), "sha256": sha256_hex(files[n])} for n in sorted(files)]
    listing = "\n".join(f"{e['sha256']}  {e['name']}" for e in entries).encode()
    return {"format": MANIFEST_FORMAT, "created_at_ns": created_at_ns, "files": entries,
            "listing_sha256": sha256_hex(listing), "retention": dict(retention)}


def verify_manifest(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> list[str]:
    """Every problem found (empty = the export is intact): format, missing, extra, altered files, listing."""
    problems: list[str] = []
    if manifest.get("format") != MANIFEST_FORMAT:
        return [f"unknown manifest format {manifest.get('format')!r}"]
    entries = manifest.get("files")
    if not isinstance(entries, list):
        return ["manifest has no file list"]
    named = set()
    for e in entries:
        name = str(e.get("name"))
        named.add(name)
        if name not in files:
            problems.append(f"missing file {name}")
            continue
        if sha256_hex(files[name]) != e.get("sha256") or len(files[name]) != e.get("bytes"):
            problems.append(f"altered file {name}")
    for extra in sorted(set(files) - named):
        problems.append(f"file not in manifest {extra}")
    listing = "\n".join(f"{e.get('sha256')}  {e.get('name')}" for e in sorted(entries, key=lambda e: str(e["name"])))
    if sha256_hex(listing.encode()) != manifest.get("listing_sha256"):
        problems.append("manifest listing hash differs (the manifest was edited)")
    return problems
