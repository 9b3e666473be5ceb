"""SVG collections -> a sketch-rnn stroke-3 dataset (discover, read, dedupe, split); each file is read by
`sketchtool.prepare.read_normalized_svg`, the SVG -> stroke-3 conversion every command shares. Pictures (PNG/JPG
line art, e.g. scans) are turned into strokes by `sketchtool.vectorize` first, then normalised the same way."""

from __future__ import annotations

import functools
import glob
import hashlib
import math
import multiprocessing
import os
import signal
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from sketchtool import __version__
from sketchtool.dataset import SPLITS, StrokeDataset, length_stats
from sketchtool.errors import SketchtoolError
from sketchtool.formats import accepts, suffixes
from sketchtool.image_build import IMAGE_SUFFIXES
from sketchtool.prepare import prepare_polylines, read_normalized_svg
from sketchtool.strokes import num_strokes

__all__ = [
    "SVG_SUFFIXES",
    "BuildOptions",
    "FileRecord",
    "BuildReport",
    "build_dataset",
    "discover_svgs",
    "parse_split",
    "split_order",
    "split_sizes",
]

SVG_SUFFIXES = suffixes("svg")
NOT_FAILURES = ("duplicate", "split-full")  # skipped on purpose, not because the file was unusable


@dataclass
class BuildOptions:
    """How `build_dataset` turns SVG files into drawings; every field is stored in the dataset's settings.

    `split` holds ratios (floats, normalised by their sum) or exact counts (ints) for train, valid, test;
    `epsilon` is in the units of the `size` box (or SVG user units with `keep_units`); `workers=None`
    uses all cores; `tolerance` is the curve-flattening tolerance handed to the SVG reader; `strict` asks the
    caller to treat any unusable file (`BuildReport.failures()`) as fatal. `pictures` ("skeleton" or "agent")
    also reads the PNG/JPG files in folders and patterns, vectorized that way (`vectorizer`: the agent, default
    the embedded one; `strokes`: how many it draws, default as trained; `refine`: steps fitting its strokes to
    each picture); without it only pictures named as
    files are read, by the skeleton tracer, so a folder's preview PNGs never sneak in beside its SVGs."""

    epsilon: float = 2.0
    size: float = 256.0
    keep_units: bool = False
    max_seq_len: int = 250
    adaptive: bool = False
    split: tuple[float | int, float | int, float | int] = (0.9, 0.05, 0.05)
    seed: int = 0
    labels: str = "none"  # "none" | "folder"
    workers: int | None = None
    strict: bool = False
    tolerance: float | None = None
    pictures: str | None = None  # None | "skeleton" | "agent"
    vectorizer: str | None = None
    strokes: int | None = None
    refine: int = 0

    def validate(self) -> None:
        if self.pictures not in (None, "skeleton", "agent"):
            raise SketchtoolError(f"--pictures {self.pictures!r}: use 'skeleton' or 'agent'")
        if self.vectorizer and self.pictures != "agent":
            raise SketchtoolError("--vectorizer is the agent for --pictures agent; give that too")
        from sketchtool.vectorize import check_refine, check_strokes

        check_strokes(self.strokes, self.pictures)
        check_refine(self.refine, self.pictures)
        if not (math.isfinite(self.epsilon) and self.epsilon >= 0):
            raise SketchtoolError(f"--epsilon {self.epsilon}: must be a finite number >= 0")
        if not (math.isfinite(self.size) and self.size > 0):
            raise SketchtoolError(f"--size {self.size}: must be a finite number > 0")
        if self.tolerance is not None and not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise SketchtoolError(f"--tolerance {self.tolerance}: must be a finite number > 0")
        if self.max_seq_len < 1:
            raise SketchtoolError(f"--max-seq-len {self.max_seq_len}: must be >= 1")
        if self.labels not in ("none", "folder"):
            raise SketchtoolError(f"--labels {self.labels!r}: use 'none' or 'folder'")
        if self.workers is not None and self.workers < 1:
            raise SketchtoolError(f"--workers {self.workers}: must be >= 1")
        if len(self.split) != 3 or min(self.split) < 0 or sum(self.split) <= 0:
            raise SketchtoolError(f"--split {self.split}: give three non-negative values for train, valid, test")


