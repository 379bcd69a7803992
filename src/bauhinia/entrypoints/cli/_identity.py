"""Who a CLI command acts as (issue 20 item 1).

A command that changes state acts as a named, authenticated operator: `BAUHINIA_OPERATOR_ID` and
`BAUHINIA_OPERATOR_SECRET` name a client of the credentials store (`bauhinia api create-client`), checked as the
token endpoint checks client credentials, and its roles are the client's. In a demo an unauthenticated CLI acts as
the built-in demo operator, which can never approve its own requests (the approvals service refuses the maker).
Outside a demo, a state-changing command without a valid operator stops with one line (exit 2) before it
runs. Free-text `--actor` options are gone: a command's `actor` is the operator's subject.

`CLASSES` says, for every command, whether it changes state; `guard` wraps each command accordingly (main.py
builds the app through it) and a test fails when a command is missing from the table.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterator
from typing import Any

from bauhinia.domain.errors import ConfigError, ForbiddenError
from bauhinia.services.controls import STAFF, Actor, require_role

READ = "read"  # changes nothing (or only writes files the caller asked for): no operator needed
WRITE = "write"  # changes state: acts as the authenticated operator
SELF = "self"  # checks who may run it itself (the first admins, the servers, the demo seeders)

DEMO_OPERATOR = Actor("demo-operator", frozenset(STAFF - {"auditor"}), demo=True)

# Every command of `bauhinia`, by path. A command missing here counts as WRITE (and fails the controls test).
CLASSES: dict[str, str] = {
    "serve": SELF, "run": SELF, "demo": SELF, "verify-proof": READ,
    "jobs status": READ, "jobs run": WRITE,
    "api create-client": SELF, "api create-key": WRITE,
    "approvals list": READ, "approvals show": READ, "approvals approve": WRITE, "approvals reject": WRITE,
    "approvals execute": WRITE, "approvals resubmit": WRITE, "approvals policies": READ,
    "approvals policy-set": WRITE,
    "audit verify": READ, "audit export": READ, "audit verify-export": READ,
    "bank parse": READ, "bank calendar": READ, "bank deadline": READ,
    "chain deploy": WRITE, "chain status": READ, "chain pause": WRITE, "chain unpause": WRITE,
    "chain unfreeze": WRITE, "chain wipe": WRITE, "chain minter-allowance": WRITE, "chain minter-remove": WRITE,
    "chain rescue": WRITE,
    "compliance onboard": WRITE, "compliance customers": READ, "compliance customer": READ,
    "compliance rescreen": WRITE, "compliance review-hit": WRITE, "compliance end-relationship": WRITE,
    "compliance delete-customer": WRITE, "compliance monitor": WRITE, "compliance alerts": READ,
    "compliance cases": READ, "compliance open-case": WRITE, "compliance str-export": WRITE,
    "compliance controls-report": READ, "compliance case show": READ, "compliance case assign": WRITE,
    "compliance case note": WRITE, "compliance case escalate": WRITE, "compliance case close": WRITE,
    "compliance freeze request": WRITE, "compliance freeze approve": WRITE, "compliance freeze reject": WRITE,
    "console demo-data": SELF, "console serve": SELF,
    "events relay": WRITE, "events status": READ, "events replay-dead": WRITE, "events dead-letters": READ,
    "events replay-webhooks": WRITE,
    "issuance configure-coin": WRITE, "issuance fund-capital": WRITE, "issuance ingest": WRITE,
    "issuance subscriptions": READ, "issuance release-hold": WRITE, "issuance suspense list": READ,
    "issuance suspense assign": WRITE, "issuance refund request": WRITE, "issuance refund list": READ,
    "issuance payout-retry": WRITE,
    "issuance mint": WRITE, "issuance redeem": WRITE,
    "issuance run-redemptions": WRITE, "issuance deadlines": READ, "issuance recover": WRITE,
    "issuance cycle": WRITE, "issuance customer add": WRITE, "issuance customer status": WRITE,
    "issuance customer bank-account": WRITE, "issuance customer wallet-challenge": WRITE,
    "issuance customer wallet": WRITE, "issuance customer show": READ,
    "ledger create-account": WRITE, "ledger transfer": WRITE, "ledger import": WRITE, "ledger post": WRITE,
    "ledger void": WRITE, "ledger balances": READ, "ledger history": READ, "ledger check": READ,
    "regulatory register": READ, "regulatory export-records": READ, "regulatory returns daily": WRITE,
    "regulatory returns monthly": WRITE, "regulatory incident open": WRITE, "regulatory incident notify": WRITE,
    "regulatory incident update": WRITE, "regulatory incident close": WRITE, "regulatory incident list": READ,
    "regulatory incident show": READ, "regulatory incident detect": WRITE,
    "reserves add-asset": WRITE, "reserves approve": WRITE, "reserves assets": READ,
    "reserves load-market-data": WRITE, "reserves load-fx": WRITE, "reserves coverage": READ,
    "reserves mint-check": READ,
    "reserves stress": READ, "reserves breaker": WRITE, "reserves incidents": READ, "reserves pol-build": WRITE,
    "reserves attest": WRITE, "reserves attester": WRITE, "reserves reconcile": WRITE,
    "reserves pol-snapshot": WRITE, "reserves proof": READ,
    "screening score-pairs": READ, "screening screen-file": READ, "screening screen-wallet": READ,
    "screening check-travel-rule": READ, "screening update-lists": WRITE,
    "trade party": WRITE, "trade quote": READ, "trade quote-create": WRITE, "trade swap": WRITE,
    "trade report": READ, "trade demo": SELF, "trade invoice issue": WRITE, "trade invoice accept": WRITE,
    "trade invoice fund": WRITE, "trade invoice authorization": READ, "trade invoice release": WRITE,
    "trade invoice refund": WRITE, "trade invoice dispute": WRITE, "trade invoice show": READ,
}

# Who may run each state-changing command (the same roles as the API route doing the same thing). A WRITE command
# not named here is for admins only. The services check again what is theirs to check (e.g. who may ask for a
# breaker reset, or approve a request), and every high-risk operation still only opens an approval.
OP, T, K, D = "operator", "treasury", "compliance", "admin"
_OFFICERS = frozenset({K, D})
ROLES_FOR: dict[str, frozenset[str]] = {
    "api create-key": frozenset({D}),
    "approvals approve": frozenset({OP, T, K, D}), "approvals reject": frozenset({OP, T, K, D}),
    "approvals execute": frozenset({OP, T, K, D}), "approvals resubmit": frozenset({OP, T, K, D}),
    "approvals policy-set": frozenset({D}),
    "chain deploy": frozenset({D}),
    "chain pause": frozenset({OP, K, D}), "chain unpause": frozenset({OP, K, D}),
    "chain unfreeze": _OFFICERS, "chain wipe": _OFFICERS,
    "chain minter-allowance": frozenset({T, D}), "chain minter-remove": frozenset({T, D}),
    "chain rescue": frozenset({D}),
    **{p: _OFFICERS for p in CLASSES if p.startswith("compliance ")},
    "events relay": frozenset({OP, D}), "events replay-dead": frozenset({OP, D}),
    "events replay-webhooks": frozenset({OP, D}),
    "issuance configure-coin": frozenset({T, D}), "issuance fund-capital": frozenset({T, D}),
    "issuance ingest": frozenset({OP, T, D}), "issuance mint": frozenset({OP, T, D}),
    "issuance redeem": frozenset({OP, D}), "issuance run-redemptions": frozenset({OP, T, D}),
    "issuance recover": frozenset({OP, D}), "issuance cycle": frozenset({OP, T, D}),
    "issuance release-hold": _OFFICERS, "issuance suspense assign": frozenset({OP, T, K, D}),
    "issuance refund request": frozenset({OP, T, K, D}),
    "issuance payout-retry": frozenset({OP, T, D}),
    "issuance customer add": frozenset({OP, K, D}), "issuance customer status": _OFFICERS,
    "issuance customer bank-account": frozenset({OP, K, D}),
    "issuance customer wallet-challenge": frozenset({OP, D}), "issuance customer wallet": frozenset({OP, D}),
    **{f"ledger {c}": frozenset({OP, T, D}) for c in ("create-account", "transfer", "import", "post", "void")},
    "regulatory returns daily": frozenset({T, K, D}), "regulatory returns monthly": frozenset({T, K, D}),
    **{f"regulatory incident {c}": frozenset({OP, T, K, D}) for c in ("open", "update", "close", "detect")},
    "regulatory incident notify": _OFFICERS,
    "reserves add-asset": frozenset({T, D}), "reserves approve": frozenset({T, D}),
    "reserves load-market-data": frozenset({T, D}), "reserves load-fx": frozenset({T, D}),
    "reserves breaker": frozenset({OP, T, K, D}),
    **{f"reserves {c}": frozenset({OP, T, D}) for c in ("pol-build", "attest", "reconcile", "pol-snapshot")},
    "reserves attester": frozenset({OP, T, D}),
    "screening update-lists": _OFFICERS,
    "trade party": frozenset({OP, K, D}), "trade quote-create": frozenset({OP, T, D}),
    "trade swap": frozenset({OP, T, D}),
    **{f"trade invoice {c}": frozenset({OP, D}) for c in ("issue", "accept", "fund", "release", "refund", "dispute")},
    "jobs run": frozenset({OP, D}),
}


def roles_for(path: str) -> frozenset[str]:
    return ROLES_FOR.get(path, frozenset({D}))


def check(path: str, actor: Actor) -> None:
    """May `actor` run the command at `path`? ForbiddenError `role_not_allowed` (one line) if not."""
    if CLASSES.get(path, WRITE) == WRITE:
        require_role(actor, roles_for(path), f"`bauhinia {path}`")


_CURRENT: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("bauhinia_operator", default=None)


def _settings() -> Any:
    from bauhinia.bootstrap import load_settings

    return load_settings()


def _engine(settings: Any) -> Any:
    from bauhinia.adapters.store.db import make_engine, migrate

    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    return engine


def authenticate(settings: Any | None = None, engine: Any | None = None) -> Actor:
    """The operator of this run: BAUHINIA_OPERATOR_ID + BAUHINIA_OPERATOR_SECRET checked against the credentials
    store; in a demo without them, the demo operator; else ConfigError `operator_required`."""
    settings = settings if settings is not None else _settings()
    if settings.operator_id or settings.operator_secret:
        if not (settings.operator_id and settings.operator_secret):
            raise ConfigError("set both BAUHINIA_OPERATOR_ID and BAUHINIA_OPERATOR_SECRET", code="operator_incomplete")
        from bauhinia.adapters.store import api_credentials as creds

        client = creds.authenticate_client(engine if engine is not None else _engine(settings),
                                           settings.operator_id, settings.operator_secret)
        if client is None:
            raise ForbiddenError(f"operator {settings.operator_id[:64]!r}: unknown client, disabled, or wrong secret",
                                 code="invalid_operator")
        if not client.roles & STAFF:
            raise ForbiddenError(f"operator {client.client_id} holds no staff role", code="operator_not_staff")
        return Actor(client.client_id, frozenset(client.roles))
    if settings.demo:
        return DEMO_OPERATOR
    raise ConfigError("this command changes state: set BAUHINIA_OPERATOR_ID and BAUHINIA_OPERATOR_SECRET "
                      "(a client made with `bauhinia api create-client`)", code="operator_required")


def current() -> Actor:
    """The operator the running command acts as (authenticated now if the command was not guarded)."""
    actor = _CURRENT.get()
    return actor if actor is not None else authenticate()


def acting() -> Actor | None:
    """The operator a guarded command runs as, if any (None in a command that changes nothing)."""
    return _CURRENT.get()


def leaves(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    subs = getattr(command, "commands", None)
    if subs:
        for name, sub in subs.items():
            yield from leaves(sub, (*path, name))
    else:
        yield " ".join(path), command


def guard(path: str, command: Any) -> None:
    """Make a command act as the operator: a WRITE command authenticates first (one line, exit 2 without a valid
    operator outside a demo), and any `actor` parameter becomes the operator's subject (no `--actor` option)."""
    cls = CLASSES.get(path, WRITE)
    has_actor = any(p.name == "actor" for p in command.params)
    if has_actor:
        command.params = [p for p in command.params if p.name != "actor"]
    if cls != WRITE and not has_actor:
        return
    callback = command.callback
    if callback is None:  # pragma: no cover - groups have no leaf callback
        return

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        actor = authenticate()
        if has_actor:
            kwargs["actor"] = actor.subject
        token = _CURRENT.set(actor)
        outcome = "ok"
        try:
            check(path, actor)  # a refusal is recorded too
            return callback(*args, **kwargs)
        except BaseException as exc:
            outcome = _outcome(exc)
            raise
        finally:
            _CURRENT.reset(token)
            if cls == WRITE:
                record_command(path, actor, kwargs, outcome)

    command.callback = run


