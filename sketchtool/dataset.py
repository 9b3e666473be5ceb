"""A stroke-3 dataset in memory: named splits of drawings, optional class labels and build settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = ["SPLITS", "StrokeDataset", "length_stats", "describe_dataset"]

SPLITS = ("train", "valid", "test")


@dataclass
class StrokeDataset:
    """`splits[name]` is a list of (n, 3) stroke-3 arrays (int16 as built; other datasets may be float);
    `labels[name]` an int64 array of class indices into `class_names`, one per drawing (empty when
    the dataset has a single class); `settings` the JSON-able options it was built with."""

    splits: dict[str, list[np.ndarray]]
    class_names: list[str] = field(default_factory=list)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for name in SPLITS:
            self.splits.setdefault(name, [])

    @property
    def num_classes(self) -> int:
        return max(1, len(self.class_names))

    def labels_of(self, split: str) -> np.ndarray:
        """Class index per drawing of `split` (all zeros for a one-class dataset)."""
        if split in self.labels and len(self.labels[split]) == len(self.splits[split]):
            return np.asarray(self.labels[split], dtype=np.int64)
        return np.zeros(len(self.splits[split]), dtype=np.int64)

    def counts(self) -> dict[str, int]:
        return {name: len(self.splits[name]) for name in self.splits}


def length_stats(values: Sequence[int]) -> dict[str, float]:
    """count, min, median, mean, p95, max of per-drawing sizes (e.g. points); zeros when empty."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return {"count": 0, "min": 0, "median": 0, "mean": 0.0, "p95": 0, "max": 0}
    return {"count": int(len(v)), "min": int(v.min()), "median": round(float(np.median(v)), 1), "mean": round(float(v.mean()), 2),
            "p95": round(float(np.percentile(v, 95)), 1), "max": int(v.max())}


def describe_dataset(ds: StrokeDataset) -> dict[str, Any]:
    """What `sketchtool info` shows, JSON-able: split sizes, per-class counts, points and strokes per
    drawing, the scale factor of train (all splits when train is empty), build settings."""
    from sketchtool.strokes import scale_factor, stroke_counts

    names = ds.class_names or ["(single class)"]
    classes = {split: {names[i]: int(c) for i, c in enumerate(np.bincount(ds.labels_of(split), minlength=len(names)))}
               for split in ds.splits}
    reference = ds.splits["train"] or [d for drawings in ds.splits.values() for d in drawings]
    return {
        "splits": ds.counts(),
        "classes": classes,
        "points": {k: length_stats([len(d) for d in v]) for k, v in ds.splits.items()},
        "strokes": {k: length_stats(stroke_counts(v)) for k, v in ds.splits.items()},
        "dtype": sorted({str(t) for t in {d.dtype for drawings in ds.splits.values() for d in drawings}}),
        "scale_factor": float(f"{scale_factor(reference):.6g}") if any(len(d) for d in reference) else None,
        "settings": ds.settings,
    }
