"""The one place where a file name's extension picks a reader or writer, and says which extensions each kind of
input or output accepts (commands' checks, error messages and help texts all come from `ROLES`)."""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from sketchtool.errors import SketchtoolError

if TYPE_CHECKING:  # numpy stays out of `sketchtool --help`, whose option texts read this table
    import numpy as np

__all__ = ["writer_for", "OutputOptions", "WRITERS", "ROLES", "Role", "DRAWING_SUFFIXES", "suffixes",
           "accepts", "describe", "require_output", "write_drawings", "write_page", "read_drawings",
           "parse_reference", "IMAGE_WRITERS", "FRAME_WRITERS", "write_images", "write_frames"]

# suffix -> "module:function"; page writers take (page, path, options), ".npz" takes stroke-3 drawings
WRITERS: dict[str, str] = {
    ".svg": "sketchtool.formats.svg:write_page",
    ".png": "sketchtool.formats.png:write_page",
    ".npz": "sketchtool.formats.npz:write_drawings",
    ".gcode": "sketchtool.formats.gcode:write_page",
    ".nc": "sketchtool.formats.gcode:write_page",
    ".ngc": "sketchtool.formats.gcode:write_page",
    ".hpgl": "sketchtool.formats.hpgl:write_page",
}
# images (N, H, W) float in [0, 1] and canvas sequences (T, N, H, W): writers take (array, path, options)
IMAGE_WRITERS: dict[str, str] = {
    ".png": "sketchtool.formats.image_grid:write_png_grid",
    ".npz": "sketchtool.formats.image_grid:write_images_npz",
}
FRAME_WRITERS: dict[str, str] = {
    ".gif": "sketchtool.formats.gif:write_frames",
}


@dataclass(frozen=True)
class Role:
    """What one kind of input or output accepts, in the order help texts list them; `refusal` completes
    "unknown output format '.jpg'; ..." before that list."""

    suffixes: tuple[str, ...]
    refusal: str = "use one of"


ROLES: dict[str, Role] = {
    "svg": Role((".svg", ".svgz")),  # SVG documents: build-dataset sources, plot at natural size, complete's input
    "svg-out": Role((".svg",)),  # an SVG output that can keep an input SVG's frame (complete's overlay)
    "drawings-in": Role((".svg", ".svgz", ".npz")),  # read_drawings: an SVG or a stroke-3 dataset
    "dataset": Role((".npz",), "a dataset must be an"),  # stroke-3 datasets (build-dataset -o, --with-inputs)
    "drawings": Role(tuple(WRITERS)),  # write_drawings: show, generate, complete, ... (a grid page, or an .npz)
    "page": Role(tuple(s for s in WRITERS if s != ".npz"), "a laid-out page is written as"),  # write_page
    "plot": Role((".gcode", ".nc", ".ngc", ".svg", ".hpgl"), "plot writes"),
    "curves": Role((".png", ".svg", ".pdf"), "curves are written as"),  # matplotlib, not WRITERS
    "images": Role(tuple(IMAGE_WRITERS), "images are written as"),  # write_images: image models' samples, previews
    "frames": Role(tuple(FRAME_WRITERS), "a canvas sequence is written as"),  # write_frames: DRAW/GRAN animations
}
DRAWING_SUFFIXES = ROLES["drawings-in"].suffixes
_REFERENCE = re.compile(r"^(?P<path>.+\.npz):(?P<split>[^:]*)(?::(?P<index>[^:]*))?$", re.IGNORECASE)


def suffixes(role: str) -> tuple[str, ...]:
    """The extensions `role` (a key of ROLES) accepts, lower case with the dot."""
    return ROLES[role].suffixes


def accepts(role: str, path: str | os.PathLike) -> bool:
    """Whether `path`'s extension (any case) is one `role` accepts."""
    return Path(path).suffix.lower() in ROLES[role].suffixes


