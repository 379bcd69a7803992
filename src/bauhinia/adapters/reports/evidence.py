"""The regulatory evidence pack: run the tests marked `@pytest.mark.requirement(ID)`, judge each requirement of
the register (domain.regulatory.evaluate) and write it as HTML (green and red marks), PDF (reportlab) and JSON.

The tests run in a child pytest process with the evidence plugin (evidence_plugin.py), bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from io import BytesIO
from pathlib import Path
from typing import Any

from bauhinia.domain import regulatory as reg
from bauhinia.domain.errors import ValidationError

REGISTER_PATH = Path(__file__).resolve().parents[2] / "compliance_register.json"
PLUGIN = "bauhinia.adapters.reports.evidence_plugin"
pytest_timeout_s_default = 1_800
GREEN, RED, GREY = "#1a7f37", "#cf222e", "#6e7781"


def load_register(path: Path | None = None) -> reg.Register:
    path = path or REGISTER_PATH
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"cannot read the register {path}: {exc}", code="bad_register") from None
    return reg.parse_register(data)


def repo_root() -> Path:
    """The source tree the tests live in (controls-report runs from a checkout)."""
    for base in (Path.cwd(), *Path.cwd().parents, REGISTER_PATH.parents[2]):
        if (base / "tests" / "conftest.py").exists() and (base / "pyproject.toml").exists():
            return base
    raise ValidationError("controls-report runs from a Bauhinia checkout (tests/ not found)", code="no_tests")


@dataclass(frozen=True, slots=True)
class TestRun:
    results: tuple[reg.TestResult, ...]
    exit_code: int
    seconds: float
    command: str


def run_marked_tests(register: reg.Register, *, only: Sequence[str] = (), root: Path | None = None,
                     extra_args: Sequence[str] = (), timeout_s: int = pytest_timeout_s_default,
                     env: dict[str, str] | None = None) -> TestRun:
    """`pytest -m requirement` (all marked tests, or only the listed tests of the `only` requirements)."""
    root = root or repo_root()
    targets: list[str] = []
    if only:
        for rid in only:
            for t in register.get(rid).tests:
                file = t.split("::", 1)[0]
                if file not in targets:
                    targets.append(file)
    with tempfile.TemporaryDirectory(prefix="bauhinia-evidence-") as tmp:
        out = Path(tmp) / "evidence.json"
        cmd = [sys.executable, "-m", "pytest", "-m", "requirement", "-p", PLUGIN, "-q", "--no-header",
               "-p", "no:cacheprovider", "--continue-on-collection-errors", *extra_args, *(targets or ["tests"])]
        child_env = {**os.environ, **(env or {}), "BAUHINIA_EVIDENCE_OUT": str(out)}
        started = datetime.now(UTC)
        try:
            proc = subprocess.run(cmd, cwd=root, env=child_env, capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise ValidationError(f"the marked tests did not finish within {timeout_s} s", code="tests_timeout") \
                from None
        seconds = (datetime.now(UTC) - started).total_seconds()
        if not out.exists():
            tail = (proc.stdout + proc.stderr)[-2_000:]
            raise ValidationError(f"pytest wrote no evidence (exit {proc.returncode}): {tail}", code="tests_broken")
        rows = json.loads(out.read_text())["tests"]
    results = []
    for r in rows:
        ids = tuple(i for i in r["requirements"] if not only or i in only)
        if ids:
            results.append(reg.TestResult(r["nodeid"], ids, reg.Outcome(r["outcome"]), float(r["duration_s"]),
                                          r.get("message", "")))
    return TestRun(tuple(results), proc.returncode, seconds, " ".join(cmd[1:]))


# ---------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------


def pack_dict(evidence: Sequence[reg.RequirementEvidence], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "bauhinia-evidence-pack", "version": 1, **meta, "ok": reg.evidence_ok(evidence),
        "requirements": [{
            "id": e.requirement.id, "requirement": e.requirement.requirement, "source": e.requirement.source,
            "controls": list(e.requirement.controls), "configuration": e.requirement.configuration,
            "note": e.requirement.note, "status": e.status.value, "passed": e.passed, "failed": e.failed,
            "skipped": e.skipped, "listed_not_marked": list(e.listed_not_marked),
            "marked_not_listed": list(e.marked_not_listed),
            "tests": [{"nodeid": r.nodeid, "outcome": r.outcome.value, "duration_s": round(r.duration_s, 3)}
                      for r in e.results],
        } for e in evidence],
    }


def _colour(outcome: str) -> str:
    return {"passed": GREEN, "failed": RED}.get(outcome, GREY)


def _mark(status: str) -> tuple[str, str]:
    return {"proven": ("&#10004;", GREEN), "failing": ("&#10008;", RED)}.get(status, ("&#10008;", RED))


def render_html(doc: dict[str, Any]) -> str:
    rows = []
    for r in doc["requirements"]:
        sym, colour = _mark(r["status"])
        tests = "".join(
            f'<li><span style="color:{_colour(t["outcome"])}">'
            f'{escape(t["outcome"])}</span> <code>{escape(t["nodeid"])}</code></li>' for t in r["tests"])
        extra = ""
        if r["listed_not_marked"]:
            extra += "<p class=warn>listed in the register but not run with this marker: " + \
                ", ".join(f"<code>{escape(x)}</code>" for x in r["listed_not_marked"]) + "</p>"
        if r["note"]:
            extra += f"<p class=note>Note: {escape(r['note'])}</p>"
        rows.append(
            f'<tr><td class=mark style="color:{colour}">{sym}</td><td><b>{escape(r["id"])}</b><br>'
            f'<small>{escape(r["status"])}: {r["passed"]} passed, {r["failed"]} failed, {r["skipped"]} skipped'
            f'</small></td><td>{escape(r["requirement"])}<div class=src>{escape(r["source"])}</div>{extra}</td>'
            f'<td>{"<br>".join(f"<code>{escape(c)}</code>" for c in r["controls"])}'
            f'<div class=cfg>{escape(r["configuration"])}</div></td><td><ul>{tests}</ul></td></tr>')
    proven = sum(1 for r in doc["requirements"] if r["status"] == "proven")
    verdict_colour = GREEN if doc["ok"] else RED
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bauhinia regulatory evidence pack</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#1f2328}} table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #d0d7de;padding:6px;vertical-align:top;font-size:13px}} th{{background:#f6f8fa}}
td.mark{{font-size:22px;text-align:center}} code{{font-size:11px}}
.src,.cfg{{color:#57606a;font-size:12px;margin-top:4px}}
.warn{{color:{RED};font-size:12px}} .note{{color:#9a6700;font-size:12px}} ul{{margin:0;padding-left:1.2em}}
</style></head><body>
<h1>Regulatory evidence pack</h1>
<p>Register {escape(str(doc.get("register_version", "")))}, generated {escape(str(doc.get("generated_at", "")))}
at commit <code>{escape(str(doc.get("commit", "")))}</code>. Tests: <code>{escape(str(doc.get("command", "")))}</code>
({doc.get("seconds", 0):.0f} s).</p>
<p style="color:{verdict_colour};font-size:18px"><b>{proven} of {len(doc["requirements"])} requirements proven</b>
{"" if doc["ok"] else "&mdash; the pack does NOT pass"}</p>
<table><tr><th></th><th>id</th><th>requirement and source</th><th>control and configuration</th><th>tests</th></tr>
{"".join(rows)}
</table></body></html>
"""


