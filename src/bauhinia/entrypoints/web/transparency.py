"""The public transparency page (/transparency, no sign-in): reserve composition, coverage per coin, supply,
the latest proof-of-liabilities roots and a proof checker.

A holder pastes or uploads the proof JSON they were given. The server checks it with `domain.proofs` against the
root the issuer published for that snapshot (never against the root written in the proof itself), and the page
runs the same Merkle-sum check in the browser (static/proofcheck.js), so nobody has to trust the server.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bauhinia.domain import proofs
from bauhinia.domain.money import Amount, Currency
from bauhinia.entrypoints.web import readmodel
from bauhinia.entrypoints.web.templating import render

router = APIRouter(prefix="/transparency", include_in_schema=False)
PROOF_BYTES_MAX = 64 * 1024


def _published(container: Any) -> dict[str, dict[str, str]]:
    return {r.snapshot_id: {"coin": r.coin.value, "root_hash": r.root_hash_hex, "total": str(r.total_base_units),
                            "as_of": r.as_of.isoformat()}
            for r in readmodel.published_roots(container)}


def check_proof(container: Any, text: str, holder_id: str = "") -> dict[str, Any]:
    """Verify a proof JSON against the published root of its snapshot. Never raises for a bad proof."""
    if len(text.encode()) > PROOF_BYTES_MAX:
        return {"valid": False, "reason": f"the proof is larger than {PROOF_BYTES_MAX // 1024} KiB"}
    try:
        proof = proofs.proof_from_json(text)
        root = container.reserves.get_liability_root(proof.snapshot_id)
        if root is None:
            raise proofs.ProofInvalid(f"snapshot {proof.snapshot_id!r} was never published by the issuer")
        if root.coin.value != proof.coin:
            raise proofs.ProofInvalid(f"snapshot {root.snapshot_id} is of {root.coin.value}, not {proof.coin}")
        proofs.verify_inclusion(proof, bytes.fromhex(root.root_hash_hex), root.total_base_units)
        if holder_id:
            proofs.verify_holder(proof, holder_id)
    except proofs.ProofInvalid as exc:
        return {"valid": False, "reason": exc.detail}
    coin = Currency(root.coin.value)
    return {"valid": True, "reason": "", "snapshot_id": root.snapshot_id, "coin": coin.value,
            "balance": Amount(proof.balance, coin).format(), "total": Amount(root.total_base_units, coin).format(),
            "root_hash": root.root_hash_hex, "as_of": root.as_of.isoformat(), "holder_checked": bool(holder_id)}


def _page(request: Request, result: dict[str, Any] | None = None, proof_text: str = "") -> Response:
    container = request.app.state.container
    coins = readmodel.coin_views(container)
    return render(request, "transparency.html", {
        "coins": coins, "roots": readmodel.published_roots(container, limit=10), "m": readmodel.money,
        "published_json": json.dumps(_published(container)).replace("</", "<\\/"), "result": result,
        "proof_text": proof_text,
        "now": readmodel.now_text(container), "session": None, "nav": [],
    })


@router.get("", response_class=HTMLResponse)
def transparency(request: Request) -> Response:
    return _page(request)


@router.post("/verify", response_class=HTMLResponse)
async def verify(
    request: Request,
    proof_text: Annotated[str, Form(max_length=PROOF_BYTES_MAX)] = "",
    holder_id: Annotated[str, Form(max_length=256)] = "",
    proof_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The no-JavaScript path: the form posts here and the page shows the server's verdict. No session, no state
    change, so no CSRF token is needed."""
    if proof_file is not None and proof_file.filename:
        raw = await proof_file.read(PROOF_BYTES_MAX + 1)
        proof_text = raw.decode("utf-8", errors="replace")
    if not proof_text.strip():
        return _page(request, {"valid": False, "reason": "paste a proof or choose a file"}, proof_text)
    return _page(request, check_proof(request.app.state.container, proof_text, holder_id.strip()), proof_text)


@router.post("/verify.json")
async def verify_json(request: Request) -> Response:
    """The same check for the page's script: the raw proof JSON in, {valid, reason, ...} out."""
    body = await request.body()
    return JSONResponse(check_proof(request.app.state.container, body[: PROOF_BYTES_MAX + 1].decode(
        "utf-8", errors="replace"), request.query_params.get("holder_id", "")[:256]))


@router.get("/roots.json")
def roots_json(request: Request) -> Response:
    """Every published root, for holders' own tools."""
    return JSONResponse(_published(request.app.state.container))
