"""`bauhinia chain ...`: deploy a coin's contract and show the coins' on-chain status.

With BAUHINIA_CHAIN_RPC_URL set, deployments go to that node, role keys live in encrypted keystores under
<data_dir>/keystore (BAUHINIA_CHAIN_KEYSTORE_PASSWORD), and the deployment is recorded in the database.
Without it, the command runs on the embedded in-process EVM, whose state lasts for that one command.
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table
from web3 import Web3

from bauhinia.adapters.chain.artifacts import stablecoin_abi
from bauhinia.adapters.chain.deploy import (
    RESERVE_MAX_AGE_S_DEFAULT,
    deploy_coin,
    find_deployment,
    record_deployment,
)
from bauhinia.adapters.chain.embedded import make_embedded_chain
from bauhinia.adapters.chain.indexer import cursor_name
from bauhinia.adapters.chain.journal import TxJournal
from bauhinia.adapters.chain.keys import KeyStore, role_secrets
from bauhinia.adapters.chain.node import chain_settings, connect_node
from bauhinia.adapters.chain.sender import TxSender
from bauhinia.adapters.store.chain_tables import indexer_cursors
from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.bootstrap import load_settings
from bauhinia.domain.errors import ValidationError
from bauhinia.domain.money import Amount, Currency, parse_currency

app = typer.Typer(help="The coins' token contracts: deploy, status; pause, unpause, unfreeze, wipe (each a "
                  "maker-checker request).", no_args_is_help=True)
console = Console()


def _coin(code: str) -> Currency:
    coin = parse_currency(code).coin
    if not coin.is_token:
        raise ValidationError(f"{code} has no coin", code="not_a_coin")
    return coin


@app.command()
def deploy(
    currency: Annotated[str, typer.Option("--currency", help="CNH or HKD")],
    licence: Annotated[str, typer.Option(help="licence number carried by the contract")] = "",
    approval_reference: Annotated[str, typer.Option(help="mainland approval reference (CNH coin)")] = "",
    reserve_max_age_s: Annotated[int, typer.Option(help="maximum age of a reserve attestation")] = (
        RESERVE_MAX_AGE_S_DEFAULT
    ),
    fund_from_node: Annotated[bool, typer.Option(help="dev nodes: pay role keys' gas from the node")] = False,
) -> None:
    """Deploy one coin's contract and give every role its own key."""
    coin = _coin(currency)
    settings = load_settings()
    cs = chain_settings(settings)
    licence = licence or cs.licence_number
    approval = approval_reference or (cs.cnh_approval_reference if coin is Currency.BCNH else "")
    if not settings.chain_rpc_url:
        chains = make_embedded_chain(coins=(coin,), licence_number=licence or "HKMA-SC-DEMO-001",
                                     cnh_approval_reference=approval or "PBOC-CB-DEMO-2025-001")
        chain = chains.for_coin(coin)
        console.print(f"{coin.value} deployed at {chain.address} on the embedded EVM "
                      "(in-process: it lasts for this command; set BAUHINIA_CHAIN_RPC_URL for a node)")
        return
    if coin is Currency.BCNH and not approval:
        console.print("[yellow]warning:[/] no mainland approval reference: minting BCNH will be refused "
                      "until the contract carries one")
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    w3 = connect_node(settings.chain_rpc_url)
    existing = find_deployment(engine, int(w3.eth.chain_id), coin)
    if existing:
        console.print(f"{coin.value} is already deployed at {existing['address']}")
        return
    keys = KeyStore(settings.data_dir / "keystore").load_or_create(coin.value, role_secrets(settings))
    sender = TxSender(w3, TxJournal(engine))
    chain = deploy_coin(sender, keys, coin, licence_number=licence, approval_reference=approval,
                        reserve_max_age_s=reserve_max_age_s, fund_from_dev_account=fund_from_node,
                        confirmations=cs.confirmations)
    record_deployment(engine, chain)
    console.print(f"{coin.value} deployed at {chain.address} (chain {sender.chain_id})")


def _fmt(units: int, coin: Currency) -> str:
    return Amount(units, coin).format() if units < 2**63 else f"{units} base units"


def _status_rows(w3: Web3, address: str, coin: Currency, lag: str) -> list[tuple[str, str]]:
    c = w3.eth.contract(address=Web3.to_checksum_address(address), abi=stablecoin_abi())
    f = c.functions
    rows = [
        ("address", address),
        ("supply", _fmt(int(f.totalSupply().call()), coin)),
        ("attested reserve", _fmt(int(f.attested_reserve().call()), coin)),
        ("attested at (unix s)", str(f.attested_at().call())),
        ("reserve fresh", str(f.reserveIsFresh().call())),
        ("paused", str(f.paused().call())),
        ("licence", f.licence_number().call()),
        ("approval reference", f.approval_reference().call() or "-"),
        ("indexer lag (blocks)", lag),
    ]
    for role in ("owner", "master_minter", "pauser", "blacklister", "rescuer", "reserve_attestor"):
        rows.append((role, getattr(f, role)().call()))
    return rows


