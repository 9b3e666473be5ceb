"""`sketchtool curves`: training and validation curves of a run, one panel per loss term the model logs, drawn with
matplotlib (imported lazily, on its own figure canvas, so the process's matplotlib backend is left alone)."""

from __future__ import annotations

import os
from pathlib import Path

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write, check_output_path
from sketchtool.formats import require_output
from sketchtool.train import read_metrics

__all__ = ["loss_terms", "plot_curves"]

BOOKKEEPING = ("step", "split", "time", "steps_per_s")
MAX_PANELS = 6
MAX_VALUE = 1e100  # larger, infinite or NaN values are left out: ±1e308 together overflow the axis range


def loss_terms(records: list[dict]) -> list[str]:
    """The terms to draw: what validation records hold (the model's loss terms; "loss" first), else the
    training records' numbers."""
    for split in ("valid", "train"):
        keys: list[str] = []
        for r in records:
            if r.get("split") == split:
                keys += [k for k, v in r.items() if k not in BOOKKEEPING and k not in keys and isinstance(v, (int, float))]
        if keys:
            return (["loss"] if "loss" in keys else []) + [k for k in keys if k != "loss"]
    return []


def plot_curves(run_dir: str | os.PathLike, out: str | os.PathLike, *, force: bool = False) -> Path:
    """One panel per loss term (at most MAX_PANELS), train and valid against step; the format follows `out`."""
    records = read_metrics(run_dir)
    out = check_output_path(out, inputs=[Path(run_dir) / name for name in ("metrics.jsonl", "run.json")], force=force)
    fmt = require_output("curves", out).suffix.lower().lstrip(".")
    terms = loss_terms(records)[:MAX_PANELS]
    if not terms:
        raise SketchtoolError(f"{run_dir}: metrics.jsonl holds no readable loss records; train for at least log_every steps first")
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise SketchtoolError("`sketchtool curves` needs matplotlib: pip install 'sketchtool[plot]'") from None

    fig = Figure(figsize=(4 * len(terms), 3.2), constrained_layout=True)
    axes = fig.subplots(1, len(terms), squeeze=False)[0]
    for ax, term in zip(axes, terms):
        left_out = 0
        for split, style in (("train", "-"), ("valid", "o-")):
            points = [(r["step"], r[term]) for r in records if r.get("split") == split and term in r]
            kept = [(step, v) for step, v in points if isinstance(v, (int, float)) and -MAX_VALUE <= v <= MAX_VALUE]
            left_out += len(points) - len(kept)
            if kept:
                steps, values = zip(*kept)
                ax.plot(steps, values, style, label=split, markersize=3)
        ax.set_title(term if not left_out else f"{term} ({left_out} values off the scale left out)")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.lines:  # matplotlib warns of a legend with nothing in it
            ax.legend()
    fig.suptitle(Path(run_dir).name)
    with atomic_write(out) as f:
        fig.savefig(f, format=fmt, dpi=120)
    return out
