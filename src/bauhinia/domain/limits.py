"""Every *_max / *_min constant in one place, units last in the name."""

from __future__ import annotations

# Integers stored in SQLite INTEGER and PostgreSQL BIGINT columns are signed 64-bit.
int64_max: int = 2**63 - 1

# Ledger
transfer_amount_max: int = int64_max
transfer_batch_size_max: int = 8_190
account_batch_size_max: int = 8_190
transfer_reference_length_max: int = 128
account_reference_length_max: int = 128
pending_timeout_s_max: int = 366 * 24 * 3600
linked_chain_length_max: int = 8_190
account_history_page_size_max: int = 10_000

# Token
token_decimals: int = 6
fiat_decimals: int = 2
