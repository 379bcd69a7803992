"""The settlement store over SQLAlchemy Core (SQLite and PostgreSQL): parties, invoices with their audit trail,
quotes, settled payments and the contracts' addresses. Implements services.settlement.SettlementStore.

An invoice and its transition record are written in one transaction; the update is conditional on the
sequence the caller read, so two concurrent transitions of one invoice cannot both win.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.store import settlement_tables as t
from bauhinia.adapters.store.db import read_connection
from bauhinia.domain import settlement as st
from bauhinia.domain.errors import ConflictError, NotFoundError
from bauhinia.domain.money import Currency

list_rows_max = 10_000


def _party(r: Any) -> st.TradeParty:
    return st.TradeParty(r.party_id, r.name, r.country, r.address)


def _record_values(rec: st.TransitionRecord) -> dict[str, object]:
    return {
        "invoice_id": rec.invoice_id, "sequence": rec.sequence,
        "from_state": rec.from_state.value if rec.from_state else None, "to_state": rec.to_state.value,
        "actor": rec.actor[:64], "at_ns": rec.at_ns, "reason": rec.reason, "reference": rec.reference[:128],
    }


def _invoice_values(inv: st.TradeInvoice) -> dict[str, object]:
    return {
        "invoice_id": inv.invoice_id, "exporter_id": inv.exporter.party_id, "importer_id": inv.importer.party_id,
        "currency": inv.currency.value, "amount_minor": inv.amount_minor, "due_date": inv.due_date,
        "line_items_json": json.dumps([[i.description, i.quantity, i.amount_minor] for i in inv.line_items]),
        "bill_of_lading_hash": inv.bill_of_lading_hash, "packing_list_hash": inv.packing_list_hash,
        "agent_address": inv.agent_address, "state": inv.state.value, "sequence": inv.sequence,
        "escrow_expiry_s": inv.escrow_expiry_s, "issued_at_ns": inv.issued_at_ns,
        "updated_at_ns": inv.updated_at_ns,
    }


class SettlementRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- parties -------------------------------------------------------------------------------------------

    def put_party(self, party: st.TradeParty, decision: str, now_ns: int) -> None:
        values = {"party_id": party.party_id, "name": party.name, "country": party.country,
                  "address": party.address, "screening_decision": decision, "screened_at_ns": now_ns}
        with self.engine.begin() as conn:
            done = conn.execute(t.parties.update().where(t.parties.c.party_id == party.party_id).values(**values))
            if done.rowcount == 0:
                conn.execute(t.parties.insert().values(**values))

    def get_party(self, party_id: str) -> st.TradeParty | None:
        with read_connection(self.engine) as conn:
            r = conn.execute(sa.select(t.parties).where(t.parties.c.party_id == party_id)).first()
        return _party(r) if r else None

    def parties_by_address(self, address: str, limit: int = 10) -> list[st.TradeParty]:
        with read_connection(self.engine) as conn:
            rows = conn.execute(sa.select(t.parties).where(t.parties.c.address == address.lower())
                                .order_by(t.parties.c.party_id).limit(limit)).all()
        return [_party(r) for r in rows]

    def party_screening(self, party_id: str) -> tuple[str, int] | None:
        with read_connection(self.engine) as conn:
            r = conn.execute(sa.select(t.parties.c.screening_decision, t.parties.c.screened_at_ns)
                             .where(t.parties.c.party_id == party_id)).first()
        return (str(r[0]), int(r[1])) if r else None

    # --- invoices ------------------------------------------------------------------------------------------

    def insert_invoice(self, invoice: st.TradeInvoice, record: st.TransitionRecord) -> None:
        with self.engine.begin() as conn:
            if conn.execute(sa.select(t.invoices.c.invoice_id)
                            .where(t.invoices.c.invoice_id == invoice.invoice_id)).first():
                raise ConflictError(f"invoice {invoice.invoice_id} exists", code="invoice_exists")
            conn.execute(t.invoices.insert().values(**_invoice_values(invoice)))
            conn.execute(t.invoice_events.insert().values(**_record_values(record)))

    def save_transition(self, invoice: st.TradeInvoice, record: st.TransitionRecord) -> None:
        values = _invoice_values(invoice)
        with self.engine.begin() as conn:
            done = conn.execute(t.invoices.update().where(
                t.invoices.c.invoice_id == invoice.invoice_id, t.invoices.c.sequence == invoice.sequence - 1,
            ).values(**values))
            if done.rowcount != 1:
                raise ConflictError(f"invoice {invoice.invoice_id} changed meanwhile; read it again",
                                    code="invoice_changed")
            conn.execute(t.invoice_events.insert().values(**_record_values(record)))

    def _invoice(self, conn: sa.Connection, r: Any) -> st.TradeInvoice:
        exporter = conn.execute(sa.select(t.parties).where(t.parties.c.party_id == r.exporter_id)).first()
        importer = conn.execute(sa.select(t.parties).where(t.parties.c.party_id == r.importer_id)).first()
        if exporter is None or importer is None:
            raise NotFoundError(f"invoice {r.invoice_id}: a party is missing", code="party_not_found")
        return st.TradeInvoice(
            invoice_id=r.invoice_id, exporter=_party(exporter), importer=_party(importer),
            currency=Currency(r.currency), amount_minor=int(r.amount_minor), due_date=r.due_date,
            line_items=tuple(st.LineItem(d, int(q), int(a)) for d, q, a in json.loads(r.line_items_json)),
            bill_of_lading_hash=r.bill_of_lading_hash, packing_list_hash=r.packing_list_hash,
            issued_at_ns=int(r.issued_at_ns), state=st.InvoiceState(r.state), sequence=int(r.sequence),
            agent_address=r.agent_address,
            escrow_expiry_s=None if r.escrow_expiry_s is None else int(r.escrow_expiry_s),
            updated_at_ns=int(r.updated_at_ns),
        )

    def get_invoice(self, invoice_id: str) -> st.TradeInvoice | None:
        with read_connection(self.engine) as conn:
            r = conn.execute(sa.select(t.invoices).where(t.invoices.c.invoice_id == invoice_id)).first()
            return self._invoice(conn, r) if r else None

    def list_invoices(self, state: str | None = None, limit: int = 100, *, party_id: str | None = None,
                      after: tuple[int, str] | None = None) -> list[st.TradeInvoice]:
        """Invoices in issue order; `party_id` keeps those where it is the exporter or the importer; `after`
        (issued_at_ns, invoice_id) of the last one seen continues a listing."""
        c = t.invoices.c
        q = sa.select(t.invoices).order_by(c.issued_at_ns, c.invoice_id).limit(min(limit, list_rows_max))
        if state:
            q = q.where(c.state == state)
        if party_id is not None:
            q = q.where(sa.or_(c.exporter_id == party_id, c.importer_id == party_id))
        if after is not None:
            q = q.where(sa.or_(c.issued_at_ns > after[0], sa.and_(c.issued_at_ns == after[0],
                                                                  c.invoice_id > after[1])))
        with read_connection(self.engine) as conn:
            return [self._invoice(conn, r) for r in conn.execute(q).all()]

    def history(self, invoice_id: str) -> list[st.TransitionRecord]:
        with read_connection(self.engine) as conn:
            rows = conn.execute(sa.select(t.invoice_events).where(t.invoice_events.c.invoice_id == invoice_id)
                                .order_by(t.invoice_events.c.sequence)).all()
        return [st.TransitionRecord(r.invoice_id, int(r.sequence),
                                    st.InvoiceState(r.from_state) if r.from_state else None,
                                    st.InvoiceState(r.to_state), r.actor, int(r.at_ns), r.reason, r.reference)
                for r in rows]

    # --- quotes --------------------------------------------------------------------------------------------

    def put_quote(self, quote: st.Quote, signature: str, now_ns: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(t.quotes.insert().values(
                quote_id=quote.quote_id, maker=quote.maker, taker=quote.taker, maker_coin=quote.maker_coin.value,
                maker_amount_base_units=quote.maker_amount_base_units, taker_coin=quote.taker_coin.value,
                taker_amount_base_units=quote.taker_amount_base_units, rate_base=quote.rate.base.value,
                rate_quote=quote.rate.quote.value, rate_numerator=quote.rate.numerator,
                rate_denominator=quote.rate.denominator, rounding=quote.rounding.value,
                created_at_s=quote.created_at_s, expiry_s=quote.expiry_s, nonce=quote.nonce, signature=signature,
                status="open", status_detail="", tx_hash=None, updated_at_ns=now_ns,
            ))

    def get_quote(self, quote_id: str) -> tuple[st.Quote, str, str, str] | None:
        """(quote, signature, status, detail)."""
        with read_connection(self.engine) as conn:
            r = conn.execute(sa.select(t.quotes).where(t.quotes.c.quote_id == quote_id)).first()
        if r is None:
            return None
        rate = st.Rate(Currency(r.rate_base), Currency(r.rate_quote), int(r.rate_numerator),
                       int(r.rate_denominator))
        quote = st.Quote(r.quote_id, r.maker, r.taker, Currency(r.maker_coin), int(r.maker_amount_base_units),
                         Currency(r.taker_coin), int(r.taker_amount_base_units), rate, st.Rounding(r.rounding),
                         int(r.created_at_s), int(r.expiry_s), r.nonce)
        return quote, r.signature, r.status, r.status_detail

    def set_quote_status(self, quote_id: str, status: str, detail: str, tx_hash: str | None, now_ns: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(t.quotes.update().where(t.quotes.c.quote_id == quote_id).values(
                status=status, status_detail=detail[:500], tx_hash=tx_hash, updated_at_ns=now_ns))

    # --- payments and contracts ----------------------------------------------------------------------------

    def add_payment(self, p: st.SettledPayment) -> None:
        with self.engine.begin() as conn:
            if conn.execute(sa.select(t.payments.c.kind).where(
                    t.payments.c.kind == p.kind, t.payments.c.reference == p.reference)).first():
                return
            conn.execute(t.payments.insert().values(
                kind=p.kind, reference=p.reference, payer=p.payer, payee=p.payee, payer_country=p.payer_country,
                payee_country=p.payee_country, coin=p.coin.value, amount_base_units=p.amount_base_units,
                settled_at_ns=p.settled_at_ns))

    def list_payments(self, start_ns: int = 0, end_ns: int = 2**63 - 1) -> list[st.SettledPayment]:
        with read_connection(self.engine) as conn:
            rows = conn.execute(sa.select(t.payments).where(
                t.payments.c.settled_at_ns >= start_ns, t.payments.c.settled_at_ns < end_ns,
            ).order_by(t.payments.c.settled_at_ns).limit(1_000_000)).all()
        return [st.SettledPayment(r.kind, r.reference, r.payer, r.payee, r.payer_country, r.payee_country,
                                  Currency(r.coin), int(r.amount_base_units), int(r.settled_at_ns)) for r in rows]

    def put_contracts(self, chain_id: int, addresses: dict[str, str], now_ns: int) -> None:
        with self.engine.begin() as conn:
            for name, address in addresses.items():
                conn.execute(t.contracts.delete().where(t.contracts.c.chain_id == chain_id,
                                                        t.contracts.c.name == name))
                conn.execute(t.contracts.insert().values(chain_id=chain_id, name=name, address=address,
                                                         created_at_ns=now_ns))

    def get_contracts(self, chain_id: int) -> dict[str, str]:
        with read_connection(self.engine) as conn:
            rows = conn.execute(sa.select(t.contracts.c.name, t.contracts.c.address)
                                .where(t.contracts.c.chain_id == chain_id)).all()
        return {str(n): str(a) for n, a in rows}

    # --- trade redemptions ---------------------------------------------------------------------------------

    def link_redemption(self, redemption_key: str, invoice_id: str, now_ns: int) -> None:
        """Remember that the redemption under `redemption_key` pays out `invoice_id`'s proceeds (idempotent)."""
        with self.engine.begin() as conn:
            found = conn.execute(sa.select(t.redemption_links.c.invoice_id).where(
                t.redemption_links.c.redemption_key == redemption_key)).first()
            if found is not None:
                if found[0] != invoice_id:
                    raise ConflictError(f"redemption {redemption_key} already pays out invoice {found[0]}",
                                        code="redemption_linked")
                return
            conn.execute(t.redemption_links.insert().values(redemption_key=redemption_key, invoice_id=invoice_id,
                                                            linked_at_ns=now_ns))

    def invoice_for_redemption(self, redemption_key: str) -> str | None:
        with read_connection(self.engine) as conn:
            r = conn.execute(sa.select(t.redemption_links.c.invoice_id).where(
                t.redemption_links.c.redemption_key == redemption_key)).first()
        return str(r[0]) if r else None