@dataclass(slots=True)  # one per input file: a million-file build keeps a million of these
class FileRecord:
    """One input file's fate, as written to `--report` (strokes and points as kept in the dataset); `warnings`
    name what was left out of a kept file (e.g. a `<use>` of another file)."""

    path: str
    status: str  # "kept" | "skipped"
    reason: str | None = None
    strokes: int = 0
    points: int = 0
    split: str | None = None
    epsilon: float | None = None
    label: str | None = None
    duplicate_of: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass
class BuildReport:
    """Every input file's record plus warnings; `summary()` is what the CLI prints."""

    files: list[FileRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    text_elements: int = 0

    @property
    def kept(self) -> list[FileRecord]:
        return [r for r in self.files if r.status == "kept"]

    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(r.reason or "unknown" for r in self.files if r.status == "skipped").most_common())

    def failures(self) -> int:
        """Files skipped because they were unusable (not duplicates or left out by the split)."""
        return sum(1 for r in self.files if r.status == "skipped" and r.reason not in NOT_FAILURES)

    def summary(self) -> dict:
        kept = self.kept
        return {
            "files": len(self.files),
            "kept": len(kept),
            "skipped": self.skipped_by_reason(),
            "resimplified": sum(1 for r in kept if r.reason == "resimplified"),
            "splits": {name: sum(1 for r in kept if r.split == name) for name in SPLITS},
            "points": length_stats([r.points for r in kept]),
            "strokes": length_stats([r.strokes for r in kept]),
            "text_elements": self.text_elements,
            "files_with_warnings": sum(1 for r in self.files if r.warnings),
            "warnings": list(self.warnings),
        }

    def to_dict(self) -> dict:
        """JSON-able: {"files": [{"path", "status", "reason", "strokes", "points", ...}], "summary": {...}}."""
        return {"files": [asdict(r) for r in self.files], "summary": self.summary()}


MAX_SPLIT = 1e15  # no set is this many drawings; larger counts overflow the arithmetic


def parse_split(text: str) -> tuple[float | int, float | int, float | int]:
    """"0.9,0.05,0.05" or "90%,5%,5%" -> ratios; "10000,600,500" (plain integers) -> exact counts."""
    parts = [p.strip() for p in text.replace("/", ",").replace(":", ",").split(",")]
    try:
        if len(parts) != 3:
            raise ValueError
        if all(p.isascii() and p.isdigit() for p in parts):
            values: tuple = tuple(int(p) for p in parts)
        else:
            values = tuple(float(p[:-1]) / 100 if p.endswith("%") else float(p) for p in parts)
    except ValueError:
        raise SketchtoolError(f"--split {text!r}: give train,valid,test as ratios (0.9,0.05,0.05 or 90%,5%,5%) "
                              "or as counts (10000,600,500)") from None
    if not all(0 <= v < MAX_SPLIT for v in values) or sum(values) <= 0:  # false for NaN
        raise SketchtoolError(f"--split {text!r}: values must be from 0 to {MAX_SPLIT:.0e}, not all zero")
    return values  # type: ignore[return-value]