def describe(role: str) -> str:
    """".svg, .png or .pdf": the accepted extensions as help texts and errors write them."""
    names = ROLES[role].suffixes
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def require_output(role: str, path: str | os.PathLike) -> Path:
    """`path` as a Path when `role` can write its extension; otherwise one line naming what it can write."""
    path = Path(path)
    if not accepts(role, path):
        raise SketchtoolError(f"{path}: unknown output format {path.suffix.lower() or '(none)'!r}; "
                              f"{ROLES[role].refusal} {describe(role)}")
    return path


@dataclass
class OutputOptions:
    """Everything a writer may need; each format reads the fields that concern it."""

    cols: int | None = None
    cell: float = 128.0
    stroke_width: float = 1.5
    colour_by_order: bool = False
    background: str | None = "#ffffff"
    png_width: int | None = None
    dpi: float = 96.0
    given_points: Sequence[int] | None = None
    common_scale: bool = False  # grids: one scale for every drawing (to compare sizes) instead of each filling its cell
    extra: dict[str, Any] = field(default_factory=dict)  # format-specific (e.g. G-code profile)
    profile: str | None = None  # G-code machine profile: built-in name or TOML path (None: grbl-servo)
    paper: str = "A4"           # plotter outputs (G-code, HP-GL): paper a px page is fitted onto
    optimize: bool = True       # plotter outputs: reorder/merge strokes to cut pen-up travel
    labels: Sequence[int] | None = None  # dataset outputs (.npz): each drawing's class index into class_names
    class_names: Sequence[str] = ()

    @property
    def labelled(self) -> bool:
        """The drawings' classes are given (labels and the names they index): a dataset output keeps them."""
        return self.labels is not None and len(self.class_names) > 0


