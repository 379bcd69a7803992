"""The only place that chooses concrete adapters from configuration and wires them into services."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, cast

from bauhinia.config import Settings

log = logging.getLogger("bauhinia.bootstrap")


def load_settings(*, demo: bool = False) -> Settings:
    """The settings of this run from the environment. Outside a demo they must be an issuer's own: demo values
    or missing secrets refuse to start (ConfigError `unsafe_defaults`, one line naming each)."""
    settings = Settings(demo=True) if demo else Settings()
    return settings.require_safe()


class _LazyMap(Mapping[Any, Any]):
    """A mapping computed on first access (so building a context deploys or indexes nothing by itself)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __getitem__(self, key: Any) -> Any:
        return self.fn(key)

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


class _ThreadLedger:
    """The container's ledger for the calling thread (SqlLedger is not thread-safe), for services that keep one."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container.ledger, name)


class _LazyScreener:
    """The Screener port, loading the lists only when something is screened (case work never pays for it)."""

    def __init__(self, container: Container) -> None:
        self._container = container

    @property
    def list_version(self) -> str:
        return str(self._container.screener.list_version)

    def screen_name(self, *args: Any, **kwargs: Any) -> Any:
        return self._container.screener.screen_name(*args, **kwargs)

    def screen_wallet(self, *args: Any, **kwargs: Any) -> Any:
        return self._container.screener.screen_wallet(*args, **kwargs)


def _travel_rule_payload(originator: Mapping[str, Any], beneficiary: Mapping[str, Any], amount_hkd_minor: int,
                         issuer: Mapping[str, str], issuer_side: str) -> dict[str, Any]:
    """IVMS101 payload of one issuer flow, built and validated by the screening adapter (schema + completeness)."""
    from bauhinia.adapters.screening import travel_rule as tr

    address = tr.Address(issuer.get("country", "HK"), town=issuer.get("town", "Hong Kong"), address_type="BIZZ")
    vasp = tr.Party(issuer["name"], legal_person=True, address=address)
    payload = tr.build_ivms101(tr.Party(**originator), tr.Party(**beneficiary),
                               originating_vasp=vasp if issuer_side == "originating" else None,
                               beneficiary_vasp=vasp if issuer_side == "beneficiary" else None)
    tr.validate_ivms101(payload, amount_hkd_minor)
    return payload


class SystemClock:
    def now_ns(self) -> int:
        return time.time_ns()


class Container:
    """Builds the adapters and services from Settings, lazily, once per process.

    engine (make_engine + migrate), ledger (SqlLedger), reserves (ReservesRepository), the outbox publisher
    (in-process bus, plus NATS JetStream and webhooks when configured) and its relay, approvals (service with
    executors registered here), screening (lists loaded on first use) and chains (the embedded EVM deploys on
    first use, so nothing pays for it unless a chain route is called)."""

    def __init__(self, settings: Settings | None = None, *, clock: Any = None,
                 screen_issuance: bool | None = None) -> None:
        self.settings = settings or load_settings()
        self.clock = clock or SystemClock()
        # Compliance in the issuance flow (CDD, debtor/wallet screening, travel rule): on unless a demo or test
        # turns it off (Settings.screen_issuance; the lists take seconds to load).
        self.screen_issuance = self.settings.screen_issuance if screen_issuance is None else screen_issuance
        if not self.screen_issuance and not self.settings.demo:
            from bauhinia.domain.errors import ConfigError

            raise ConfigError("screening inside issuance cannot be switched off outside a demo",
                              code="unsafe_defaults")
        self._lock = threading.RLock()
        self._local = threading.local()

    @cached_property
    def engine(self) -> Any:
        from bauhinia.adapters.store.db import make_engine, migrate

        engine = make_engine(self.settings.resolved_database_url())
        migrate(engine)
        return engine

    @property
    def ledger(self) -> Any:
        """One SqlLedger per thread (it caches balances and is thread-compatible, not thread-safe)."""
        ledger = getattr(self._local, "ledger", None)
        if ledger is None:
            from bauhinia.adapters.store.ledger_store import SqlLedger

            ledger = self._local.ledger = SqlLedger(self.engine, self.clock.now_ns)
        return ledger

    @cached_property
    def reserves(self) -> Any:
        from bauhinia.adapters.store.reserves_repo import ReservesRepository

        return ReservesRepository(self.engine)

    @cached_property
    def bus(self) -> Any:
        from bauhinia.adapters.events.outbox import InProcessBus

        return InProcessBus()

    @cached_property
    def webhooks(self) -> Any:
        from bauhinia.adapters.events.webhooks import WebhookEndpoint, WebhookPublisher

        raw = json.loads(self.settings.webhooks_json) if self.settings.webhooks_json else []
        endpoints = [WebhookEndpoint(e["name"], e["url"], e["secret"], tuple(e.get("topics", ["*"]))) for e in raw]
        return WebhookPublisher(self.engine, endpoints)

    @cached_property
    def publisher(self) -> Any:
        from bauhinia.adapters.events.outbox import FanoutPublisher

        publishers: list[Any] = [self.bus]
        if self.settings.nats_url:
            from bauhinia.adapters.events.nats_jetstream import JetStreamPublisher

            publishers.append(JetStreamPublisher(self.settings.nats_url))
        if self.settings.webhooks_json:
            publishers.append(self.webhooks)
        return FanoutPublisher(publishers)

    @cached_property
    def relay(self) -> Any:
        from bauhinia.adapters.events.outbox import OutboxRelay

        return OutboxRelay(self.engine, self.publisher)

    @cached_property
    def approvals(self) -> Any:
        from bauhinia.adapters.store.approvals_repo import SqlApprovalsStore
        from bauhinia.domain.approvals import DEFAULT_POLICIES
        from bauhinia.services import controls
        from bauhinia.services.approvals import ApprovalService

        service = ApprovalService(SqlApprovalsStore(self.engine), self.clock,
                                  (*DEFAULT_POLICIES, *controls.CHAIN_POLICIES))
        for kind, executor in self._executors().items():
            service.register_executor(kind, executor)
        for kind in controls.CHAIN_KINDS:  # the coin's powers: the executor calls the chain
            service.register_executor(kind, lambda params, key: controls.run_chain_control(self.coin_chains,
                                                                                           params, key))
        return service

    def _executors(self) -> dict[str, Callable[..., Any]]:
        from bauhinia.adapters.store import api_credentials
        from bauhinia.domain.money import Currency
        from bauhinia.services import reserves as reserves_service

        def breaker_reset(params: Any, key: str) -> dict[str, Any]:
            state = reserves_service.reset_breaker(
                self.reserves, Currency(params["coin"]), reason=params["reason"], actor=params["maker"],
                now_ns=self.clock.now_ns(),
            )
            return {"coin": state.coin.value, "halted": state.halted}

        def role_grant(params: Any, key: str) -> dict[str, Any]:
            roles = api_credentials.grant_role(self.engine, params["client_id"], params["role"])
            return {"client_id": params["client_id"], "roles": sorted(roles)}

        def mint(params: Any, key: str) -> dict[str, Any]:
            from bauhinia.services.issuance import approve_large_mint

            return approve_large_mint(self.issuance, int(params["subscription"]), key)

        from bauhinia.services.issuance_compliance import freeze_executor

        freeze = freeze_executor(lambda: self.compliance_gate, lambda: self.coin_chains, self.clock.now_ns)

        def ledger_adjustment(params: Any, key: str) -> dict[str, Any]:
            return dict(self.adjustments.book_approved(params, key))

        def bank_file_release(params: Any, key: str) -> dict[str, Any]:
            from bauhinia.services.bank_intake import release_upload

            return release_upload(self.issuance, params, key)

        from bauhinia.services import issuance as issuance_svc
        from bauhinia.services import issuance_compliance as gate_svc
        from bauhinia.services import payout_returns as returns_svc
        from bauhinia.services import refunds as refunds_svc

        return {"breaker_reset": breaker_reset, "role_grant": role_grant, "mint": mint, "freeze": freeze,
                "ledger_adjustment": ledger_adjustment, "bank_file_release": bank_file_release,
                gate_svc.SIGNOFF_KIND: gate_svc.signoff_executor(self.gated_issuance),
                gate_svc.DISMISSAL_KIND: gate_svc.dismissal_executor(self.gated_issuance),
                "bank_account_override": lambda params, key: issuance_svc.approve_bank_account_override(
                    self.issuance, params, key),
                issuance_svc.PAYER_RELEASE_KIND: lambda params, key: issuance_svc.release_payer_hold(
                    self.issuance, params, key),
                issuance_svc.SUSPENSE_ASSIGN_KIND: lambda params, key: issuance_svc.assign_suspense(
                    self.issuance, params, key),
                refunds_svc.REFUND_KIND: lambda params, key: refunds_svc.execute_refund(self.issuance, params, key),
                returns_svc.PAYOUT_RETRY_KIND: lambda params, key: returns_svc.execute_payout_retry(
                    self.issuance, params, key)}

    def gated_issuance(self) -> Any:
        """The issuance context with the compliance gate, whether or not issuance screening is switched on (what
        compliance commands and their approval executors use)."""
        import dataclasses

        ctx = self.issuance
        if ctx.compliance is None:
            ctx = dataclasses.replace(ctx, compliance=self.compliance_gate, events=[])
        return ctx

    @property
    def adjustments(self) -> Any:
        """Manual ledger transfers as adjustments (reason, role limits, maker-checker, journal). Built per use:
        it holds this thread's ledger, which is not shared between threads."""
        from bauhinia.adapters.store.adjustments_repo import SqlAdjustments
        from bauhinia.domain.adjustments import AdjustmentPolicy
        from bauhinia.services.adjustments import AdjustmentService

        s = self.settings
        policy = AdjustmentPolicy(s.ledger_adjustment_approval_above_minor, {
            "operator": s.ledger_adjustment_limit_operator_minor,
            "treasury": s.ledger_adjustment_limit_treasury_minor,
            "admin": s.ledger_adjustment_limit_admin_minor,
        })
        return AdjustmentService(self.ledger, SqlAdjustments(self.engine, self.ledger), self.approvals, self.clock,
                                 policy)

    # --- compliance (issue 5) ------------------------------------------------------------------------------

    @cached_property
    def compliance(self) -> Any:
        """The compliance store (CDD records, screenings, alerts, cases, freeze requests, STRs)."""
        from bauhinia.adapters.store.compliance_repo import ComplianceRepository

        return ComplianceRepository(self.engine, pepper=self.settings.resolved_cdd_pepper())

    @cached_property
    def compliance_gate(self) -> Any:
        """What the issuance flow and the compliance API share: store, screener, travel rule, approvals."""
        from bauhinia.services.issuance_compliance import ComplianceGate

        return ComplianceGate(store=self.compliance, screener=cast(Any, _LazyScreener(self)),
                              travel_rule=_travel_rule_payload, approvals=self.approvals,
                              institution={"name": self.settings.issuer_name, "country": "HK"}, fx=self.fx)

    @cached_property
    def fx(self) -> Any:
        """The one FX rate source (services.fx): the reserves store's loaded rates, with a staleness limit."""
        from bauhinia.services.fx import FxSource

        return FxSource(self.reserves, self.clock, max_age_days=self.settings.fx_rate_max_age_days)

    @cached_property
    def screener(self) -> Any:
        from bauhinia.adapters.screening.lists import current_lists_dir
        from bauhinia.adapters.screening.screener import ListScreener

        # BAUHINIA_SANCTIONS_DIR, else the version `update-lists` made current, else the packaged snapshot.
        return ListScreener(current_lists_dir(self.settings.data_dir, self.settings.sanctions_dir))

    @cached_property
    def chains(self) -> Any:
        """The chain per coin: the embedded EVM (deployed on first use, lives as long as the process) or the
        configured JSON-RPC node, where the role keys live in encrypted keystores under <data_dir>/keystore and
        the deployment is recorded in the database, so a restarted process finds the same contracts."""
        from bauhinia.adapters.chain.embedded import EmbeddedChains, make_embedded_chain

        with self._lock:
            if not self.settings.chain_rpc_url:
                # The in-process EVM lives as long as this process, so its transaction journal does too (an
                # in-memory store): a journal kept in the database would name transactions of a chain now gone.
                return make_embedded_chain(None, licence_number=self.settings.licence_number,
                                           cnh_approval_reference=self.settings.cnh_mainland_approval_reference)
            from bauhinia.adapters.chain.deploy import deploy_coin, find_deployment, record_deployment
            from bauhinia.adapters.chain.journal import TxJournal
            from bauhinia.adapters.chain.keys import KeyStore, role_secrets
            from bauhinia.adapters.chain.node import chain_settings, connect_node
            from bauhinia.adapters.chain.sender import TxSender
            from bauhinia.adapters.chain.web3_chain import Web3Chain
            from bauhinia.domain.money import Currency

            cs = chain_settings(self.settings)
            w3 = connect_node(self.settings.chain_rpc_url)
            sender = TxSender(w3, TxJournal(self.engine))
            sender.recover()  # re-broadcast journaled transactions the node never saw (after a crash)
            self._open_set_aside_incidents(sender.set_aside)
            out = EmbeddedChains(w3=w3, sender=sender, engine=self.engine)
            store = KeyStore(self.settings.data_dir / "keystore")
            for coin in (Currency.BCNH, Currency.BHKD):
                keys = store.load_or_create(coin.value, role_secrets(self.settings),
                                            self.settings.keystore_scrypt_n or None)
                found = find_deployment(self.engine, int(w3.eth.chain_id), coin)
                if found:
                    out.chains[coin] = Web3Chain(coin, w3, str(found["address"]), keys, sender,
                                                 confirmations=cs.confirmations)
                    continue
                approval = self.settings.cnh_mainland_approval_reference if coin is Currency.BCNH else ""
                chain = deploy_coin(sender, keys, coin, licence_number=self.settings.licence_number,
                                    approval_reference=approval, fund_from_dev_account=self.settings.chain_dev_funding,
                                    confirmations=cs.confirmations)
                record_deployment(self.engine, chain)
                out.chains[coin] = chain
            return out

    def _open_set_aside_incidents(self, set_aside: list[Any]) -> None:
        from bauhinia.services import reserves as reserves_service

        for reason in reserves_service.open_set_aside_incidents(self.reserves, set_aside, self.clock.now_ns()):
            log.warning("chain transaction set aside: %s", reason)

    @cached_property
    def indexers(self) -> Any:
        """One chain indexer per coin contract, following the coin's events into the store."""
        from bauhinia.adapters.chain.indexer import ChainIndexer

        confirmations = 0
        if self.settings.chain_rpc_url:
            from bauhinia.adapters.chain.node import chain_settings

            confirmations = chain_settings(self.settings).confirmations
        return {fiat: ChainIndexer(self.engine, chain.w3, chain.address, confirmations=confirmations,
                                   clock_ns=self.clock.now_ns)
                for fiat, chain in self.coin_chains.items()}

    @cached_property
    def coin_chains(self) -> Any:
        """fiat currency -> the Chain port of its coin."""
        from bauhinia.domain.money import Currency

        return {fiat: self.chains.for_coin(fiat) for fiat in (Currency.CNH, Currency.HKD)}

    @cached_property
    def issuance(self) -> Any:
        """The issuance context: issuance store, ledger, chains, the folder bank, reserves, HK calendar."""
        from eth_account import Account as EthAccount
        from eth_account.messages import encode_defunct

        from bauhinia.adapters.bank.folder import FolderBank
        from bauhinia.adapters.bank.signature import BankSignatureVerifier
        from bauhinia.adapters.calendar_data import load_hk_calendar
        from bauhinia.adapters.screening.names import ScreeningNameComparer
        from bauhinia.adapters.store.issuance_repo import SqlIssuanceStore
        from bauhinia.domain.banking import AccountId, Party, payout_schemes
        from bauhinia.domain.money import Currency
        from bauhinia.services.issuance import IssuanceContext

        s = self.settings
        accounts = {s.reserve_account_hkd: Currency.HKD, s.reserve_account_cnh: Currency.CNH}
        issuer = {fiat: Party(s.issuer_name, AccountId(acct, "BBAN"), s.reserve_bank_bic)
                  for acct, fiat in accounts.items()}
        year = time.gmtime(self.clock.now_ns() // 1_000_000_000).tm_year

        def recover_signer(message: str, signature: str) -> str:
            return str(EthAccount.recover_message(encode_defunct(text=message), signature=signature))

        def index(fiat: Currency) -> int:
            return int(self.indexers[fiat].catch_up())

        return IssuanceContext(
            store=SqlIssuanceStore(self.engine, self.ledger),
            ledger=self.ledger,
            chains=self.coin_chains,
            bank=FolderBank(s.bank_dir(), accounts={a: f.value for a, f in accounts.items()},
                            verifier=(BankSignatureVerifier.from_file(s.bank_signing_public_key_file)
                                      if s.bank_signing_public_key_file else None),
                            quarantine_bytes_max=s.bank_quarantine_bytes_max,
                            settle_s=s.bank_inbox_settle_s, schemes=payout_schemes(s.payout_messages)),
            reserves=self.reserves,
            calendar=load_hk_calendar(year - 1, year + 1),
            clock=self.clock,
            issuer=issuer,
            reserve_accounts=accounts,
            coin_cursors=_LazyMap(lambda fiat: self.indexers[fiat].name),
            index=index,
            recover_signer=recover_signer,
            buffer_bps=s.coverage_buffer_bps,
            approvals=self.approvals,
            invoice_reference_for=self.settlement_store.invoice_for_redemption,
            compliance=self.compliance_gate if self.screen_issuance else None,
            payout_cutoff=_cutoffs(s.payout_cutoffs),
            warn_before_s=s.redemption_warning_before_s,
            names=ScreeningNameComparer(),
            attest_inline=s.resolved_reserve_attester() == "inline",
        )

    @cached_property
    def attester(self) -> Any:
        """The reserve attester's context (services.attester): the bank's statements and notifications, the
        ledger, the reserve pool and the coin chains; each posting audited in the issuance records."""
        from bauhinia.adapters.store.reserve_sources import SqlReserveSources
        from bauhinia.services.attester import AttesterContext

        ictx = self.issuance

        def audit(actor: str, action: str, subject: str, details: dict[str, Any]) -> None:
            with ictx.store.unit_of_work(self.clock.now_ns()) as uow:
                uow.audit(actor, action, subject, details)

        return AttesterContext(
            reserves=self.reserves,
            sources=SqlReserveSources(self.engine),
            ledger=self.ledger,
            chains=ictx.chains,
            reserve_accounts=ictx.reserve_accounts,
            clock=self.clock,
            is_business_day=ictx.calendar.is_business_day,
            audit=audit,
            statement_max_business_days=self.settings.attester_statement_max_business_days,
        )

    # --- trade settlement (issue 6) ------------------------------------------------------------------------

    @cached_property
    def settlement_store(self) -> Any:
        from bauhinia.adapters.store.settlement_repo import SettlementRepository

        return SettlementRepository(self.engine)

    @cached_property
    def settlement(self) -> Any:
        """Trade settlement (services.settlement.SettlementDeps) over the same chains: the escrow and swap
        contracts (deployed on first use; on a node recorded per chain id, the relayer/treasury/agent keys in the
        keystore like the coins' roles), the ledger, the settlement store and the real screener."""
        from bauhinia.adapters.chain.settlement import (
            SETTLEMENT_ROLES,
            load_or_create_role_key,
            open_settlement_chain,
        )
        from bauhinia.adapters.screening.trade_screener import TradeScreener
        from bauhinia.services.settlement import SettlementDeps

        with self._lock:
            chains = self.chains
            if self.settings.chain_rpc_url:

                from bauhinia.adapters.chain.keys import role_secrets

                secrets = role_secrets(self.settings)  # each settlement role its own password, as the coins'
                roles = {r: load_or_create_role_key(self.settings.data_dir / "keystore", r,
                                                    secrets.password("SETTLEMENT", r),
                                                    self.settings.keystore_scrypt_n or None)
                         for r in SETTLEMENT_ROLES}
                fund_gas = bool(self.settings.chain_dev_funding)
            else:
                from eth_account import Account as EthAccount

                roles = {r: EthAccount.create() for r in SETTLEMENT_ROLES}  # the in-process EVM's lifetime
                fund_gas = True
            recorded = self.settlement_store if self.settings.chain_rpc_url else None
            sc = open_settlement_chain(chains.sender, chains.chains, roles, recorded, self.clock.now_ns(),
                                       fund_gas=fund_gas)
            screener = TradeScreener(self.screener.matcher, self.screener.wallets)
            return SettlementDeps(store=self.settlement_store, chain=sc, ledger=_ThreadLedger(self),
                                  screener=screener, clock=self.clock, fx=self.fx)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


def _cutoffs(text: dict[str, str]) -> dict[Any, Any]:
    """Settings.payout_cutoffs ({"CNH": "16:00"}) as fiat -> time of day (Hong Kong)."""
    from datetime import time as dt_time

    from bauhinia.domain.errors import ConfigError
    from bauhinia.domain.money import Currency

    out: dict[Any, Any] = {}
    for code, hhmm in text.items():
        try:
            hour, minute = (int(x) for x in hhmm.split(":"))
            out[Currency(code.upper())] = dt_time(hour, minute)
        except ValueError:
            raise ConfigError(f"BAUHINIA_PAYOUT_CUTOFFS: {code}={hhmm!r} is not a currency and an HH:MM time",
                              code="bad_payout_cutoff") from None
    return out
