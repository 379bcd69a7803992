"""Named fault points: where the money flows cross a commit boundary, a crash test can cut the power.

The code calls `fault_point(name)` at each boundary. It does nothing unless the setting `fault_kill_at`
(BAUHINIA_FAULT_KILL_AT, read once through Settings) names that point, as "point" or "point:N". Then the
process kills itself with SIGKILL the Nth time (default: the first) it reaches the point: no cleanup, no
flush, no finally blocks, like a power cut. Tests only; a run never sets it.

    BAUHINIA_FAULT_KILL_AT=mint.after_send:2 python child.py ...   # dies at the second mint broadcast

`POINTS` lists every point, so a test can kill at each one; a name outside it is refused.

In-process (the seeded simulation, tools/simulate.py), a point can instead be armed to raise `SimulatedCrash`
(a BaseException, so no `except Exception` in the services swallows it) at its Nth occurrence from arming; the
caller then drops every object of the "crashed" process and restarts over the same database and chain:

    with faults.crash_at("mint.after_send", 2):   # or faults.arm(...) / faults.disarm()
        run_the_flows()                            # raises SimulatedCrash at the second mint broadcast

An armed crash fires once and is then disarmed. The kill setting works as before, alongside.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

POINTS: tuple[str, ...] = (
    # bank ingest: a file's booking is committed, the file is not yet acknowledged (moved out of the inbox)
    "bank.after_booking",
    # mint runner: the batch, its ledger entry and its idempotency key are committed, nothing is sent yet
    "mint.after_batch",
    # mint runner: the mint transaction was sent and its receipt read, the result is not yet booked
    "mint.after_send",
    # mint runner: the batch is booked as mined
    "mint.after_booked",
    # redemption runner: the burn and the held payout cash are booked with the burn's key, nothing is sent yet
    "redeem.after_burn_booked",
    # redemption runner: the burn transaction was sent and mined, the payouts are not yet batched
    "redeem.after_burn",
    # payouts: the payout batch is committed, its pain.001 file is not yet written
    "payout.after_batch",
    # payouts: the file is written, the batch is not yet marked written
    "payout.after_file",
    # payouts: the batch is marked written
    "payout.after_marked",
    # chain journal: a signed transaction is journaled (committed), not yet broadcast
    "chain.after_journal",
    # chain journal: the transaction is broadcast, its receipt is not yet recorded
    "chain.after_send",
)
_KNOWN = frozenset(POINTS)

_loaded = False
_target: tuple[str, int] | None = None
_counts: dict[str, int] = {}
_crash_lock = threading.Lock()
_crash_at: dict[str, tuple[int, int]] = {}  # point -> (occurrences left before it raises, the N it was armed at)


class SimulatedCrash(BaseException):  # a crash, not an error: nothing may handle it
    """Raised by an armed point (`arm`, `crash_at`): the in-process stand-in for SIGKILL."""

    def __init__(self, point: str, nth: int) -> None:
        super().__init__(f"simulated crash at {point} (occurrence {nth})")
        self.point = point
        self.nth = nth


def parse(spec: str) -> tuple[str, int] | None:
    """ "point" or "point:N" (N >= 1) -> (point, N); "" -> None. Raises ValueError on anything else."""
    spec = spec.strip()
    if not spec:
        return None
    name, sep, nth = spec.partition(":")
    if name not in _KNOWN:
        raise ValueError(f"unknown fault point {name!r} (known: {', '.join(POINTS)})")
    if not sep:
        return name, 1
    if not nth.isdigit() or int(nth) < 1:
        raise ValueError(f"fault point occurrence must be a whole number from 1, not {nth!r}")
    return name, int(nth)


def _load() -> None:
    global _loaded, _target
    from bauhinia.config import Settings  # the only environment reader

    _target = parse(Settings().fault_kill_at)
    _loaded = True


def reset(spec: str | None = None) -> None:
    """Forget the cached setting, the counts and any armed crash; with `spec`, arm that kill instead of reading
    Settings (tests)."""
    global _loaded, _target
    _counts.clear()
    disarm()
    _target = parse(spec) if spec is not None else None
    _loaded = spec is not None


def arm(name: str, nth: int = 1) -> None:
    """Raise `SimulatedCrash` at the `nth` occurrence (from now) of point `name`, once."""
    if name not in _KNOWN:
        raise ValueError(f"unknown fault point {name!r} (known: {', '.join(POINTS)})")
    if isinstance(nth, bool) or not isinstance(nth, int) or nth < 1:
        raise ValueError(f"fault point occurrence must be a whole number from 1, not {nth!r}")
    with _crash_lock:
        _crash_at[name] = (nth, nth)


def disarm(name: str | None = None) -> None:
    """Forget the armed crash at `name` (every armed crash when None)."""
    with _crash_lock:
        if name is None:
            _crash_at.clear()
        else:
            _crash_at.pop(name, None)


def armed() -> dict[str, int]:
    """Points armed to raise, with the occurrences left until each fires."""
    with _crash_lock:
        return {name: left for name, (left, _nth) in _crash_at.items()}


@contextmanager
def crash_at(name: str, nth: int = 1) -> Iterator[None]:
    """`arm` for the block; disarmed on the way out whether or not it fired."""
    arm(name, nth)
    try:
        yield
    finally:
        disarm(name)


def _crash_if_armed(name: str) -> None:
    with _crash_lock:
        armed_at = _crash_at.get(name)
        if armed_at is None:
            return
        left, nth = armed_at
        if left > 1:
            _crash_at[name] = (left - 1, nth)
            return
        del _crash_at[name]
    raise SimulatedCrash(name, nth)


def fault_point(name: str) -> None:
    """A commit boundary: returns at once unless a crash test armed this point (see the module docstring)."""
    if _crash_at:
        _crash_if_armed(name)
    if _loaded and _target is None:
        return
    _reached(name)


def _reached(name: str) -> None:
    if not _loaded:
        _load()
    if _target is None:
        return
    if name not in _KNOWN:
        raise ValueError(f"fault point {name!r} is not listed in bauhinia.faults.POINTS")
    count = _counts.get(name, 0) + 1
    _counts[name] = count
    if (name, count) == _target:
        os.kill(os.getpid(), signal.SIGKILL)