def split_sizes(n: int, split: Sequence[float | int]) -> tuple[tuple[int, int, int], str | None]:
    """(train, valid, test) sizes for n drawings, and a warning when the request could not be met as asked.
    Counts fill valid and test first; ratios too small to give valid/test one drawing put everything in train."""
    if all(isinstance(v, (int, np.integer)) for v in split):
        want_valid, want_test = min(int(split[1]), n), min(int(split[2]), max(n - int(split[1]), 0))
        train = min(int(split[0]), n - want_valid - want_test)
        sizes = (train, want_valid, want_test)
        if sum(sizes) < sum(int(v) for v in split):
            return sizes, f"--split asked for {sum(int(v) for v in split)} drawings but only {n} are usable"
        if sum(sizes) < n:
            return sizes, f"--split counts leave {n - sum(sizes)} usable drawings out of the dataset"
        return sizes, None
    total = float(sum(split))
    valid, test = round(n * split[1] / total), round(n * split[2] / total)
    if (split[1] > 0 and valid == 0) or (split[2] > 0 and test == 0):
        return (n, 0, 0), (f"only {n} usable drawing(s): all went to train and valid/test are empty; "
                           "add drawings to get held-out splits")
    return (n - valid - test, valid, test), None


def split_order(classes: Sequence, seed: int) -> np.ndarray:
    """The order in which valid, test and train take their sizes: a seeded shuffle, stratified by class when
    there are classes. Each item is placed by its rank within its class, (k + 0.5) / class size, so any leading
    share of the order holds about that share of every class (a class of 20 gives the 5% valid split one drawing),
    and a class too small for a held-out drawing stays in train."""
    names, inverse = np.unique(np.asarray(classes), return_inverse=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(inverse))
    if len(names) < 2:
        return order
    ordered = inverse.ravel()[order]  # class of each item, in shuffled order
    sizes = np.bincount(ordered)
    rank = np.empty(len(ordered), dtype=np.int64)  # place of each item among its class, all classes at once
    rank[np.argsort(ordered, kind="stable")] = np.arange(len(ordered)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return order[np.argsort((rank + 0.5) / sizes[ordered], kind="stable")]


def discover_svgs(sources: Sequence[str | os.PathLike], *, pictures: bool = False) -> list[Path]:
    """Folders (recursively, sorted), files and glob patterns -> SVG paths (and with `pictures`, PNG/JPG paths)
    in a deterministic order, each once. A source that names nothing is an error (a typo should not silently
    build a smaller dataset)."""
    found: list[Path] = []
    seen: set[str] = set()
    wanted = functools.partial(_is_input_name, pictures=pictures)
    for source in sources:
        text = os.fspath(source)
        path = Path(text)
        if path.is_dir():
            candidates = _walk(path, wanted)
        elif path.is_file():
            candidates = [path]
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            candidates = [f for m in matches for f in (_walk(m, wanted) if m.is_dir() else [m]) if wanted(f)]
            if not candidates:
                raise SketchtoolError(f"{text}: the pattern matches no .svg or .svgz files"
                                      + (" or pictures" if pictures else ""))
        else:
            raise SketchtoolError(f"{text}: no such file or folder; check the path")
        for candidate in candidates:
            key = os.path.realpath(candidate)
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found


def build_dataset(
    sources: str | os.PathLike | Sequence[str | os.PathLike],
    options: BuildOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[StrokeDataset, BuildReport]:
    """Build a dataset from SVG sources (folders, files, glob patterns; one may come alone). Bad files are skipped
    with a reason in the report, never raised; an empty dataset (report.kept == []) means nothing was usable.
    Raises only for bad sources or options (default: `BuildOptions()`). `on_progress(done, total)` is called after
    each file."""
    if isinstance(sources, (str, os.PathLike)):  # one source: its characters are not sources
        sources = [sources]
    options = options or BuildOptions()
    options.validate()
    paths = [str(p) for p in discover_svgs(sources, pictures=options.pictures is not None)]  # plain strings: small
    if not paths:
        hint = ""
        if options.pictures is None and _has_pictures(sources):
            hint = "; it has PNG/JPG pictures: pass --pictures skeleton (or agent) to vectorize them"
        raise SketchtoolError(f"no .svg or .svgz files found in {', '.join(map(str, sources)) or '(no sources)'}{hint}")
    if options.pictures == "agent" or any(_is_picture_name(Path(p)) for p in paths):
        _check_vectorizer(options)  # a missing tracer or a bad --vectorizer is one error, not a skip per file
    report = BuildReport()
    drawings: list[np.ndarray] = []
    kept_records: list[FileRecord] = []
    seen: dict[bytes, str] = {}
    for done, (record, drawing, texts) in enumerate(_read_all(paths, options), start=1):
        report.text_elements += texts
        if drawing is not None:
            drawing = drawing.astype(np.int16)  # the canonical dtype object: pickled output is byte-identical
            digest = hashlib.blake2b(drawing.tobytes(), digest_size=16).digest()
            if digest in seen:
                record.status, record.reason, record.duplicate_of = "skipped", "duplicate", seen[digest]
                record.strokes = record.points = 0
            else:
                seen[digest] = record.path
                drawings.append(drawing)
                kept_records.append(record)
        report.files.append(record)
        if on_progress:
            on_progress(done, len(paths))
    dataset = _split_dataset(drawings, kept_records, options, report)
    return dataset, report


def _is_svg_name(path: Path) -> bool:
    return accepts("svg", path)


def _is_picture_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _is_input_name(path: Path, pictures: bool) -> bool:
    return _is_svg_name(path) or (pictures and _is_picture_name(path))


def _walk(folder: Path, wanted: Callable[[Path], bool]) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found.extend(Path(root, f) for f in sorted(files) if wanted(Path(f)))
    return found


def _has_pictures(sources: Sequence[str | os.PathLike]) -> bool:
    """Whether folders among `sources` hold pictures (for the hint when they hold no SVGs)."""
    return any(_walk(Path(s), _is_picture_name) for s in sources if Path(s).is_dir())


@functools.lru_cache(maxsize=1)
def _vectorizer_model(ref: str | None):
    from sketchtool.checkpoint import load_model
    from sketchtool.pretrained import DEFAULT_VECTORIZER, resolve_model

    model, _ = load_model(resolve_model(ref, "--vectorizer", default=DEFAULT_VECTORIZER))
    model.require("vectorize", "build-dataset --pictures agent")
    return model


def _check_vectorizer(options: BuildOptions) -> None:
    if options.pictures == "agent":
        _vectorizer_model(options.vectorizer)
    else:
        from sketchtool.vectorize import skeleton_polylines

        skeleton_polylines(np.zeros((8, 8), np.float32))  # raises the install hint without scikit-image


def _read_picture(path: str, options: BuildOptions):
    """A PNG/JPG -> `NormalizedSvg` of its vectorized strokes, in the picture's pixels before normalising."""
    from sketchtool.vectorize import read_picture, vectorize

    method = options.pictures or "skeleton"
    model = _vectorizer_model(options.vectorizer) if method == "agent" else None
    [traced] = vectorize([read_picture(path)], method=method, model=model, strokes=options.strokes,
                         refine=options.refine)
    return prepare_polylines(traced.polylines, epsilon=options.epsilon, size=options.size,
                             keep_units=options.keep_units, max_seq_len=options.max_seq_len,
                             adaptive=options.adaptive, name=path)


def _read_one(path: str, options: BuildOptions) -> tuple[FileRecord, np.ndarray | None, int]:
    """Worker: one file -> (record, int16 drawing or None, ignored <text> count). Never raises."""
    record = FileRecord(path, "skipped")
    if options.labels == "folder":
        record.label = Path(os.path.abspath(path)).parent.name  # the folder it sits in, a link too
    try:
        if _is_picture_name(Path(path)):
            result = _read_picture(path, options)
        else:
            result = read_normalized_svg(path, epsilon=options.epsilon, size=options.size,
                                         keep_units=options.keep_units, max_seq_len=options.max_seq_len,
                                         adaptive=options.adaptive, tolerance=options.tolerance)
    except SketchtoolError as e:
        record.reason = e.reason
        return record, None, 0
    except Exception as e:  # one bad file never stops a build (RecursionError, MemoryError included)
        record.reason = f"error: {type(e).__name__}"
        return record, None, 0
    record.status = "kept"
    record.reason = "resimplified" if result.epsilon != options.epsilon else None
    record.epsilon = result.epsilon
    record.warnings = result.warnings
    record.strokes, record.points = num_strokes(result.stroke3), len(result.stroke3)
    return record, result.stroke3, result.text_elements


def _read_all(paths: list[str], options: BuildOptions) -> Iterator[tuple[FileRecord, np.ndarray | None, int]]:
    """Results in input order; parallel when worth it. Files stream through `imap`, so only the kept
    int16 arrays accumulate (in the caller)."""
    reader = functools.partial(_read_one, options=options)
    workers = 1 if options.pictures == "agent" else options.workers or _usable_cores()  # torch: one process
    if workers <= 1 or len(paths) < 4 * workers:
        yield from map(reader, paths)
        return
    chunk = max(1, min(64, len(paths) // (workers * 16)))
    with multiprocessing.get_context(_start_method()).Pool(workers, initializer=_quiet_worker) as pool:
        yield from pool.imap(reader, paths, chunksize=chunk)


def _quiet_worker() -> None:
    """Workers leave Ctrl-C to the parent, which stops them (leaving the pool terminates it), and die at once on
    the SIGTERM that stop sends: they printed tracebacks (KeyboardInterrupt, BrokenPipeError) over the one line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _usable_cores() -> int:
    """Cores this process may run on (a container or `taskset` can allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _start_method() -> str:
    """fork where safe: it starts at once and needs no `if __name__ == "__main__"` guard in a user's script;
    forking a process that already runs threads can deadlock, so then a clean forkserver (or spawn)."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _split_dataset(drawings: list[np.ndarray], records: list[FileRecord], options: BuildOptions,
                   report: BuildReport) -> StrokeDataset:
    """`split_order` (stratified by class with --labels folder), then valid, test and train take their sizes in
    that order."""
    sizes, warning = split_sizes(len(drawings), options.split)
    if warning and drawings:
        report.warnings.append(warning)
    order = split_order([r.label or "" for r in records] if options.labels == "folder" else [""] * len(records),
                        options.seed)
    bounds = np.cumsum([sizes[1], sizes[2], sizes[0]])
    names = ("valid", "test", "train")
    splits: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    split_labels: dict[str, list[str]] = {name: [] for name in SPLITS}
    for rank, index in enumerate(order):
        record = records[index]
        slot = int(np.searchsorted(bounds, rank, side="right"))
        if slot >= len(names):
            record.status, record.reason, record.strokes, record.points = "skipped", "split-full", 0, 0
            continue
        record.split = names[slot]
        splits[record.split].append(drawings[index])
        split_labels[record.split].append(record.label or "")
    class_names = sorted({r.label for r in records if r.split and r.label is not None})
    labels = {}
    if options.labels == "folder":
        _warn_of_merged_classes(records, report)
        lookup = {name: i for i, name in enumerate(class_names)}
        labels = {k: np.array([lookup[v] for v in split_labels[k]], dtype=np.int64) for k in SPLITS}
    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(options).items() if k != "workers"}
    settings.update(sketchtool_version=__version__, files=len(report.files))
    return StrokeDataset(splits=splits, class_names=class_names if options.labels == "folder" else [],
                         labels=labels, settings=settings)


def _warn_of_merged_classes(records: list[FileRecord], report: BuildReport) -> None:
    """A class is a folder's name, so two folders of one name (cats/big, dogs/big) make one class: say so."""
    folders: dict[str, set[str]] = {}
    for record in records:
        if record.label is not None:
            folders.setdefault(record.label, set()).add(os.path.dirname(os.path.abspath(record.path)))
    for name, places in sorted(folders.items()):
        if len(places) > 1:
            shown = ", ".join(sorted(places)[:3]) + (", ..." if len(places) > 3 else "")
            report.warnings.append(f"class {name!r} gathers the drawings of {len(places)} folders of that name "
                                   f"({shown}); rename the folders to keep them apart")
