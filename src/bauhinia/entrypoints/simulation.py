"""A seeded simulation that checks money stays right under faults (issue 14, item 6; in the way of TigerBeetle's VOPR).

Each scenario runs the real services (`services.issuance`: ingest_bank_files, run_subscriptions, run_redemptions,
run_payouts, recover) through the real wiring (bootstrap's node mode: role keystores, the chain journal and the
deployment in the database) against the embedded revm node served over JSON-RPC on 127.0.0.1, with a fault plan
drawn from `random.Random(seed)`:

  crash           a named commit boundary (bauhinia.faults) raises SimulatedCrash at its Nth occurrence; the
                  "process" is dropped and a new one over the same database and chain recovers
  concurrent      two runners at once, in two threads of one issuer process
  concurrent_processes  two runners at once in two issuer processes over the same database and role keys
  reorg           a reorganisation of depth 1..12 between steps; the orphaned transactions are re-included
  reorg_drop      the same, and some orphaned transactions never make it into the winning fork
  drop            the node answers eth_sendRawTransaction with the hash but never sees the transaction
  timeout         the node's answer is lost (the connection closes), before or after the request ran
  revert          a batch mint reverts on chain: a receiver is frozen between the runner's checks and its send
                  (the blacklister races the minter), and unfrozen afterwards
  refusal         the coin is paused through the chain adapter, a mint run is refused, the coin unpaused
  refusal_long    the same, with the worker's mint runs going on during the pause (up to a dozen)
  bank_split      one delivery's credits arrive in several files
  bank_duplicate  a file arrives twice (another name, the same bytes)
  bank_delay      a file arrives some steps later
  bank_truncate   a file is first seen half written, and completed later
  bank_restated   the entries of a notification (camt.054) come again in a statement (camt.053)
  bank_batch      one bank entry carries several transaction details (credits of several customers)

After the steps the scenario drains (every file delivered, blocks mined, the processes restarted and every runner
run until nothing changes) and checks, from the database tables, the chain node and the bank folders directly,
not from the services' own reports: chain supply = ledger coins outstanding; one mint per credit; one payment
instruction per redemption across every pain.001; every bank credit one subscription or suspense entry; bank =
ledger reserve cash; nothing lost; and `recover` ends clean (a second one does nothing, nothing pending).

Use: tools/simulate.py (the CLI, which writes bench/results/simulation.json).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa
from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from bauhinia import faults
from bauhinia.adapters.chain.revm_provider import RevmNode, RevmProvider
from bauhinia.config import Settings
from bauhinia.domain import issuance as iss
from bauhinia.domain.issuance import Book
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import Holder, Issuer, make_issuer
from bauhinia.services import issuance as svc

CNH = Currency.CNH
FAULT_KINDS: tuple[str, ...] = (
    "crash", "concurrent", "concurrent_processes", "reorg", "reorg_drop", "drop", "timeout", "revert", "refusal",
    "refusal_long", "bank_split", "bank_duplicate", "bank_delay", "bank_truncate", "bank_restated", "bank_batch",
)
FAULT_STEPS: tuple[str, ...] = ("crash", "concurrent", "concurrent_processes", "reorg", "reorg_drop", "drop",
                                 "timeout", "revert", "refusal", "refusal_long")
STORES = ("sqlite", "postgres")
PG_ADMIN_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KEYSTORE_PASSWORD = "simulation"  # noqa: S105 - a throwaway keystore of a throwaway scenario
CAPITAL_MINOR = 10_000_000_00
RECEIPT_WAIT_S = 2.0  # the node answers in milliseconds: a transaction it never saw is given up on quickly
DRAIN_ROUNDS_MAX = 8
SCENARIO_TIMEOUT_S = 150.0
SCENARIO_TIMEOUT_S_QUICK = 90.0
REORG_DEPTH_MAX = 12
# The node's confirmation depth (Settings.chain_confirmations): a reorganisation no deeper is within the model.
CONFIRMATIONS_DEFAULT = int(Settings.model_fields["chain_confirmations"].default)
_TRANSFER_TOPIC = "0x" + keccak(b"Transfer(address,address,uint256)").hex()
_ZERO_TOPIC = "0x" + "00" * 32
_SEL_TOTAL_SUPPLY = function_signature_to_4byte_selector("totalSupply()")
_SEL_BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")
_SEL_TRANSFER = function_signature_to_4byte_selector("transfer(address,uint256)")
_SEL_PAUSED = function_signature_to_4byte_selector("paused()")
_SEL_BATCH_MINT = function_signature_to_4byte_selector("batchMint(uint256[])")
_SEL_IS_FROZEN = function_signature_to_4byte_selector("isFrozen(address)")
_RDM = re.compile(r"<EndToEndId>(RDM-CNH-\d+)</EndToEndId>")
_INSTRUCTION = re.compile(r"<EndToEndId>(RDM-CNH-\d+)</EndToEndId>.*?<InstdAmt[^>]*>([0-9.]+)</InstdAmt>", re.S)


def _minor(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


# ---------------------------------------------------------------------------------------------------------
# The chain: the embedded revm node over JSON-RPC, with faults between the issuer and the node
# ---------------------------------------------------------------------------------------------------------


class RpcFaults:
    """Faults armed on the node's JSON-RPC answers: the Nth call of a method from now is dropped (`swallow`: a
    sent transaction answered but never seen), or its answer lost (`lost_before`: the connection closes before
    the call ran; `lost_after`: after it ran)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[list[Any]] = []  # [method, calls left, mode]
        self.fired: Counter[str] = Counter()
        # called with each raw transaction before the node sees it; returns True once it has done its work
        self.before_send: Callable[[bytes], bool] | None = None

    def arm(self, method: str, nth: int, mode: str) -> None:
        with self._lock:
            self._armed.append([method, nth, mode])

    def armed(self) -> bool:
        with self._lock:
            return bool(self._armed)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def decide(self, method: str) -> str | None:
        with self._lock:
            for armed in self._armed:
                if armed[0] == method:
                    armed[1] -= 1
                    if armed[1] == 0:
                        self._armed.remove(armed)
                        self.fired[armed[2]] += 1
                        return str(armed[2])
            return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    raise TypeError(f"{type(value).__name__} is not JSON")


