"""The progress bar every command shows: a tqdm bar on stderr driven by the library's on_progress callback."""

from __future__ import annotations

import sys
from typing import Callable

__all__ = ["progress_bar"]


def progress_bar(unit: str, *, always_from: int | None = None) -> Callable[[int, int], None]:
    """on_progress(done, total) -> a bar shown on a terminal, or (with `always_from`) for runs of at least that
    many units whatever stderr is; created at the first call, when the total is known."""
    from tqdm import tqdm

    state: dict = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            shown = sys.stderr.isatty() or (always_from is not None and total >= always_from)
            state["bar"] = tqdm(total=total, unit=unit, file=sys.stderr, disable=not shown,
                                dynamic_ncols=True, mininterval=0.5)
        state["bar"].update(done - state["bar"].n)
        if done >= total:
            state["bar"].close()

    return update
