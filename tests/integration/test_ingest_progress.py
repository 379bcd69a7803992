"""Bank-file ingest tells a progress bar how far it is, entry by entry, and books the same as without one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import issuance as svc

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Iterator[Issuer]:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    try:
        yield issuer
    finally:
        issuer.container.close()


def test_ingest_reports_progress_per_entry_and_per_file(issuer: Issuer) -> None:
    svc.ingest_bank_files(issuer.ctx)  # whatever set-up left in the inbox
    a = issuer.add_holder("szx-hk", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    b = issuer.add_holder("kln-imp", "Kowloon Importers Ltd", "024-888-300400-101")
    issuer.drop_notification([issuer.deposit(a, 1_000_00, "P1"), issuer.deposit(b, 2_000_00, "P2"),
                              issuer.deposit(a, 3_000_00, "P3")], NOW)
    issuer.drop_notification([issuer.deposit(b, 4_000_00, "P4")], NOW)
    seen: list[tuple[int, int]] = []
    rep = svc.ingest_bank_files(issuer.ctx, progress=lambda done, total: seen.append((done, total)))
    # three ticks in the first file, its end, one tick in the second, its end
    assert seen == [(1, 4), (2, 4), (3, 4), (3, 4), (4, 4), (4, 4)]
    assert (rep.files, rep.subscriptions) == (2, 4)
    # a file read again is a duplicate: it is counted through, and books nothing
    issuer.drop_notification([issuer.deposit(b, 4_000_00, "P4")], NOW, message_id="NTF-000002")
    seen.clear()
    again = svc.ingest_bank_files(issuer.ctx, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (1, 1) and again.subscriptions == 0
