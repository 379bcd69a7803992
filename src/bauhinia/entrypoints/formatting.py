"""What every entrypoint shares to show figures and long work to people.

`human_duration(seconds)` / `human_duration_ns(ns)` and `human_bps(bps)` say a duration or a rate the same way in
the demo, the CLI and the domain's own texts (alert summaries). `progress_bar(description)` gives a long command a
transient rich progress bar on stderr, and `working(description)` a spinner for one long step whose size is not
known (loading and indexing the sanctions lists, building a Merkle tree), only when stderr is a terminal: tests
and pipes see the output unchanged.

    with progress_bar("screening rows") as progress:
        result = svc.screen_rows(..., progress=progress)   # progress(done, total), or None off a terminal
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bauhinia.domain.humanize import human_bps, human_duration, human_duration_ns

__all__ = ["ProgressFn", "human_bps", "human_duration", "human_duration_ns", "progress_bar", "working"]

ProgressFn = Callable[[int, int], None]


@contextmanager
def progress_bar(description: str, *, force: bool = False) -> Iterator[ProgressFn | None]:
    """A `progress(done, total)` callback drawing a transient bar on stderr; None when stderr is not a terminal
    (unless `force`), so the caller's service runs exactly as without a bar."""
    if not (force or sys.stderr.isatty()):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def working(description: str, *, force: bool = False) -> Iterator[None]:
    """A transient spinner on stderr while the block runs; nothing when stderr is not a terminal (unless `force`)."""
    if not (force or sys.stderr.isatty()):
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(description):
        yield
