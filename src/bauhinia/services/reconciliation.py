"""The daily three-way reconciliation and the proof of liabilities, fed from the real sources.

bank    the latest camt.053 closing balance (CLBD) of each reserve account, stored when statements are ingested
        (services.reserves.record_bank_statement, called by the issuance bank ingest);
ledger  reserve cash, the per-customer funds accounts, coins outstanding, redemptions payable, suspense, fees and
        the issuer's capital; per-holder coin positions rebuilt from what the books minted and burned plus the
        holders' transfers between each other;
chain   totalSupply of the coin contract and every holder's balance from the indexer (caught up first).

Timing is accounted for before comparing, and every reconciling item is shown:
  * cash held for pending payouts (burned, not yet debited by the bank) is still at the bank: the ledger's
    *posted* reserve cash is compared, and the held amount reported;
  * the issuer's capital is held outside the collection account unless `capital_on_statement`;
  * bank entries the ledger booked from notifications that no statement covers yet are taken out;
  * suspense credits and customers' funds are liabilities the cash backs: they enter the ledger's control
    total (reserve cash must equal customers' funds + coins outstanding + redemptions payable + suspense + fee
    income + capital), which names the ledger when its own books disagree;
  * coins booked but whose mint batch is not mined, and burns booked but not yet mined, are taken out of the
    ledger's supply.
Any break trips the minting circuit breaker and opens an incident (services.reserves.record_reconciliation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bauhinia.domain import issuance as iss
from bauhinia.domain import proofs
from bauhinia.domain import reserves as rsv
from bauhinia.domain.errors import InvariantViolation, NotFoundError, ValidationError
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.domain.reconciliation import ReconciliationInput
from bauhinia.ports import Chain, Clock, ReserveSources, ReservesStore
from bauhinia.services import reserves as reserves_svc
from bauhinia.services.regulatory import hk_midnight_ns

holder_id_length_max = 128


@dataclass
class ReserveContext:
    """What the reserve's daily work needs, wired from the Container."""

    reserves: ReservesStore
    sources: ReserveSources
    ledger: reserves_svc.LedgerReader
    chains: Mapping[Currency, Chain]  # keyed by fiat currency
    coin_cursors: Mapping[Currency, str]  # indexer cursor of each coin's contract
    index: Callable[[Currency], int]  # catch the coin's indexer up
    reserve_accounts: Mapping[str, Currency]  # bank account id -> fiat
    clock: Clock
    snapshot_secret: Callable[[str], bytes]  # snapshot id -> its secret (created on first use, kept private)
    capital_on_statement: bool = False
    buffer_bps: int = 0
    actor: str = "daily-reconciliation"


@dataclass(frozen=True, slots=True)
class CashView:
    """How one coin's reserve cash is explained: the bank's figure against the ledger's, item by item."""

    account: str | None
    statement: str | None  # message id of the latest statement, None when there is none yet
    bank_closing_minor: int | None
    reserve_cash_posted_minor: int
    held_for_payouts_minor: int
    capital_outside_statement_minor: int
    unstated_entries_minor: int
    unstated_entries_count: int
    ledger_expected_bank_minor: int  # posted - capital outside - unstated entries
    customer_funds_minor: int
    coins_outstanding_minor: int
    redemptions_payable_minor: int
    suspense_minor: int
    fee_income_minor: int
    capital_minor: int
    control_total_minor: int  # the liabilities side, adjusted the same way


@dataclass(frozen=True, slots=True)
class SupplyView:
    ledger_outstanding_base_units: int
    pending_mint_base_units: int
    unmined_burn_base_units: int
    ledger_supply_base_units: int  # outstanding - pending mints + unmined burns
    chain_total_supply_base_units: int
    indexed_supply_base_units: int
    ledger_holders: int
    chain_holders: int


@dataclass(frozen=True, slots=True)
class DailyReconciliation:
    fiat: Currency
    outcome: reserves_svc.ReconciliationOutcome
    cash: CashView
    supply: SupplyView
    coverage: rsv.CoveragePoint
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome.result.ok

    def explanation(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"cash": asdict(self.cash), "supply": asdict(self.supply), "notes": list(self.notes)}


def _posted(ledger: reserves_svc.LedgerReader, fiat: Currency, book: iss.Book) -> int:
    return int(ledger.account(iss.book_account_id(fiat, book)).posted)


