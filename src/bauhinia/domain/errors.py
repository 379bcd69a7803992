"""The expected errors. Each carries a stable machine code, a short title and a clear detail.

Entry points map them: the API to RFC 9457 problem+json, the CLI to a one-line message and a non-zero exit.
"""

from __future__ import annotations


class BauhiniaError(Exception):
    """Base of every expected error. `code` is stable and machine-readable."""

    code: str = "error"
    title: str = "Request failed"
    http_status: int = 400

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class ValidationError(BauhiniaError):
    code = "invalid_input"
    title = "Invalid input"
    http_status = 422


class NotFoundError(BauhiniaError):
    code = "not_found"
    title = "Not found"
    http_status = 404


class ConflictError(BauhiniaError):
    code = "conflict"
    title = "Conflict with the current state"
    http_status = 409


class ForbiddenError(BauhiniaError):
    code = "forbidden"
    title = "Not allowed"
    http_status = 403


class RefusedError(BauhiniaError):
    """A rule refused the operation (coverage, sanctions, circuit breaker, limits...)."""

    code = "refused"
    title = "Refused by a rule"
    http_status = 422


class InvariantViolation(BauhiniaError):
    """A money invariant does not hold. Never expected; raised instead of `assert` so `-O` keeps it."""

    code = "invariant_violation"
    title = "Invariant violated"
    http_status = 500


class ConfigError(BauhiniaError):
    """The platform is configured unsafely (a demo value, a missing secret): it refuses to start."""

    code = "config_error"
    title = "Unsafe configuration"
    http_status = 500
