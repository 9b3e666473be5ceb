"""Training batches as magenta's `DataLoader` makes them: drop drawings longer than max_seq_len, clamp
offsets to ±1000, divide by the training set's scale factor, and per batch random-scale, augment and pad
to stroke-5 with a start token. Conversions come from `sketchtool.strokes`."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sketchtool.strokes import augment_strokes, random_scale, stroke3_to_stroke5

__all__ = ["OFFSET_LIMIT", "BatchSource", "StrokeBatch", "prepare_drawings", "stroke5_batch"]

OFFSET_LIMIT = 1000.0  # magenta DataLoader `limit`
START_TOKEN = np.array([0, 0, 1, 0, 0], dtype=np.float32)


@dataclass
class StrokeBatch:
    """strokes5: (B, max_seq_len + 1, 5) float32, row 0 the start token (0, 0, 1, 0, 0);
    lengths: (B,) int64 points per drawing (without the start token); labels: (B,) int64 class indices."""

    strokes5: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor

    def to(self, device) -> StrokeBatch:
        return StrokeBatch(self.strokes5.to(device), self.lengths.to(device), self.labels.to(device))

    def __len__(self) -> int:
        return int(self.lengths.shape[0])


def prepare_drawings(drawings: Sequence[np.ndarray], max_seq_len: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Keep drawings of 1..max_seq_len points, offsets clamped to ±1000, as float32; also returns the
    indices kept (to select labels)."""
    kept, index = [], []
    for i, d in enumerate(drawings):
        if 0 < len(d) <= max_seq_len:
            s = np.array(d, dtype=np.float32)
            s[:, :2] = np.clip(s[:, :2], -OFFSET_LIMIT, OFFSET_LIMIT)
            kept.append(s)
            index.append(i)
    return kept, np.asarray(index, dtype=np.int64)


def stroke5_batch(drawings: Sequence[np.ndarray], max_seq_len: int, labels: Sequence[int] | None = None) -> StrokeBatch:
    """Stroke-3 drawings (already normalised) -> a padded StrokeBatch (magenta `pad_batch`)."""
    big = np.stack([np.concatenate([START_TOKEN[None], stroke3_to_stroke5(d, max_seq_len)]) for d in drawings])
    lengths = torch.tensor([len(d) for d in drawings], dtype=torch.int64)
    labels_t = torch.as_tensor(np.zeros(len(drawings)) if labels is None else np.asarray(labels), dtype=torch.int64)
    return StrokeBatch(torch.from_numpy(big), lengths, labels_t)


class BatchSource:
    """Normalised drawings of one split and their labels; random training batches from a numpy Generator
    whose state is saved with checkpoints (`get_state`/`set_state`) so a resumed run draws the same batches."""

    def __init__(self, drawings: Sequence[np.ndarray], labels: np.ndarray, *, scale_factor: float, max_seq_len: int,
                 batch_size: int, random_scale_factor: float = 0.0, augment_stroke_prob: float = 0.0, seed: int = 0):
        self.drawings = []
        for d in drawings:
            s = np.array(d, dtype=np.float32)
            s[:, :2] /= scale_factor
            self.drawings.append(s)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.max_seq_len = max_seq_len
        self.batch_size = batch_size
        self.random_scale_factor = random_scale_factor
        self.augment_stroke_prob = augment_stroke_prob
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.drawings)

    def random_batch(self) -> StrokeBatch:
        """`batch_size` drawings drawn without replacement, each randomly scaled and augmented (magenta
        `random_batch`); augmentation only removes points, so lengths stay within max_seq_len."""
        idx = self.rng.permutation(len(self.drawings))[: self.batch_size]
        batch = []
        for i in idx:
            s = self.drawings[i]
            if self.random_scale_factor > 0:
                s = random_scale(s, self.random_scale_factor, self.rng)
            if self.augment_stroke_prob > 0:
                s = augment_strokes(s, self.augment_stroke_prob, self.rng)
            batch.append(s)
        return stroke5_batch(batch, self.max_seq_len, self.labels[idx])

    def batches(self) -> Iterator[StrokeBatch]:
        """Every drawing once, in order, unaugmented (evaluation); the last batch may be smaller."""
        for start in range(0, len(self.drawings), self.batch_size):
            stop = start + self.batch_size
            yield stroke5_batch(self.drawings[start:stop], self.max_seq_len, self.labels[start:stop])

    def get_state(self) -> str:
        return json.dumps(self.rng.bit_generator.state)

    def set_state(self, state: str) -> None:
        self.rng.bit_generator.state = json.loads(state)