_SECRET_NAMES = ("secret", "password", "token", "passphrase", "private", "signature")


def _outcome(exc: BaseException) -> str:
    code = getattr(exc, "exit_code", None)
    if isinstance(code, int):
        return "ok" if code == 0 else f"exit {code}"
    if hasattr(exc, "code") and isinstance(getattr(exc, "code", None), str):
        return f"refused: {exc.code}"[:120]  # type: ignore[attr-defined]
    return f"failed: {type(exc).__name__}"


def _arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The command's arguments as the audit keeps them: secrets left out, long values cut."""
    out: dict[str, Any] = {}
    for name, value in kwargs.items():
        if any(word in name.lower() for word in _SECRET_NAMES):
            out[name] = "(withheld)"
        elif value is None or isinstance(value, bool | int):
            out[name] = value
        elif isinstance(value, list | tuple):
            out[name] = [str(v)[:200] for v in value[:20]]
        else:
            out[name] = str(value)[:200]
    return out


def record_command(path: str, actor: Actor, kwargs: dict[str, Any], outcome: str) -> None:
    """Record a state-changing command in the hash-chained audit log: who ran it (the operator's subject), its
    arguments and how it ended, whatever the services below recorded themselves. A failure to record is said on
    stderr and does not change the command's own outcome (it has already happened)."""
    import sys
    import time

    try:
        from bauhinia.adapters.store import audit
        from bauhinia.adapters.store.db import make_engine, migrate

        settings = _settings()
        engine = make_engine(settings.resolved_database_url())

        def append() -> None:
            with engine.begin() as conn:
                audit.append(conn, actor=actor.subject[:128], action=f"cli.{path.replace(' ', '.')}"[:128],
                             subject=f"cli:{path}"[:256], details={"arguments": _arguments(kwargs),
                                                                   "outcome": outcome},
                             now_ns=time.time_ns())

        try:
            try:
                append()  # the command (or the sign-in) has migrated the database already
            except Exception:
                migrate(engine)  # a command refused before it opened the database: make the log first
                append()
        finally:
            engine.dispose()
    except Exception as exc:  # the database itself may be what failed the command
        print(f"warning: `bauhinia {path}` was not recorded in the audit log: {type(exc).__name__}: {exc}"[:300],
              file=sys.stderr)
