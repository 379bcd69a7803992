"""Detached signatures of bank files: the bank signs each file's bytes with its key; we verify with its public key.

Where the bank's channel signs files (host-to-host with a detached signature, EBICS-style), the signature is
the proof that a file is the bank's word. Supported keys (PEM, SubjectPublicKeyInfo): Ed25519, ECDSA P-256 /
P-384 with SHA-256, RSA (PKCS#1 v1.5, SHA-256). A signature is given raw or base64 (a `.sig` file beside a
dropped file, or the `X-Bank-Signature` header of an upload).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from bauhinia.domain.errors import ValidationError

signature_bytes_max = 8_192


def decode_signature(text_or_raw: bytes) -> bytes:
    """A signature as raw bytes, from raw bytes or base64 text (whitespace ignored)."""
    data = text_or_raw.strip()
    if not data or len(data) > signature_bytes_max:
        raise ValidationError("a bank signature of 1..8192 bytes is required", code="bank_signature_missing")
    try:
        return base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return text_or_raw


class BankSignatureVerifier:
    def __init__(self, public_key_pem: bytes) -> None:
        try:
            key = serialization.load_pem_public_key(public_key_pem)
        except ValueError as exc:
            raise ValidationError(f"the bank's public key cannot be read: {exc}", code="bad_bank_key") from None
        if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise ValidationError("the bank's key must be Ed25519, ECDSA or RSA", code="bad_bank_key")
        self._key = key

    @classmethod
    def from_file(cls, path: Path) -> BankSignatureVerifier:
        if not path.is_file():
            raise ValidationError(f"the bank's public key file {path} is missing", code="bad_bank_key")
        return cls(path.read_bytes())

    def verify(self, data: bytes, signature: bytes) -> bool:
        sig = decode_signature(signature)
        key = self._key
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(sig, data)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(sig, data, ec.ECDSA(hashes.SHA256()))
            else:
                key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True
