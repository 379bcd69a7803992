"""One policy, every entrance (issue 20 item 1): no one person can move money, admit a risk or change a rule alone.

Walks every CLI command and every API route that changes state: each has a decision in the tables here (a new one
without a decision fails), a state-changing CLI command acts only as an authenticated operator (outside a demo,
one line and exit 2 without one), and each high-risk operation, from either entrance, opens an approval whose
maker is the person who asked and which only a different person with an approver role can complete. The "why"
cases the user found run on both stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from api_support import ROLES, Api, fake_chain, make_api  # tests/e2e/api_support.py
from eth_account import Account as EthAccount
from eth_account.messages import encode_defunct

from bauhinia.adapters.store import api_credentials as creds
from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.config import Settings
from bauhinia.domain import issuance as iss
from bauhinia.domain import monitoring as mon
from bauhinia.domain.errors import BauhiniaError, ConfigError, ForbiddenError, RefusedError
from bauhinia.domain.money import Currency
from bauhinia.entrypoints.cli import _identity
from bauhinia.entrypoints.cli.main import build_command
from bauhinia.entrypoints.cli.main import main as cli_main
from bauhinia.services import compliance as cmp_svc
from bauhinia.services import controls
from bauhinia.services import issuance as svc

WALLET = "0x" + "a1" * 20

# --------------------------------------------------------------------------------------------------- the tables

# Every state-changing API route and what happens when an allowed role calls it: "direct" (it runs, within the
# role's rights), "approval:<kind>" (it only opens a maker-checker request), "approval-above:<kind>" (it opens one
# above the policy's threshold or when the policy says so), "decide" (a checker's decision on someone else's
# request), "public" (no identity: token, enrolment).
API_DECISIONS: dict[tuple[str, str], str] = {
    ("POST", "/v1/oauth/token"): "public",
    ("POST", "/v1/clients"): "direct",  # no staff role: roles come only by role grants
    ("POST", "/v1/clients/{client_id}/enrolment"): "public",
    ("POST", "/v1/clients/{client_id}/api-keys"): "direct",  # only for oneself or a customer client
    ("POST", "/v1/role-grants"): "approval:role_grant",
    ("POST", "/v1/approvals/{approval_id}/approve"): "decide",
    ("POST", "/v1/approvals/{approval_id}/reject"): "decide",
    ("POST", "/v1/approvals/{approval_id}/execute"): "decide",
    ("POST", "/v1/approvals/{approval_id}/resubmit"): "decide",  # the same approval again, the asker its maker
    ("POST", "/v1/approval-policies/{kind}"): "approval:policy_change",
    ("POST", "/v1/chain/{coin}/minters"): "approval:minter_admin",
    ("POST", "/v1/chain/{coin}/rescues"): "approval:rescue",
    ("POST", "/v1/chain/{coin}/controls"): "approval:pause|unfreeze|wipe",
    ("POST", "/v1/events/webhook-dead-letters/{dead_letter_id}/replay"): "direct",
    ("POST", "/v1/ledger/accounts"): "direct",
    ("POST", "/v1/ledger/transfers"): "approval-above:ledger_adjustment",
    ("POST", "/v1/reserves/breakers/{coin}/trip"): "direct",  # stopping minting is never a risk to admit
    ("POST", "/v1/reserves/breakers/{coin}/reset"): "approval:breaker_reset",
    ("POST", "/v1/reserves/proofs/verify"): "direct",
    ("POST", "/v1/reserves/reconciliations/{coin}"): "direct",
    ("POST", "/v1/screening/names"): "direct",
    ("POST", "/v1/screening/wallets"): "direct",
    ("POST", "/v1/customers"): "direct",
    ("POST", "/v1/customers/{customer_id}/status"): "direct",
    ("POST", "/v1/customers/{customer_id}/bank-accounts"): "direct",
    ("POST", "/v1/subscriptions/{seq}/release-hold"): "approval:payer_hold_release",
    ("POST", "/v1/suspense/{seq}/assignment"): "approval:suspense_assignment",
    ("POST", "/v1/refunds"): "approval:refund",
    ("POST", "/v1/redemptions/{seq}/payout-retry"): "approval:payout_retry",
    ("POST", "/v1/customers/{customer_id}/wallet-challenges"): "direct",
    ("POST", "/v1/customers/{customer_id}/wallets"): "direct",
    ("POST", "/v1/bank-files"): "approval:bank_file_release",
    ("POST", "/v1/mint-runs"): "approval-above:mint",
    ("POST", "/v1/redemptions"): "direct",
    ("POST", "/v1/redemption-runs"): "direct",
    ("POST", "/v1/issuance/recover"): "direct",
    ("POST", "/v1/compliance/customers"): "direct",
    ("POST", "/v1/compliance/customers/{customer_id}/false-positives"): "direct",
    ("POST", "/v1/compliance/rescreens"): "direct",  # a new hit only opens freeze requests (approval:freeze)
    ("POST", "/v1/compliance/monitoring-runs"): "direct",
    ("POST", "/v1/compliance/cases/{case_id}/assign"): "direct",
    ("POST", "/v1/compliance/cases/{case_id}/notes"): "direct",
    ("POST", "/v1/compliance/cases/{case_id}/escalate"): "direct",
    ("POST", "/v1/compliance/cases/{case_id}/close"): "direct",
    ("POST", "/v1/compliance/cases/{case_id}/strs"): "direct",
    ("POST", "/v1/compliance/cases/{case_id}/freezes"): "approval:freeze",
    ("POST", "/v1/compliance/freezes/{request_id}/approve"): "decide",
    ("POST", "/v1/trade/parties"): "direct",
    ("POST", "/v1/trade/invoices"): "direct",
    ("POST", "/v1/trade/invoices/{invoice_id}/accept"): "direct",
    ("POST", "/v1/trade/invoices/{invoice_id}/fund"): "direct",
    ("POST", "/v1/trade/invoices/{invoice_id}/release"): "direct",
    ("POST", "/v1/trade/invoices/{invoice_id}/refund"): "direct",
    ("POST", "/v1/trade/invoices/{invoice_id}/dispute"): "direct",
    ("POST", "/v1/trade/quotes"): "direct",
    ("POST", "/v1/trade/swaps"): "direct",
    ("POST", "/v1/regulatory/incidents"): "direct",
    ("POST", "/v1/regulatory/incidents/{incident_id}/notify"): "direct",
    ("POST", "/v1/regulatory/incidents/{incident_id}/close"): "direct",
}

# The high-risk CLI commands and the approval each opens (the others are in _identity.CLASSES: read or write).
CLI_HIGH_RISK: dict[str, str] = {
    "reserves breaker": "breaker_reset",  # `reset`
    "api create-client": "role_grant",  # with a staff role, once the install has its first admins
    "compliance freeze request": "freeze",
    "issuance mint": "mint",  # above the threshold
    "ledger transfer": "ledger_adjustment",  # as the adjustment policy says
    "ledger import": "ledger_adjustment",
    "ledger post": "ledger_adjustment",
    "ledger void": "ledger_adjustment",
    "chain pause": "pause",
    "chain unpause": "pause",
    "chain unfreeze": "unfreeze",
    "chain wipe": "wipe",
    "issuance release-hold": "payer_hold_release",
    "approvals policy-set": "policy_change",
    "chain minter-allowance": "minter_admin",
    "chain minter-remove": "minter_admin",
    "chain rescue": "rescue",
    "issuance suspense assign": "suspense_assignment",
    "issuance refund request": "refund",
    "issuance payout-retry": "payout_retry",
}
CLI_DECIDE = {"approvals approve", "approvals reject", "approvals execute", "approvals resubmit",
              "compliance freeze approve",
              "compliance freeze reject"}


def _cli_commands() -> dict[str, Any]:
    return dict(_identity.leaves(build_command()))


def _api_writes(api: Api) -> set[tuple[str, str]]:
    """Every state-changing operation the app serves (from its OpenAPI document: every route is in it)."""
    spec = api.client.get("/openapi.json").json()
    return {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m in ("post", "put", "patch", "delete")}


# ------------------------------------------------------------------------------------------ the matrix itself

def test_every_cli_command_has_a_decision() -> None:
    commands = _cli_commands()
    assert set(commands) - _identity.CLASSES.keys() == set(), "CLI commands missing from _identity.CLASSES"
    for path in (*CLI_HIGH_RISK, *CLI_DECIDE):
        assert _identity.CLASSES[path] in (_identity.WRITE, _identity.SELF), path
    # No command takes a free-text actor any more.
    assert [p for p, c in commands.items() if any(x.name == "actor" for x in c.params)] == []


def test_every_state_changing_cli_command_needs_an_operator_outside_a_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a demo and without BAUHINIA_OPERATOR_ID, every WRITE command stops before it runs."""
    real = Settings(demo=False, operator_id="", operator_secret="")
    monkeypatch.setattr(_identity, "_settings", lambda: real)
    refused = []
    for path, command in _cli_commands().items():
        if _identity.CLASSES[path] != _identity.WRITE:
            continue
        with pytest.raises(ConfigError) as exc:
            command.callback(**{p.name: None for p in command.params})
        assert exc.value.code == "operator_required" and "\n" not in str(exc.value)
        refused.append(path)
    assert len(refused) > 60