def gather(ctx: ReserveContext, fiat: Currency) -> tuple[ReconciliationInput, CashView, SupplyView, list[str]]:
    """Read the three sources for one coin and apply the timing adjustments."""
    notes: list[str] = []
    chain = ctx.chains[fiat]
    cursor = ctx.coin_cursors[fiat]
    ctx.index(fiat)

    # --- cash: bank statement vs ledger ---
    figures = reserves_svc.ledger_figures(ctx.ledger, fiat)
    customers = ctx.sources.customer_balances_minor(fiat)
    customer_funds = sum(customers.values())
    outstanding_minor = _posted(ctx.ledger, fiat, iss.Book.COINS_OUTSTANDING)
    payable = _posted(ctx.ledger, fiat, iss.Book.REDEMPTIONS_PAYABLE)
    suspense = _posted(ctx.ledger, fiat, iss.Book.SUSPENSE)
    fees = _posted(ctx.ledger, fiat, iss.Book.FEE_INCOME)
    capital = _posted(ctx.ledger, fiat, iss.Book.EQUITY)
    capital_outside = 0 if ctx.capital_on_statement else capital
    accounts = sorted(a for a, f in ctx.reserve_accounts.items() if f is fiat)
    statements = ctx.reserves.latest_statements()
    account = next((a for a in accounts if a in statements), accounts[0] if accounts else None)
    statement = statements.get(account) if account else None
    # A notification received before the day the latest statement closes on must be on a statement by now: one
    # that is not (a fabricated or reversed credit) is no longer taken out, so the cash comparison breaks on it.
    covered_from = None if statement is None or statement.closing_on is None else hk_midnight_ns(statement.closing_on)
    unstated_net, unstated_count = ctx.sources.unstated_bank_entries_minor(fiat, received_from_ns=covered_from)
    missing_net, missing_count = (0, 0) if covered_from is None else ctx.sources.unstated_bank_entries_minor(
        fiat, received_before_ns=covered_from)
    if missing_count:
        notes.append(f"{missing_count} bank entr(ies) booked from notifications received before "
                     f"{statement.closing_on if statement else ''} are on no statement (net {missing_net} minor): "
                     "the bank does not confirm them")
    adjust = capital_outside + unstated_net
    expected_bank = figures.reserve_cash_posted_minor - adjust
    control = customer_funds + outstanding_minor + payable + suspense + fees + capital - adjust
    bank_closing: dict[str, int] = {}
    ledger_cash: dict[str, int] = {}
    control_total: int | None = None
    if statement is not None and account is not None:
        bank_closing[account] = statement.closing_minor
        ledger_cash[account] = expected_bank
        control_total = control
    elif account is not None:
        # Before the first statement only the ledger's own books can be checked: the bank side is taken to be
        # what the books owe, so a ledger whose cash disagrees with its liabilities is still named.
        notes.append(f"no camt.053 statement recorded yet for {account}: the bank side is taken as the ledger's "
                     "liabilities until one arrives")
        bank_closing[account] = control
        ledger_cash[account] = expected_bank
        control_total = control
    if unstated_count:
        notes.append(f"{unstated_count} bank entr(ies) booked from notifications are on no statement yet "
                     f"(net {unstated_net} minor): taken out of the ledger's figure")
    if figures.held_for_payouts_minor:
        notes.append(f"{figures.held_for_payouts_minor} minor held in the ledger for pending payouts (still at "
                     "the bank until the debit appears on a statement)")
    cash = CashView(
        account, statement.message_id if statement else None, statement.closing_minor if statement else None,
        figures.reserve_cash_posted_minor, figures.held_for_payouts_minor, capital_outside, unstated_net,
        unstated_count, expected_bank, customer_funds, outstanding_minor, payable, suspense, fees, capital, control,
    )

    # --- supply and holders: ledger vs chain ---
    pending_mint = ctx.sources.pending_mint_base_units(fiat)
    mined_burns = unmined_burns = 0
    for key, (amount, done) in ctx.sources.burns_booked(fiat).items():
        tx = None if done else chain.tx(key)
        if done or (tx is not None and tx.succeeded):
            mined_burns += amount
        else:
            unmined_burns += amount
    if pending_mint:
        notes.append(f"{pending_mint} base units booked as outstanding are in mint batches not yet mined")
    if unmined_burns:
        notes.append(f"{unmined_burns} base units burned in the books are not yet burned on chain")
    ledger_supply = figures.outstanding_base_units - pending_mint + unmined_burns
    ledger_holders = dict(ctx.sources.minted_by_wallet(fiat))
    for holder, net in ctx.sources.peer_transfers_net(cursor).items():
        ledger_holders[holder] = ledger_holders.get(holder, 0) + net
    redemption = chain.redemption_address.lower()
    ledger_holders[redemption] = ledger_holders.get(redemption, 0) - mined_burns
    ledger_holders = {h: v for h, v in ledger_holders.items() if v}
    chain_holders = ctx.sources.indexed_holders(cursor)
    chain_total = int(chain.total_supply())
    indexed = ctx.sources.indexed_supply(cursor)
    if indexed != chain_total:
        notes.append(f"the indexer's supply {indexed} differs from totalSupply {chain_total}: indexer behind?")
    supply = SupplyView(figures.outstanding_base_units, pending_mint, unmined_burns, ledger_supply, chain_total,
                        indexed, len(ledger_holders), len(chain_holders))
    data = ReconciliationInput(
        coin=fiat.coin.value,
        bank_closing_minor=bank_closing,
        ledger_cash_minor=ledger_cash,
        ledger_holder_base_units=ledger_holders,
        ledger_total_supply_base_units=ledger_supply,
        chain_holder_base_units=chain_holders,
        chain_total_supply_base_units=chain_total,
        ledger_cash_total_minor=control_total,
    )
    return data, cash, supply, notes