def writer_for(path: Path):
    """The writer for `path`'s extension; a clear error listing the supported ones otherwise."""
    suffix = require_output("drawings", path).suffix.lower()
    module, name = WRITERS[suffix].split(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise SketchtoolError(f"{path}: {suffix} output is not available in this version") from None


def write_drawings(path: str | os.PathLike, drawings: Sequence[np.ndarray], options: OutputOptions | None = None) -> None:
    """Write stroke-3 drawings to `path` in the format its extension names (grid layout for pages)."""
    import numpy as np

    from sketchtool.layout import grid_page

    path = Path(path)
    options = options or OutputOptions()
    writer = writer_for(path)
    if hasattr(drawings, "frames") and hasattr(drawings, "images"):  # an image model's `ImageSamples`
        raise SketchtoolError(f"{path}: these are an image model's samples, not drawings; write them with "
                              f"write_images as {describe('images')}")
    if isinstance(drawings, np.ndarray) and drawings.ndim == 2 and drawings.dtype != object:
        raise SketchtoolError(f"{path}: write_drawings takes a list of drawings, not one {drawings.shape} array; "
                              "give [drawing]")
    for i, d in enumerate(drawings):
        try:
            points = np.asarray(d, dtype=np.float64)
        except (ValueError, TypeError):  # ragged: a list of drawings (interpolate's rows), or not numbers
            points = None
        if points is None or (points.size and (points.ndim != 2 or points.shape[1] != 3)):
            shape = "" if points is None else f" of shape {points.shape}"
            raise SketchtoolError(f"{path}: drawing {i} is not an (n, 3) stroke-3 array{shape}; give one flat list "
                                  "of drawings (rows of them, as interpolate returns: [d for row in rows for d in row])")
        if not np.isfinite(points).all():
            raise SketchtoolError(f"{path}: drawing {i} holds NaN or infinite points; nothing written")
    if accepts("dataset", path):
        writer(drawings, path, options)
        return
    page = grid_page(drawings, cols=options.cols, cell=options.cell, given_points=options.given_points,
                     common_scale=options.common_scale)
    writer(page, path, options)


def write_page(path: str | os.PathLike, page, options: OutputOptions | None = None):
    """Write an already laid-out `sketchtool.layout.Page` in the format `path`'s extension names;
    returns the writer's report (plotter writers: a `sketchtool.travel.TravelReport` or None)."""
    path = require_output("page", path)
    return writer_for(path)(page, path, options or OutputOptions())


def parse_reference(ref: str) -> tuple[Path, str | None, int | None]:
    """"DATASET.npz:split[:index]" -> (path, split, index); a plain path -> (path, None, None). An unknown
    split or an index that is not a number is an error naming the splits, not a file-type problem."""
    from sketchtool.dataset import SPLITS

    m = _REFERENCE.match(ref)
    if not m:
        if re.search(r"\.npz:", ref, re.IGNORECASE):
            raise SketchtoolError(f"{ref}: not a dataset reference; give DATASET.npz:split or DATASET.npz:split:index")
        return Path(ref), None, None
    split, index = m.group("split"), m.group("index")
    if split not in SPLITS:
        raise SketchtoolError(f"{ref}: unknown split {split!r}; a dataset's splits are {', '.join(SPLITS)}")
    if index is not None and not (index.isascii() and index.isdigit()):  # not '²' or '١'
        raise SketchtoolError(f"{ref}: drawing index {index!r} is not a whole number from 0; give {m.group('path')}:{split}:0, "
                              f":1, ...")
    return Path(m.group("path")), split, None if index is None else int(index)


def read_drawings(ref: str | os.PathLike, **svg_options) -> list[np.ndarray]:
    """Drawings (stroke-3) from an SVG file (normalised exactly as training data is, via
    `sketchtool.prepare.svg_to_stroke3`), a whole `.npz` (all splits), or `DATASET.npz:split[:index]`."""
    path, split, index = parse_reference(str(ref))
    if path.is_dir():
        raise SketchtoolError(f"{path}: a folder; give its files ({Path(path, '*.svg')}) or a dataset")
    if not accepts("drawings-in", path):
        raise SketchtoolError(f"{ref}: cannot read drawings from {path.suffix.lower() or 'a file without extension'};"
                              f" give an {describe('drawings-in')} file (optionally DATASET.npz:split:index)")
    if not path.is_file():
        raise SketchtoolError(f"{path}: no such file")
    if accepts("dataset", path):
        from sketchtool.formats.npz import load_dataset
        from sketchtool.images import dataset_kind

        if dataset_kind(path) == "images":
            raise SketchtoolError(f"{path}: an image dataset; this reads drawings (a stroke-3 dataset or an SVG)")
        ds = load_dataset(path, splits=(split,)) if split else load_dataset(path)  # one drawing: its split only
        drawings = ds.splits[split] if split else [d for name in ds.splits for d in ds.splits[name]]
        if index is None:
            if split and not len(drawings):
                raise SketchtoolError(f"{ref}: split {split!r} holds no drawings")
            return list(drawings)
        if index >= len(drawings):
            raise SketchtoolError(f"{ref}: index {index} out of range; split {split!r} has {len(drawings)} drawings")
        return [drawings[index]]
    from sketchtool.prepare import svg_to_stroke3

    return [svg_to_stroke3(path, **svg_options)]


def _table_writer(path: Path, table: dict[str, str], role: str):
    module, name = table[require_output(role, path).suffix.lower()].split(":")
    return getattr(importlib.import_module(module), name)


def write_images(path: str | os.PathLike, images: np.ndarray, options: OutputOptions | None = None) -> None:
    """Write images, (N, H, W) float in [0, 1] with 1.0 = ink, or the `ImageSamples` an image model's `generate`
    returns, in the format `path`'s extension names (`IMAGE_WRITERS`: a .png grid, an image-dataset .npz)."""
    path = Path(path)
    images = getattr(images, "images", images)  # ImageSamples: its images (importing its class would import torch)
    _table_writer(path, IMAGE_WRITERS, "images")(images, path, options or OutputOptions())


def write_frames(path: str | os.PathLike, frames: np.ndarray, options: OutputOptions | None = None) -> None:
    """Write a canvas sequence, (T, N, H, W) float in [0, 1], as an animation (`FRAME_WRITERS`: .gif)."""
    path = Path(path)
    _table_writer(path, FRAME_WRITERS, "frames")(frames, path, options or OutputOptions())
