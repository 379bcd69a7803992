"""No secret, key, JWT or full account number reaches a log line."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bauhinia.entrypoints.api.observability import RedactingFilter, configure_logging, redact, request_id_var

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcGVyYXRvciJ9.c2lnbmF0dXJlLXZhbHVlLWhlcmU"
API_KEY = "bk_0123456789abcdef_s3cr3tPart-with_chars"
PRIV = "0x" + "ab" * 32
ACCOUNT = "012875001234001"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"got token {JWT}", JWT),
        (f"Authorization: Bearer {JWT}", JWT),
        ("Authorization: Bearer opaque-token-value", "opaque-token-value"),
        (f"key {API_KEY} used", "s3cr3tPart"),
        ("client_secret=hunter2hunter2&grant_type=client_credentials", "hunter2hunter2"),
        ('{"password": "pa55word", "user": "x"}', "pa55word"),
        (f"signer key {PRIV}", "ab" * 32),
        (f"payout to account {ACCOUNT}", ACCOUNT),
        ("IBAN GB82WEST12345698765432 paid", "GB82WEST123456987654"),
        ("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----", "MIGHAgEAMBMG"),
        ("webhook_secret: whsec_abc123", "whsec_abc123"),
    ],
)
def test_redact(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out, out


def test_account_numbers_keep_last_four() -> None:
    assert redact(f"acct {ACCOUNT}") == "acct ***********4001"
    assert redact("amount_minor 12345678") == "amount_minor 12345678"  # 8 digits: an amount, not an account


def test_filter_masks_args_extras_and_exceptions() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", json_logs=True, stream=stream)
    log = logging.getLogger("bauhinia.test.redaction")
    token = request_id_var.set("req-1")
    try:
        log.info("login by %s with %s", "ops", JWT, extra={"api_key": API_KEY, "account": ACCOUNT,
                                                            "body": {"client_secret": "zzz", "n": 1}})
        try:
            raise ValueError(f"bad key {PRIV}")
        except ValueError:
            log.exception("failed for account %s", ACCOUNT)
    finally:
        request_id_var.reset(token)
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    for secret in (JWT, "s3cr3tPart", ACCOUNT, "zzz", "ab" * 32):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["request_id"] == "req-1" and lines[0]["api_key"] == "[redacted]"
    assert lines[0]["body"] == {"client_secret": "[redacted]", "n": 1}
    assert "ValueError" in lines[1]["exc"]


def test_filter_never_drops_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "bad format %d", ("not-a-number",), None)
    assert RedactingFilter().filter(record)
    assert "bad format" in record.getMessage()
