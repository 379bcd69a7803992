"""Compliance: customers, parties, documents, beneficial owners, risk assessments, screening results, reviewed
false positives, monitored events, alerts, cases, case events, freeze requests, suspicious transaction reports.

Revision ID: compliance_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "compliance_0001"
down_revision = None
branch_labels = ("compliance",)
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_TABLES = (
    "cmp_customers",
    "cmp_parties",
    "cmp_documents",
    "cmp_ubos",
    "cmp_risk_assessments",
    "cmp_screening_results",
    "cmp_false_positives",
    "cmp_events",
    "cmp_last_seen",
    "cmp_alerts",
    "cmp_cases",
    "cmp_case_events",
    "cmp_freeze_requests",
    "cmp_strs",
    "cmp_state",
)


def upgrade() -> None:
    op.create_table(
        "cmp_customers",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # accepted | held | refused
        sa.Column("status_reason", sa.Text, nullable=False),
        sa.Column("risk_rating", sa.String(16), nullable=False),
        sa.Column("edd_flags", sa.String(256), nullable=False),
        sa.Column("next_review_on", sa.Date, nullable=False),
        sa.Column("identity_verified", sa.Boolean, nullable=False),
        sa.Column("relationship_started_on", sa.Date),
        sa.Column("relationship_ended_on", sa.Date),
        sa.Column("retention_until", sa.Date),
        sa.Column("record_json", sa.Text, nullable=False),
        sa.Column("list_version", sa.String(64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "cmp_parties",
        sa.Column("customer_id", sa.String(64), sa.ForeignKey("cmp_customers.customer_id"), primary_key=True),
        sa.Column("party_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("roles", sa.String(128), nullable=False),  # subject, director, owner, beneficial_owner
        sa.Column("names_json", sa.Text, nullable=False),
        sa.Column("date_of_birth", sa.Date),
        sa.Column("country", sa.String(2), nullable=False),  # nationality or incorporation country
        sa.Column("pep", sa.Boolean, nullable=False),
    )
    op.create_table(
        "cmp_documents",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(64), sa.ForeignKey("cmp_customers.customer_id"), nullable=False),
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("doc_type", sa.String(64), nullable=False),
        sa.Column("number_masked", sa.String(64), nullable=False),
        sa.Column("number_sha256", sa.String(64), nullable=False),
        sa.Column("issuing_country", sa.String(2), nullable=False),
        sa.Column("expires_on", sa.Date),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Index("ix_cmp_documents_customer", "customer_id"),
        sa.Index("ix_cmp_documents_hash", "number_sha256"),
    )
    op.create_table(
        "cmp_ubos",
        sa.Column("customer_id", sa.String(64), sa.ForeignKey("cmp_customers.customer_id"), primary_key=True),
        sa.Column("party_id", sa.String(64), primary_key=True),
        sa.Column("effective_share_bps", sa.Integer, nullable=False),
        sa.Column("basis", sa.String(128), nullable=False),
        sa.Column("paths_json", sa.Text, nullable=False),
    )
    op.create_table(
        "cmp_risk_assessments",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(64), sa.ForeignKey("cmp_customers.customer_id"), nullable=False),
        sa.Column("rating", sa.String(16), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("reasons_json", sa.Text, nullable=False),
        sa.Column("edd_flags", sa.String(256), nullable=False),
        sa.Column("assessed_on", sa.Date, nullable=False),
        sa.Column("next_review_on", sa.Date, nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
        sa.Index("ix_cmp_risk_customer", "customer_id"),
    )
    op.create_table(
        "cmp_screening_results",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("subject_id", sa.String(128), nullable=False),  # customer id, or a payment's counterparty key
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("context", sa.String(32), nullable=False),  # onboarding | rescreen | counterparty
        sa.Column("list_version", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("hits_json", sa.Text, nullable=False),
        sa.Column("suppressed_json", sa.Text, nullable=False),
        sa.Column("screened_at_ns", sa.BigInteger, nullable=False),
        sa.Index("ix_cmp_screening_subject", "subject_id"),
    )
    op.create_table(
        "cmp_false_positives",
        sa.Column("customer_id", sa.String(128), primary_key=True),
        sa.Column("entity_id", sa.String(128), primary_key=True),
        sa.Column("entity_fingerprint", sa.String(64), primary_key=True),
        sa.Column("reviewed_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reviewed_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "cmp_events",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
        sa.Column("amount_hkd_minor", sa.BigInteger, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("from_address", sa.String(128), nullable=False),
        sa.Column("to_address", sa.String(128), nullable=False),
        sa.Column("counterparty", sa.String(256), nullable=False),
    )
    op.create_table(
        "cmp_last_seen",
        sa.Column("subject", sa.String(128), primary_key=True),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "cmp_alerts",
        sa.Column("alert_id", sa.String(64), primary_key=True),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("event_ids_json", sa.Text, nullable=False),
        sa.Column("facts_json", sa.Text, nullable=False),
        sa.Column("first_at_ns", sa.BigInteger, nullable=False),
        sa.Column("last_at_ns", sa.BigInteger, nullable=False),
        sa.Column("total_hkd_minor", sa.BigInteger, nullable=False),
        sa.Column("case_id", sa.String(64)),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.Index("ix_cmp_alerts_subject", "subject"),
    )
    op.create_table(
        "cmp_cases",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("alert_ids_json", sa.Text, nullable=False),
        sa.Column("opened_by", sa.String(128), nullable=False),
        sa.Column("opened_at_ns", sa.BigInteger, nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("assignee", sa.String(128), nullable=False),
        sa.Column("escalated_to", sa.String(128), nullable=False),
        sa.Column("close_reason", sa.String(32)),
        sa.Column("str_exported", sa.Boolean, nullable=False),
    )
    op.create_table(
        "cmp_case_events",
        sa.Column("case_id", sa.String(64), sa.ForeignKey("cmp_cases.case_id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("details_json", sa.Text, nullable=False),
    )
    op.create_table(
        "cmp_freeze_requests",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("cmp_cases.case_id"), nullable=False),
        sa.Column("addresses_json", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("requested_at_ns", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("decided_at_ns", sa.BigInteger, nullable=False),
        sa.Column("decision_note", sa.Text, nullable=False),
        sa.Column("chain_tx_hash", sa.String(80), nullable=False),
    )
    op.create_table(
        "cmp_strs",
        sa.Column("report_id", sa.String(128), primary_key=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("cmp_cases.case_id"), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("body_json", sa.Text, nullable=False),
    )
    op.create_table(
        "cmp_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in reversed(_TABLES):
        op.drop_table(name)