def serve_node(provider: RevmProvider, rpc_faults: RpcFaults) -> ThreadingHTTPServer:
    """Answer JSON-RPC from `provider` on a free 127.0.0.1 port (daemon threads), through `rpc_faults`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            calls = body if isinstance(body, list) else [body]
            answers = []
            for call in calls:
                method, params = str(call["method"]), call.get("params") or []
                mode = rpc_faults.decide(method)
                hook = rpc_faults.before_send
                if hook is not None and method == "eth_sendRawTransaction" and hook(
                        bytes.fromhex(str(params[0])[2:])):
                    rpc_faults.before_send = None
                if mode == "lost_before":
                    self.close_connection = True
                    return
                if mode == "swallow" and method == "eth_sendRawTransaction":
                    raw = bytes.fromhex(str(params[0])[2:])
                    response: dict[str, Any] = {"jsonrpc": "2.0", "result": "0x" + keccak(raw).hex()}
                else:
                    response = dict(provider.make_request(method, params))  # type: ignore[arg-type]
                if mode == "lost_after":
                    self.close_connection = True
                    return
                response["id"] = call.get("id")
                answers.append(response)
            data = json.dumps(answers if isinstance(body, list) else answers[0], default=_jsonable).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="sim-json-rpc", daemon=True).start()
    return server


# ---------------------------------------------------------------------------------------------------------
# The bank: what it credited and debited (the truth the checks compare with), and the files it writes
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credit:
    """One transaction detail credited to the reserve account: a customer's (by deposit reference) or nobody's."""

    reference: str  # unique per credit: the transaction's servicer reference
    customer_id: str | None
    amount_minor: int
    remittance: str
    debtor_name: str


@dataclass(frozen=True)
class BankEntry:
    """A booking (Ntry): credits (one, or several for a batch entry), or one payout debit."""

    servicer_reference: str
    credits: tuple[Credit, ...] = ()
    debit_minor: int = 0
    debit_reference: str = ""  # RDM-... of the payout it pays

    @property
    def amount_minor(self) -> int:
        return self.debit_minor or sum(c.amount_minor for c in self.credits)


def _amount(minor: int) -> str:
    whole, frac = divmod(minor, 100)
    return f"{whole}.{frac:02d}"


def _ntry(e: BankEntry, ccy: str, day: str) -> str:
    """An entry in the shape of adapters/bank/simulator.py (camt .001.08), with one TxDtls per credit."""
    credit = not e.debit_minor
    cd = "CRDT" if credit else "DBIT"
    fam = "RCDT" if credit else "ICDT"
    details = []
    parts = e.credits if credit else (None,)
    for c in parts:
        if c is not None:
            ref, amount, rmt_text, e2e = c.reference, c.amount_minor, c.remittance, "NOTPROVIDED"
            party = (f"<RltdPties><Dbtr><Pty><Nm>{escape(c.debtor_name)}</Nm></Pty></Dbtr></RltdPties>"
                     if c.debtor_name else "")
        else:
            ref, amount, rmt_text, e2e, party = e.servicer_reference, e.debit_minor, e.debit_reference, \
                e.debit_reference, ""
        rmt = f"<RmtInf><Ustrd>{escape(rmt_text)}</Ustrd></RmtInf>" if rmt_text else ""
        details.append(f"<TxDtls><Refs><AcctSvcrRef>{escape(ref)}</AcctSvcrRef>"
                       f"<EndToEndId>{escape(e2e)}</EndToEndId></Refs>"
                       f'<Amt Ccy="{ccy}">{_amount(amount)}</Amt><CdtDbtInd>{cd}</CdtDbtInd>{party}{rmt}</TxDtls>')
    return (
        f'<Ntry><NtryRef>{escape(e.servicer_reference)}</NtryRef><Amt Ccy="{ccy}">{_amount(e.amount_minor)}</Amt>'
        f"<CdtDbtInd>{cd}</CdtDbtInd><RvslInd>false</RvslInd><Sts><Cd>BOOK</Cd></Sts>"
        f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
        f"<AcctSvcrRef>{escape(e.servicer_reference)}</AcctSvcrRef>"
        f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{fam}</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
        f"<NtryDtls>{''.join(details)}</NtryDtls></Ntry>"
    )


def _acct(account: str, ccy: str) -> str:
    return (f"<Acct><Id><Othr><Id>{escape(account)}</Id></Othr></Id><Ccy>{ccy}</Ccy>"
            f"<Ownr><Nm>Bauhinia Issuer Ltd</Nm></Ownr></Acct>")


def bank_file(kind: str, message_id: str, at: datetime, account: str, entries: Sequence[BankEntry],
              opening_minor: int = 0, ccy: str = "CNH") -> bytes:
    """A camt.054 notification or camt.053 statement of `entries`."""
    ts = at.isoformat(timespec="seconds")
    day = at.date().isoformat()
    body = "".join(_ntry(e, ccy, day) for e in entries)
    if kind == "camt054":
        doc = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:'
               f'camt.054.001.08"><BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>{escape(message_id)}</MsgId>'
               f"<CreDtTm>{ts}</CreDtTm></GrpHdr><Ntfctn><Id>{escape(message_id)}-1</Id><CreDtTm>{ts}</CreDtTm>"
               f"{_acct(account, ccy)}{body}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n")
        return doc.encode()
    closing = opening_minor + sum(-e.debit_minor if e.debit_minor else e.amount_minor for e in entries)

    def bal(code: str, minor: int) -> str:
        return (f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">{_amount(abs(minor))}</Amt>'
                f"<CdtDbtInd>{'CRDT' if minor >= 0 else 'DBIT'}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>")

    doc = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:'
           f'camt.053.001.08"><BkToCstmrStmt><GrpHdr><MsgId>{escape(message_id)}</MsgId><CreDtTm>{ts}</CreDtTm>'
           f"</GrpHdr><Stmt><Id>{escape(message_id)}-1</Id><ElctrncSeqNb>1</ElctrncSeqNb><CreDtTm>{ts}</CreDtTm>"
           f"{_acct(account, ccy)}{bal('OPBD', opening_minor)}{bal('CLBD', closing)}{body}"
           "</Stmt></BkToCstmrStmt></Document>\n")
    return doc.encode()


# ---------------------------------------------------------------------------------------------------------
# One scenario
# ---------------------------------------------------------------------------------------------------------


@dataclass
class ScenarioResult:
    seed: int
    faults: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # runner failures during the steps (not violations)
    steps: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)  # the end state: what the scenario moved
    crash_points: set[str] = field(default_factory=set)  # the commit boundaries a crash fired at
    seconds: float = 0.0


@dataclass
class HolderState:
    holder: Holder
    transfers: list[tuple[str, bytes]] = field(default_factory=list)  # (tx hash, raw) sent to the redemption addr


class Scenario:
    """One fresh issuer, its customers, the bank and the chain, driven by `random.Random(seed)`."""

    def __init__(self, seed: int, *, store: str = "sqlite", kinds: Sequence[str] = FAULT_KINDS, quick: bool = False,
                 pg_admin_url: str = PG_ADMIN_URL_DEFAULT, confirmations: int | None = None,
                 work_dir: Path | None = None, log: Callable[[str], None] | None = None) -> None:
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kind(s) {', '.join(sorted(unknown))} (known: {', '.join(FAULT_KINDS)})")
        if store not in STORES:
            raise ValueError(f"store is one of {', '.join(STORES)}")
        self.seed = seed
        self.rng = random.Random(seed)
        self.kinds = frozenset(kinds)
        self.store = store
        self.quick = quick
        self.pg_admin_url = pg_admin_url
        self.confirmations = CONFIRMATIONS_DEFAULT if confirmations is None else confirmations
        self.work_dir = work_dir
        self.log = log or (lambda text: None)
        self.result = ScenarioResult(seed)
        self.at = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
        # the bank's truth
        self.credits: list[Credit] = []  # every credit delivered in full (complete file in the inbox)
        self.debits: dict[str, int] = {}  # RDM reference -> amount debited (paid) by the bank
        self.pending_files: list[tuple[int, str, bytes]] = []  # (deliver at step, name, bytes) delayed / truncated
        self.pending_credits: dict[str, list[Credit]] = {}  # file name -> credits it carries, once complete
        self.files = 0
        self.refs = 0
        self.statement_balance = 0
        self.holders: list[HolderState] = []
        self.redemption_keys = 0
        self.unpauses = 0
        self.blacklister_txs: list[tuple[str, bytes]] = []  # the revert fault's freezes and unfreezes, in order
        self.step_no = 0

    # --- set-up and teardown -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _environment(self) -> Iterator[None]:
        root = Path(tempfile.mkdtemp(prefix=f"sim-{self.seed}-", dir=self.work_dir))
        self.data = root / "data"
        self.node = RevmNode()
        self.provider = RevmProvider(self.node)
        self.rpc_faults = RpcFaults()
        self.server = serve_node(self.provider, self.rpc_faults)
        host, port = self.server.server_address[:2]
        self.rpc_url = f"http://{host!s}:{port}"
        pg_name = ""
        if self.store == "postgres":
            import psycopg

            pg_name = f"bauhinia_sim_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(self.pg_admin_url.replace("postgresql+psycopg://", "postgresql://"),
                                 autocommit=True) as conn:
                conn.execute(f'create database "{pg_name}"')
            self.db_url = f"{self.pg_admin_url.rpartition('/')[0]}/{pg_name}"
        else:
            self.db_url = ""  # the SQLite file under the data dir: every process of the scenario opens it
        self.issuers: list[Issuer] = []
        try:
            yield
        finally:
            for issuer in self.issuers:
                with contextlib.suppress(Exception):
                    issuer.container.close()
            self.server.shutdown()
            self.server.server_close()
            if pg_name:
                import psycopg

                with psycopg.connect(self.pg_admin_url.replace("postgresql+psycopg://", "postgresql://"),
                                     autocommit=True) as conn:
                    conn.execute(f'drop database if exists "{pg_name}" with (force)')
            shutil.rmtree(root, ignore_errors=True)

    def _start(self) -> Issuer:
        """A new issuer process over the scenario's database, data folder and chain node."""
        issuer = make_issuer(self.data, database_url=self.db_url, chain_rpc_url=self.rpc_url,
                             capital_minor=CAPITAL_MINOR, buffer_bps=50, redemption_fee_bps=10,
                             chain_dev_funding=True, keystore_scrypt_n=2,
                             chain_keystore_password=KEYSTORE_PASSWORD, chain_confirmations=self.confirmations)
        self.issuers.append(issuer)
        issuer.container.chains.sender.receipt_timeout_s = RECEIPT_WAIT_S
        return issuer

    def _stop(self, issuer: Issuer) -> None:
        with contextlib.suppress(Exception):
            issuer.container.close()
        if issuer in self.issuers:
            self.issuers.remove(issuer)

    def _restart(self, issuer: Issuer | None) -> Issuer:
        """The crashed (or stopped) process is gone; a new one starts and recovers, as `bauhinia run` would."""
        if issuer is not None:
            self._stop(issuer)
        for attempt in range(4):  # a start that fails (the node did not answer) is a crash too: start again
            try:
                started = self._start()
                break
            except Exception as exc:
                last = f"{type(exc).__name__}: {str(exc)[:160]}"
                self.result.errors.append(f"step {self.step_no} start #{attempt + 1}: {last}")
        else:  # ends the scenario, reported as aborted
            raise RuntimeError(f"the issuer cannot start again (4 starts in a row failed, the last: {last})")
        try:
            self._guard("recover", lambda: svc.recover(started.ctx))
        except faults.SimulatedCrash as crash:  # the recovery itself crashed: count it, start once more
            self.result.faults["crash"] += 1
            self.result.crash_points.add(crash.point)
            self.result.steps[-1] += f"!crash-in-recover@{crash.point}:{crash.nth}"
            return self._restart(started)
        return started

    @property
    def primary(self) -> Issuer:
        if not self.issuers:
            self._restart(None)
        return self.issuers[0]

    # --- running -----------------------------------------------------------------------------------------

    def run(self) -> ScenarioResult:
        started = time.monotonic()
        try:
            with self._environment():
                self._setup()
                steps = self.rng.randint(14, 20) if self.quick else self.rng.randint(30, 50)
                for self.step_no in range(steps):
                    self._step()
                self._tail()
                self._drain_and_check()
        except Exception as exc:  # the simulation itself must not hide a failure: it is one
            self.result.violations.append(f"scenario aborted: {type(exc).__name__}: {exc}"[:400])
            self.log(traceback.format_exc())
        finally:
            faults.disarm()
        self.result.seconds = round(time.monotonic() - started, 2)
        return self.result

    def _setup(self) -> None:
        issuer = self._start()
        n = self.rng.randint(2, 3) if self.quick else self.rng.randint(2, 4)
        for i in range(n):
            key: LocalAccount = EthAccount.from_key(keccak(f"sim-{self.seed}-holder-{i}".encode()))
            holder = issuer.add_holder(f"c{i}", f"Customer {i} Ltd", f"004-555-{i:06d}-838", key=key)
            self.holders.append(HolderState(holder))
        issuer.fund_gas(*(h.holder for h in self.holders))
        chain = issuer.chain()
        self.contract = chain.address.lower()
        self.redemption_address = chain.redemption_address.lower()
        self.reserve_account = issuer.settings.reserve_account_cnh
        self.setup_head = len(self.node.blocks) - 1
        # every customer's first deposit, delivered (through the bank faults of the plan), booked and minted, so
        # that redemptions have coins from the first steps
        credits = [self._credit(h.holder, self.rng.randint(1_000_00, 50_000_00)) for h in self.holders]
        self._send_file("camt054", [BankEntry(c.reference, (c,)) for c in credits])
        self._guard("ingest", self._runner("ingest", issuer))
        self._guard("mint", self._runner("mint", issuer))
        if "crash" in self.kinds and self.rng.random() < 0.5:  # a crash waiting somewhere in the steps to come
            faults.arm(self.rng.choice(faults.POINTS), self.rng.randint(1, 3))

    def _guard(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run a runner: a failure is noted (a worker would log it and run again), a simulated crash is passed up."""
        try:
            return fn()
        except faults.SimulatedCrash:
            raise
        except Exception as exc:
            self.result.errors.append(f"step {self.step_no} {what}: {type(exc).__name__}: {str(exc)[:160]}")
            return None

    def _runner(self, name: str, issuer: Issuer) -> Callable[[], Any]:
        ctx = issuer.ctx
        return {
            "ingest": lambda: svc.ingest_bank_files(ctx),
            "mint": lambda: svc.run_subscriptions(ctx, CNH),
            "redeem": lambda: svc.run_redemptions(ctx, CNH),
            "payouts": lambda: svc.run_payouts(ctx, CNH),
            "recover": lambda: svc.recover(ctx),
        }[name]

    def _step(self) -> None:
        rng = self.rng
        self._deliver_due()
        plain = ["deliver"] * 2 + ["ingest"] * 2 + ["mint"] * 2 + ["redeem_request"] * 3 + ["redeem"] * 2 + [
            "payouts", "recover", "settle", "mine"]
        fault_steps: list[str] = [k for k in FAULT_STEPS if k in self.kinds]
        choice = rng.choice(plain * 2 + fault_steps * 3)
        self.result.steps.append(choice)
        try:
            getattr(self, f"_step_{choice}")()
        except faults.SimulatedCrash as crash:  # a crash armed earlier fired in this step's process
            self._crashed(crash, self.primary)

    def _crashed(self, crash: faults.SimulatedCrash, issuer: Issuer) -> None:
        self.result.faults["crash"] += 1
        self.result.crash_points.add(crash.point)
        self.result.steps[-1] += f"!crash@{crash.point}:{crash.nth}"
        self._restart(issuer)

    # --- plain steps -------------------------------------------------------------------------------------

    def _step_deliver(self) -> None:
        """The bank credits some deposits (and maybe one it cannot match) and delivers the file(s)."""
        rng = self.rng
        credits = []
        for _ in range(rng.randint(1, 4)):
            h = rng.choice(self.holders).holder
            credits.append(self._credit(h, rng.randint(100_00, 20_000_00)))
        if rng.random() < 0.2:
            credits.append(self._credit(None, rng.randint(100_00, 5_000_00)))
        entries: list[BankEntry] = []
        if "bank_batch" in self.kinds and len(credits) >= 2 and rng.random() < 0.5:
            k = rng.randint(2, len(credits))
            self.refs += 1
            entries.append(BankEntry(f"SIM{self.seed}-B{self.refs:05d}", tuple(credits[:k])))
            credits = credits[k:]
            self.result.faults["bank_batch"] += 1
        entries += [BankEntry(c.reference, (c,)) for c in credits]
        groups = [entries]
        if "bank_split" in self.kinds and len(entries) >= 2 and rng.random() < 0.5:
            cut = rng.randint(1, len(entries) - 1)
            groups = [entries[:cut], entries[cut:]]
            self.result.faults["bank_split"] += 1
        for group in groups:
            self._send_file("camt054", group)
        if "bank_restated" in self.kinds and rng.random() < 0.4:
            self._send_file("camt053", entries, restated=True)  # the same entries again, in the statement
            self.result.faults["bank_restated"] += 1

    def _credit(self, holder: Holder | None, amount_minor: int) -> Credit:
        self.refs += 1
        ref = f"SIM{self.seed}-{self.refs:05d}"
        if holder is None:
            return Credit(ref, None, amount_minor, "PAYMENT FOR GOODS", "Unknown Trading Co")
        return Credit(ref, holder.customer_id, amount_minor, f"SUBSCRIPTION {holder.deposit_reference}", holder.name)

    def _send_file(self, kind: str, entries: Sequence[BankEntry], *, restated: bool = False) -> None:
        rng = self.rng
        self.files += 1
        self.at += timedelta(minutes=1)
        mid = f"SIM{self.seed}-{kind[-3:]}-{self.files:05d}"
        opening = self.statement_balance
        data = bank_file(kind, mid, self.at, self.reserve_account, entries, opening_minor=opening)
        if kind == "camt053":
            self.statement_balance += sum(-e.debit_minor if e.debit_minor else e.amount_minor for e in entries)
        name = f"{self.files:06d}-{kind}-{mid}.xml"
        credits = [] if restated else [c for e in entries for c in e.credits]
        inbox = self.data / "bank" / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        if "bank_truncate" in self.kinds and rng.random() < 0.25:
            (inbox / name).write_bytes(data[: rng.randint(len(data) // 4, len(data) - 2)])  # still arriving
            self.pending_files.append((self.step_no + rng.randint(1, 3), name, data))
            self.pending_credits[name] = credits
            self.result.faults["bank_truncate"] += 1
        elif "bank_delay" in self.kinds and rng.random() < 0.25:
            self.pending_files.append((self.step_no + rng.randint(1, 4), name, data))
            self.pending_credits[name] = credits
            self.result.faults["bank_delay"] += 1
        else:
            (inbox / name).write_bytes(data)
            self.credits += credits
        if "bank_duplicate" in self.kinds and rng.random() < 0.2:
            self.files += 1
            dup = f"{self.files:06d}-{kind}-{mid}-again.xml"
            self.pending_files.append((self.step_no + rng.randint(0, 2), dup, data))
            self.pending_credits[dup] = []  # the same credits: nothing more is owed
            self.result.faults["bank_duplicate"] += 1

    def _deliver_due(self, everything: bool = False) -> None:
        inbox = self.data / "bank" / "inbox"
        due = [p for p in self.pending_files if everything or p[0] <= self.step_no]
        for p in due:
            self.pending_files.remove(p)
            _, name, data = p
            (inbox / name).write_bytes(data)
            self.credits += self.pending_credits.pop(name, [])

    def _step_ingest(self) -> None:
        self._guard("ingest", self._runner("ingest", self.primary))

    def _step_mint(self) -> None:
        self._guard("mint", self._runner("mint", self.primary))

    def _step_redeem(self) -> None:
        self._guard("redeem", self._runner("redeem", self.primary))

    def _step_payouts(self) -> None:
        self._guard("payouts", self._runner("payouts", self.primary))

    def _step_recover(self) -> None:
        self._guard("recover", self._runner("recover", self.primary))

    def _step_mine(self) -> None:
        with self.node.lock:
            self.node.mine(self.rng.randint(1, self.confirmations + 2))

    def _step_redeem_request(self) -> None:
        """A holder asks to redeem part of its coins and sends them to the redemption address."""
        rng = self.rng
        state = rng.choice(self.holders)
        h = state.holder
        balance = self._balance(h.wallet)
        top = min(balance // minor_to_base_units(1), 10_000_00)
        if top < 100_00:
            return
        amount = rng.randint(100_00, top)
        self.redemption_keys += 1
        key = f"sim-{self.seed}-r{self.redemption_keys}"
        req = iss.RedemptionRequest(h.customer_id, Currency.BCNH, amount, h.wallet, h.bank_account, key)
        if self._guard("redeem_request", lambda: svc.request_redemption(self.primary.ctx, req)) is None:
            return
        self._holder_transfer(state, minor_to_base_units(amount))

    def _holder_transfer(self, state: HolderState, amount_base_units: int) -> None:
        """The customer's own transaction (its wallet, not the issuer's journal), straight to the node."""
        key = state.holder.key
        data = (_SEL_TRANSFER + bytes(12) + bytes.fromhex(self.redemption_address[2:])
                + amount_base_units.to_bytes(32, "big"))
        with self.node.lock:
            tx: dict[str, Any] = {"to": to_checksum_address(self.contract), "data": "0x" + data.hex(), "value": 0,
                                  "gas": 120_000, "type": 2, "nonce": self.node.nonce(key.address),
                                  "chainId": self.node.chain_id, "maxFeePerGas": 2 * 10**9,
                                  "maxPriorityFeePerGas": 10**9}
            signed = key.sign_transaction(tx)
            raw = bytes(signed.raw_transaction)
            tx_hash = self.node.send_raw(raw)
        state.transfers.append((tx_hash, raw))

    def _step_settle(self) -> None:
        """The bank executes the payment instructions it was sent and reports the debits (camt.054)."""
        entries = []
        for ref, amount in sorted(self._instructions().items()):
            if ref in self.debits:
                continue
            self.debits[ref] = amount
            self.refs += 1
            entries.append(BankEntry(f"SIM{self.seed}-D{self.refs:05d}", debit_minor=amount, debit_reference=ref))
        if entries:
            self.files += 1
            self.at += timedelta(minutes=1)
            mid = f"SIM{self.seed}-054-{self.files:05d}"
            inbox = self.data / "bank" / "inbox"
            (inbox / f"{self.files:06d}-camt054-{mid}.xml").write_bytes(
                bank_file("camt054", mid, self.at, self.reserve_account, entries))

    # --- fault steps -------------------------------------------------------------------------------------

    def _step_crash(self) -> None:
        """Arm a commit boundary to crash at its Nth occurrence from now (it stays armed, in whichever step reaches
        it, until it fires or the scenario drains), then run one worker round; the crashed process restarts and
        recovers (see `_step`)."""
        rng = self.rng
        if not faults.armed():
            point = rng.choice(faults.POINTS)
            faults.arm(point, rng.randint(1, 2))
            self.result.steps[-1] = f"crash:{point}"
        self._step_crash_round(with_recover=rng.random() < 0.3)

    def _step_crash_round(self, with_recover: bool = False) -> None:
        names = ["ingest", "mint", "redeem", "payouts"]  # one worker round: whatever has work reaches its points
        if with_recover:
            names.insert(0, "recover")
        issuer = self.primary
        for name in names:
            self._guard(name, self._runner(name, issuer))

    def _step_concurrent(self) -> None:
        """Two runners at the same time in two threads of one issuer process (one chain sender, one journal)."""
        self._concurrent(processes=False)

    def _step_concurrent_processes(self) -> None:
        """Two issuer processes over the same database, with the same role keys, run two runners at once."""
        self._concurrent(processes=True)

    def _concurrent(self, processes: bool) -> None:
        rng = self.rng
        kind = "concurrent_processes" if processes else "concurrent"
        names = [rng.choice(["mint", "redeem", "recover", "ingest", "payouts"]) for _ in range(2)]
        if "mint" not in names and "redeem" not in names:
            names[0] = rng.choice(["mint", "redeem"])
        if processes:
            a = self.primary
            if len(self.issuers) < 2:
                try:
                    self._start()
                except Exception as exc:  # the second process does not start: noted, the drain will tell
                    self.result.errors.append(f"step {self.step_no} second process start: {type(exc).__name__}: "
                                              f"{str(exc)[:160]}")
            b = self.issuers[1] if len(self.issuers) > 1 else a
        else:
            a = b = self.primary
        if "crash" in self.kinds and not faults.armed() and rng.random() < 0.3:
            faults.arm(rng.choice(faults.POINTS), 1)
        barrier = threading.Barrier(2)
        crashed: list[tuple[faults.SimulatedCrash, Issuer]] = []

        def run(name: str, issuer: Issuer) -> None:
            barrier.wait()
            try:
                self._guard(f"{kind} {name}", self._runner(name, issuer))
            except faults.SimulatedCrash as crash:
                crashed.append((crash, issuer))

        threads = [threading.Thread(target=run, args=(names[0], a)), threading.Thread(target=run, args=(names[1], b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.result.faults[kind] += 1
        self.result.steps[-1] = f"{kind}:{names[0]}+{names[1]}"
        for crash, issuer in crashed[:1] if not processes else crashed:  # one process crashes once
            self._crashed(crash, issuer)

    def _reorg(self, drop: bool) -> None:
        rng = self.rng
        with self.node.lock:
            room = len(self.node.blocks) - 1 - self.setup_head  # never below the deployment
            if room < 1:
                self.node.mine(1)
                room = 1
            depth = rng.randint(1, min(REORG_DEPTH_MAX, room))
            share = rng.choice((0.3, 0.6, 1.0)) if drop else 0.0
            predicate: Callable[[dict[str, Any]], bool] = lambda tx: rng.random() < share  # noqa: E731
            lost = self.node.reorg(depth, drop=predicate if drop else None)
        kind = "reorg_drop" if drop else "reorg"
        self.result.faults[kind] += 1
        self.result.steps[-1] = f"{kind}:{depth}" + (f" lost {len(lost)}" if lost else "")

    def _step_reorg(self) -> None:
        self._reorg(drop=False)

    def _step_reorg_drop(self) -> None:
        self._reorg(drop=True)

    def _rpc_fault_step(self, modes: Sequence[str], kind: str) -> None:
        """Arm a node fault on the Nth call of a method from now (armed until it fires or the scenario drains),
        then run two runners."""
        rng = self.rng
        mode = rng.choice(modes)
        method = "eth_sendRawTransaction" if mode == "swallow" or rng.random() < 0.7 else rng.choice(
            ["eth_getTransactionReceipt", "eth_call", "eth_getLogs", "eth_blockNumber", "eth_getTransactionCount"])
        self.rpc_faults.arm(method, rng.randint(1, 3), mode)
        self.result.steps[-1] = f"{kind}:{method}:{mode}"
        issuer = self.primary
        for name in rng.sample(["mint", "redeem", "payouts", "recover"], 2):
            self._guard(name, self._runner(name, issuer))

    def _step_drop(self) -> None:
        self._rpc_fault_step(["swallow"], "drop")

    def _step_timeout(self) -> None:
        self._rpc_fault_step(["lost_before", "lost_after"], "timeout")

    def _step_revert(self) -> None:
        """The next batch mint reverts on chain: just before the node sees it, the blacklister freezes one of its
        receivers (a transaction of its own, not the issuer's journal); the receiver is unfrozen after the runs."""
        from eth_account.typed_transactions.typed_transaction import TypedTransaction
        from hexbytes import HexBytes

        issuer = self.primary
        chain = issuer.chain()
        blacklister = chain.keys.blacklister
        frozen: list[str] = []

        def freeze_a_receiver(raw: bytes) -> bool:
            fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
            data = bytes(fields.get("data") or b"")
            to = fields.get("to")
            to_text = ("0x" + bytes(to).hex()) if isinstance(to, bytes | bytearray) else str(to or "")
            if data[:4] != _SEL_BATCH_MINT or to_text.lower() != self.contract or len(data) < 100:
                return False
            receiver = "0x" + (int.from_bytes(data[68:100], "big") & ((1 << 160) - 1)).to_bytes(20, "big").hex()
            self._blacklister_tx(blacklister, chain.contract.encode_abi(
                "freezeMany", args=[[to_checksum_address(receiver)]]))
            frozen.append(receiver)
            return True

        self.rpc_faults.before_send = freeze_a_receiver
        self._deliver_for_mint()
        for name in ("ingest", "mint"):
            self._guard(name, self._runner(name, issuer))
        self.rpc_faults.before_send = None
        if frozen:
            self.result.faults["revert"] += 1
            self.result.steps[-1] = f"revert:{frozen[0][:10]}"
            self._blacklister_tx(blacklister, chain.contract.encode_abi(
                "unfreezeMany", args=[[to_checksum_address(frozen[0])]]))
            self._guard("mint", self._runner("mint", self.primary))

    def _deliver_for_mint(self) -> None:
        h = self.rng.choice(self.holders).holder
        c = self._credit(h, self.rng.randint(100_00, 5_000_00))
        self._send_file("camt054", [BankEntry(c.reference, (c,))])

    def _blacklister_tx(self, account: LocalAccount, data: str) -> None:
        with self.node.lock:
            tx: dict[str, Any] = {"to": to_checksum_address(self.contract), "data": data, "value": 0,
                                  "gas": 200_000, "type": 2, "nonce": self.node.nonce(account.address),
                                  "chainId": self.node.chain_id, "maxFeePerGas": 2 * 10**9,
                                  "maxPriorityFeePerGas": 10**9}
            raw = bytes(account.sign_transaction(tx).raw_transaction)
            self.blacklister_txs.append((self.node.send_raw(raw), raw))

    def _step_refusal(self) -> None:
        """Paused through the chain adapter: the mint run is refused (no coin minted); unpaused, it mints. The
        operator makes sure the unpause lands (a lost one is sent again, from a restarted process if need be)."""
        issuer = self.primary
        # keyed by the step: a pause whose step crashed (and so was never counted) must not lend its key to the
        # next one, which would then be answered from the journal and pause nothing
        n = self.step_no
        if self._guard("pause", lambda: issuer.chain().pause(idempotency_key=f"sim-pause-{n}")) is None:
            return
        supply = self._total_supply()
        self._guard("mint (paused)", self._runner("mint", issuer))
        if self._total_supply() != supply:
            self.result.violations.append(f"coins were minted while the coin was paused (step {self.step_no})")
        self.result.faults["refusal"] += 1
        self._ensure_unpaused(f"sim-unpause-{n}")
        self._guard("mint (unpaused)", self._runner("mint", self.primary))

    def _step_refusal_long(self) -> None:
        """A pause that lasts: the mint worker keeps running (every minute, say) until the coin is unpaused."""
        self._step_deliver()  # credits arrive during the pause: they wait for the coin
        issuer = self.primary
        self._guard("ingest", self._runner("ingest", issuer))
        n = self.step_no
        if self._guard("pause", lambda: issuer.chain().pause(idempotency_key=f"sim-long-pause-{n}")) is None:
            return
        runs = self.rng.randint(6, 12)
        self.result.steps[-1] = f"refusal_long:{runs}"
        for _ in range(runs):
            self._guard("mint (paused)", self._runner("mint", issuer))
        self.result.faults["refusal_long"] += 1
        self._ensure_unpaused(f"sim-long-unpause-{n}")
        self._guard("mint (unpaused)", self._runner("mint", self.primary))

    def _ensure_unpaused(self, key: str) -> bool:
        for attempt in range(6):
            if not self._view(_SEL_PAUSED):
                return True
            if attempt in (2, 4):  # the pauser's lost transaction blocks its nonce: a new process re-sends it
                self._restart(self.primary)
            chain = self.primary.chain()
            self._guard("unpause", lambda c=chain, k=f"{key}-{attempt}": c.unpause(  # type: ignore[misc]
                idempotency_key=k))
        return not self._view(_SEL_PAUSED)

    # --- reading the chain directly ----------------------------------------------------------------------

    def _view(self, selector: bytes, arg: bytes = b"") -> int:
        with self.node.lock:
            out = self.node.call({"to": self.contract, "data": "0x" + (selector + arg).hex()})
        return int.from_bytes(out[:32], "big")

    def _total_supply(self) -> int:
        return self._view(_SEL_TOTAL_SUPPLY)

    def _balance(self, address: str) -> int:
        return self._view(_SEL_BALANCE_OF, bytes(12) + bytes.fromhex(address.lower()[2:]))

    def _transfers(self) -> list[tuple[str, str, int]]:
        """Every Transfer of the coin on the canonical chain: (from, to, base units)."""
        out = []
        with self.node.lock:
            for logs in self.node.block_logs:
                for log in logs:
                    if log["address"] == self.contract and log["topics"] and log["topics"][0] == _TRANSFER_TOPIC:
                        out.append(("0x" + log["topics"][1][-40:], "0x" + log["topics"][2][-40:],
                                    int(log["data"], 16)))
        return out

    def _instructions(self) -> dict[str, int]:
        """RDM reference -> amount of the payment instructions in the outbox (the first seen of each)."""
        out: dict[str, int] = {}
        outbox = self.data / "bank" / "outbox"
        if outbox.exists():
            for f in sorted(outbox.glob("*.xml")):
                for ref, amount in _INSTRUCTION.findall(f.read_text()):
                    out.setdefault(ref, _minor(amount))
        return out

    # --- drain and check ---------------------------------------------------------------------------------

    def _snapshot(self, engine: sa.Engine) -> tuple[Any, ...]:
        with engine.connect() as conn:
            rows = [tuple(conn.execute(sa.text(q)).all()) for q in (
                "select status, count(*) from iss_subscriptions group by status order by status",
                "select status, count(*) from iss_redemptions group by status order by status",
                "select status, count(*) from iss_mint_batches group by status order by status",
                "select status, count(*) from iss_payout_batches group by status order by status",
                "select count(*) from iss_bank_entries", "select count(*) from iss_suspense")]
        return (tuple(rows), len(self.node.blocks), len(self._instructions()))

    def _resend_lost_transfers(self) -> None:
        """A wallet re-sends its transfers that a reorganisation left out of the chain (in nonce order); so does
        the blacklister of the revert fault (a freeze without its unfreeze would hold the wallet's mints)."""
        with self.node.lock:
            for state in [*self.holders, HolderState(self.holders[0].holder, self.blacklister_txs)]:
                for tx_hash, raw in state.transfers:
                    if tx_hash not in self.node.receipts:
                        with contextlib.suppress(Exception):
                            self.node.send_raw(raw)

    def _tail(self) -> None:
        """Worker rounds while a fault is still armed (blocks pass, so the waiting flows reach it)."""
        for _ in range(3):
            if not faults.armed() and not self.rpc_faults.armed():
                return
            self.step_no += 1
            self.result.steps.append("tail")
            try:
                self._step_mine()
                self._step_crash_round()
            except faults.SimulatedCrash as crash:
                self._crashed(crash, self.primary)

    def _unfreeze_left_frozen(self, issuer: Issuer) -> None:
        """The revert fault's freezes are the simulation's, not the issuer's: none may outlive the scenario (a
        reorganisation can drop an unfreeze whose nonce a later freeze then took)."""
        if not self.blacklister_txs:
            return
        for state in self.holders:
            wallet = state.holder.wallet
            if self._view(_SEL_IS_FROZEN, bytes(12) + bytes.fromhex(wallet.lower()[2:])):
                chain = issuer.chain()
                self._blacklister_tx(chain.keys.blacklister, chain.contract.encode_abi(
                    "unfreezeMany", args=[[to_checksum_address(wallet)]]))

    def _drain_and_check(self) -> None:
        faults.disarm()
        self.rpc_faults.clear()
        if self.rpc_faults.fired["swallow"]:
            self.result.faults["drop"] += self.rpc_faults.fired["swallow"]
        if self.rpc_faults.fired["lost_before"] + self.rpc_faults.fired["lost_after"]:
            self.result.faults["timeout"] += self.rpc_faults.fired["lost_before"] + self.rpc_faults.fired["lost_after"]
        self.step_no += 1
        self._deliver_due(everything=True)
        errors: list[str] = []
        last: tuple[Any, ...] | None = None
        issuer: Issuer | None = None
        for _ in range(DRAIN_ROUNDS_MAX):
            self._resend_lost_transfers()
            with self.node.lock:
                self.node.mine(self.confirmations + 1)
            for other in list(self.issuers):
                self._stop(other)
            errors = []
            try:
                issuer = self._start()
            except Exception as exc:
                errors.append(f"restart: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            with contextlib.suppress(Exception):
                self._unfreeze_left_frozen(issuer)
            if self._view(_SEL_PAUSED):  # an unpause the faults lost: the operator unpauses the coin
                self.unpauses += 1
                if not self._ensure_unpaused(f"sim-drain-unpause-{self.unpauses}"):
                    errors.append("the coin stays paused: the operator's unpause does not land")
                issuer = self.primary
            run = self._runner
            for name, fn in (("recover", run("recover", issuer)), ("ingest", run("ingest", issuer)),
                             ("mint", run("mint", issuer)), ("mine", self._mine_for_index),
                             ("redeem", run("redeem", issuer)), ("settle", self._step_settle),
                             ("ingest", run("ingest", issuer))):
                try:
                    fn()
                except Exception as exc:
                    errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
            snap = self._snapshot(issuer.container.engine)
            if not errors and snap == last:
                break
            last = snap
        if errors or issuer is None:
            self.result.violations.append("the flows do not come to rest after the faults: " + "; ".join(errors))
            if issuer is None:
                return
        self._check(issuer)

    def _mine_for_index(self) -> None:
        with self.node.lock:
            self.node.mine(self.confirmations + 1)

    def _check(self, issuer: Issuer) -> None:
        v = self.result.violations
        ctx = issuer.ctx
        engine = issuer.container.engine
        # recover ends clean: nothing left to re-drive, twice
        for attempt in (1, 2):
            try:
                done = svc.recover(ctx)
            except Exception as exc:
                v.append(f"recover #{attempt} after the drain raised {type(exc).__name__}: {str(exc)[:200]}")
                break
            if attempt == 2 and any(done.values()):
                v.append(f"a second recover still did something: {done}")
        with engine.connect() as conn:
            def q(text: str) -> list[Any]:
                return list(conn.execute(sa.text(text)).all())

            subs = q("select seq, customer_id, amount_minor, fee_minor, status, wallet, entry_key "
                     "from iss_subscriptions")
            suspense = q("select seq, amount_minor, entry_key from iss_suspense")
            reds = q("select seq, customer_id, amount_minor, fee_minor, status, wallet, coin_event "
                     "from iss_redemptions")
            pending_mints = q("select seq, idempotency_key from iss_mint_batches where status = 'pending'")
            pending_payouts = q("select seq from iss_payout_batches where status = 'pending'")
            books = (iss.book_account_id(CNH, Book.RESERVE_CASH), iss.book_account_id(CNH, Book.COINS_OUTSTANDING))
            ledger = {int(r[0]): (int(r[1]), int(r[2])) for r in q(
                f"select id, debits_posted, credits_posted from ledger_accounts where id in ({books[0]}, {books[1]})")}
            unfinished = q("select idempotency_key, tx_hash from chain_tx_journal where state = 'submitted'")
            refused = q("select count(*) from iss_mint_batches where status = 'refused'")[0][0]
        self.result.stats = {
            "credits": len(self.credits), "minted": sum(1 for s in subs if s[4] == "minted"),
            "suspense": len(suspense), "redemptions": len(reds),
            "paid": sum(1 for r in reds if r[4] == "paid"), "mint_batches_refused": int(refused),
            "blocks": len(self.node.blocks)}
        if pending_mints:
            v.append(f"mint batches still pending after recover: {[k for _, k in pending_mints][:5]}")
        if pending_payouts:
            v.append(f"payout batches still pending after recover: {[s for (s,) in pending_payouts][:5]}")
        with self.node.lock:
            lost = [k for k, h in unfinished if str(h).lower() not in self.node.receipts]
        if lost:  # in flight for good: journaled, never mined, and nothing re-drives it
            v.append(f"chain transactions journaled but never mined after recover: {lost[:5]}")
        stale = [k for k, h in unfinished if k not in lost]
        if stale:  # mined, but the journal was never told (a crash between broadcast and receipt): noted
            self.result.errors.append(f"journal rows mined on chain but still 'submitted': {stale[:3]}")
        # chain supply = ledger coins outstanding (nothing is in flight now)
        dr, cr = ledger.get(iss.book_account_id(CNH, Book.COINS_OUTSTANDING), (0, 0))
        outstanding_minor = cr - dr
        supply = self._total_supply()
        if supply != minor_to_base_units(outstanding_minor):
            v.append(f"chain totalSupply {supply} != ledger coins outstanding {minor_to_base_units(outstanding_minor)}"
                     f" base units (difference {supply - minor_to_base_units(outstanding_minor)})")
        # one mint per credit: the Transfer-from-zero logs against the minted subscriptions
        transfers = self._transfers()
        zero = "0x" + "00" * 20
        mints = Counter((to, value) for frm, to, value in transfers if frm == zero)
        minted = Counter((str(w).lower(), minor_to_base_units(int(a) - int(f)))
                         for _, _, a, f, status, w, _ in subs if status == "minted")
        if mints != minted:
            extra = mints - minted
            missing = minted - mints
            v.append(f"mints on chain != minted subscriptions: {sum(extra.values())} mint(s) without a minted "
                     f"subscription, {sum(missing.values())} minted subscription(s) without a mint")
        waiting = [s for s in subs if s[4] != "minted"]
        if waiting:
            with engine.connect() as conn:
                reasons = Counter(str(r[0])[:90] for r in conn.execute(sa.text(
                    "select reason from iss_subscriptions where status <> 'minted'")).all())
            v.append(f"{len(waiting)} subscription(s) never minted: "
                     + ", ".join(f"{s[0]}:{s[4]}" for s in waiting[:5])
                     + f" (why: {'; '.join(f'{n} x {r}' for r, n in reasons.most_common(2))})")
        # every bank credit ends as exactly one subscription or suspense entry, for its customer and amount
        owed: Counter[str] = Counter()
        for c in self.credits:
            owed[c.customer_id or "(suspense)"] += c.amount_minor
        booked: Counter[str] = Counter()
        for _, customer, amount, *_rest in subs:
            booked[str(customer)] += int(amount)
        for _, amount, _ in suspense:
            booked["(suspense)"] += int(amount)
        if len(subs) + len(suspense) != len(self.credits) or booked != owed:
            diff = {k: booked.get(k, 0) - owed.get(k, 0) for k in set(owed) | set(booked)
                    if booked.get(k, 0) != owed.get(k, 0)}
            v.append(f"bank credits: {len(self.credits)} credited, {len(subs)} subscription(s) + {len(suspense)} "
                     f"suspense booked; booked - credited per customer (minor): {diff}")
        # bank = ledger: reserve cash = capital + credits - debits the bank made
        dr, cr = ledger.get(iss.book_account_id(CNH, Book.RESERVE_CASH), (0, 0))
        bank_minor = CAPITAL_MINOR + sum(c.amount_minor for c in self.credits) - sum(self.debits.values())
        if dr - cr != bank_minor:
            v.append(f"reserve cash in the ledger {dr - cr} != the bank's {bank_minor} (minor)")
        # one payment instruction per redemption, across every pain.001 file
        seen: Counter[str] = Counter()
        outbox = self.data / "bank" / "outbox"
        for f in sorted(outbox.glob("*.xml")) if outbox.exists() else []:
            seen.update(_RDM.findall(f.read_text()))
        twice = sorted(ref for ref, n in seen.items() if n > 1)
        if twice:
            v.append(f"redemption(s) instructed for payment more than once: {twice[:5]}")
        instructed = {svc.payout_reference(CNH, int(r[0])) for r in reds if r[4] in ("payout_instructed", "paid")}
        if set(seen) != instructed:
            v.append(f"payment instructions {len(seen)} != redemptions instructed {len(instructed)} "
                     f"(without instruction: {sorted(instructed - set(seen))[:3]}, "
                     f"instruction without redemption: {sorted(set(seen) - instructed)[:3]})")
        # burns: what was burned on chain is what the redemptions booked
        burned_chain = sum(value for frm, to, value in transfers if to == zero and frm != zero)
        burned_books = sum(minor_to_base_units(int(r[2])) for r in reds
                           if r[4] in ("burned", "payout_instructed", "paid"))
        if burned_chain != burned_books:
            v.append(f"burned on chain {burned_chain} != redemptions burned {burned_books} base units")
        # no lost request: every redemption whose coins reached the redemption address is paid out
        received = Counter((frm, value) for frm, to, value in transfers if to == self.redemption_address)
        for r in sorted(reds, key=lambda r: int(r[0])):
            key = (str(r[5]).lower(), minor_to_base_units(int(r[2])))
            if received[key] > 0:
                received[key] -= 1
                if r[4] not in ("payout_instructed", "paid"):
                    v.append(f"redemption {r[0]} got its coins but is {r[4]}")
        unpaid = [ref for ref in self.debits if ref not in instructed]
        if unpaid:
            v.append(f"the bank paid references no redemption instructed: {unpaid[:3]}")


# ---------------------------------------------------------------------------------------------------------
# A run of scenarios
# ---------------------------------------------------------------------------------------------------------


@dataclass
class SimulationReport:
    scenarios: list[ScenarioResult]
    store: str
    kinds: tuple[str, ...]
    seconds: float

    @property
    def violations(self) -> int:
        return sum(len(s.violations) for s in self.scenarios)

    def figures(self, quick: bool) -> dict[str, Any]:
        totals: Counter[str] = Counter()
        for s in self.scenarios:
            totals.update(s.faults)
        out: dict[str, Any] = {
            "scenarios": len(self.scenarios),
            "violations": self.violations,
            "failing_seeds": ",".join(str(s.seed) for s in self.scenarios if s.violations),
            "faults_injected": sum(totals.values()),
        }
        out.update({f"faults_{k}": totals.get(k, 0) for k in FAULT_KINDS})
        fired = set().union(*(s.crash_points for s in self.scenarios)) if self.scenarios else set()
        out["crash_points_fired"] = len(fired)  # of len(faults.POINTS) named commit boundaries
        out["crash_points"] = len(faults.POINTS)
        out.update({"runner_errors": sum(len(s.errors) for s in self.scenarios), "seconds": round(self.seconds, 1),
                    "store": self.store, "fault_kinds": ",".join(self.kinds), "quick": quick})
        return out


def run_watched(scenario: Scenario, timeout_s: float) -> ScenarioResult:
    """Run a scenario in a thread of its own: one that does not end within `timeout_s` is stuck (a deadlock or a
    wait without end), a violation named by where its threads stand. The stuck thread is left behind (a daemon;
    the next scenario has its own node, database and folders)."""
    faults.disarm()
    done: list[ScenarioResult] = []
    worker = threading.Thread(target=lambda: done.append(scenario.run()), name=f"sim-{scenario.seed}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if done:
        return done[0]
    frames = sys._current_frames()
    stuck = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or -1)
        if frame is None or not (thread is worker or thread.name.startswith("Thread-")):
            continue
        ours = [f for f in traceback.extract_stack(frame) if "/bauhinia/" in f.filename]
        if ours:
            stuck.append(" < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(ours[-4:])))
    faults.disarm()
    result = scenario.result
    result.violations.append(f"stuck for {timeout_s:.0f}s (deadlock or endless wait) at: " + " | ".join(stuck))
    result.seconds = timeout_s
    return result


def reproduce_line(seed: int, store: str, kinds: Sequence[str], quick: bool) -> str:
    line = f"python tools/simulate.py --seed {seed} --scenarios 1 --store {store}"
    if tuple(kinds) != FAULT_KINDS:
        line += f" --faults {','.join(kinds)}"
    return line + (" --quick" if quick else "")


def _run_one(seed: int, store: str, kinds: tuple[str, ...], quick: bool, pg_admin_url: str,
             confirmations: int | None) -> ScenarioResult:
    """One scenario in a worker process of `run_simulation(jobs=N)` (module level, so the pool can pickle it)."""
    scenario = Scenario(seed, store=store, kinds=kinds, quick=quick, pg_admin_url=pg_admin_url,
                        confirmations=confirmations)
    return run_watched(scenario, SCENARIO_TIMEOUT_S_QUICK if quick else SCENARIO_TIMEOUT_S)


WORKER_SCENARIOS_MAX = 25  # scenarios a worker process runs before it is replaced


def _run_one_caught(task: tuple[Any, ...]) -> ScenarioResult:
    """`_run_one` for the worker pool: a scenario whose run raises is a violation, not a gap in the report."""
    try:
        return _run_one(*task)
    except Exception as exc:
        failed = ScenarioResult(task[0])
        failed.violations.append(f"worker failed: {type(exc).__name__}: {exc}"[:400])
        return failed


def run_simulation(seed: int, scenarios: int, *, store: str = "sqlite", kinds: Sequence[str] = FAULT_KINDS,
                   quick: bool = False, pg_admin_url: str = PG_ADMIN_URL_DEFAULT, confirmations: int | None = None,
                   out: Callable[[str], None] = print, verbose: bool = False, jobs: int = 1) -> SimulationReport:
    """Scenario i runs with seed `seed + i`; each violation prints with the one line that reproduces it.

    `jobs` > 1 runs that many scenarios at once, each in a worker process of its own (a scenario spends much of
    its time waiting on receipts and timeouts, so a machine's cores carry more than one each); every scenario
    still has its own node, database and folders, and the report is the same as a run one after another."""
    started = time.monotonic()
    results: list[ScenarioResult] = []

    def report(result: ScenarioResult) -> None:
        results.append(result)
        s = result.seed
        injected = " ".join(f"{k}={n}" for k, n in sorted(result.faults.items()))
        out(f"seed {s}: {'VIOLATION' if result.violations else 'ok'} in {result.seconds}s "
            f"({len(result.steps)} steps; faults {injected or 'none'}; {len(result.errors)} runner error(s))")
        if verbose:
            out("  steps: " + " ".join(result.steps))
            out("  end: " + " ".join(f"{k}={n}" for k, n in result.stats.items()))
            for e in result.errors:
                out(f"  error: {e}")
        for violation in result.violations:
            out(f"  violation: {violation}")
        if result.violations:
            out(f"  reproduce: {reproduce_line(s, store, kinds, quick)}")

    if jobs <= 1:
        for i in range(scenarios):
            scenario = Scenario(seed + i, store=store, kinds=kinds, quick=quick, pg_admin_url=pg_admin_url,
                                confirmations=confirmations, log=out if verbose else None)
            report(run_watched(scenario, SCENARIO_TIMEOUT_S_QUICK if quick else SCENARIO_TIMEOUT_S))
    else:
        import multiprocessing

        # spawn, not fork: the parent may hold threads and open connections. A worker is recycled every 25
        # scenarios so that a stuck scenario's thread, left behind, does not pile up: multiprocessing.Pool's
        # maxtasksperchild, not ProcessPoolExecutor's max_tasks_per_child, which on Python 3.11 stops handing out
        # work once the first workers are recycled (a run stalled after jobs x 25 scenarios).
        tasks = [(seed + i, store, tuple(kinds), quick, pg_admin_url, confirmations) for i in range(scenarios)]
        answered: set[int] = set()
        wait_s = (SCENARIO_TIMEOUT_S_QUICK if quick else SCENARIO_TIMEOUT_S) * 2 + 60
        with multiprocessing.get_context("spawn").Pool(jobs, maxtasksperchild=WORKER_SCENARIOS_MAX) as pool:
            results_in = pool.imap_unordered(_run_one_caught, tasks)
            for _ in tasks:
                try:
                    result = results_in.next(timeout=wait_s)
                except multiprocessing.TimeoutError:
                    break  # a worker died with its scenario (killed from outside): named below, not waited on
                answered.add(result.seed)
                report(result)
            pool.terminate()
        for task in tasks:
            if task[0] not in answered:
                lost = ScenarioResult(task[0])
                lost.violations.append("no answer from its worker process (the worker died or hung)")
                report(lost)
        results.sort(key=lambda r: r.seed)
    return SimulationReport(results, store, tuple(kinds), time.monotonic() - started)
