"""Interfaces the services need (typing.Protocol). Imports the domain only.

Each section is owned by the capability that introduced it; adapters implement them, bootstrap wires them.
"""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """Where services get the time: wall-clock nanoseconds since the Unix epoch (UTC)."""

    def now_ns(self) -> int: ...
