"""A crash between the customer's row and its ledger accounts (two commits) is healed by onboarding again: the
retry opens the missing accounts, so the customer's deposits can be booked (found by the SIGKILL crash test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bauhinia.domain import issuance as iss
from bauhinia.domain.money import Currency
from bauhinia.entrypoints.scenario import make_issuer
from bauhinia.services import issuance as svc


class Crash(BaseException):
    """Stands for the process dying: not an error any code path catches."""


def test_onboarding_again_opens_the_accounts_a_crash_left_missing(tmp_path: Path, db_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    try:
        ctx = issuer.ctx

        def crash(*_: object) -> list[str]:
            raise Crash

        with monkeypatch.context() as m:
            m.setattr(ctx.store.ledger, "create_accounts", crash)
            with pytest.raises(Crash):
                svc.onboard_customer(ctx, "c9", "Tsuen Wan Metals Ltd", cleared=True)
        customer = ctx.store.customer("c9")  # the row committed, its accounts did not
        accounts = [iss.customer_account(customer, f) for f in (Currency.CNH, Currency.HKD)]
        assert svc.onboard_customer(ctx, "c9", "Tsuen Wan Metals Ltd", cleared=True) == customer
        assert ctx.store.ledger.create_accounts(accounts) == ["exists", "exists"]
    finally:
        issuer.container.close()
