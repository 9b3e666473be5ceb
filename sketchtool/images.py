"""Image datasets: uint8 (N, H, W) splits with labels and JSON metadata in an `.npz` that holds no pickles.

Layout: `train`/`valid`/`test` uint8 (N, H, W), 255 = ink; `<split>_labels` int64; `class_names` and `meta`
as JSON text in numpy unicode scalars (loaded with `allow_pickle=False`); `meta["kind"] == "images"` is how
`load_any_dataset` tells an image dataset from a stroke-3 one. Optional named per-item arrays (a turntable's
"view" and "transform" vectors, its stroke "mask") are members `<split>.<name>`, listed in `meta["extras"]`;
those named in `meta["conditions"]` are the condition vectors a model is given (`DataSpec.conditions`).
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sketchtool.dataset import SPLITS, length_stats
from sketchtool.errors import SketchtoolError
from sketchtool.fileio import DAMAGED_ARCHIVE_ERRORS, atomic_write
from sketchtool.formats.npz import check_compression

__all__ = ["ImageDataset", "load_image_dataset", "save_image_dataset", "load_any_dataset", "dataset_kind",
           "describe_image_dataset", "MAX_TOTAL_BYTES", "MAX_IMAGE_PIXELS"]

MAX_TOTAL_BYTES = 8 << 30  # all members unpacked; a zip bomb is refused before anything is inflated
MAX_IMAGE_PIXELS = 4096 * 4096  # H*W of one image: a few such images already take gigabytes as float batches
_MAX_TEXT_BYTES = 1 << 24  # meta and class names: JSON text, never large


@dataclass
class ImageDataset:
    """`splits[name]`: uint8 (N, H, W), 0 = background, 255 = ink; `labels[name]`: int64 (N,) indices into
    `class_names` (all zeros and `class_names` empty for a one-class dataset); `meta`: JSON-able, with
    kind="images", image_shape, and how it was made (source, line_width, ...)."""

    splits: dict[str, np.ndarray]
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # name -> split -> (N, ...) numbers

    def __post_init__(self):
        shape = next((a.shape[1:] for a in self.splits.values() if a is not None and np.ndim(a) == 3), None)
        if shape is None:
            shape = tuple(self.meta.get("image_shape", (0, 0)))
        for name in SPLITS:
            if self.splits.get(name) is None:
                self.splits[name] = np.zeros((0, *shape), dtype=np.uint8)
            if self.labels.get(name) is None:
                self.labels[name] = np.zeros(len(self.splits[name]), dtype=np.int64)
        for per_split in self.extras.values():
            like = next(a for a in per_split.values() if a is not None)
            for name in SPLITS:
                if per_split.get(name) is None:
                    per_split[name] = np.zeros((0, *like.shape[1:]), dtype=like.dtype)
        self.meta = {**self.meta, "kind": "images", "image_shape": list(self.image_shape)}
        if self.extras:
            self.meta["extras"] = sorted(self.extras)

    @property
    def conditions(self) -> dict[str, int]:
        """{name: width} of the condition vectors (the extras named in meta["conditions"]), for `DataSpec`."""
        return {name: int(np.prod(self.extras[name]["train"].shape[1:], dtype=np.int64))
                for name in self.meta.get("conditions", []) if name in self.extras}

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W) of every image."""
        return tuple(int(s) for s in self.splits["train"].shape[1:3])

    @property
    def num_classes(self) -> int:
        return max(1, len(self.class_names))

    def counts(self) -> dict[str, int]:
        return {name: len(self.splits[name]) for name in SPLITS}

    def labels_of(self, split: str) -> np.ndarray:
        return np.asarray(self.labels[split], dtype=np.int64)

    def images(self, split: str) -> np.ndarray:
        """float32 (N, H, W) in [0, 1] (1.0 = ink), as models and the image writers take them."""
        return self.splits[split].astype(np.float32) / np.float32(255)


