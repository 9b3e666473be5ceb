"""A tiny real image dataset for fast tests: scikit-learn's 1,797 8x8 handwritten digits (no network)."""

from __future__ import annotations

import numpy as np
import pytest

from sketchtool.images import ImageDataset

__all__ = ["digits_image_dataset"]


def digits_image_dataset(seed: int = 0) -> ImageDataset:
    """`load_digits` as an ImageDataset: uint8 (N, 8, 8) (0-16 scaled to 0-255), classes "0".."9", a seeded
    1,437 / 180 / 180 train / valid / test split. Skips the calling test when scikit-learn is missing."""
    datasets = pytest.importorskip("sklearn.datasets", reason="needs scikit-learn (pip install -e '.[test]')")
    digits = datasets.load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(images))
    parts = {"valid": order[:180], "test": order[180:360], "train": order[360:]}
    return ImageDataset(splits={k: images[np.sort(v)] for k, v in parts.items()},
                        labels={k: labels[np.sort(v)] for k, v in parts.items()},
                        class_names=[str(d) for d in range(10)],
                        meta={"source": "sklearn load_digits", "source_kind": "digits", "seed": seed})
