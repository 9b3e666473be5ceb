"""Stroke-3 `.npz` files, byte-compatible with Google's sketch-rnn datasets, read without executing code.

sketch-rnn and QuickDraw files store each split as a pickled object array. `np.load(allow_pickle=True)`
would run any code such a file carries, so pickled members go through an unpickler that can build
numpy arrays and nothing else.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from sketchtool.dataset import SPLITS, StrokeDataset
from sketchtool.errors import SketchtoolError
from sketchtool.fileio import DAMAGED_ARCHIVE_ERRORS, atomic_write

__all__ = ["load_dataset", "save_dataset", "save_drawings", "write_drawings", "check_compression", "MAX_TOTAL_BYTES",
           "MAX_RATIO", "RATIO_FLOOR", "MAX_OFFSET", "MAX_DRAWINGS", "MAX_POINTS"]

# Bounds checked on the zip directory before anything is decompressed. The largest QuickDraw class file unpacks to
# well under 1 GiB; sketch-rnn data compresses 2-5x, while a deflate bomb of zeros reaches ~1000x.
MAX_TOTAL_BYTES = 4 << 30  # decompressed bytes of the members read
MAX_RATIO = 100  # decompressed / compressed, per member ...
RATIO_FLOOR = 16 << 20  # ... once it unpacks to more than this (small files of repeated values compress better)
MAX_DRAWINGS = 4_000_000  # per split: QuickDraw's largest class holds about 340,000
MAX_POINTS = 1 << 28  # per split: 1.6 GB as int16; counted over references, so one drawing repeated 2M times by a
# pickle's back-references (a 12 KB file) is refused, not expanded to gigabytes
MAX_OFFSET = 1e9  # |dx|, |dy| beyond this overflow the float statistics; no drawing is that large
INT16_MAX = int(np.iinfo(np.int16).max)  # the stroke-3 .npz stores offsets as int16
_USED_MEMBERS = {*SPLITS, *(f"{k}_labels" for k in SPLITS), "class_names", "build_settings"}
_SMALL_INTS = {np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16)}  # all within MAX_OFFSET
_READ_CHUNK = 1 << 20  # ZipExtFile.readinto reads a copy first: keep that copy small

_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


def _latin1_encode(text, encoding):
    """The one `_codecs.encode` call a protocol-2 pickle written by Python 3 makes (numpy once saved object arrays
    that way; the float64 sketch-rnn sets are such files): raw bytes carried as text, `encode(str, 'latin1')`.
    Any other call is refused."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError(f"refusing to call _codecs.encode on {type(text).__name__}, {encoding!r}")
    return text.encode("latin1")


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Admits the few callables that rebuild numpy arrays; anything else is refused."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "_codecs":
            return _latin1_encode
        if name in ("ndarray", "dtype"):
            return getattr(np, name)
        try:
            from numpy._core import multiarray
        except ImportError:  # numpy < 2
            from numpy.core import multiarray
        return getattr(multiarray, name)


def check_compression(members: Sequence[zipfile.ZipInfo]) -> None:
    """Refuse a zip bomb from its directory, before decompressing (zipfile never unpacks past `file_size`): only
    numpy's methods, and no member over RATIO_FLOOR unpacking to more than MAX_RATIO times its size. ValueError."""
    for info in members:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"member {info.filename} uses compression {info.compress_type}; numpy writes only "
                             "stored or deflated members")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ValueError(f"member {info.filename}: {info.compress_size} compressed bytes would unpack to "
                             f"{info.file_size} (more than {MAX_RATIO}x); refusing a likely zip bomb")


def _check_sizes(members: list[zipfile.ZipInfo]) -> None:
    check_compression(members)
    total = sum(info.file_size for info in members)
    if total > MAX_TOTAL_BYTES:
        raise ValueError(f"members unpack to {total} bytes, more than the {MAX_TOTAL_BYTES} allowed")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if not dtype.hasobject:
            return _read_plain(f, info, shape, fortran, dtype)
        array = _ArrayOnlyUnpickler(f, encoding="latin1").load()
        if not isinstance(array, np.ndarray):
            raise ValueError(f"member {info.filename} is not an array")
        return array