def run_daily(ctx: ReserveContext, fiat: Currency, as_of: date, *, run_id: str | None = None) -> DailyReconciliation:
    """Reconcile one coin: record the run and the day's coverage point; any break trips the breaker and opens an
    incident naming the sources."""
    now = ctx.clock.now_ns()
    data, cash, supply, notes = gather(ctx, fiat)
    rid = run_id or f"{fiat.coin.value}-{as_of.isoformat()}-{now}"
    outcome = reserves_svc.run_reconciliation(ctx.reserves, data, as_of=as_of, run_id=rid[:64], now_ns=now,
                                             actor=ctx.actor)
    point = reserves_svc.record_coverage_point(ctx.reserves, ctx.ledger, fiat, as_of, now_ns=now)
    return DailyReconciliation(fiat, outcome, cash, supply, point, notes)


# --- proof of liabilities over the real holders ------------------------------------------------------------


def normalise_holder_id(text: str) -> str:
    """'0xABC..' -> 'chain:0xabc..'; 'chain:0x..' lower-cased; 'customer:ID' kept; a bare id -> 'customer:ID'."""
    value = text.strip()
    if not value or len(value) > holder_id_length_max:
        raise ValidationError("a holder id of 1..128 characters is required", code="bad_holder_id")
    if value.lower().startswith("0x"):
        return "chain:" + value.lower()
    if value.lower().startswith("chain:"):
        return "chain:" + value[6:].lower()
    if value.startswith("customer:"):
        return value
    return "customer:" + value


def liability_balances(ctx: ReserveContext, fiat: Currency) -> list[tuple[str, int]]:
    """Every holder's balance in base units: on-chain holders from the indexer and off-chain customers' funds
    received and not yet minted (at par)."""
    ctx.index(fiat)
    out = [(f"chain:{h}", b) for h, b in sorted(ctx.sources.indexed_holders(ctx.coin_cursors[fiat]).items())]
    out += [(f"customer:{c}", minor_to_base_units(v))
            for c, v in sorted(ctx.sources.customer_balances_minor(fiat).items()) if v > 0]
    return out


def snapshot_liabilities(ctx: ReserveContext, fiat: Currency, as_of: date,
                         snapshot_id: str | None = None) -> reserves_svc.LiabilitySnapshot:
    """Build the Merkle sum tree over every holder, keep the leaves, publish the root and total."""
    now = ctx.clock.now_ns()
    sid = (snapshot_id or f"{fiat.coin.value}-{as_of.isoformat()}-{now}")[:64]
    balances = liability_balances(ctx, fiat)
    snap = reserves_svc.build_liability_snapshot(balances, coin=fiat.coin, as_of=as_of, snapshot_id=sid,
                                                 snapshot_secret=ctx.snapshot_secret(sid), now_ns=now)
    with ctx.reserves.transaction() as tx:
        reserves_svc.publish_liability_root(tx, snap)
        tx.put_liability_leaves(sid, balances)
    return snap


def holder_proof(ctx: ReserveContext, coin: Currency, holder: str,
                 snapshot_id: str | None = None) -> tuple[proofs.InclusionProof, rsv.PublishedRoot]:
    """The inclusion proof of one holder in a published snapshot (the latest of the coin by default). The tree is
    rebuilt from the stored leaves and must give the published root."""
    root = ctx.reserves.get_liability_root(snapshot_id) if snapshot_id else ctx.reserves.latest_liability_root(coin)
    if root is None:
        raise NotFoundError(f"no published proof-of-liabilities snapshot for {coin.value}", code="no_snapshot")
    leaves = ctx.reserves.liability_leaves(root.snapshot_id)
    snap = reserves_svc.build_liability_snapshot(leaves, coin=root.coin, as_of=root.as_of,
                                                 snapshot_id=root.snapshot_id,
                                                 snapshot_secret=ctx.snapshot_secret(root.snapshot_id),
                                                 now_ns=root.published_at_ns)
    if snap.root.root_hash_hex != root.root_hash_hex or snap.root.total_base_units != root.total_base_units:
        raise InvariantViolation(f"snapshot {root.snapshot_id} no longer rebuilds to its published root",
                                 code="snapshot_mismatch")
    return snap.proof_for(normalise_holder_id(holder)), root
