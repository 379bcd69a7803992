"""Builds the regulatory context from a bootstrap Container (until Container grows a `regulatory` property)."""

from __future__ import annotations

from typing import Any

from bauhinia.services.regulatory import RegulatoryContext


def regulatory_context(container: Any, actor: str = "system") -> RegulatoryContext:
    from bauhinia.adapters.store.issuance_repo import SqlIssuanceStore
    from bauhinia.adapters.store.regulatory_repo import SqlRegulatoryStore

    return RegulatoryContext(
        store=SqlRegulatoryStore(container.engine),
        ledger=container.ledger,
        issuance=SqlIssuanceStore(container.engine, container.ledger),
        reserves=container.reserves,
        clock=container.clock,
        licence_number=container.settings.licence_number,
        actor=actor,
        adjustments=container.adjustments.journal,
    )