def with_random_valid(ds: ImageDataset, count: int, seed: int) -> ImageDataset:
    """A copy whose valid split is a seeded random `count` of the train images (in their order; the rest stay train):
    a random subset, because collections such as examples/mnist keep train in class order."""
    pick = np.random.default_rng(seed).permutation(len(ds.splits["train"]))
    held, kept = np.sort(pick[:count]), np.sort(pick[count:])

    def split(per_split: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {**per_split, "train": per_split["train"][kept], "valid": per_split["train"][held]}

    return ImageDataset(splits=split(ds.splits), labels=split({k: ds.labels_of(k) for k in SPLITS}),
                        class_names=list(ds.class_names), meta=dict(ds.meta),
                        extras={name: split(per_split) for name, per_split in ds.extras.items()})


def save_image_dataset(path: str | os.PathLike, dataset: ImageDataset) -> None:
    """Write atomically; every member is a plain array, so `np.load(path, allow_pickle=False)` reads it."""
    _validate(dataset, Path(path))
    arrays: dict[str, np.ndarray] = {}
    for name in SPLITS:
        arrays[name] = np.ascontiguousarray(dataset.splits[name], dtype=np.uint8)
        arrays[f"{name}_labels"] = dataset.labels_of(name)
        for extra, per_split in dataset.extras.items():
            arrays[f"{name}.{extra}"] = np.ascontiguousarray(per_split[name])
    arrays["class_names"] = np.array(json.dumps(list(dataset.class_names)))
    arrays["meta"] = np.array(json.dumps(dataset.meta, sort_keys=True))
    # np.savez_compressed's layout, written at zlib level 1: 3x faster than its level 6, files ~20% larger
    with atomic_write(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for key, array in arrays.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def load_image_dataset(path: str | os.PathLike) -> ImageDataset:
    """Read an image dataset written by `save_image_dataset`; never unpickles, refuses oversized members."""
    path = Path(path)
    if dataset_kind(path) != "images":
        raise SketchtoolError(f"{path}: not an image dataset (no meta with kind 'images'); "
                              "make one with `sketchtool rasterize`", reason="corrupt")
    arrays = _read_arrays(path)
    meta = _json_member(arrays, "meta", path)
    names = _json_member(arrays, "class_names", path) if "class_names" in arrays else []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SketchtoolError(f"{path}: class_names is not a list of names", reason="corrupt")
    splits = {k: arrays[k] for k in SPLITS if k in arrays}
    labels = {k: arrays[f"{k}_labels"] for k in SPLITS if f"{k}_labels" in arrays}
    for k, a in {**splits, **{f"{k}_labels": v for k, v in labels.items()}}.items():
        if a.dtype.kind not in "iu":
            raise SketchtoolError(f"{path}: member {k} has dtype {a.dtype}, not integers", reason="corrupt")
    if any(a.ndim != 3 or (len(a) and min(a.shape[1:]) < 1) for a in splits.values()):
        raise SketchtoolError(f"{path}: image splits must be (N, H, W) arrays of at least 1x1 pixels", reason="corrupt")
    for k, a in splits.items():  # uint8 pixels: anything else would wrap round silently
        if a.dtype != np.uint8 and a.size and (a.min() < 0 or a.max() > 255):
            raise SketchtoolError(f"{path}: split {k} holds pixel values outside 0-255", reason="corrupt")
    listed = meta.get("extras", []) if isinstance(meta, dict) else []
    if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
        raise SketchtoolError(f"{path}: meta extras is not a list of names", reason="corrupt")
    extras = {name: {k: arrays[f"{k}.{name}"] for k in SPLITS if f"{k}.{name}" in arrays} for name in listed}
    if any(not per_split for per_split in extras.values()):
        raise SketchtoolError(f"{path}: meta lists extras the file does not hold", reason="corrupt")
    if not splits and "image_shape" in meta:  # the only source of the shape then
        _check_image_shape(meta["image_shape"], "meta image_shape", path)
    dataset = ImageDataset(splits={k: a.astype(np.uint8, copy=False) for k, a in splits.items()},
                           labels={k: a.astype(np.int64) for k, a in labels.items()}, class_names=names, meta=meta,
                           extras=extras)
    _validate(dataset, path)
    return dataset


def dataset_kind(path: str | os.PathLike) -> str:
    """"images" or "strokes", from the file's member names and meta alone (nothing large is read)."""
    path = Path(path)
    if not path.is_file():
        raise SketchtoolError(f"{path}: no such dataset file")
    try:
        with zipfile.ZipFile(path) as zf:
            if "meta.npy" not in zf.namelist():
                return "strokes"
    except (ValueError, *DAMAGED_ARCHIVE_ERRORS):
        return "strokes"  # the stroke loader gives the precise error
    meta = _json_member(_read_arrays(path, only=("meta",)), "meta", path)
    return "images" if isinstance(meta, dict) and meta.get("kind") == "images" else "strokes"


def load_any_dataset(path: str | os.PathLike, splits: Sequence[str] = SPLITS):
    """A `StrokeDataset` or an `ImageDataset`, whichever `path` holds: the one entry for info, show and train. Of a
    stroke dataset only `splits` are read (see `load_dataset`); an image dataset is read whole."""
    if dataset_kind(path) == "images":
        return load_image_dataset(path)
    from sketchtool.formats.npz import load_dataset

    return load_dataset(path, splits)


def describe_image_dataset(ds: ImageDataset) -> dict[str, Any]:
    """What `sketchtool info` shows, JSON-able: split sizes, per-class counts, image shape, ink per image."""
    names = ds.class_names or ["(single class)"]
    classes = {s: {names[i]: int(c) for i, c in enumerate(np.bincount(ds.labels_of(s), minlength=len(names)))}
               for s in SPLITS}
    ink = {s: length_stats([]) if not len(a) else _ink_stats(a) for s, a in ds.splits.items()}
    return {"kind": "images", "splits": ds.counts(), "classes": classes, "image_shape": list(ds.image_shape),
            "ink": ink, "meta": ds.meta}


def _ink_stats(images: np.ndarray) -> dict[str, float]:
    """Share of ink per image (mean intensity, 0-1), as count/min/median/mean/p95/max."""
    share = images.reshape(len(images), -1).mean(axis=1, dtype=np.float64) / 255
    return {"count": int(len(share)), "min": round(float(share.min()), 4), "median": round(float(np.median(share)), 4),
            "mean": round(float(share.mean()), 4), "p95": round(float(np.percentile(share, 95)), 4),
            "max": round(float(share.max()), 4)}


def _read_arrays(path: Path, only: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise SketchtoolError(f"{path}: no such dataset file")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if i.filename.endswith(".npy")]
            if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
                raise SketchtoolError(f"{path}: members unpack to more than {MAX_TOTAL_BYTES >> 30} GiB; not loaded",
                                      reason="corrupt")
            arrays = {}
            for info in infos:
                key = info.filename[:-4]
                if only is not None and key not in only:
                    continue
                if key in ("meta", "class_names") and info.file_size > _MAX_TEXT_BYTES:
                    raise SketchtoolError(f"{path}: member {key} is too large for metadata", reason="corrupt")
                if key in SPLITS:  # from the member's header: a huge image is refused before it is inflated
                    shape = _npy_shape(zf, info)
                    if len(shape) == 3:
                        _check_image_shape(shape[1:], f"split {key}", path)
                check_compression([info])  # as stroke datasets are checked: a 2 MB file unpacked to 2 GB
                with zf.open(info) as f:
                    arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
            return arrays
    except SketchtoolError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise SketchtoolError(f"{path}: holds pickled objects, which image datasets never do; not loaded",
                                  reason="unsafe") from None
        raise SketchtoolError(f"{path}: unreadable dataset ({e})", reason="corrupt") from None
    except (KeyError, *DAMAGED_ARCHIVE_ERRORS) as e:
        raise SketchtoolError(f"{path}: unreadable dataset ({e})", reason="corrupt") from None


def _npy_shape(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, ...]:
    """The shape in a .npy member's header; only the first few bytes are inflated."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        return read_header(f)[0]


def _check_image_shape(shape, what: str, path: Path) -> None:
    """Refuse an (H, W) that is not two non-negative integers or has more than MAX_IMAGE_PIXELS pixels."""
    if not (isinstance(shape, (list, tuple)) and len(shape) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
        raise SketchtoolError(f"{path}: {what} {shape!r} is not two non-negative integers (H, W)", reason="corrupt")
    if shape[0] * shape[1] > MAX_IMAGE_PIXELS:
        raise SketchtoolError(f"{path}: {what} holds {shape[1]}x{shape[0]} images, more than {MAX_IMAGE_PIXELS:,} "
                              "pixels each", reason="corrupt")


def _json_member(arrays: dict[str, np.ndarray], key: str, path: Path):
    if key not in arrays or arrays[key].dtype.kind != "U" or arrays[key].ndim != 0:
        raise SketchtoolError(f"{path}: member {key} is missing or not JSON text", reason="corrupt")
    try:
        return json.loads(str(arrays[key]))
    except json.JSONDecodeError as e:
        raise SketchtoolError(f"{path}: member {key} is not valid JSON ({e})", reason="corrupt") from None


def _validate(ds: ImageDataset, path: Path) -> None:
    shapes = {a.shape[1:] for a in ds.splits.values()}
    if len(shapes) != 1 or any(np.ndim(a) != 3 for a in ds.splits.values()):
        raise SketchtoolError(f"{path}: splits hold images of different shapes {sorted(shapes)}", reason="corrupt")
    _check_image_shape(ds.image_shape, "the dataset", path)  # what is saved must load again
    for name in SPLITS:
        labels = ds.labels_of(name)
        if labels.shape != (len(ds.splits[name]),) or (len(labels) and (labels.min() < 0
                                                                         or labels.max() >= ds.num_classes)):
            raise SketchtoolError(f"{path}: labels of split {name!r} do not match its images", reason="corrupt")
        for extra, per_split in ds.extras.items():
            a = per_split[name]
            if not extra.isidentifier() or a.dtype.kind not in "biuf" or a.ndim < 1 or len(a) != len(ds.splits[name]) \
                    or (a.dtype.kind == "f" and not np.isfinite(a).all()):
                raise SketchtoolError(f"{path}: extra {extra!r} of split {name!r} is not finite numbers, one row "
                                      "per image", reason="corrupt")
    for extra, per_split in ds.extras.items():
        rows = {a.shape[1:] for a in per_split.values()}
        if len(rows) != 1:
            raise SketchtoolError(f"{path}: extra {extra!r} has rows of different shapes across splits "
                                  f"{sorted(rows)}", reason="corrupt")
