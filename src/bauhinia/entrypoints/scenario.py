"""Scripted set-ups shared by the demo, the issuance benchmark and the tests: an issuer with its coins
configured and capital paid in, customers with verified bank accounts and signed-for wallets, and the bank's
files dropped into the inbox."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from eth_account import Account as EthAccount
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from bauhinia.adapters.bank.simulator import SimEntry, camt053, camt054
from bauhinia.bootstrap import Container
from bauhinia.config import Settings
from bauhinia.domain import cdd
from bauhinia.domain import issuance as iss
from bauhinia.domain.money import Currency
from bauhinia.services import issuance as svc

DEMO_APPROVAL = "PBOC-CB-DEMO-2025-001"


@dataclass
class Holder:
    customer_id: str
    name: str
    bank_account: str
    key: LocalAccount
    deposit_reference: str = ""

    @property
    def wallet(self) -> str:
        return str(self.key.address)


@dataclass
class Issuer:
    container: Container
    settings: Settings
    holders: dict[str, Holder] = field(default_factory=dict)
    files: int = 0

    @property
    def ctx(self) -> svc.IssuanceContext:
        return self.container.issuance  # type: ignore[no-any-return]

    def chain(self, fiat: Currency = Currency.CNH) -> Any:
        return self.ctx.chains[fiat]

    def add_holder(self, customer_id: str, name: str, bank_account: str, *, cleared: bool = True,
                   fiat: Currency = Currency.CNH, key: LocalAccount | None = None,
                   due_diligence: cdd.Customer | None = None) -> Holder:
        """With compliance wired into issuance, the customer goes through CDD and screening first
        (`due_diligence`, or a verified Hong Kong company or person of that name): refused raises, held stays
        onboarding."""
        ctx = self.ctx
        if ctx.compliance is not None:
            customer = self._onboard_with_cdd(customer_id, name, due_diligence)
        else:
            customer = svc.onboard_customer(ctx, customer_id, name, cleared=cleared)
        svc.add_bank_account(ctx, iss.VerifiedBankAccount(customer_id, bank_account, "BBAN", name, fiat, "HSBCHKHHXXX"))
        account = key or EthAccount.create()
        nonce = secrets.token_hex(8)
        message = iss.wallet_challenge(customer_id, account.address, nonce)
        signature = EthAccount.sign_message(encode_defunct(text=message), account.key).signature.hex()
        svc.verify_wallet(ctx, customer_id, account.address, nonce, signature)
        holder = Holder(customer_id, name, bank_account, account, customer.deposit_reference)
        self.holders[customer_id] = holder
        return holder

    def _onboard_with_cdd(self, customer_id: str, name: str, record: cdd.Customer | None) -> iss.Customer:
        from bauhinia.domain.errors import RefusedError
        from bauhinia.services.issuance_compliance import onboard_with_due_diligence

        if record is None:
            company = name.rstrip(".").lower().endswith(("ltd", "limited", "co", "公司"))
            party: cdd.Party = (cdd.LegalPerson("p1", (name,), "HK", listed_on_exchange=True) if company
                                else cdd.NaturalPerson("p1", (name,), nationality="HK"))
            record = cdd.Customer(customer_id, "p1", (party,), identity_verified=True,
                                  relationship_started_on=datetime.now().date())
        result, customer = onboard_with_due_diligence(self.ctx, record, today=datetime.now().date(),
                                                      actor="scenario")
        if customer is None:
            raise RefusedError(f"customer {customer_id} refused: {result.reason}", code="sanctions_refused")
        return customer

    def fund_gas(self, *holders: Holder) -> None:
        self.container.chains.sender.fund([h.wallet for h in holders], 10**18)

    def inbox(self) -> Path:
        path = self.settings.bank_dir() / "inbox"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def drop_notification(self, entries: list[SimEntry], at: datetime, fiat: Currency = Currency.CNH,
                          message_id: str | None = None) -> Path:
        self.files += 1
        mid = message_id or f"NTF-{self.files:06d}"
        account = self.settings.reserve_account_cnh if fiat is Currency.CNH else self.settings.reserve_account_hkd
        path = self.inbox() / f"{self.files:06d}-camt054-{mid}.xml"
        path.write_bytes(camt054(mid, at, account, fiat.value, entries))
        return path

    def drop_statement(self, entries: list[SimEntry], at: datetime, opening_minor: int = 0,
                       fiat: Currency = Currency.CNH, message_id: str | None = None) -> Path:
        self.files += 1
        mid = message_id or f"STM-{self.files:06d}"
        account = self.settings.reserve_account_cnh if fiat is Currency.CNH else self.settings.reserve_account_hkd
        path = self.inbox() / f"{self.files:06d}-camt053-{mid}.xml"
        path.write_bytes(camt053(mid, at, account, fiat.value, opening_minor, entries))
        return path

    def deposit(self, holder: Holder, amount_minor: int, servicer_reference: str) -> SimEntry:
        return SimEntry(amount_minor, True, servicer_reference, f"SUBSCRIPTION {holder.deposit_reference}",
                        holder.name, holder.bank_account)


def make_issuer(data_dir: Path, *, database_url: str = "", chain_rpc_url: str = "", capital_minor: int = 500_000_00,
                buffer_bps: int = 50, redemption_fee_bps: int = 10, approval: str | None = DEMO_APPROVAL,
                container_kwargs: dict[str, Any] | None = None, screening: bool = False, screener: Any = None,
                **settings: Any) -> Issuer:
    """An issuer on the given store and chain, with both coins configured and capital paid in. `screening`
    wires compliance into issuance (CDD at onboarding, debtor and wallet screening, travel rule); `screener`
    replaces the shared lists (tests use a small list)."""
    # A scenario (the demo, the console's demo data, tests) is a demo: it may run on the demo values.
    s = Settings(data_dir=data_dir, database_url=database_url, chain_rpc_url=chain_rpc_url,
                 cnh_mainland_approval_reference=approval or "", coverage_buffer_bps=buffer_bps,
                 redemption_fee_bps=redemption_fee_bps, **{"demo": True, **settings})
    container = Container(s, **{"screen_issuance": screening, **(container_kwargs or {})})
    if screener is not None:
        container.__dict__["screener"] = screener
    issuer = Issuer(container, s)
    ctx = issuer.ctx
    for fiat in (Currency.CNH, Currency.HKD):
        svc.configure_coin(ctx, iss.CoinConfig(fiat, s.licence_number,
                                               (approval or None) if fiat is Currency.CNH else None,
                                               s.subscription_fee_bps, s.redemption_fee_bps))
        if capital_minor:
            svc.fund_issuer_capital(ctx, fiat, capital_minor, f"capital-{fiat.value}")
    return issuer
