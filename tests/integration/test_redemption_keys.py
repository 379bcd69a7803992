"""A redemption request keeps its idempotency key in its own transaction: requests racing with one key record
one redemption, and every racer gets that redemption back (on both stores)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import ConflictError
from bauhinia.domain.money import Currency
from bauhinia.entrypoints.scenario import make_issuer
from bauhinia.services import issuance as svc


def test_racing_requests_with_one_key_record_one_redemption(tmp_path: Path, db_url: str) -> None:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    try:
        holder = issuer.add_holder("c1", "Harbour Traders Ltd", "004-555-000001-838")
        ctx = issuer.ctx
        req = iss.RedemptionRequest("c1", Currency.CNH.coin, 500_00, holder.wallet, holder.bank_account, "race-1")
        results: list[tuple[int, bool]] = []
        fresh: list[object] = []
        errors: list[BaseException] = []
        start = threading.Barrier(8)

        def racer() -> None:
            start.wait()
            try:
                r, replayed = svc.request_redemption_keyed(ctx, req, actor="client:racer")
                results.append((int(r.seq), replayed))
                if not replayed:
                    fresh.append(r)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=racer) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert not errors, errors
        assert len({seq for seq, _ in results}) == 1 and len(results) == 8
        assert sum(1 for _, replayed in results if not replayed) == 1
        rows = ctx.store.redemptions(limit=100)
        assert [r.idempotency_key for r in rows] == ["race-1"]
        # The recorded request is answered from what was written, without a read: it must equal the stored row.
        stored = dict(rows[0]._mapping)
        assert {k: getattr(fresh[0], k) for k in stored} == stored
        with pytest.raises(ConflictError) as exc:
            svc.request_redemption_keyed(ctx, iss.RedemptionRequest(
                "c1", Currency.CNH.coin, 600_00, holder.wallet, holder.bank_account, "race-1"))
        assert exc.value.code == "idempotency_key_reused"
        assert len(ctx.store.redemptions(limit=100)) == 1
    finally:
        issuer.container.close()
