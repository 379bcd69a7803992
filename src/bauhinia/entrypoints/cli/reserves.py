"""`bauhinia reserves ...`: holdings, market data, coverage, the mint gate, stress, the circuit breaker,
incidents, proof-of-liabilities snapshots and the attestation report.

Coverage, stress and the attestation read the books (ledger, reserves store, issuance records, chain) through
the Container unless supply is given as an option (coins, decimal text, parsed exactly: no floats). The
reconciliation and proof-of-liabilities snapshots need the chain the books were written against: a JSON-RPC node
(BAUHINIA_CHAIN_RPC_URL); the embedded EVM lives only inside one process (the demo and the tests).
"""

from __future__ import annotations

import csv
import json
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bauhinia.domain import reserves as rsv
from bauhinia.domain.errors import ValidationError
from bauhinia.domain.money import Amount, Currency, parse_currency, parse_decimal_amount
from bauhinia.domain.proofs import proof_to_json
from bauhinia.entrypoints.formatting import progress_bar, working
from bauhinia.services.regulatory import hk_today

app = typer.Typer(
    help="The reserve: assets, coverage, stress, circuit breaker, proofs, attestation.", no_args_is_help=True
)
console = Console()
csv_rows_max = 2_000_000


def _repo() -> Any:
    from bauhinia.adapters.store.db import make_engine, migrate
    from bauhinia.adapters.store.reserves_repo import ReservesRepository
    from bauhinia.bootstrap import load_settings

    engine = make_engine(load_settings().resolved_database_url())
    migrate(engine)
    return ReservesRepository(engine)


def _container() -> Any:
    from bauhinia.bootstrap import Container

    return Container()


def _require_node(container: Any, what: str) -> None:
    from bauhinia.domain.errors import RefusedError

    if not container.settings.chain_rpc_url:
        raise RefusedError(
            f"{what} needs the chain the books were written against; the embedded EVM lives only inside one "
            "process: set BAUHINIA_CHAIN_RPC_URL (or use --dry-run)",
            code="embedded_chain",
        )


def _now_ns() -> int:
    return time.time_ns()


def _date(text: str | None) -> date:
    if text is None:
        return hk_today(time.time_ns())
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"not an ISO date: {text!r}", code="bad_date") from None


def _coin(text: str) -> Currency:
    coin = parse_currency(text)
    if not coin.is_token:
        coin = coin.coin
    return coin


def _coins_base_units(text: str) -> int:
    return parse_decimal_amount(text, Currency.BHKD)  # 6 decimals, exact


def _micro(text: str) -> int:
    return parse_decimal_amount(text, Currency.BHKD)  # a price or rate with up to 6 decimals


def _fmt_minor(value: int, currency: Currency) -> str:
    return Amount(value, currency).format()


def _pct(value_bps: int | None) -> str:
    return "n/a (no liabilities)" if value_bps is None else f"{value_bps // 100}.{value_bps % 100:02d}%"


@app.command("add-asset")
def add_asset(
    asset_id: Annotated[str, typer.Argument()],
    coin: Annotated[str, typer.Option(help="pool: BHKD or BCNH (or HKD / CNH)")],
    kind: Annotated[str, typer.Option(help=", ".join(k.value for k in rsv.AssetKind))],
    currency: Annotated[str | None, typer.Option(help="asset currency (default: the pool's)")] = None,
    bank: Annotated[str, typer.Option(help="bank / counterparty / custodian")] = "",
    principal: Annotated[str | None, typer.Option(help="principal, decimal (cash, deposits, repos)")] = None,
    quantity: Annotated[int, typer.Option(help="units held (securities, fund shares)")] = 0,
    instrument: Annotated[str, typer.Option(help="ISIN or fund id")] = "",
    issuer: Annotated[str | None, typer.Option(help="government, central_bank, ...")] = None,
    start: Annotated[str | None, typer.Option(help="start date (deposits, repos)")] = None,
    maturity: Annotated[str | None, typer.Option(help="maturity date")] = None,
    collateral_issuer: Annotated[str | None, typer.Option(help="repo collateral issuer type")] = None,
    collateral_maturity: Annotated[str | None, typer.Option(help="repo collateral maturity")] = None,
    fund_eligible_only: Annotated[bool, typer.Option(help="fund holds only eligible assets")] = False,
    approval: Annotated[str, typer.Option(help="regulator approval ref (other currency)")] = "",
    haircut_bps: Annotated[int, typer.Option()] = 0,
    as_of: Annotated[str | None, typer.Option(help="date the eligibility is checked on")] = None,
) -> None:
    """Add a holding to its coin's pool; ineligible assets are refused with every reason."""
    from bauhinia.services import reserves as svc

    pool = _coin(coin)
    ccy = parse_currency(currency) if currency else pool.fiat
    asset = rsv.ReserveAsset(
        asset_id=asset_id,
        coin=pool,
        kind=rsv.AssetKind(kind),
        currency=ccy,
        bank=bank,
        instrument_id=instrument,
        issuer_type=rsv.IssuerType(issuer) if issuer else None,
        principal_minor=parse_decimal_amount(principal, ccy) if principal else 0,
        quantity_units=quantity,
        start_date=_date(start) if start else None,
        maturity_date=_date(maturity) if maturity else None,
        collateral_issuer_type=rsv.IssuerType(collateral_issuer) if collateral_issuer else None,
        collateral_maturity_date=_date(collateral_maturity) if collateral_maturity else None,
        fund_holds_only_eligible=fund_eligible_only,
        regulator_approval_ref=approval,
        haircut_bps=haircut_bps,
    )
    svc.add_asset(_repo(), asset, _date(as_of), _now_ns())
    typer.echo(f"added {asset_id} to the {pool} pool")