@app.command()
def status(currency: Annotated[str, typer.Option("--currency", help="CNH, HKD or both")] = "") -> None:
    """Supply, attested reserve, roles, paused, indexer lag for each coin."""
    coins = [_coin(currency)] if currency else [Currency.BCNH, Currency.BHKD]
    settings = load_settings()
    tables: list[tuple[Currency, list[tuple[str, str]]]] = []
    if not settings.chain_rpc_url:
        chains = make_embedded_chain(coins=tuple(coins))
        for coin in coins:
            tables.append((coin, _status_rows(chains.w3, chains.for_coin(coin).address, coin, "n/a")))
        console.print("embedded EVM (in-process, fresh for this command; set BAUHINIA_CHAIN_RPC_URL for a node)")
    else:
        engine = make_engine(settings.resolved_database_url())
        migrate(engine)
        w3 = connect_node(settings.chain_rpc_url)
        chain_id, head = int(w3.eth.chain_id), int(w3.eth.block_number)
        for coin in coins:
            dep = find_deployment(engine, chain_id, coin)
            if dep is None:
                console.print(f"{coin.value}: not deployed on chain {chain_id}")
                continue
            with engine.connect() as conn:
                nxt = conn.execute(sa.select(indexer_cursors.c.next_block).where(
                    indexer_cursors.c.name == cursor_name(chain_id, str(dep["address"])))).scalar()
            lag = "not indexed" if nxt is None else str(max(0, head - int(nxt) + 1))
            tables.append((coin, _status_rows(w3, str(dep["address"]), coin, lag)))
    for coin, rows in tables:
        table = Table(title=f"{coin.value}", show_header=False)
        for key, value in rows:
            table.add_row(key, str(value))
        console.print(table)


# --- the coin's powers: each only opens an approval; a different person approves (`bauhinia approvals`) ---------

CurrencyOpt = Annotated[str, typer.Option("--currency", help="CNH or HKD")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="why (recorded with the request)")]


def _request(action: str, currency: str, reason: str, addresses: list[str] | None = None, order: str = "",
             amount_base_units: int | None = None, token: str = "") -> None:
    from bauhinia.bootstrap import Container
    from bauhinia.entrypoints.cli import _identity
    from bauhinia.services import controls

    sub = controls.request_chain_control(Container().approvals, _identity.current(), action,
                                         parse_currency(currency), reason, addresses=addresses or [], order=order,
                                         amount_base_units=amount_base_units, token=token)
    typer.echo(f"{action} of {currency.upper()} requested as approval {sub.request.id}; it reaches the chain once "
               f"{sub.request.approvals_required} other person(s) approve it (`bauhinia approvals approve`)")


@app.command("pause")
def pause(currency: CurrencyOpt, reason: ReasonOpt) -> None:
    """Ask to pause every transfer of a coin."""
    _request("pause", currency, reason)


@app.command("unpause")
def unpause(currency: CurrencyOpt, reason: ReasonOpt) -> None:
    """Ask to unpause a coin."""
    _request("unpause", currency, reason)


@app.command("unfreeze")
def unfreeze(addresses: Annotated[list[str], typer.Argument(help="frozen addresses")], currency: CurrencyOpt,
             reason: ReasonOpt) -> None:
    """Ask to unfreeze addresses on a coin."""
    _request("unfreeze", currency, reason, addresses)


@app.command("wipe")
def wipe(address: Annotated[str, typer.Argument(help="a frozen address")], currency: CurrencyOpt,
         order: Annotated[str, typer.Option("--order", help="the order's reference (its SHA-256 goes on chain)")],
         reason: ReasonOpt) -> None:
    """Ask to burn a frozen address's coins under an order (two other people approve)."""
    _request("wipe", currency, reason, [address], order)


def _base_units(text: str, currency: str) -> int:
    """A decimal amount of the coin ("1000000.00") in base units."""
    from bauhinia.domain.money import minor_to_base_units, parse_decimal_amount

    return minor_to_base_units(parse_decimal_amount(text, parse_currency(currency).fiat))


@app.command("minter-allowance")
def minter_allowance(minter: Annotated[str, typer.Argument(help="the minter's address")], currency: CurrencyOpt,
                     allowance: Annotated[str, typer.Option(help="coins it may still mint, e.g. 5000000.00")],
                     reason: ReasonOpt) -> None:
    """Ask to make an address a minter with this allowance, or to change its allowance (two other treasury users
    or admins approve; the master minter's key does it)."""
    _request("minter_allowance", currency, reason, [minter], amount_base_units=_base_units(allowance, currency))


@app.command("minter-remove")
def minter_remove(minter: Annotated[str, typer.Argument(help="the minter's address")], currency: CurrencyOpt,
                  reason: ReasonOpt) -> None:
    """Ask to remove a minter (two other treasury users or admins approve)."""
    _request("minter_remove", currency, reason, [minter])


@app.command("rescue")
def rescue(token: Annotated[str, typer.Argument(help="the other token's contract address")], currency: CurrencyOpt,
           receiver: Annotated[str, typer.Option("--to", help="who gets the tokens back")],
           amount_base_units: Annotated[int, typer.Option(help="in the other token's base units")],
           reason: ReasonOpt) -> None:
    """Ask to return another token sent to the coin's contract by mistake (two other admins approve; the rescuer's
    key sends it)."""
    _request("rescue", currency, reason, [receiver], amount_base_units=amount_base_units, token=token)