def test_every_state_changing_cli_command_for_every_role(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each WRITE command, run by an operator of each role: allowed (its roles in _identity.ROLES_FOR, the same
    as the API's for the same work) or stopped with `role_not_allowed` before it runs. Auditors and customers
    change nothing from the CLI."""
    checked = 0
    recorded: list[tuple[str, str, str]] = []
    monkeypatch.setattr(_identity, "record_command",
                        lambda path, actor, kwargs, outcome: recorded.append((path, actor.subject, outcome)))
    for path, command in _cli_commands().items():
        if _identity.CLASSES[path] != _identity.WRITE:
            continue
        allowed = _identity.roles_for(path)
        assert allowed and not allowed & {"auditor", "customer"}, path
        for role in ROLES:
            actor = controls.Actor(f"{role}-1", frozenset({role}))
            if role in allowed:
                _identity.check(path, actor)
                continue
            monkeypatch.setattr(_identity, "authenticate", lambda *a, who=actor, **k: who)
            with pytest.raises(ForbiddenError) as exc:
                command.callback(**{p.name: None for p in command.params})
            assert exc.value.code == "role_not_allowed", path
            assert recorded[-1] == (path, actor.subject, "refused: role_not_allowed")  # in the audit log too
            checked += 1
    assert checked > 200 and len(recorded) == checked


def test_operator_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/ids.sqlite3"
    engine = make_engine(url)
    migrate(engine)
    secret = creds.create_client(engine, "ops", {"treasury"})
    cust = creds.create_client(engine, "cust", {"customer"}, "c1")

    def who(demo: bool, client_id: str = "", client_secret: str = "") -> controls.Actor:
        return _identity.authenticate(Settings(demo=demo, database_url=url, operator_id=client_id,
                                               operator_secret=client_secret), engine)

    assert who(False, "ops", secret) == controls.Actor("ops", frozenset({"treasury"}))
    assert who(True).demo and who(True).subject == "demo:operator"
    with pytest.raises(ConfigError, match="BAUHINIA_OPERATOR_ID"):
        who(False)
    with pytest.raises(ForbiddenError, match="wrong secret"):
        who(False, "ops", "nope")
    with pytest.raises(ForbiddenError, match="wrong secret"):
        who(True, "ops", "nope")  # a demo with a wrong secret is refused too, not the demo operator
    with pytest.raises(ForbiddenError, match="no staff role"):
        who(False, "cust", cust)
    with pytest.raises(ConfigError):
        who(False, "ops")


def test_every_state_changing_api_route_has_a_decision(tmp_path: Path) -> None:
    from test_api_roles import ROLE_TABLE  # the role of every route (tests/e2e/test_api_roles.py)

    api = make_api(tmp_path)
    writes = _api_writes(api)
    assert writes - API_DECISIONS.keys() == set(), "state-changing routes without a decision"
    assert API_DECISIONS.keys() - writes == set(), "API_DECISIONS names routes the app does not have"
    for route, decision in API_DECISIONS.items():
        assert (ROLE_TABLE[route] == "public") == (decision == "public"), route
        if decision.startswith("approval") or decision == "decide":
            assert "customer" not in ROLE_TABLE[route], route  # a customer never asks for or decides these


# ------------------------------------------------------------------------------------- API: every role, no one alone

APPROVAL_ROUTES = {  # high-risk route -> (body, the roles that may ask)
    ("POST", "/v1/reserves/breakers/{coin}/reset"): ({"reason": "coverage restored after top-up"},
                                                    {"treasury", "admin"}),
    ("POST", "/v1/role-grants"): ({"client_id": "customer2", "role": "operator"}, {"admin"}),
    ("POST", "/v1/chain/{coin}/controls"): ({"action": "pause", "reason": "incident drill"},
                                            {"operator", "compliance", "admin"}),
}


@pytest.fixture()
def api(tmp_path: Path, db_url: str) -> Api:
    api = make_api(tmp_path, database_url=db_url)
    api.container.__dict__["chains"] = fake_chain()
    return api


def test_api_high_risk_routes_for_every_role(api: Api) -> None:
    """Each role (and no identity) asks for each high-risk operation: denied, or an approval whose maker is the
    caller; the maker can never approve it, and nothing has changed until someone else does."""
    c = api.client
    for (method, path), (body, askers) in APPROVAL_ROUTES.items():
        url = path.replace("{coin}", "BHKD")
        assert c.request(method, url, json=body).status_code == 401
        for role in ROLES:
            if path.endswith("/reset"):
                c.post("/v1/reserves/breakers/BHKD/trip", json={"reason": "drill"}, headers=api.headers("operator"))
            r = c.request(method, url, json=body, headers=api.headers(role))
            if role not in askers:
                assert r.status_code == 403 and r.json()["code"] == "role_not_allowed", (path, role, r.text)
                continue
            assert r.status_code == 202, (path, role, r.text)
            request = r.json()
            assert request["maker"] == f"client:{role}" and request["status"] == "requested"
            own = c.post(f"/v1/approvals/{request['id']}/approve", json={}, headers=api.headers(role))
            assert own.status_code == 403 and own.json()["code"] == "maker_cannot_approve"
            assert c.get(f"/v1/approvals/{request['id']}", headers=api.headers("auditor")).json()["status"] == \
                "requested"
    assert api.container.reserves.breaker_state(Currency.BHKD).halted
    assert creds.get_client(api.container.engine, "customer2").roles == {"customer"}


def _ready_large_subscription(api: Api, amount_minor: int) -> None:
    c = api.client
    ctx = api.container.issuance
    svc.configure_coin(ctx, iss.CoinConfig(Currency.CNH, "HKMA-T-1", "PBOC-TEST-1", 0, 10))
    svc.fund_issuer_capital(ctx, Currency.CNH, 1_000_000_00, "cap")
    ref = c.post("/v1/customers", json={"customer_id": "c1", "name": "Kowloon Importers Ltd"},
                 headers=api.headers("operator")).json()["deposit_reference"]
    c.post("/v1/customers/c1/status", json={"status": "cleared", "reason": "CDD complete"},
           headers=api.headers("compliance"))
    c.post("/v1/customers/c1/bank-accounts", headers=api.headers("operator"),
           json={"account": "024-888-300400-101", "holder_name": "Kowloon Importers Ltd", "currency": "CNH"})
    key = EthAccount.create()
    ch = c.post("/v1/customers/c1/wallet-challenges", json={"address": key.address}, headers=api.headers("customer"))
    sig = EthAccount.sign_message(encode_defunct(text=ch.json()["message"]), key.key).signature.hex()
    assert c.post("/v1/customers/c1/wallets", headers=api.headers("customer"),
                  json={"address": key.address, "nonce": ch.json()["nonce"], "signature": sig}).status_code == 201
    from bauhinia.adapters.bank.simulator import SimEntry, camt054

    xml = camt054("CTL-NTF-1", datetime.now(UTC), api.container.settings.reserve_account_cnh, "CNH",
                  [SimEntry(amount_minor, True, "IN-1", f"SUB {ref}", "Kowloon Importers Ltd")])
    up = c.post("/v1/bank-files", content=xml, headers={**api.headers("operator"), "Content-Type": "application/xml"})
    assert up.status_code == 202, up.text
    released = c.post(f"/v1/approvals/{up.json()['approval']['id']}/approve", json={},
                      headers=api.headers("treasury2"))
    assert released.status_code == 200, released.text


@pytest.mark.slow
def test_api_large_mint_maker_is_who_started_the_run(tmp_path: Path, db_url: str) -> None:
    """A CNH 1,500,000 mint started by one treasury user waits for a different approver: its maker is that user
    (not "system"), so the user cannot approve it and then run it alone."""
    api = make_api(tmp_path, database_url=db_url, cnh_mainland_approval_reference="PBOC-TEST-1")
    _ready_large_subscription(api, 1_500_000_00)
    c = api.client
    run = c.post("/v1/mint-runs", json={"currency": "CNH"}, headers=api.headers("treasury"))
    assert run.status_code == 200 and run.json()["minted"] == 0, run.text
    mint = next(a for a in c.get("/v1/approvals", headers=api.headers("auditor")).json()["items"]
                if a["kind"] == "mint")
    assert mint["maker"] == "client:treasury" and mint["params"]["amount_minor"] == 1_500_000_00
    own = c.post(f"/v1/approvals/{mint['id']}/approve", json={}, headers=api.headers("treasury"))
    assert own.status_code == 403 and own.json()["code"] == "maker_cannot_approve"
    assert c.post("/v1/mint-runs", json={"currency": "CNH"}, headers=api.headers("treasury")).json()["minted"] == 0
    ok = c.post(f"/v1/approvals/{mint['id']}/approve", json={}, headers=api.headers("treasury2"))
    assert ok.status_code == 200 and ok.json()["status"] == "executed", ok.text
    assert c.post("/v1/mint-runs", json={"currency": "CNH"}, headers=api.headers("treasury")).json()["minted"] == 1


# ---------------------------------------------------------------------------------------------- CLI: the why cases

@dataclass
class Cli:
    engine: Any
    secrets: dict[str, str]
    run: Callable[..., tuple[int, str, str]]


@pytest.fixture()
def cli(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    monkeypatch.setenv("BAUHINIA_DATABASE_URL", db_url)
    monkeypatch.setenv("BAUHINIA_DATA_DIR", str(tmp_path / "var"))
    for name in ("BAUHINIA_OPERATOR_ID", "BAUHINIA_OPERATOR_SECRET"):
        monkeypatch.delenv(name, raising=False)
    engine = make_engine(db_url)
    migrate(engine)
    people = {"admin1": "admin", "admin2": "admin", "treasury1": "treasury", "treasury2": "treasury",
              "comp1": "compliance", "comp2": "compliance", "op1": "operator", "aud1": "auditor"}
    secrets = {name: creds.create_client(engine, name, {role}) for name, role in people.items()}

    def run(*args: str, who: str | None = None) -> tuple[int, str, str]:
        if who is None:
            monkeypatch.delenv("BAUHINIA_OPERATOR_ID", raising=False)
            monkeypatch.delenv("BAUHINIA_OPERATOR_SECRET", raising=False)
        else:
            monkeypatch.setenv("BAUHINIA_OPERATOR_ID", who)
            monkeypatch.setenv("BAUHINIA_OPERATOR_SECRET", secrets[who])
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["bauhinia", *args])
        rc = 0
        try:
            cli_main()
        except SystemExit as exc:
            rc = int(exc.code or 0)
        out = capsys.readouterr()
        return rc, out.out, out.err

    return Cli(engine, secrets, run)


def _approval_id(text: str) -> str:
    found = re.search(r"apr_[0-9]+_[0-9a-f]+", text)
    assert found, text
    return found.group(0)


def test_cli_breaker_reset_needs_a_second_person(cli: Cli) -> None:
    """Before: `reserves breaker reset` re-opened minting for one person with a free-text --actor."""
    assert cli.run("reserves", "breaker", "trip", "--coin", "BCNH", "--reason", "coverage below 100%",
                   who="op1")[0] == 0
    rc, out, err = cli.run("reserves", "breaker", "reset", "--coin", "BCNH", "--reason", "coverage restored",
                           who="op1")
    assert rc == 2 and "role_not_allowed" in err  # an operator may not even ask
    rc, out, err = cli.run("reserves", "breaker", "reset", "--coin", "BCNH", "--reason", "coverage restored",
                           who="treasury1")
    assert rc == 0, err
    rid = _approval_id(out)
    assert "HALTED" in cli.run("reserves", "breaker", "status", "--coin", "BCNH")[1]
    rc, _, err = cli.run("approvals", "approve", rid, who="treasury1")
    assert rc == 2 and err.startswith("error: ") and "maker_cannot_approve" in err and err.count("\n") == 1
    rc, _, err = cli.run("approvals", "approve", rid, who="comp1")
    assert rc == 2 and "approver_role_missing" in err
    assert "HALTED" in cli.run("reserves", "breaker", "status", "--coin", "BCNH")[1]
    shown = json.loads(cli.run("approvals", "show", rid)[1])
    assert shown["maker"] == "client:treasury1" and shown["status"] == "requested"
    rc, out, err = cli.run("approvals", "approve", rid, who="treasury2")
    assert rc == 0 and "executed" in out, err
    assert "open" in cli.run("reserves", "breaker", "status", "--coin", "BCNH")[1]
    assert cli.run("reserves", "breaker", "trip", "--coin", "BCNH", "--actor", "anyone", "--reason", "x")[0] == 2


def test_cli_demo_operator_never_approves_its_own_request(cli: Cli) -> None:
    cli.run("reserves", "breaker", "trip", "--coin", "BHKD", "--reason", "coverage below 100%")
    rc, out, err = cli.run("reserves", "breaker", "reset", "--coin", "BHKD", "--reason", "coverage restored")
    assert rc == 0, err
    rid = _approval_id(out)
    rc, _, err = cli.run("approvals", "approve", rid)
    assert rc == 2 and "maker_cannot_approve" in err
    rc, out, _ = cli.run("approvals", "list")
    assert f"{rid} breaker_reset requested maker=demo:operator" in out
    rc, _, err = cli.run("approvals", "approve", rid, who="admin1")
    assert rc == 0, err
    rc, _, err = cli.run("approvals", "approve", rid, who="aud1")  # an auditor decides nothing
    assert rc == 2 and "role_not_allowed" in err


def test_cli_create_client_with_a_role_needs_a_second_admin(cli: Cli) -> None:
    """Before: `api create-client --role admin` made an admin for anyone who could run the CLI."""
    rc, out, err = cli.run("api", "create-client", "boss", "--role", "admin", who="op1")
    assert rc == 2 and "role_not_allowed" in err
    rc, out, err = cli.run("api", "create-client", "boss", "--role", "admin", who="admin1")
    assert rc == 0, err
    made = json.loads(out)
    assert made["roles"] == [] and creds.get_client(cli.engine, "boss").roles == frozenset()
    rid = made["role_grants_pending"]["admin"]
    assert "maker_cannot_approve" in cli.run("approvals", "approve", rid, who="admin1")[2]
    assert "role_not_allowed" in cli.run("approvals", "approve", rid, who="aud1")[2]
    assert "approver_role_missing" in cli.run("approvals", "approve", rid, who="treasury1")[2]
    assert creds.get_client(cli.engine, "boss").roles == frozenset()
    rc, _, err = cli.run("approvals", "approve", rid, who="admin2")
    assert rc == 0, err
    assert creds.get_client(cli.engine, "boss").roles == frozenset({"admin"})
    # an API key for another staff client is created by that client only
    assert "key_for_other_staff" in cli.run("api", "create-key", "treasury1", "--scope", "*", who="admin1")[2]


def test_cli_only_the_first_two_admins_need_no_approval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BAUHINIA_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BAUHINIA_DATABASE_URL", "")

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["bauhinia", *args])
        try:
            cli_main()
        except SystemExit as exc:
            return int(exc.code or 0), capsys.readouterr().out
        return 0, capsys.readouterr().out

    assert json.loads(run("api", "create-client", "first", "--role", "admin")[1])["roles"] == ["admin"]
    assert json.loads(run("api", "create-client", "second", "--role", "admin")[1])["roles"] == ["admin"]
    third = json.loads(run("api", "create-client", "third", "--role", "admin")[1])  # the demo operator asks
    assert third["roles"] == [] and "admin" in third["role_grants_pending"]
    assert json.loads(run("api", "create-client", "ops", "--role", "treasury")[1])["roles"] == []


class _FailingChain:
    def freeze(self, addresses: Any, *, idempotency_key: str) -> Any:
        raise RefusedError("the node is unreachable", code="chain_unreachable")


def _case(container: Any) -> str:
    t0 = container.clock.now_ns() - 10 * 3_600 * 10**9
    events = [mon.MonitoredEvent(event_id=f"d{i}", kind=mon.EventKind.FIAT_IN, at_ns=t0 + i * 3_600 * 10**9,
                                 amount_hkd_minor=790_000, customer_id="C1") for i in range(3)]
    run = cmp_svc.run_monitoring(container.compliance, container.compliance_gate.screener, events,
                                 now_ns=container.clock.now_ns())
    assert run.cases_opened, run
    return str(run.cases_opened[0])


@pytest.mark.slow
def test_cli_freeze_approved_reaches_the_chain(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `compliance freeze approve` recorded the approval and never called the chain (isFrozen false)."""
    from bauhinia import bootstrap

    container = bootstrap.Container()
    monkeypatch.setattr(bootstrap, "Container", lambda *a, **k: container)  # one process: one embedded EVM
    case_id = _case(container)
    rc, out, err = cli.run("compliance", "freeze", "request", case_id, WALLET, "--reason", "protect funds",
                           who="comp1")
    assert rc == 0, err
    request_id = out.split(":")[0].strip()
    assert "client:comp1" in out
    rc, _, err = cli.run("compliance", "freeze", "approve", request_id, who="comp1")
    assert rc == 2 and "maker_cannot_approve" in err
    rc, _, err = cli.run("compliance", "freeze", "approve", request_id, who="treasury1")
    assert rc == 2 and "role_not_allowed" in err
    chain = container.coin_chains[Currency.CNH]
    assert not chain.is_frozen(WALLET)
    rc, out, err = cli.run("compliance", "freeze", "approve", request_id, who="comp2")
    out = " ".join(out.split())  # the console wraps long lines
    assert rc == 0 and "executed by client:comp2" in out and "on chain 0x" in out, err
    assert chain.is_frozen(WALLET) and container.coin_chains[Currency.HKD].is_frozen(WALLET)


def test_cli_freeze_whose_chain_call_fails_is_never_executed(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from bauhinia import bootstrap

    container = bootstrap.Container()
    container.__dict__["coin_chains"] = {Currency.CNH: _FailingChain(), Currency.HKD: _FailingChain()}
    monkeypatch.setattr(bootstrap, "Container", lambda *a, **k: container)
    case_id = _case(container)
    out = cli.run("compliance", "freeze", "request", case_id, WALLET, "--reason", "protect funds", who="comp1")[1]
    request_id = out.split(":")[0].strip()
    rc, _, err = cli.run("compliance", "freeze", "approve", request_id, who="comp2")
    assert rc == 2 and "unreachable" in err
    approval = next(a for a in container.approvals.list() if a.kind == "freeze")
    assert approval.status.value == "approved" and "unreachable" in (approval.last_error or "")
    assert container.compliance.get_freeze(request_id).state.value != "executed"


def test_cli_large_mint_maker_is_the_operator(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`issuance mint` runs as the operator: the run's context names the operator, not "system"."""
    seen: list[str] = []
    monkeypatch.setattr("bauhinia.services.issuance.run_subscriptions",
                        lambda ctx, fiat, **kw: seen.append(ctx.actor) or svc.MintReport())
    from bauhinia import bootstrap

    monkeypatch.setattr(bootstrap.Container, "issuance", property(lambda self: iss_ctx_stub()))
    assert cli.run("issuance", "mint", "--currency", "CNH", who="treasury1")[0] == 0
    assert cli.run("issuance", "mint", "--currency", "CNH", who="comp1")[0] == 2  # compliance starts no mint
    assert seen == ["client:treasury1"]


def iss_ctx_stub() -> Any:
    from dataclasses import dataclass as dc

    @dc
    class Ctx:
        actor: str = "system"

    return Ctx()


def test_cli_ledger_transfer_is_an_adjustment(cli: Cli) -> None:
    """A manual transfer from the CLI is an adjustment by the operator, as on the API: a large one waits."""
    from bauhinia.bootstrap import Container
    from bauhinia.domain.ledger import Account, AccountKind

    ledger = Container().ledger
    ledger.create_accounts([Account(9_001, "HKD", AccountKind.ASSET), Account(9_002, "HKD", AccountKind.LIABILITY)])
    rc, out, err = cli.run("ledger", "transfer", "1", "--debit", "9001", "--credit", "9002", "--amount",
                           "5000000", "--currency", "HKD", "--reason", "correct a mis-posting", who="treasury1")
    assert rc == 0 and "waiting for a second person" in out, err
    assert Container().ledger.lookup_transfers([1]) == []
    rid = _approval_id(out)
    assert "maker_cannot_approve" in cli.run("approvals", "approve", rid, who="treasury1")[2]


def test_an_api_principal_and_a_cli_operator_are_the_same_person(api: Api) -> None:
    """The maker from the API is the same subject as that client acting on the CLI: it cannot approve there."""
    api.client.post("/v1/reserves/breakers/BHKD/trip", json={"reason": "drill"}, headers=api.headers("operator"))
    rid = api.client.post("/v1/reserves/breakers/BHKD/reset", json={"reason": "coverage restored after top-up"},
                          headers=api.headers("treasury")).json()["id"]
    actor = controls.Actor("treasury", frozenset({"treasury"}))
    with pytest.raises(BauhiniaError, match="maker cannot decide"):
        controls.approve(api.container.approvals, rid, actor)


@pytest.mark.slow
def test_cli_pause_unpause_unfreeze_and_wipe_need_other_people(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The coin's other powers have an entrance too, and it only opens approvals; the executor calls the chain."""
    from bauhinia import bootstrap

    container = bootstrap.Container()
    monkeypatch.setattr(bootstrap, "Container", lambda *a, **k: container)
    chain = container.coin_chains[Currency.CNH]
    rc, out, err = cli.run("chain", "pause", "--currency", "CNH", "--reason", "incident drill", who="op1")
    assert rc == 0, err
    rid = _approval_id(out)
    assert "maker_cannot_approve" in cli.run("approvals", "approve", rid, who="op1")[2]
    assert "approver_role_missing" in cli.run("approvals", "approve", rid, who="treasury1")[2]
    assert not chain.status().paused
    assert cli.run("approvals", "approve", rid, who="comp1")[0] == 0
    assert chain.status().paused
    rid = _approval_id(cli.run("chain", "unpause", "--currency", "CNH", "--reason", "drill over", who="comp1")[1])
    assert cli.run("approvals", "approve", rid, who="comp2")[0] == 0
    assert not chain.status().paused
    assert "role_not_allowed" in cli.run("chain", "unfreeze", WALLET, "--currency", "CNH", "--reason", "x",
                                         who="treasury1")[2]
    rc, out, err = cli.run("chain", "wipe", WALLET, "--currency", "CNH", "--order", "HCMP 123/2026",
                           "--reason", "court order", who="comp1")
    assert rc == 0, err
    rid = _approval_id(out)
    assert cli.run("approvals", "approve", rid, who="comp2")[0] == 0
    assert container.approvals.get(rid).status.value == "requested"  # a wipe needs two other people
    assert "maker_cannot_approve" in cli.run("approvals", "approve", rid, who="comp1")[2]


def test_every_cli_write_is_recorded_with_its_operator(cli: Cli) -> None:
    """Before: a CLI command recorded "system" (or nothing: account creation, reserve assets, trade parties)
    however authenticated its operator. Now each state-changing command, allowed or refused, is in the audit log
    under the operator who ran it, with its arguments (secrets withheld) and how it ended."""
    from sqlalchemy import text

    assert cli.run("ledger", "create-account", "900001", "--currency", "HKD", "--kind", "asset",
                   who="treasury1")[0] == 0
    assert cli.run("reserves", "breaker", "reset", "--coin", "BCNH", "--reason", "restored", who="op1")[0] == 2
    cli.run("reserves", "breaker", "trip", "--coin", "BHKD", "--reason", "drill", who="op1")
    rid = _approval_id(cli.run("reserves", "breaker", "reset", "--coin", "BHKD", "--reason", "ok",
                               who="treasury1")[1])
    assert cli.run("approvals", "approve", rid, who="treasury1")[0] == 2
    with cli.engine.connect() as conn:
        rows = conn.execute(text("SELECT actor, action, details FROM audit_log WHERE action LIKE 'cli.%' "
                                 "ORDER BY seq")).all()
    got = [(r[0], r[1], json.loads(r[2])["outcome"]) for r in rows]
    assert got == [("client:treasury1", "cli.ledger.create-account", "ok"),
                   ("client:op1", "cli.reserves.breaker", "refused: role_not_allowed"),
                   ("client:op1", "cli.reserves.breaker", "ok"),
                   ("client:treasury1", "cli.reserves.breaker", "ok"),
                   ("client:treasury1", "cli.approvals.approve", "refused: maker_cannot_approve")]
    assert json.loads(rows[0][2])["arguments"] == {"account_id": 900001, "currency": "HKD", "kind": "asset",
                                                   "no_overdraft": False, "reference": None}
    assert "system" not in {r[0] for r in rows}
    assert _identity._arguments({"client_secret": "s3cr3t", "password_file": "/x"}) == {
        "client_secret": "(withheld)", "password_file": "(withheld)"}