@app.command("approve")
def approve(
    approval_ref: Annotated[str, typer.Argument()],
    coin: Annotated[str, typer.Option()],
    currency: Annotated[str, typer.Option(help="the other currency approved")],
    granted_on: Annotated[str, typer.Option()],
    expires_on: Annotated[str | None, typer.Option()] = None,
    note: Annotated[str, typer.Option()] = "",
) -> None:
    """Record a regulator approval to hold assets in another currency."""
    from bauhinia.services import reserves as svc

    svc.record_approval(
        _repo(),
        rsv.RegulatorApproval(
            approval_ref,
            _coin(coin),
            parse_currency(currency),
            _date(granted_on),
            _date(expires_on) if expires_on else None,
            note,
        ),
        _now_ns(),
    )
    typer.echo(f"recorded approval {approval_ref}")


@app.command("assets")
def assets(coin: Annotated[str | None, typer.Option()] = None) -> None:
    """List the holdings of one pool or all."""
    table = Table("asset", "pool", "kind", "ccy", "bank", "principal / quantity", "maturity", "haircut bps")
    for a in _repo().list_assets(_coin(coin) if coin else None):
        size = (
            _fmt_minor(a.principal_minor, a.currency) if a.principal_minor else f"{a.quantity_units:,} units"
        )
        table.add_row(
            a.asset_id,
            a.coin.value,
            a.kind.value,
            a.currency.value,
            a.bank,
            size,
            str(a.maturity_date or "-"),
            str(a.haircut_bps),
        )
    console.print(table)


