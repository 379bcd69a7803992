"""Suspicious transaction reports: validate the structured JSON against its schema, write JSON and PDF.

The PDF (reportlab) uses the built-in CID font STSong-Light for text with Chinese characters, so names such as
陳大文 print as written. Files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import jsonschema

from bauhinia.domain.errors import ValidationError

SCHEMA_PATH = Path(__file__).with_name("str.schema.json")
CJK_FONT = "STSong-Light"


@cache
def str_schema() -> dict[str, Any]:
    return dict(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def validate_str(report: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(str_schema())
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise ValidationError(f"STR does not match its schema at {where}: {first.message}", code="str_invalid")


def str_json_bytes(report: dict[str, Any]) -> bytes:
    return (json.dumps(report, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _hk(amount_minor: int) -> str:
    return f"HK${amount_minor // 100:,}.{amount_minor % 100:02d}"


def render_str_pdf(report: dict[str, Any]) -> bytes:
    import io

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=CJK_FONT, fontSize=9, leading=12)
    h1 = ParagraphStyle("h1", parent=styles["Heading1"], fontName=CJK_FONT)
    h2 = ParagraphStyle("h2", parent=styles["Heading2"], fontName=CJK_FONT)

    def p(text: object) -> Paragraph:
        return Paragraph(escape(str(text)), body)

    def table(rows: list[list[object]], widths: list[float]) -> Table:
        t = Table([[p(c) for c in r] for r in rows], colWidths=widths, repeatRows=1)
        t.setStyle(TableStyle([
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        return t

    case = report["case"]
    subject = report["subject"]
    story: list[Any] = [
        Paragraph(escape(f"Suspicious transaction report {report['report_id']}"), h1),
        p(f"Institution: {report['reporting_institution'].get('name', '')}   Reporter: {report['reporter']}   "
          f"Created: {report['created_at']}"),
        p(f"Case {case['case_id']} ({case['state']}, severity {case['severity']}), opened {case['opened_at']} by "
          f"{case['opened_by']}; assignee {case['assignee'] or '-'}; escalated to {case['escalated_to'] or '-'}"),
        Spacer(1, 4 * mm),
        Paragraph("Subject", h2),
    ]
    for key in ("kind", "customer_id", "address", "risk_rating"):
        if subject.get(key):
            story.append(p(f"{key}: {subject[key]}"))
    if subject.get("names"):
        story.append(p("names: " + " / ".join(subject["names"])))
    for doc in subject.get("documents", []):
        story.append(p(f"document: {doc['type']} {doc['number_masked']} ({doc['issuing_country']})"))
    for owner in subject.get("beneficial_owners", []):
        story.append(p(f"beneficial owner: {owner.get('names', owner.get('party_id'))} "
                       f"{owner.get('effective_share_bps', 0) / 100:.2f}% ({owner.get('basis', '')})"))
    story += [Spacer(1, 4 * mm), Paragraph("Grounds for suspicion", h2)]
    story.append(table(
        [["rule", "severity", "why", "events"]]
        + [[g["rule"], g["severity"], g["summary"], ", ".join(g["event_ids"][:12])] for g in report["grounds"]],
        [30 * mm, 18 * mm, 85 * mm, 47 * mm],
    ))
    story += [Spacer(1, 4 * mm), Paragraph(f"Transactions (total {_hk(report['total_hkd_minor'])})", h2)]
    story.append(table(
        [["event", "kind", "at (UTC)", "amount", "from / to / counterparty"]]
        + [[t["event_id"], t["kind"], t["at"], _hk(t["amount_hkd_minor"]),
            " ".join(x for x in (t.get("from_address"), t.get("to_address"), t.get("counterparty")) if x)]
           for t in report["transactions"]],
        [22 * mm, 18 * mm, 34 * mm, 28 * mm, 78 * mm],
    ))
    if report["narrative"]:
        story += [Spacer(1, 4 * mm), Paragraph("Narrative", h2)]
        story += [p(f"{n['at']} {n['by']}: {n['note']}") for n in report["narrative"]]
    if report["actions_taken"]:
        story += [Spacer(1, 4 * mm), Paragraph("Actions taken", h2)]
        story += [p(f"freeze {a['request_id']}: {', '.join(a['addresses'])}: {a['state']} (requested by "
                    f"{a['requested_by']}, approved by {a.get('approved_by') or '-'}) {a.get('chain_tx_hash', '')}")
                  for a in report["actions_taken"]]
    story += [Spacer(1, 4 * mm), Paragraph("Case history", h2)]
    story.append(table(
        [["#", "at (UTC)", "actor", "action", "details"]]
        + [[h["seq"], h["at"], h["actor"], h["action"], "; ".join(f"{k}={v}" for k, v in h["details"].items())]
           for h in report["history"]],
        [10 * mm, 34 * mm, 25 * mm, 30 * mm, 81 * mm],
    ))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"STR {report['report_id']}", author="Bauhinia",
                            leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm,
                            invariant=1)
    doc.build(story)
    return buffer.getvalue()


def write_str(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path, str]:
    """Validate, then write <report_id>.json and <report_id>.pdf; returns both paths and the JSON's SHA-256."""
    validate_str(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = str_json_bytes(report)
    json_path = out_dir / f"{report['report_id']}.json"
    pdf_path = out_dir / f"{report['report_id']}.pdf"
    _atomic_write(json_path, data)
    _atomic_write(pdf_path, render_str_pdf(report))
    return json_path, pdf_path, hashlib.sha256(data).hexdigest()
