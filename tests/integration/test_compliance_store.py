"""Compliance over both stores: onboarding decisions, re-screening on list changes, reviewed false positives,
retention, monitoring -> alerts -> cases -> STR -> four-eyes freeze, all audited."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from bauhinia.adapters.reports.str_pdf import write_str
from bauhinia.adapters.screening.screener import ListScreener
from bauhinia.adapters.store import audit
from bauhinia.adapters.store.compliance_repo import ComplianceRepository
from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.domain import cases as cs
from bauhinia.domain import cdd
from bauhinia.domain import chain as ch
from bauhinia.domain import monitoring as mon
from bauhinia.domain.compliance import (
    PartySchema,
    ScreeningHit,
    Transfer,
    WalletAssessment,
    assess_wallet,
)
from bauhinia.domain.errors import ConflictError, ForbiddenError, RefusedError, ValidationError
from bauhinia.services import compliance as svc

T0 = 1_800_000_000 * 10**9
TODAY = date(2026, 3, 1)
PEPPER = "pepper"
LISTED_WALLET = "0x" + "66" * 20
CUSTOMER_WALLET = "0x" + "a1" * 20


@dataclass
class FakeScreener:
    """Deterministic name hits by exact name; wallets against a listed dict."""

    hits: dict[str, list[ScreeningHit]] = field(default_factory=dict)
    listed: dict[str, str] = field(default_factory=dict)
    list_version: str = "v1"

    def screen_name(self, name: str, schema: PartySchema | None = None, date_of_birth: str = "",
                    nationality: str = "", limit: int = 5) -> tuple[ScreeningHit, ...]:
        return tuple(self.hits.get(name, ()))[:limit]

    def screen_wallet(self, address: str, transfers: Sequence[Transfer] = ()) -> WalletAssessment:
        return assess_wallet(address, self.listed, transfers)


@dataclass
class FakeChain:
    calls: list[tuple[tuple[str, ...], str]] = field(default_factory=list)

    def freeze(self, addresses: Sequence[str], *, idempotency_key: str) -> ch.ChainTx:
        self.calls.append((tuple(addresses), idempotency_key))
        return ch.ChainTx(idempotency_key, ch.ChainOp.FREEZE, "0x" + "f" * 64, ch.ChainTxState.MINED, 7, True)


def person(cid: str, *names: str, **extra: object) -> cdd.Customer:
    data = {"customer_id": cid, "identity_verified": True, "relationship_started_on": "2026-01-01",
            "parties": [{"kind": "natural", "party_id": f"{cid}-p", "names": list(names), "nationality": "HK",
                         "documents": [{"type": "hkid", "number": "A1234567", "issuing_country": "HK"}]}]}
    data.update(extra)
    return cdd.customer_from_mapping(data, PEPPER)


@pytest.fixture()
def store(db_url: str) -> ComplianceRepository:
    engine = make_engine(db_url)
    migrate(engine)
    return ComplianceRepository(engine, pepper=PEPPER)


def hit(entity: str, name: str, score: float, fp: str = "f1") -> ScreeningHit:
    return ScreeningHit(entity, name, score, (f"name ~ {name}",), fp)


@pytest.mark.requirement("AML-SANCTIONS")
def test_onboarding_accepts_refuses_and_holds(store: ComplianceRepository) -> None:
    screener = FakeScreener({"Kim Jong Un": [hit("un-1", "KIM JONG UN", 0.97)],
                             "Wong Fong": [hit("ofac-2", "WONG, Fang", 0.78)]})
    ok = svc.onboard_customer(store, screener, person("C1", "陳大文", "CHAN Tai Man"), actor="ops", now_ns=T0,
                              today=TODAY)
    bad = svc.onboard_customer(store, screener, person("C2", "Kim Jong Un"), actor="ops", now_ns=T0, today=TODAY)
    held = svc.onboard_customer(store, screener, person("C3", "Wong Fong"), actor="ops", now_ns=T0, today=TODAY)
    assert ok.decision is cdd.OnboardingDecision.ACCEPTED
    assert bad.decision is cdd.OnboardingDecision.REFUSED and "un-1" in bad.reason
    assert held.decision is cdd.OnboardingDecision.HELD
    assert store.get_customer("C2").status is cdd.OnboardingDecision.REFUSED
    stored = store.get_customer("C1")
    assert stored.customer == person("C1", "陳大文", "CHAN Tai Man")
    assert stored.next_review_on == date(2029, 3, 1)
    assert "A1234567" not in json.dumps(cdd.customer_to_mapping(stored.customer))
    assert [r.decision.value for r in store.screenings("C2")] == ["hit"]
    with pytest.raises(ConflictError, match="already onboarded"):
        svc.onboard_customer(store, screener, person("C1", "x"), actor="ops", now_ns=T0, today=TODAY)
    assert audit.verify(store._engine).ok


def test_company_ubos_and_risk_stored(store: ComplianceRepository) -> None:
    data = {
        "customer_id": "C9", "subject": "co", "identity_verified": True,
        "parties": [
            {"kind": "legal", "party_id": "co", "names": ["前海贸易有限公司"], "incorporation_country": "CN",
             "industry": "trading_company"},
            {"kind": "legal", "party_id": "hold", "names": ["Hold Ltd"], "incorporation_country": "VG"},
            {"kind": "natural", "party_id": "wang", "names": ["王芳"], "nationality": "CN", "pep": True},
        ],
        "ownership": [{"owner": "hold", "owned": "co", "share_bps": 10000},
                      {"owner": "wang", "owned": "hold", "share_bps": 4000}],
        "directors": ["wang"],
    }
    res = svc.onboard_customer(store, FakeScreener(), cdd.customer_from_mapping(data, PEPPER), actor="ops",
                               now_ns=T0, today=TODAY)
    assert res.assessment.rating is cdd.RiskRating.HIGH
    owners = store.beneficial_owners("C9")
    assert owners == [{"party_id": "wang", "names": ["王芳"], "effective_share_bps": 4000, "basis": "ownership"}]
    assessment = store.latest_assessment("C9")
    assert {r["rule"] for r in assessment["reasons"]} >= {"pep", "industry", "opacity"}
    assert assessment["next_review_on"] == "2027-03-01"


def _ftm(path: Path, entities: list[tuple[str, str, list[str]]]) -> None:
    lines = [json.dumps({"id": eid, "schema": schema, "properties": {"name": names}}, ensure_ascii=False)
             for eid, schema, names in entities]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_rescreen_catches_customer_listed_after_onboarding(store: ComplianceRepository, tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    _ftm(lists / "pep.ftm.json", [("e1", "Person", ["Vladimir Putin"])])
    v1 = ListScreener(lists)
    res = svc.onboard_customer(store, v1, person("C1", "陳大文"), actor="ops", now_ns=T0, today=TODAY)
    assert res.decision is cdd.OnboardingDecision.ACCEPTED
    svc.onboard_customer(store, v1, person("C2", "Li Ming"), actor="ops", now_ns=T0, today=TODAY)
    first = svc.rescreen_all(store, v1, actor="rescreen", now_ns=T0 + 1)
    assert first.changes == () and not first.skipped
    assert svc.rescreen_all(store, v1, actor="rescreen", now_ns=T0 + 2).skipped  # lists unchanged

    _ftm(lists / "pep.ftm.json", [("e1", "Person", ["Vladimir Putin"]), ("e2", "Person", ["Chan Tai Man"])])
    v2 = ListScreener(lists)
    assert v2.list_version != v1.list_version
    seen: list[tuple[int, int]] = []
    second = svc.rescreen_all(store, v2, actor="rescreen", now_ns=T0 + 3,
                              progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]  # a progress bar is told after each customer
    assert [(c.customer_id, c.after) for c in second.changes] == [("C1", cdd.OnboardingDecision.REFUSED)]
    assert "ftm-e2" in second.changes[0].reason
    assert store.get_customer("C1").status is cdd.OnboardingDecision.REFUSED
    assert store.get_customer("C2").status is cdd.OnboardingDecision.ACCEPTED

    # A malformed list file is refused with its reason before anyone is re-screened.
    (lists / "broken.ftm.json").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"broken\.ftm\.json: line 1 is not JSON"):
        ListScreener(lists)
    assert store.get_state(svc.LIST_VERSION_KEY) == v2.list_version


def test_reviewed_false_positive_remembered_per_customer_and_entity(store: ComplianceRepository) -> None:
    screener = FakeScreener({"Wong Fong": [hit("ofac-2", "WONG, Fang", 0.78), hit("un-9", "WONG FONG", 0.72)]})
    for cid in ("C1", "C2"):
        svc.onboard_customer(store, screener, person(cid, "Wong Fong"), actor="ops", now_ns=T0, today=TODAY)
    svc.review_false_positive(store, screener, "C1", "ofac-2", reviewer="officer", reason="DOB differs",
                              now_ns=T0 + 1)
    assert store.get_customer("C1").status is cdd.OnboardingDecision.HELD  # un-9 still open for C1
    change = svc.review_false_positive(store, screener, "C1", "un-9", reviewer="officer", reason="other person",
                                       now_ns=T0 + 2)
    assert change is not None and change.after is cdd.OnboardingDecision.ACCEPTED
    assert store.get_customer("C2").status is cdd.OnboardingDecision.HELD  # per customer
    with pytest.raises(ConflictError):
        svc.review_false_positive(store, screener, "C1", "un-9", reviewer="officer", reason="again", now_ns=T0 + 3)
    screener.list_version = "v2"
    svc.rescreen_all(store, screener, actor="rescreen", now_ns=T0 + 4)
    assert store.get_customer("C1").status is cdd.OnboardingDecision.ACCEPTED  # remembered
    # The listed record changes (new alias, new fingerprint): the hit comes back.
    screener.hits["Wong Fong"] = [hit("ofac-2", "WONG, Fang", 0.78, fp="f2")]
    screener.list_version = "v3"
    result = svc.rescreen_all(store, screener, actor="rescreen", now_ns=T0 + 5)
    assert ("C1", cdd.OnboardingDecision.HELD) in [(c.customer_id, c.after) for c in result.changes]


@pytest.mark.requirement("REC-RETENTION-5Y")
def test_no_deletion_before_retention_ends(store: ComplianceRepository) -> None:
    svc.onboard_customer(store, FakeScreener(), person("C1", "Ho Ka Yan"), actor="ops", now_ns=T0, today=TODAY)
    with pytest.raises(RefusedError, match="has not ended"):
        svc.delete_customer(store, "C1", actor="ops", today=TODAY, now_ns=T0)
    until = store.end_relationship("C1", date(2026, 6, 30), "ops", T0 + 1)
    assert until == date(2031, 6, 30) and store.get_customer("C1").retention_until == until
    for day in (date(2026, 7, 1), date(2031, 6, 29)):
        with pytest.raises(RefusedError, match="kept until 2031-06-30"):
            svc.delete_customer(store, "C1", actor="ops", today=day, now_ns=T0 + 2)
        with pytest.raises(RefusedError):  # the repository refuses on its own too
            store.delete_customer("C1", day, "ops", T0 + 2)
    assert store.get_customer("C1").customer.customer_id == "C1"
    svc.delete_customer(store, "C1", actor="ops", today=date(2031, 6, 30), now_ns=T0 + 3)
    assert store.list_customers() == [] and store.screenings("C1") == []
    actions = [e["action"] for e in audit.list_entries(store._engine, subject="customer:C1")]
    assert actions[-1] == "compliance.customer_deleted"


@pytest.mark.requirement("AML-CDD-THRESHOLD")
def test_occasional_transaction_and_counterparty(store: ComplianceRepository) -> None:
    screener = FakeScreener({"Kim Jong Un": [hit("un-1", "KIM JONG UN", 0.97)]}, {LISTED_WALLET: "OFAC SDN"})
    svc.onboard_customer(store, screener, person("C1", "Lee Siu Ming", identity_verified=False), actor="ops",
                         now_ns=T0, today=TODAY)
    svc.check_occasional_transaction(store, "C1", 799_999)
    with pytest.raises(RefusedError, match="identity must be verified"):
        svc.check_occasional_transaction(store, "C1", 800_000)
    r = svc.screen_counterparty(store, screener, payment_id="P1", name="Kim Jong Un", now_ns=T0)
    assert r.blocked
    r2 = svc.screen_counterparty(store, screener, payment_id="P2", name="Ann Lee", wallet_address=LISTED_WALLET,
                                 now_ns=T0)
    assert r2.blocked and r2.wallet is not None
    r3 = svc.screen_counterparty(store, screener, payment_id="P3", name="Ann Lee", now_ns=T0)
    assert not r3.blocked and not r3.needs_review
    assert [s.decision.value for s in store.screenings("payment:P1")] == ["hit"]


@pytest.mark.requirement("AML-SANCTIONS")
def test_monitoring_to_case_to_str_and_freeze(store: ComplianceRepository, tmp_path: Path) -> None:
    screener = FakeScreener(listed={LISTED_WALLET: "OFAC SDN ofac-1"})
    events = [mon.MonitoredEvent(f"d{i}", mon.EventKind.FIAT_IN, T0 + i * mon.NS_PER_HOUR, 790_000,
                                 customer_id="C1") for i in range(3)]
    events.append(mon.MonitoredEvent("t1", mon.EventKind.TRANSFER, T0, 100_000, from_address=LISTED_WALLET,
                                     to_address=CUSTOMER_WALLET))
    run = svc.run_monitoring(store, screener, events, now_ns=T0 + 10)
    assert {a.rule for a in run.alerts} == {mon.RuleName.STRUCTURING, mon.RuleName.LISTED_EXPOSURE}
    assert len(run.cases_opened) == 3  # C1, the customer wallet (one hop), the listed wallet (direct)
    again = svc.run_monitoring(store, screener, events, now_ns=T0 + 11)
    assert again.alerts == () and again.events_new == 0 and again.cases_opened == ()

    case_id = next(c.case_id for c in store.list_cases() if c.subject == "C1")
    svc.assign_case(store, case_id, "olivia", actor="lead", now_ns=T0 + 20)
    svc.note_case(store, case_id, "three HK$7,900 deposits in two hours", actor="olivia", now_ns=T0 + 21)
    svc.escalate_case(store, case_id, "mlro", "structuring pattern", actor="olivia", now_ns=T0 + 22)
    req = svc.request_freeze(store, case_id, [CUSTOMER_WALLET], "funds at risk", actor="olivia", now_ns=T0 + 23)
    chain = FakeChain()
    with pytest.raises(ForbiddenError, match="second person"):
        svc.approve_freeze(store, chain, req.request_id, approver="olivia", now_ns=T0 + 24)
    assert chain.calls == [] and store.get_freeze(req.request_id).state is cs.FreezeState.PENDING
    done = svc.approve_freeze(store, chain, req.request_id, approver="mlro", note="agreed", now_ns=T0 + 25)
    assert done.state is cs.FreezeState.EXECUTED
    assert chain.calls == [((CUSTOMER_WALLET,), f"freeze-{req.request_id}")]
    assert svc.execute_freeze(store, chain, req.request_id, actor="mlro", now_ns=T0 + 26).state is \
        cs.FreezeState.EXECUTED
    assert len(chain.calls) == 1

    written: list[Path] = []

    def write(report: dict[str, object]) -> str:
        j, p, sha = write_str(report, tmp_path / "str")  # type: ignore[arg-type]
        written.extend([j, p])
        return sha

    report, _sha = svc.export_str(store, case_id, reporter="mlro", institution={"name": "Bauhinia Issuer Ltd"},
                                  now_ns=T0 + 27, write=write)
    assert report["total_hkd_minor"] == 2_370_000 and len(report["transactions"]) == 3
    assert report["actions_taken"][0]["state"] == "executed"
    assert written[0].read_bytes().startswith(b"{") and written[1].read_bytes().startswith(b"%PDF")
    closed = svc.close_case(store, case_id, cs.CloseReason.STR_FILED, "filed via STREAMS", actor="mlro",
                            now_ns=T0 + 28)
    assert closed.state is cs.CaseState.CLOSED
    history = [e.action.value for e in store.case_events(case_id)]
    assert history == ["opened", "assigned", "noted", "escalated", "freeze_requested", "freeze_approved",
                       "freeze_executed", "str_exported", "closed"]
    audited = [e["action"] for e in audit.list_entries(store._engine, subject=f"case:{case_id}")]
    assert audited == [f"case.{a}" for a in history]
    assert audit.verify(store._engine).ok
    with pytest.raises(ConflictError, match="closed"):
        svc.note_case(store, case_id, "late", actor="olivia", now_ns=T0 + 29)
