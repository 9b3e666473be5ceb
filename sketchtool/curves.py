"""`sketchtool curves`: training and validation loss curves of a run, drawn with matplotlib (imported lazily)."""

from __future__ import annotations

import os
from pathlib import Path

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write, check_output_path
from sketchtool.formats import require_output
from sketchtool.train import read_metrics

__all__ = ["TERMS", "plot_curves"]

TERMS = ("loss", "L_R", "L_KL")


def plot_curves(run_dir: str | os.PathLike, out: str | os.PathLike, *, force: bool = False) -> Path:
    """One panel per loss term, train and valid against step; the format follows `out`'s extension."""
    records = read_metrics(run_dir)
    out = check_output_path(out, force=force)
    fmt = require_output("curves", out).suffix.lower().lstrip(".")
    if not records:
        raise SketchtoolError(f"{run_dir}: metrics.jsonl is empty; train for at least log_every steps first")
    try:
        import matplotlib
    except ImportError:
        raise SketchtoolError("`sketchtool curves` needs matplotlib: pip install 'sketchtool[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TERMS), figsize=(4 * len(TERMS), 3.2), constrained_layout=True)
    for ax, term in zip(axes, TERMS):
        for split, style in (("train", "-"), ("valid", "o-")):
            points = [(r["step"], r[term]) for r in records if r.get("split") == split and term in r]
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, style, label=split, markersize=3)
        ax.set_title(term)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(Path(run_dir).name)
    with atomic_write(out) as f:
        fig.savefig(f, format=fmt, dpi=120)
    plt.close(fig)
    return out
