"""`bauhinia screening ...`: batch name scoring and screening, wallet screening, travel-rule payload checks."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bauhinia.domain.compliance import ScreeningThresholds, parse_party_schema
from bauhinia.domain.errors import ValidationError
from bauhinia.entrypoints.formatting import human_duration, progress_bar, working

app = typer.Typer(help="Sanctions and PEP screening, wallet screening, travel rule.", no_args_is_help=True)
console = Console()

ListsOpt = Annotated[
    Path | None,
    typer.Option("--lists", help="Folder of sanctions lists (UN XML, OFAC CSV, FtM JSON; plain or .gz). Default: "
                 "the version `update-lists` made current, else the snapshot shipped in the package.",
                 envvar="BAUHINIA_SANCTIONS_DIR"),
]
DEFAULT_LISTS: Path | None = None  # resolved at run time by _lists_dir
csv_rows_max: int = 1_000_000


def _lists_dir(lists: Path | None) -> Path:
    from bauhinia.adapters.screening.lists import current_lists_dir
    from bauhinia.bootstrap import load_settings

    if lists is not None:
        return lists
    settings = load_settings()
    return current_lists_dir(settings.data_dir, settings.sanctions_dir)


def _read_csv(path: Path, required: set[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise ValidationError(f"{path}: file not found")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = set(reader.fieldnames or [])
        if not required <= columns:
            raise ValidationError(f"{path}: needs columns {','.join(sorted(required))} (got {sorted(columns)})")
        rows = []
        for row in reader:
            rows.append({k: (v or "").strip() for k, v in row.items() if k is not None})
            if len(rows) > csv_rows_max:
                raise ValidationError(f"{path}: more than {csv_rows_max} rows")
    return rows


@app.command("score-pairs")
def score_pairs(
    file: Annotated[Path, typer.Argument(help="CSV with columns name1,name2,schema[,is_match].")],
    out: Annotated[Path | None, typer.Option(help="Output CSV (default: <file>.scored.csv).")] = None,
    hit: Annotated[float, typer.Option(help="Score at or above which a pair is a match.")] = 0.85,
    review: Annotated[float, typer.Option(help="Score at or above which a pair goes to review.")] = 0.70,
) -> None:
    """Score each pair of names; with is_match print precision, recall and F1 at the hit threshold."""
    from bauhinia.adapters.screening.names import score_names

    thresholds = ScreeningThresholds(hit=hit, review=review)
    rows = _read_csv(file, {"name1", "name2", "schema"})
    out = out or file.with_name(file.stem + ".scored.csv")
    labelled = all(r.get("is_match", "") in ("0", "1", "true", "false") for r in rows) and bool(rows) and (
        "is_match" in rows[0]
    )
    tp = fp = fn = tn = 0
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        header = ["name1", "name2", "schema", "score", "decision", "reason"]
        writer.writerow(header + (["is_match"] if labelled else []))
        for lineno, row in enumerate(rows, start=2):
            if not row["name1"] or not row["name2"]:
                raise ValidationError(f"{file}: line {lineno}: name1 and name2 are required")
            schema = parse_party_schema(row["schema"] or "Person")
            comparison = score_names(row["name1"], row["name2"], schema)
            decision = thresholds.decide(comparison.score)
            extra = []
            if labelled:
                truth = row["is_match"] in ("1", "true")
                predicted = comparison.score >= thresholds.hit
                tp += truth and predicted
                fp += (not truth) and predicted
                fn += truth and not predicted
                tn += (not truth) and not predicted
                extra = [row["is_match"]]
            writer.writerow([row["name1"], row["name2"], schema.value, f"{comparison.score:.4f}", decision.value,
                             comparison.reason, *extra])
    console.print(f"scored {len(rows)} pairs -> {out}")
    if labelled:
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        console.print(f"precision {precision:.4f}  recall {recall:.4f}  f1 {f1:.4f}  (tp {tp} fp {fp} fn {fn} tn {tn})")


@app.command("screen-file")
def screen_file(
    file: Annotated[Path, typer.Argument(help="CSV with column full_name and optional date_of_birth, nationality.")],
    lists: ListsOpt = DEFAULT_LISTS,
    out: Annotated[Path | None, typer.Option(help="Output CSV (default: <file>.hits.csv).")] = None,
    limit: Annotated[int, typer.Option(help="Best hits written per row.")] = 3,
    schema: Annotated[str, typer.Option(help="Person, Company, or auto (guess from the name).")] = "auto",
) -> None:
    """Screen every row against the lists and write the best hits per row with scores."""
    from bauhinia.adapters.screening.lists import load_lists
    from bauhinia.adapters.screening.matcher import Matcher, Query

    rows = _read_csv(file, {"full_name"})
    out = out or file.with_name(file.stem + ".hits.csv")
    started = time.perf_counter()
    with working("loading and indexing the sanctions lists"):
        matcher = Matcher(load_lists(_lists_dir(lists)))
    console.print(f"indexed {matcher.list_names} listed names in {human_duration(time.perf_counter() - started)}")
    query_schema = None if schema.lower() == "auto" else parse_party_schema(schema)
    flagged = 0
    with out.open("w", newline="", encoding="utf-8") as fh, progress_bar("screening rows") as progress:
        writer = csv.writer(fh)
        writer.writerow(["row", "full_name", "rank", "entity_id", "source", "matched_name", "score", "decision",
                         "explanation"])
        for index, row in enumerate(rows, start=1):
            if progress is not None:
                progress(index, len(rows))
            query = Query(row["full_name"], query_schema, row.get("date_of_birth", ""), row.get("nationality", ""))
            hits = matcher.screen(query, limit=limit)
            if not hits:
                writer.writerow([index, row["full_name"], 0, "", "", "", "0.0000", "clear", ""])
                continue
            flagged += 1
            for rank, h in enumerate(hits, start=1):
                party = matcher.party(h.entity_id)
                writer.writerow([index, row["full_name"], rank, h.entity_id, party.source, h.matched_name,
                                 f"{h.score:.4f}", matcher.thresholds.decide(h.score).value,
                                 " | ".join(h.explanation)])
    console.print(f"screened {len(rows)} rows, {flagged} with hits -> {out}")


@app.command("screen-wallet")
def screen_wallet(
    address: Annotated[str, typer.Argument(help="Wallet address to screen.")],
    lists: ListsOpt = DEFAULT_LISTS,
    blacklist: Annotated[Path | None, typer.Option(help="Issuer blacklist: one address[,reason] a line.")] = None,
    transfers: Annotated[Path | None, typer.Option(help="Indexed transfers CSV: from,to,amount.")] = None,
) -> None:
    """Direct exposure (listed address) blocks; a transfer with a listed address one hop away alerts."""
    from bauhinia.adapters.screening.wallets import WalletScreener, load_transfers

    screener = WalletScreener.from_files(_lists_dir(lists), blacklist)
    assessment = screener.screen(address, load_transfers(transfers) if transfers else ())
    console.print(f"{assessment.address}: {assessment.decision.value}")
    for reason in assessment.reasons:
        console.print(f"  - {reason}")


@app.command("check-travel-rule")
def check_travel_rule(
    payload: Annotated[Path, typer.Argument(help="IVMS101 payload JSON.")],
    amount_hkd_minor: Annotated[int, typer.Option(help="Transfer value in HKD cents.")],
) -> None:
    """Validate an IVMS101 payload against the schema and the HK$8,000 completeness rule."""
    from bauhinia.adapters.screening.travel_rule import validate_ivms101

    try:
        data = json.loads(payload.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"{payload}: cannot read JSON ({exc})") from exc
    validate_ivms101(data, amount_hkd_minor)
    console.print(f"{payload}: valid IVMS101, complete for HKD {amount_hkd_minor // 100}.{amount_hkd_minor % 100:02d}")


@app.command("update-lists")
def update_lists(
    min_ratio: Annotated[float, typer.Option(help="Refuse a list whose entity count fell below this share of the "
                                                  "version in use.")] = 0.9,
    timeout: Annotated[float, typer.Option(help="Seconds allowed for each download.")] = 60.0,
    opensanctions: Annotated[bool, typer.Option(help="Also fetch OpenSanctions' FollowTheMoney export.")] = False,
    actor: Annotated[str, typer.Option("--actor", help="Who is acting (recorded on status changes and cases).",
                                       envvar="BAUHINIA_ACTOR")] = "cli",
) -> None:
    """Download the current lists from their publishers (UN, OFAC; URLs in BAUHINIA_LIST_URL_<FILE>), verify them,
    store them as a new version under <data dir>/sanctions and use it from now on; then re-screen every customer
    and known wallet against what was added or changed, opening alerts and cases for new hits."""
    from datetime import UTC, datetime

    from bauhinia.adapters.screening import list_update as lu
    from bauhinia.adapters.screening.lists import current_lists_dir
    from bauhinia.bootstrap import Container, load_settings
    from bauhinia.services import issuance_compliance as gate_svc

    settings = load_settings()
    if settings.sanctions_dir is not None:
        raise ValidationError("BAUHINIA_SANCTIONS_DIR is set, so screening reads that folder and would not use an "
                              "updated version: unset it to update the lists", code="sanctions_dir_pinned")
    data_dir = settings.data_dir
    previous_dir = current_lists_dir(data_dir)
    started = time.perf_counter()
    urls = {f"BAUHINIA_{k.upper()}": str(v) for k, v in settings.model_dump().items()
            if k.startswith("list_url_") and v}
    with working("downloading and checking the publishers' lists"):
        result = lu.update_lists(data_dir, previous_dir, lu.sources_from_env(urls, opensanctions=opensanctions),
                                 now=datetime.now(UTC), min_ratio=min_ratio, timeout_s=timeout)

    def counts(c: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in c.items()) + f" (total {sum(c.values())})"

    if result.unchanged:
        console.print(f"lists unchanged: the publishers' copies are those of version {result.previous_version} "
                      f"({counts(result.counts)}); nothing stored")
        return
    console.print(f"lists updated: {result.previous_version} -> {result.version} in "
                  f"{human_duration(time.perf_counter() - started)}, stored in {result.directory}")
    console.print(f"  entities before: {counts(result.previous_counts)}")
    console.print(f"  entities now:    {counts(result.counts)}")
    console.print(f"  delta: {len(result.added)} added, {len(result.changed)} changed, {result.removed} removed, "
                  f"{len(result.added_addresses)} listed addresses added")
    container = Container(load_settings())
    gate, ctx = container.compliance_gate, container.gated_issuance()
    cdd_ids = {s.customer.customer_id for s in gate.store.list_customers()}
    names = [(c.id, c.name) for c in ctx.store.customers() if c.id not in cdd_ids]
    wallets = [(w.address, w.customer_id) for w in ctx.store.wallets()]
    # alerts and cases for new hits; a customer now a hit is suspended, a strong hit's wallets get a freeze request
    enforced = gate_svc.rescreen_delta_and_enforce(gate, ctx, lu.DeltaScreener(result), wallets=wallets,
                                                   names=names, actor=actor, now_ns=time.time_ns())
    run = enforced.run
    console.print(f"re-screened {run.customers_screened} customers, {run.names_screened} other named customers and "
                  f"{run.wallets_screened} wallets against the delta of {run.list_version}: "
                  f"{len(run.alerts)} new alerts, {len(run.cases_opened)} cases opened, "
                  f"{len(run.cases_updated)} cases updated")
    for change in run.changes:
        console.print(f"  {change.customer_id}: {change.before.value} -> {change.after.value} ({change.reason})")
    for alert in run.alerts:
        console.print(f"  [{alert.severity.value}] {alert.alert_id} {alert.subject}: {alert.summary}")
    for case_id in run.cases_opened:
        console.print(f"  opened {case_id}")
    for customer_id in enforced.suspended:
        console.print(f"  suspended {customer_id} (no mint while suspended)")
    for request_id, approval_id in enforced.freezes:
        console.print(f"  freeze {request_id} awaits a second compliance officer (approval {approval_id})")