def render_pdf(doc: dict[str, Any]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    mono = styles["Code"].clone("mono", fontSize=6.5, leading=8, leftIndent=0, firstLineIndent=0)
    buf = BytesIO()
    pdf = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title="Bauhinia regulatory evidence pack")
    proven = sum(1 for r in doc["requirements"] if r["status"] == "proven")
    story: list[Any] = [
        Paragraph("Regulatory evidence pack", styles["Title"]),
        Paragraph(f"Register {escape(str(doc.get('register_version', '')))} &middot; generated "
                  f"{escape(str(doc.get('generated_at', '')))} &middot; commit {escape(str(doc.get('commit', '')))}",
                  small),
        Paragraph(f"<b>{proven} of {len(doc['requirements'])} requirements proven</b>"
                  + ("" if doc["ok"] else " &mdash; the pack does NOT pass"),
                  styles["Heading3"].clone("v", textColor=colors.HexColor(GREEN if doc["ok"] else RED))),
        Spacer(1, 4 * mm),
    ]
    data: list[list[Any]] = [[Paragraph("<b>&#160;</b>", small), Paragraph("<b>id</b>", small),
                              Paragraph("<b>requirement / source</b>", small),
                              Paragraph("<b>control / configuration</b>", small), Paragraph("<b>tests</b>", small)]]
    style_cmds: list[Any] = [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#d0d7de")),
                             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f6f8fa")),
                             ("VALIGN", (0, 0), (-1, -1), "TOP")]
    for i, r in enumerate(doc["requirements"], start=1):
        ok = r["status"] == "proven"
        colour = colors.HexColor(GREEN if ok else RED)
        mark = Paragraph(f'<font color="{GREEN if ok else RED}" size="9"><b>{"PASS" if ok else "FAIL"}</b></font>',
                         small)
        req = escape(r["requirement"]) + f'<br/><font color="#57606a">{escape(r["source"])}</font>'
        if r["note"]:
            req += f'<br/><font color="#9a6700">Note: {escape(r["note"])}</font>'
        ctl = "<br/>".join(escape(c) for c in r["controls"]) + \
            f'<br/><font color="#57606a">{escape(r["configuration"])}</font>'
        tests = "<br/>".join(
            f'<font color="{_colour(t["outcome"])}">'
            f'{escape(t["outcome"])}</font> {escape(t["nodeid"].removeprefix("tests/"))}' for t in r["tests"]) \
            or f'<font color="{RED}">no marked test ran</font>'
        data.append([mark, Paragraph(f"<b>{escape(r['id'])}</b><br/>{r['passed']} passed, {r['failed']} failed",
                                     small), Paragraph(req, small), Paragraph(ctl, mono), Paragraph(tests, mono)])
        style_cmds.append(("LINEBEFORE", (0, i), (0, i), 3, colour))
    table = Table(data, colWidths=[16 * mm, 32 * mm, 78 * mm, 70 * mm, 77 * mm], repeatRows=1)
    table.setStyle(TableStyle(style_cmds))
    story.append(table)
    pdf.build(story)
    return buf.getvalue()


def write_pack(directory: Path, doc: dict[str, Any]) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {kind: directory / f"evidence.{kind}" for kind in ("html", "pdf", "json")}
    paths["html"].write_text(render_html(doc))
    paths["pdf"].write_bytes(render_pdf(doc))
    paths["json"].write_text(json.dumps(doc, indent=2) + "\n")
    return paths


def git_commit(root: Path) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""
