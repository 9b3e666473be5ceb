"""Training batches. Strokes as magenta's `DataLoader` makes them: drop drawings longer than the model takes, clamp
offsets to ±1000, divide by the training set's scale factor, and per batch random-scale, augment and pad to stroke-5
with a start token (conversions come from `sketchtool.strokes`). Images as (B, 1, H, W) floats, binarised
stochastically for training and with a fixed seed for evaluation, as likelihood papers on binary images do."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sketchtool.strokes import PackedDrawings, augment_strokes, random_scale, stroke3_to_stroke5

__all__ = ["OFFSET_LIMIT", "ArrayBatches", "BatchSource", "ImageBatch", "ImageBatchSource", "StrokeBatch", "default_batch_source",
           "fit_spec", "prepare_drawings", "stroke5_batch"]

OFFSET_LIMIT = 1000.0  # magenta DataLoader `limit`
START_TOKEN = np.array([0, 0, 1, 0, 0], dtype=np.float32)
BINARIZE = ("stochastic", "fixed", "none")
EVAL_BINARIZE_SEED = 0  # one fixed binarisation of evaluation images, so NLLs compare across runs and models


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


def prepare_drawings(drawings: Sequence[np.ndarray], max_seq_len: int) -> tuple[PackedDrawings, np.ndarray]:
    """Keep drawings of 1..max_seq_len points, offsets clamped to ±1000, packed end to end: as int16 when every
    kept drawing is int16 (QuickDraw's and build-dataset's sets: half the memory of float32, the same values),
    else as float32; also returns the indices kept (to select labels)."""
    lengths = _lengths(drawings)
    index = np.flatnonzero((lengths > 0) & (lengths <= max_seq_len))
    chosen = [drawings[i] for i in index]
    dtype = np.int16 if all(getattr(d, "dtype", None) == np.int16 for d in chosen) else np.float32
    kept = PackedDrawings.pack(chosen, dtype)
    limit = int(OFFSET_LIMIT) if dtype == np.int16 else OFFSET_LIMIT  # the same bound, in the array's own type
    np.clip(kept.points[:, :2], -limit, limit, out=kept.points[:, :2])
    return kept, index


def _lengths(drawings: Sequence[np.ndarray]) -> np.ndarray:
    return np.fromiter(map(len, drawings), dtype=np.int64, count=len(drawings))


def stroke5_batch(drawings: Sequence[np.ndarray], max_seq_len: int, labels: Sequence[int] | None = None) -> StrokeBatch:
    """Stroke-3 drawings (already normalised) -> a padded StrokeBatch (magenta `pad_batch`)."""
    big = np.stack([np.concatenate([START_TOKEN[None], stroke3_to_stroke5(d, max_seq_len)]) for d in drawings])
    lengths = torch.tensor([len(d) for d in drawings], dtype=torch.int64)
    labels_t = torch.as_tensor(np.zeros(len(drawings)) if labels is None else np.asarray(labels), dtype=torch.int64)
    return StrokeBatch(torch.from_numpy(big), lengths, labels_t)


class BatchSource:
    """Drawings of one split, normalised by `scale_factor` as batches are made, and their labels; random training
    batches from a numpy Generator whose state is saved with checkpoints (`get_state`/`set_state`) so a resumed run
    draws the same batches. Holds the drawings as one array: `prepare_drawings`' own, int16 or float32 (not
    copied; a QuickDraw-size split is gigabytes), or a float32 packed copy of any other sequence; batches are
    float32 either way."""

    def __init__(self, drawings: Sequence[np.ndarray], labels: np.ndarray, *, scale_factor: float, max_seq_len: int,
                 batch_size: int, random_scale_factor: float = 0.0, augment_stroke_prob: float = 0.0, seed: int = 0):
        packed = isinstance(drawings, PackedDrawings) and drawings.points.dtype in (np.float32, np.int16)
        self.drawings = drawings if packed else PackedDrawings.pack(drawings, np.float32)
        self.scale_factor = scale_factor
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
            s = self._normalised(self.drawings[i])
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
            part = self.drawings[start:stop]
            yield stroke5_batch(PackedDrawings(self._normalised(part.points), part.starts), self.max_seq_len,
                                self.labels[start:stop])

    def _normalised(self, points: np.ndarray) -> np.ndarray:
        out = points.astype(np.float32)  # a copy, exact for int16
        out[:, :2] /= self.scale_factor
        return out

    def get_state(self) -> str:
        return json.dumps(self.rng.bit_generator.state)

    def set_state(self, state: str) -> None:
        self.rng.bit_generator.state = json.loads(state)


def fit_spec(dataset, spec, max_length: int | None = None):
    """The spec of a dataset as a model sees it: strokes get the scale factor of the training drawings of at most
    `max_length` points (all when None) and the longest such drawing; images get their shape."""
    from dataclasses import replace

    from sketchtool.errors import SketchtoolError
    from sketchtool.strokes import scale_factor

    if spec.kind == "images":
        return replace(spec, image_shape=tuple(int(v) for v in dataset.image_shape))
    lengths = {split: _lengths(drawings) for split, drawings in dataset.splits.items()}
    limit = max_length or max((int(v.max()) for v in lengths.values() if len(v)), default=1)
    kept = {split: v[(v > 0) & (v <= limit)] for split, v in lengths.items()}
    if not dataset.splits["train"]:
        raise SketchtoolError("no training drawings: the train split is empty; build the dataset with a train share "
                              "(build-dataset --split)")
    if not len(kept["train"]):
        raise SketchtoolError(f"no training drawings: all {len(dataset.splits['train'])} have more than {limit} "
                              "points; raise the model's length limit or simplify the drawings")
    longest = max(int(v.max()) for v in kept.values() if len(v))
    train = prepare_drawings(dataset.splits["train"], limit)[0]
    return replace(spec, scale_factor=scale_factor(train), max_length=min(limit, longest))


def default_batch_source(spec, dataset, split: str, *, batch_size: int, binarize: str = "stochastic", seed: int = 0):
    """Plain batches of a split: padded stroke-5 without augmentation, or images binarised as `binarize` says."""
    if spec.kind == "images":
        return ImageBatchSource(dataset.splits[split], dataset.labels_of(split), batch_size=batch_size,
                                binarize=binarize, seed=seed)
    drawings, index = prepare_drawings(dataset.splits[split], spec.max_length)
    return BatchSource(drawings, dataset.labels_of(split)[index], scale_factor=spec.scale_factor,
                       max_seq_len=spec.max_length, batch_size=batch_size, seed=seed)


@dataclass
class ImageBatch:
    """images: (B, 1, H, W) float32 in [0, 1] (0/1 when binarised); labels: (B,) int64 class indices."""

    images: torch.Tensor
    labels: torch.Tensor

    def to(self, device) -> ImageBatch:
        return ImageBatch(self.images.to(device), self.labels.to(device))

    def __len__(self) -> int:
        return int(self.images.shape[0])


class ArrayBatches:
    """Batches of rows of same-length arrays: subclasses set `self.images` (what `len` counts), `batch_size` and
    `rng`, and build one batch from row indices in `_batch`; random batches are drawn without replacement from
    `rng`, whose state checkpoints save so a resumed run draws the same batches."""

    images: np.ndarray
    batch_size: int
    rng: np.random.Generator

    def __len__(self) -> int:
        return len(self.images)

    def _batch(self, idx: np.ndarray):
        raise NotImplementedError

    def random_batch(self):
        return self._batch(self.rng.permutation(len(self.images))[: self.batch_size])

    def batches(self) -> Iterator:
        """Every row once, in order (evaluation); the last batch may be smaller."""
        for start in range(0, len(self.images), self.batch_size):
            yield self._batch(np.arange(start, min(start + self.batch_size, len(self.images))))

    def get_state(self) -> str:
        return json.dumps(self.rng.bit_generator.state)

    def set_state(self, state: str) -> None:
        self.rng.bit_generator.state = json.loads(state)


class ImageBatchSource(ArrayBatches):
    """The uint8 (N, H, W) images of one split. `binarize` "stochastic" draws each pixel as Bernoulli(grey) per
    batch, "fixed" binarises once with a fixed seed (evaluation), "none" keeps grey levels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, batch_size: int, binarize: str = "stochastic",
                 seed: int = 0):
        from sketchtool.errors import SketchtoolError

        if binarize not in BINARIZE:
            raise SketchtoolError(f"binarize={binarize!r}: use one of {', '.join(BINARIZE)}")
        self.images = np.asarray(images)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.binarize = binarize
        self.rng = np.random.default_rng(seed)
        if binarize == "fixed":
            self.images = _binarized(self.images, np.random.default_rng(EVAL_BINARIZE_SEED))

    def _batch(self, idx: np.ndarray) -> ImageBatch:
        grey = self.images[idx].astype(np.float32) / 255.0  # (B, H, W)
        if self.binarize == "stochastic":
            grey = (self.rng.random(grey.shape, dtype=np.float32) < grey).astype(np.float32)
        return ImageBatch(torch.from_numpy(grey[:, None]), torch.from_numpy(self.labels[idx]))


def _binarized(images: np.ndarray, rng: np.random.Generator, rows: int = 1024) -> np.ndarray:
    """(N, H, W) uint8: each pixel ink (255) with probability grey / 255, drawn `rows` images at a time (the noise
    of the whole split at once was 8 bytes a pixel: 10 GB for 300,000 images of 64 x 64). The generator fills
    chunks in the order it fills one array, so the pixels are the same either way."""
    out = np.empty(images.shape, dtype=np.uint8)
    for first in range(0, len(images), rows):
        grey = images[first:first + rows].astype(np.float32) / 255.0
        out[first:first + rows] = (rng.random(grey.shape, dtype=np.float32) < grey) * 255
    return out
