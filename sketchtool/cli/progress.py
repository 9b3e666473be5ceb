"""The progress bar every command shows: a tqdm bar on stderr driven by the library's on_progress callback."""

from __future__ import annotations

import sys
from typing import Callable

__all__ = ["progress_bar"]


def progress_bar(unit: str) -> Callable[[int, int], None]:
    """on_progress(done, total) -> a bar on a terminal, nothing elsewhere (bars only garble logs and pipes);
    created at the first call, when the total is known."""
    from tqdm import tqdm

    state: dict = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = tqdm(total=total, unit=unit, file=sys.stderr, disable=not sys.stderr.isatty(),
                                dynamic_ncols=True, mininterval=0.5)
        state["bar"].update(done - state["bar"].n)
        if done >= total:
            state["bar"].close()

    return update