@app.command("load-market-data")
def load_market_data(
    file: Annotated[Path, typer.Argument(help="CSV: type,key,value with type price|accrued|fx")],
    as_of: Annotated[str, typer.Option()],
    source: Annotated[str, typer.Option()] = "file",
) -> None:
    """Load prices (ISIN, price per unit), accrued interest (asset id, amount) and FX rates (CNH/HKD, rate)."""
    from bauhinia.services import reserves as svc

    prices: dict[str, int] = {}
    accrued: dict[str, int] = {}
    fx: dict[tuple[Currency, Currency], int] = {}
    repo = _repo()
    assets_by_id = {a.asset_id: a for a in repo.list_assets()}
    with file.open(newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            if n > csv_rows_max:
                raise ValidationError("market data file too large", code="file_too_large")
            kind, key, value = row.get("type", ""), row.get("key", ""), row.get("value", "")
            if kind == "price":
                prices[key] = _micro(value)
            elif kind == "accrued":
                asset = assets_by_id.get(key)
                if asset is None:
                    raise ValidationError(f"line {n}: unknown asset {key!r}", code="unknown_asset")
                accrued[key] = parse_decimal_amount(value, asset.currency)
            elif kind == "fx":
                src, _, dst = key.partition("/")
                fx[(parse_currency(src), parse_currency(dst))] = _micro(value)
            else:
                raise ValidationError(f"line {n}: type must be price, accrued or fx", code="bad_market_data")
    count = svc.load_market_data(
        repo,
        _date(as_of),
        prices_micro=prices,
        accrued_interest_minor=accrued,
        fx_rates_micro=fx,
        source=source,
    )
    typer.echo(f"loaded {count} rows for {as_of}")


@app.command("load-fx")
def load_fx(
    file: Annotated[Path, typer.Argument(help="the publisher's file: ECB eurofxref XML, or CSV date,from,to,rate")],
    file_format: Annotated[str, typer.Option("--format", help="ecb or csv")] = "ecb",
) -> None:
    """Load published FX reference rates (every day the file holds): the one source the reserve valuation and
    the HK$8,000 thresholds convert with (services/fx.py)."""
    from bauhinia.adapters import fx_rates

    if file_format not in ("ecb", "csv"):
        raise ValidationError("--format is ecb or csv", code="bad_format")
    if not file.is_file():
        raise ValidationError(f"no such file: {file}", code="file_not_found")
    data = file.read_bytes()
    days = fx_rates.parse_ecb(data) if file_format == "ecb" else fx_rates.parse_csv(data)
    repo = _repo()
    for day in sorted(days):
        repo.put_fx_rates(day, days[day])
    last = max(days)
    shown = ", ".join(f"{a.value}/{b.value} {r / 1_000_000:.6f}" for (a, b), r in sorted(
        days[last].items(), key=lambda kv: (kv[0][0].value, kv[0][1].value)))
    typer.echo(f"loaded {sum(len(v) for v in days.values())} rate(s) for {len(days)} day(s) "
               f"({min(days)} to {last}); {last}: {shown}")


@app.command("coverage")
def coverage(
    coin: Annotated[str, typer.Option()],
    outstanding: Annotated[
        str | None, typer.Option(help="coins outstanding incl. frozen (decimal); default: from the ledger")
    ] = None,
    in_flight: Annotated[str, typer.Option(help="redemptions in flight (coins, decimal)")] = "0",
    as_of: Annotated[str | None, typer.Option()] = None,
    bank_cap_bps: Annotated[int, typer.Option()] = 5_000,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Coverage, composition, liquidity ladder and bank concentration of one coin: by default the pool plus
    the ledger's reserve cash against the ledger's coins outstanding and redemptions payable."""
    from bauhinia.services import reserves as svc

    pool_coin = _coin(coin)
    if outstanding is None:
        c = _container()
        report = svc.coin_coverage(
            c.reserves, c.ledger, pool_coin.fiat, _date(as_of), now_ns=_now_ns(), bank_cap_bps=bank_cap_bps,
            cash_bank=c.settings.reserve_bank_bic,
        )
    else:
        report = svc.compute_coverage(
            _repo(),
            pool_coin,
            _date(as_of),
            outstanding_base_units=_coins_base_units(outstanding),
            redemptions_in_flight_base_units=_coins_base_units(in_flight),
            now_ns=_now_ns(),
            bank_cap_bps=bank_cap_bps,
        )
    ccy = pool_coin.fiat
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "coin": pool_coin.value,
                    "reserve_value_minor": report.pool.reserve_value_minor,
                    "market_value_minor": report.pool.market_value_minor,
                    "liabilities_base_units": report.liabilities_base_units,
                    "coverage_bps": report.coverage_bps,
                    "ladder_minor": {r.bucket.value: r.amount_minor for r in report.ladder},
                    "concentration_bps": report.concentration_bps,
                    "minting_halted": report.breaker.halted,
                },
                indent=2,
            )
        )
        return
    console.print(f"[bold]{pool_coin} reserve[/bold] coverage {_pct(report.coverage_bps)}")
    console.print(
        f"reserve after haircuts {_fmt_minor(report.pool.reserve_value_minor, ccy)}; liabilities "
        f"{Amount(report.liabilities_base_units, pool_coin).format()}"
    )
    ladder = Table("bucket", "amount", "cumulative", title="liquidity ladder")
    for r in report.ladder:
        ladder.add_row(r.bucket.value, _fmt_minor(r.amount_minor, ccy), _fmt_minor(r.cumulative_minor, ccy))
    console.print(ladder)
    conc = Table("bank", "share", title=f"bank concentration (cap {_pct(bank_cap_bps)})")
    for bank, share in sorted(report.concentration_bps.items()):
        conc.add_row(bank, _pct(share))
    console.print(conc)
    for b in report.concentration_breaches:
        console.print(f"[red]cap breached[/red]: {b.bank} {_pct(b.share_bps)} > {_pct(b.cap_bps)}")
    for asset_id, refusals in report.pool.excluded:
        console.print(f"[yellow]excluded[/yellow] {asset_id}: " + "; ".join(r.reason for r in refusals))
    if report.breaker.halted:
        console.print(f"[red]minting halted[/red]: {report.breaker.reason}")


@app.command("mint-check")
def mint_check(
    coin: Annotated[str, typer.Option()],
    amount: Annotated[str, typer.Option(help="coins to mint (decimal)")],
    outstanding: Annotated[str, typer.Option()],
    in_flight: Annotated[str, typer.Option()] = "0",
    buffer_bps: Annotated[int, typer.Option()] = 0,
    as_of: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Would this mint pass the gate? Refusal exits non-zero with the reason."""
    from bauhinia.services import reserves as svc

    result = svc.check_mint_allowed(
        _repo(),
        _coin(coin),
        _date(as_of),
        mint_base_units=_coins_base_units(amount),
        outstanding_base_units=_coins_base_units(outstanding),
        redemptions_in_flight_base_units=_coins_base_units(in_flight),
        buffer_bps=buffer_bps,
    )
    typer.echo(
        f"allowed: coverage after mint {_pct(result.coverage_after_bps)} >= {_pct(result.required_bps)}"
    )


@app.command("stress")
def stress(
    coin: Annotated[str, typer.Option()],
    run_pct: Annotated[str, typer.Option(help="share of supply redeemed, percent (e.g. 30 or 12.5)")],
    days: Annotated[int, typer.Option()],
    supply: Annotated[str | None, typer.Option(
        help="what-if coins outstanding (decimal), against the same reserve; default: the ledger's")] = None,
    as_of: Annotated[str | None, typer.Option()] = None,
    report: Annotated[Path | None, typer.Option(help="also write an HTML stress report here")] = None,
) -> None:
    """A redemption run against the liquidity ladder, day by day."""
    from bauhinia.services import reserves as svc

    pool_coin = _coin(coin)
    run_bps = parse_decimal_amount(run_pct, Currency.HKD)  # percent with 2 decimals = bps
    c = _container()
    # a what-if supply runs against the same reserve as the real one: the pool plus the ledger's reserve cash
    result = svc.coin_stress(c.reserves, c.ledger, pool_coin.fiat, _date(as_of), run_bps=run_bps, days=days,
                             cash_bank=c.settings.reserve_bank_bic,
                             supply_base_units=None if supply is None else _coins_base_units(supply))
    if report is not None:
        from bauhinia.adapters.reports.attestation import stress_report_html

        report.write_text(stress_report_html(result, pool_coin, _date(as_of)), encoding="utf-8")
        console.print(f"wrote {report}")
    ccy = pool_coin.fiat
    table = Table("day", "redeemed", "redeemed to date", "liquid to date", "surplus", title="redemption run")
    for d in result.table:
        table.add_row(
            str(d.day),
            _fmt_minor(d.redeemed_minor, ccy),
            _fmt_minor(d.redeemed_cumulative_minor, ccy),
            _fmt_minor(d.liquid_cumulative_minor, ccy),
            _fmt_minor(d.surplus_minor, ccy),
        )
    console.print(table)
    if result.passed:
        console.print("[green]passed[/green]: no shortfall")
    else:
        console.print(
            f"[red]shortfall[/red] {_fmt_minor(result.shortfall_minor, ccy)} from day {result.first_shortfall_day}"
        )
        raise typer.Exit(1)


@app.command("breaker")
def breaker(
    action: Annotated[str, typer.Argument(help="status, trip or reset")],
    coin: Annotated[str, typer.Option()],
    reason: Annotated[str, typer.Option()] = "",
    actor: Annotated[str, typer.Option(help="set by the CLI: the authenticated operator")] = "",
) -> None:
    """Show, trip or ask to reset (with a reason) the minting circuit breaker. A reset is a maker-checker
    request: minting stays halted until a different treasury user or admin approves it (`bauhinia approvals`)."""
    from bauhinia.services import reserves as svc

    repo = _repo()
    pool_coin = _coin(coin)
    if action == "status":
        state = repo.breaker_state(pool_coin)
    elif action == "trip":
        state = svc.trip_breaker(repo, pool_coin, reason=reason, actor=actor or "operator", now_ns=_now_ns())
    elif action == "reset":
        from bauhinia.entrypoints.cli import _identity
        from bauhinia.services import controls

        container = _container()
        sub = controls.request_breaker_reset(container.approvals, container.reserves, pool_coin, reason,
                                             _identity.current())
        typer.echo(f"{pool_coin} minting HALTED: reset requested as approval {sub.request.id}; a second person "
                   f"approves it with `bauhinia approvals approve {sub.request.id}`")
        return
    else:
        raise ValidationError("action must be status, trip or reset", code="bad_action")
    typer.echo(
        f"{pool_coin} minting {'HALTED' if state.halted else 'open'}"
        + (f": {state.reason}" if state.reason else "")
    )


@app.command("incidents")
def incidents(status: Annotated[str | None, typer.Option(help="open or closed")] = None) -> None:
    table = Table("incident", "coin", "kind", "severity", "status", "summary")
    for i in _repo().list_incidents(status):
        table.add_row(i.incident_id, i.coin.value, i.kind, i.severity, i.status, i.summary)
    console.print(table)


@app.command("pol-build")
def pol_build(
    holders: Annotated[Path, typer.Argument(help="CSV: holder_id,balance (coins, decimal)")],
    coin: Annotated[str, typer.Option()],
    snapshot_id: Annotated[str, typer.Option()],
    secret_file: Annotated[Path, typer.Option(help="file holding the snapshot secret (>= 16 bytes)")],
    out: Annotated[Path, typer.Option(help="directory for root.json and proofs/")],
    as_of: Annotated[str | None, typer.Option()] = None,
    proof_for: Annotated[list[str] | None, typer.Option(help="holder ids to write proofs for")] = None,
    publish: Annotated[bool, typer.Option(help="record the root in the store")] = False,
) -> None:
    """Build the Merkle sum tree over holder balances; write the root and the requested proofs."""
    from bauhinia.services import reserves as svc

    pool_coin = _coin(coin)
    balances: list[tuple[str, int]] = []
    with progress_bar("reading holder balances") as progress, holders.open(newline="", encoding="utf-8") as fh:
        rows_total = 0
        if progress is not None:  # on a terminal only: one cheap pass over the lines sizes the bar
            rows_total = max(0, sum(1 for _ in fh) - 1)
            fh.seek(0)
        for n, row in enumerate(csv.DictReader(fh), start=2):
            if n > csv_rows_max:
                raise ValidationError("holder file too large", code="file_too_large")
            balances.append((row["holder_id"], _coins_base_units(row["balance"])))
            if progress is not None and (n % 1000 == 0 or n - 1 == rows_total):
                progress(n - 1, rows_total)
    with working(f"building the Merkle sum tree over {len(balances):,} holders"):
        snap = svc.build_liability_snapshot(
            balances,
            coin=pool_coin,
            as_of=_date(as_of),
            snapshot_id=snapshot_id,
            snapshot_secret=secret_file.read_bytes().strip(),
            now_ns=_now_ns(),
        )
    out.mkdir(parents=True, exist_ok=True)
    root = snap.root
    (out / "root.json").write_text(
        json.dumps(
            {
                "snapshot_id": root.snapshot_id,
                "coin": root.coin.value,
                "as_of": root.as_of.isoformat(),
                "root_hash": root.root_hash_hex,
                "total_base_units": str(root.total_base_units),
                "leaf_count": root.leaf_count,
            },
            indent=2,
        )
        + "\n"
    )
    (out / "proofs").mkdir(exist_ok=True)
    for holder_id in proof_for or []:
        name = uuid.uuid5(uuid.NAMESPACE_URL, holder_id).hex
        (out / "proofs" / f"{name}.json").write_text(proof_to_json(snap.proof_for(holder_id)))
        typer.echo(f"proof for {holder_id}: {out / 'proofs' / (name + '.json')}")
    if publish:
        svc.publish_liability_root(_repo(), snap)
    typer.echo(f"root {root.root_hash_hex} total {root.total_base_units} over {root.leaf_count} holders")


@app.command("attest")
def attest(
    out: Annotated[Path, typer.Option(help="directory for attestation.html/.pdf and disclosure.json/.html")],
    outstanding: Annotated[
        list[str] | None, typer.Option(help="COIN=coins outstanding (e.g. BHKD=1000000); default: the books")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="attestation date (any date, e.g. a randomly drawn one)")
    ] = None,
    random_date: Annotated[
        bool, typer.Option(help="draw the date at random from the days with a recorded coverage point")
    ] = False,
    issuer: Annotated[str, typer.Option()] = "Bauhinia Stablecoin Issuer Ltd",
    auditor: Annotated[str, typer.Option()] = "Independent auditor",
    chain: Annotated[str | None, typer.Option(help="chain name for the supply table")] = None,
    auditor_opinion: Annotated[Path | None, typer.Option(
        help="a text file with the auditor's opinion, attached as given in its own section")] = None,
) -> None:
    """The issuer's management statement of reserves for a date (HTML, PDF), with the auditor's opinion in its
    own section when one is attached, and the weekly disclosure (JSON, HTML).

    By default everything comes from the books: coverage per coin from the ledger (balances as of the end of
    that day) and the reserves store, the recorded coverage series, supply per chain, redemption statistics
    from the issuance records, the latest reconciliation and the published proof-of-liabilities roots.
    """
    from datetime import timedelta

    from bauhinia.adapters.reports.attestation import (
        AttestationData,
        PoolSummary,
        SupplyLine,
    )
    from bauhinia.services import reserves as svc

    day = _date(as_of)
    opinion = ""
    if auditor_opinion is not None:
        if not auditor_opinion.is_file():
            raise ValidationError(f"no such file: {auditor_opinion}", code="file_not_found")
        opinion = auditor_opinion.read_text(encoding="utf-8").strip()[:20_000]
    if random_date:
        import secrets as _secrets

        repo = _repo()
        days = sorted({p.as_of for c in (Currency.BHKD, Currency.BCNH)
                       for p in repo.coverage_series(c, date(2000, 1, 1), hk_today(time.time_ns()))})
        if not days:
            raise ValidationError("no coverage point recorded yet to draw a date from", code="no_coverage")
        day = days[_secrets.randbelow(len(days))]
        typer.echo(f"drawn at random: {day}")
    if not outstanding:
        from dataclasses import replace

        from bauhinia.entrypoints.reserve_reports import build_attestation

        data = build_attestation(_container(), day, auditor=auditor, chain_name=chain)
        _write_attestation(replace(data, auditor_opinion=opinion), out)
        return
    repo = _repo()
    pools: list[PoolSummary] = []
    series: dict[Currency, list[tuple[date, int]]] = {}
    supply: list[SupplyLine] = []
    for item in outstanding:
        coin_text, _, amount = item.partition("=")
        coin = _coin(coin_text)
        supply_base = _coins_base_units(amount)
        report = svc.compute_coverage(
            repo,
            coin,
            day,
            outstanding_base_units=supply_base,
            redemptions_in_flight_base_units=0,
            now_ns=_now_ns(),
        )
        pools.append(
            PoolSummary(
                coin,
                {k.value: v for k, v in report.pool.composition_minor().items()},
                report.pool.market_value_minor,
                report.pool.reserve_value_minor,
                report.liabilities_base_units,
                report.coverage_bps,
                {r.bucket.value: r.amount_minor for r in report.ladder},
                report.concentration_bps,
            )
        )
        series[coin] = [
            (p.as_of, p.coverage_bps)
            for p in repo.coverage_series(coin, day - timedelta(days=90), day)
            if p.coverage_bps is not None
        ]
        supply.append(SupplyLine(coin, chain or "Ethereum", supply_base))
    runs = [r for p in pools for r in repo.list_recon_runs(p.coin, limit=1)]
    data = AttestationData(
        as_of=day,
        issuer=issuer,
        pools=pools,  # (supply given as options)
        coverage_series=dict(series),
        supply=supply,
        redemptions=[],
        reconciliation_breaks=sum(r.break_count for r in runs),
        reconciliation_run_id=", ".join(r.run_id for r in runs),
        auditor=auditor,
        period_start=day - timedelta(days=6),
        auditor_opinion=opinion,
    )
    _write_attestation(data, out)


def _write_attestation(data: Any, out: Path) -> None:
    from bauhinia.adapters.reports.attestation import (
        render_attestation_html,
        render_attestation_pdf,
        weekly_disclosure_html,
        weekly_disclosure_json,
    )

    out.mkdir(parents=True, exist_ok=True)
    (out / "attestation.html").write_text(render_attestation_html(data), encoding="utf-8")
    (out / "attestation.pdf").write_bytes(render_attestation_pdf(data))
    (out / "disclosure.json").write_text(weekly_disclosure_json(data), encoding="utf-8")
    (out / "disclosure.html").write_text(weekly_disclosure_html(data), encoding="utf-8")
    typer.echo(f"attestation for {data.as_of}: wrote attestation.html, attestation.pdf, disclosure.json, "
               f"disclosure.html to {out}")


@app.command("attester")
def attester_cmd(
    coin: Annotated[str | None, typer.Option(help="one coin (BHKD or BCNH); default: every coin")] = None,
    every: Annotated[float, typer.Option(help="seconds between rounds; 0: one round, then exit")] = 0.0,
    force: Annotated[bool, typer.Option(help="post even when the guard's figure is current and equal")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    actor: Annotated[str, typer.Option(help="set by the CLI: the authenticated operator")] = "",
) -> None:
    """The reserve attester: post each coin's reserve figure, from the bank's statement checked against the
    ledger, to the contract's reserve guard (services/attester.py). Run it as a process of its own, with only the
    reserve_attestor key's secret, when BAUHINIA_RESERVE_ATTESTER is separate (the default outside a demo); with
    --every it keeps running. Exits 1 when a round could post nothing for a coin that needs it."""
    from dataclasses import replace

    from bauhinia.services import attester as svc

    c = _container()
    actx = replace(c.attester, actor=actor or "reserve-attester")
    fiats = [_coin(coin).fiat] if coin else None
    while True:
        results = ([svc.attest(actx, f, force=force) for f in fiats] if fiats
                   else svc.attest_all(actx, force=force))
        failed = [r for r in results if not r.posted and r.figure is None]
        for r in results:
            if as_json:
                typer.echo(json.dumps({"coin": r.coin, "posted": r.posted, "reason": r.reason, "at_s": r.at_s,
                                       "tx_hash": r.tx_hash,
                                       "reserve_base_units": r.figure.reserve_base_units if r.figure else None,
                                       "details": r.details}, default=str))
            elif r.posted and r.figure:
                typer.echo(f"{r.coin}: posted {r.figure.reserve_base_units} base units at {r.at_s} "
                           f"(statement {r.figure.statement} closing {r.figure.statement_closing_on}, bank cash "
                           f"{r.figure.bank_cash_minor}, ledger cash {r.figure.ledger_cash_minor}, assets "
                           f"{r.figure.assets_minor} minor; {r.reason}) tx {r.tx_hash}")
            else:
                typer.echo(f"{r.coin}: nothing posted: {r.reason}", err=not r.figure)
        if every <= 0:
            if failed:
                raise typer.Exit(1)
            return
        time.sleep(every)


@app.command("reconcile")
def reconcile(
    coin: Annotated[str, typer.Option()],
    as_of: Annotated[str | None, typer.Option()] = None,
    dry_run: Annotated[bool, typer.Option(help="compare and print, record nothing, trip nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Daily three-way reconciliation of one coin: latest bank statement vs ledger vs chain (indexer). Any break
    trips the minting breaker and opens an incident; exits 1 when there are breaks."""
    from bauhinia.domain.reconciliation import reconcile as compare
    from bauhinia.entrypoints.reserve_context import reserve_context
    from bauhinia.services import reconciliation as rec

    c = _container()
    pool_coin = _coin(coin)
    if not dry_run:
        _require_node(c, "the reconciliation")
    rctx = reserve_context(c)
    if dry_run:
        data, cash, supply, notes = rec.gather(rctx, pool_coin.fiat)
        result = compare(data)
        breaks = list(result.breaks)
        halted = rctx.reserves.breaker_state(pool_coin).halted
        run_id = "(dry run)"
    else:
        daily = rec.run_daily(rctx, pool_coin.fiat, _date(as_of))
        cash, supply, notes, breaks = daily.cash, daily.supply, daily.notes, list(daily.outcome.result.breaks)
        halted, run_id = daily.outcome.breaker.halted, daily.outcome.run.run_id
    if as_json:
        from dataclasses import asdict

        typer.echo(json.dumps({"coin": pool_coin.value, "run_id": run_id, "ok": not breaks,
                               "breaks": [{"source": b.source.value, "kind": b.kind.value, "key": b.key,
                                           "expected": b.expected, "actual": b.actual, "unit": b.unit}
                                          for b in breaks[:1_000]],
                               "cash": asdict(cash), "supply": asdict(supply), "notes": notes,
                               "minting_halted": halted}, indent=2))
    else:
        print_reconciliation(console, pool_coin, cash, supply, breaks, notes, run_id, halted)
    if breaks:
        raise typer.Exit(1)


def print_reconciliation(out, coin, cash, supply, breaks, notes, run_id, halted) -> None:  # type: ignore[no-untyped-def]
    """The reconciliation as tables: cash (bank vs ledger, with the timing items), supply (ledger vs chain)."""
    ccy = coin.fiat
    t = Table("cash", "amount", title=f"{coin.value} reserve cash: bank vs ledger (run {run_id})")
    t.add_row("bank closing balance (camt.053 " + (cash.statement or "none") + ")",
              _fmt_minor(cash.bank_closing_minor or 0, ccy) if cash.bank_closing_minor is not None else "-")
    t.add_row("ledger reserve cash (posted)", _fmt_minor(cash.reserve_cash_posted_minor, ccy))
    t.add_row("  of which held for pending payouts", _fmt_minor(cash.held_for_payouts_minor, ccy))
    t.add_row("  less issuer capital held outside the account", _fmt_minor(cash.capital_outside_statement_minor, ccy))
    t.add_row(f"  less {cash.unstated_entries_count} entr(ies) on no statement yet",
              _fmt_minor(cash.unstated_entries_minor, ccy))
    t.add_row("ledger's expected bank balance", _fmt_minor(cash.ledger_expected_bank_minor, ccy))
    t.add_row("books: customers' funds + coins + payable + suspense + fees + capital (adjusted)",
              _fmt_minor(cash.control_total_minor, ccy))
    out.print(t)
    s = Table("supply", "ledger", "chain", title=f"{coin.value} supply: ledger vs chain")
    s.add_row("total", Amount(supply.ledger_supply_base_units, coin).format(),
              Amount(supply.chain_total_supply_base_units, coin).format())
    s.add_row("holders", str(supply.ledger_holders), str(supply.chain_holders))
    out.print(s)
    for note in notes:
        out.print(f"[dim]note: {note}[/dim]")
    if not breaks:
        out.print("[green]bank, ledger and chain agree: no breaks[/green]")
    for b in breaks[:50]:
        out.print(f"[red]break[/red] {b.describe()}")
    if halted:
        out.print(f"[red]minting of {coin.value} is halted[/red] until an operator resets the breaker with a reason")


@app.command("pol-snapshot")
def pol_snapshot(
    coin: Annotated[str, typer.Option()],
    as_of: Annotated[str | None, typer.Option()] = None,
    snapshot_id: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Snapshot every holder (on-chain from the indexer, off-chain customers' funds not yet minted) into a
    Merkle sum tree; publish the root and the total."""
    from bauhinia.entrypoints.reserve_context import reserve_context
    from bauhinia.services import reconciliation as rec

    c = _container()
    _require_node(c, "a proof-of-liabilities snapshot")
    snap = rec.snapshot_liabilities(reserve_context(c), _coin(coin).fiat, _date(as_of), snapshot_id)
    r = snap.root
    typer.echo(f"published snapshot {r.snapshot_id}: root {r.root_hash_hex} total {r.total_base_units} base units "
               f"over {r.leaf_count} holders")


@app.command("proof")
def proof(
    holder: Annotated[str, typer.Option(help="0x wallet address, or customer id")],
    out: Annotated[Path, typer.Option(help="where to write the inclusion proof (JSON)")],
    coin: Annotated[str, typer.Option()] = "BHKD",
    snapshot_id: Annotated[str | None, typer.Option(help="default: the latest published snapshot")] = None,
) -> None:
    """Download a holder's inclusion proof from a published snapshot; check it with `bauhinia verify-proof`."""
    from bauhinia.entrypoints.reserve_context import secret_store
    from bauhinia.services import reconciliation as rec

    c = _container()
    # Only the stored leaves and the snapshot secret are needed: no chain.
    rctx = rec.ReserveContext(
        reserves=c.reserves, sources=None, ledger=None, chains={}, coin_cursors={}, index=lambda _f: 0,  # type: ignore[arg-type]
        reserve_accounts={}, clock=c.clock, snapshot_secret=secret_store(Path(c.settings.data_dir) / "pol-secrets"),
    )
    inclusion, root = rec.holder_proof(rctx, _coin(coin), holder, snapshot_id)
    out.write_text(proof_to_json(inclusion), encoding="utf-8")
    typer.echo(f"wrote {out}: balance {inclusion.balance} base units in snapshot {root.snapshot_id}")
    typer.echo(f"check it: bauhinia verify-proof {out} --root {root.root_hash_hex} --total {root.total_base_units}")