def _read_plain(f, info: zipfile.ZipInfo, shape, fortran: bool, dtype: np.dtype) -> np.ndarray:
    """Decompress straight into the array's own buffer: no second copy of the data."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes > info.file_size:  # the header promises more than the member holds
        raise ValueError(f"member {info.filename} is truncated")
    array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    buffer = memoryview(array.reshape(-1, order="A").view(np.uint8))
    done = 0
    while done < nbytes:
        got = f.readinto(buffer[done:done + _READ_CHUNK])
        if not got:
            raise ValueError(f"member {info.filename} is truncated")
        done += got
    return array


def _as_drawings(array: np.ndarray, key: str) -> list[np.ndarray]:
    if array.ndim == 0:
        raise ValueError(f"{key} is a single value, not a list of drawings")
    if len(array) > MAX_DRAWINGS:  # from the header: a 466-byte (30,000,000, 0, 3) block made 30M views
        raise ValueError(f"{key} holds {len(array):,} drawings, more than the {MAX_DRAWINGS:,} allowed")
    if array.ndim == 3:  # all drawings of equal length, saved as one block (`np.array(drawings, dtype=object)` too)
        array = list(array)
    drawings, points, seen = [], 0, {}
    for i, d in enumerate(array):
        points += len(d) if hasattr(d, "__len__") else 1
        if points > MAX_POINTS:
            raise ValueError(f"{key} holds more than {MAX_POINTS:,} points")
        if id(d) in seen:  # a pickle's back-reference to a drawing already checked
            drawings.append(seen[id(d)])
            continue
        original = d
        d = np.asarray(d)
        if d.dtype == object and d.ndim == 2:  # a drawing of an object block: its numbers as Python objects
            d = np.array(d.tolist())
            if d.dtype.kind == "i" and (not d.size or np.abs(d).max() <= np.iinfo(np.int16).max):
                d = d.astype(np.int16)  # as sketch-rnn's files hold them, not as int64
        if d.ndim != 2 or d.shape[1] != 3 or d.dtype.kind not in "iuf":
            raise ValueError(f"{key}[{i}] is not an (n, 3) numeric stroke-3 array")
        if d.dtype.kind == "f" and not np.isfinite(d).all():
            raise ValueError(f"{key}[{i}] holds NaN or infinite values")
        if len(d) and d.dtype not in _SMALL_INTS and np.abs(d[:, :2].astype(np.float64)).max() > MAX_OFFSET:
            # sums and squares would overflow (in float64: abs(int64 min) is negative, and 1e9 is beyond float16);
            # int16, as QuickDraw stores them, cannot get there, and testing 2M of them took seconds
            raise ValueError(f"{key}[{i}] holds offsets beyond {MAX_OFFSET:g}")
        drawings.append(d)
        seen[id(original)] = d
    return drawings


def load_dataset(path: str | os.PathLike, splits: Sequence[str] = SPLITS) -> StrokeDataset:
    """Read a sketch-rnn / QuickDraw / sketchtool `.npz`; never executes code from the file. Only the named `splits`
    are read (the others come back empty): a command that uses the 2,500 test drawings of a QuickDraw file need not
    unpickle its 70,000 train drawings."""
    path = Path(path)
    if not path.is_file():
        raise SketchtoolError(f"{path}: no such dataset file")
    wanted = {*splits, *(f"{k}_labels" for k in splits), "class_names", "build_settings"}
    try:
        with zipfile.ZipFile(path) as zf:
            members = {i.filename[:-4]: i for i in zf.infolist() if i.filename[:-4] in _USED_MEMBERS
                       and i.filename.endswith(".npy")}
            if not any(k in members for k in SPLITS):
                raise SketchtoolError(
                    f"{path}: not a stroke-3 dataset (no train/valid/test arrays); build one with `sketchtool build-dataset`"
                )
            members = {k: info for k, info in members.items() if k in wanted}
            _check_sizes(list(members.values()))
            arrays = {k: _read_member(zf, info) for k, info in members.items()}
    except SketchtoolError:
        raise
    except pickle.UnpicklingError as e:
        raise SketchtoolError(f"{path}: unsafe or corrupt dataset ({e}); not loaded", reason="unsafe") from None
    except (ValueError, KeyError, TypeError, AttributeError, *DAMAGED_ARCHIVE_ERRORS) as e:
        raise SketchtoolError(f"{path}: unreadable dataset ({e})", reason="corrupt") from None
    try:
        splits = {k: _as_drawings(arrays[k], k) for k in SPLITS if k in arrays}
    except ValueError as e:
        raise SketchtoolError(f"{path}: invalid dataset: {e}", reason="corrupt") from None
    labels = {k: arrays[f"{k}_labels"] for k in SPLITS if f"{k}_labels" in arrays}
    class_names = [str(c) for c in np.ravel(arrays["class_names"])] if "class_names" in arrays else []
    if len(set(class_names)) < len(class_names):
        raise SketchtoolError(f"{path}: class_names repeats a name", reason="corrupt")
    settings = {}
    if "build_settings" in arrays:
        try:
            settings = json.loads(str(arrays["build_settings"]), parse_constant=_not_json)
        except ValueError:  # also NaN or Infinity, which JSON has not: `info --json` would print them
            pass
        settings = settings if isinstance(settings, dict) else {}  # an unreadable record is no settings
    for k, lab in labels.items():
        if (lab.ndim != 1 or lab.dtype.kind not in "iu" or len(lab) != len(splits.get(k, []))
                or (len(lab) and (lab.min() < 0 or lab.max() >= max(1, len(class_names))))):
            raise SketchtoolError(f"{path}: labels of split {k!r} do not match its drawings", reason="corrupt")
        labels[k] = lab.astype(np.int64)
    return StrokeDataset(splits=splits, class_names=class_names, labels=labels, settings=settings)


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _object_array(drawings: Sequence[np.ndarray]) -> np.ndarray:
    out = np.empty(len(drawings), dtype=object)
    for i, d in enumerate(drawings):  # item by item: equal shapes must not collapse into one 3-D block
        out[i] = d
    return out


def save_dataset(path: str | os.PathLike, dataset: StrokeDataset) -> None:
    """Write atomically in sketch-rnn's layout (train/valid/test object arrays) plus our extra keys; refuses, writing
    nothing, what `load_dataset` would refuse to read back (other splits, drawings that are not (n, 3) stroke-3,
    labels that are not one class index per drawing)."""
    _check_savable(path, dataset)
    arrays = {k: _object_array(dataset.splits.get(k, [])) for k in SPLITS}
    if dataset.class_names:
        arrays["class_names"] = np.array(dataset.class_names, dtype=str)
        for k in SPLITS:
            arrays[f"{k}_labels"] = dataset.labels_of(k)
    arrays["build_settings"] = np.array(json.dumps(dataset.settings, sort_keys=True))
    with atomic_write(path) as f:
        np.savez_compressed(f, **arrays)


def _check_savable(path, dataset: StrokeDataset) -> None:
    unknown = [name for name in dataset.splits if name not in SPLITS]
    if unknown:
        raise SketchtoolError(f"{path}: unknown split {unknown[0]!r}; a dataset's splits are {', '.join(SPLITS)}; "
                              "nothing written")
    for name in SPLITS:
        for i, d in enumerate(dataset.splits[name]):
            try:
                a = np.asarray(d)
            except ValueError:  # ragged: the polylines of a drawing
                a = np.empty(0, dtype=object)
            if a.ndim != 2 or a.shape[1] != 3 or a.dtype.kind not in "iuf":
                raise SketchtoolError(f"{path}: {name}[{i}] is not an (n, 3) stroke-3 array of numbers (polylines? "
                                      "polylines_to_stroke3 turns them into one); nothing written")
        labels = dataset.labels.get(name)
        if dataset.class_names and labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(dataset.splits[name]),) or labels.dtype.kind not in "iu" or \
                    (len(labels) and not 0 <= labels.min() <= labels.max() < len(dataset.class_names)):
                raise SketchtoolError(f"{path}: labels of split {name!r} must be one class index (0 to "
                                      f"{len(dataset.class_names) - 1}) per drawing; nothing written")


def save_drawings(path: str | os.PathLike, drawings: Sequence[np.ndarray], settings: dict | None = None, *,
                  split: str = "train", labels: np.ndarray | None = None, class_names: Sequence[str] = ()) -> None:
    """Write drawings (stroke-3) as the `split` of a dataset file (with their class `labels` into `class_names`,
    if given), rounded to int16 as `build-dataset` rounds: the absolute points, then their differences, so rounding
    errors do not add up along a drawing; refuses what int16 cannot hold instead of wrapping it round."""
    rounded = []
    for d in drawings:
        d = np.array(d, dtype=np.float64).reshape(-1, 3)
        d[:, :2] = np.diff(np.round(np.cumsum(d[:, :2], axis=0)), axis=0, prepend=np.zeros((1, 2)))
        d[:, 2] = np.round(d[:, 2])
        if not np.isfinite(d).all():
            raise SketchtoolError(f"{path}: a drawing holds NaN or infinite points; nothing written")
        if len(d) and np.abs(d[:, :2]).max() > INT16_MAX:
            raise SketchtoolError(f"{path}: a drawing has offsets beyond ±{INT16_MAX}, more than the stroke-3 .npz's "
                                  "int16 holds; write an .svg, or scale the drawing down")
        rounded.append(d.astype(np.int16))
    labelled = {split: np.asarray(labels, dtype=np.int64)} if class_names else {}
    save_dataset(path, StrokeDataset(splits={split: rounded}, class_names=list(class_names), labels=labelled,
                                     settings=settings or {}))


def write_drawings(drawings: Sequence[np.ndarray], path: str | os.PathLike, options=None) -> None:
    """Format-dispatch entry point (see `sketchtool.formats.WRITERS`); keeps the drawings' classes if given."""
    labelled = options is not None and options.labelled
    save_drawings(path, drawings, labels=options.labels if labelled else None,
                  class_names=options.class_names if labelled else ())
