"""A stroke-3 dataset in memory: named splits of drawings, optional class labels and build settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SPLITS", "StrokeDataset"]

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
