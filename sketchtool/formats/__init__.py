"""The one place where a file name's extension picks a reader or writer."""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sketchtool.errors import SketchtoolError

__all__ = ["writer_for", "OutputOptions", "WRITERS", "DRAWING_SUFFIXES", "write_drawings", "write_page", "read_drawings",
           "parse_reference"]

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
DRAWING_SUFFIXES = (".svg", ".svgz", ".npz")
_REFERENCE = re.compile(r"^(?P<path>.+\.npz):(?P<split>train|valid|test)(?::(?P<index>\d+))?$")


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
    extra: dict[str, Any] = field(default_factory=dict)  # format-specific (e.g. G-code profile)
    profile: str | None = None  # G-code machine profile: built-in name or TOML path (None: grbl-servo)
    paper: str = "A4"           # plotter outputs (G-code, HP-GL): paper a px page is fitted onto
    optimize: bool = True       # plotter outputs: reorder/merge strokes to cut pen-up travel


def writer_for(path: Path):
    """The writer for `path`'s extension; a clear error listing the supported ones otherwise."""
    suffix = path.suffix.lower()
    if suffix not in WRITERS:
        supported = ", ".join(sorted(WRITERS))
        raise SketchtoolError(f"{path}: unknown output format {suffix or '(none)'!r}; use one of {supported}")
    module, name = WRITERS[suffix].split(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise SketchtoolError(f"{path}: {suffix} output is not available in this version") from None


def write_drawings(path: str | os.PathLike, drawings: Sequence[np.ndarray], options: OutputOptions | None = None) -> None:
    """Write stroke-3 drawings to `path` in the format its extension names (grid layout for pages)."""
    from sketchtool.layout import grid_page

    path = Path(path)
    options = options or OutputOptions()
    writer = writer_for(path)
    if path.suffix.lower() == ".npz":
        writer(drawings, path, options)
        return
    page = grid_page(drawings, cols=options.cols, cell=options.cell, given_points=options.given_points)
    writer(page, path, options)


def write_page(path: str | os.PathLike, page, options: OutputOptions | None = None):
    """Write an already laid-out `sketchtool.layout.Page` in the format `path`'s extension names;
    returns the writer's report (plotter writers: a `sketchtool.travel.TravelReport` or None)."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        raise SketchtoolError(f"{path}: a laid-out page cannot be saved as .npz; choose .svg, .png, .gcode or .hpgl")
    return writer_for(path)(page, path, options or OutputOptions())


def parse_reference(ref: str) -> tuple[Path, str | None, int | None]:
    """"DATASET.npz:split[:index]" -> (path, split, index); a plain path -> (path, None, None)."""
    m = _REFERENCE.match(ref)
    if m:
        index = m.group("index")
        return Path(m.group("path")), m.group("split"), None if index is None else int(index)
    return Path(ref), None, None


def read_drawings(ref: str | os.PathLike, **svg_options) -> list[np.ndarray]:
    """Drawings (stroke-3) from an SVG file (normalised exactly as training data is, via
    `sketchtool.build.svg_to_stroke3`), a whole `.npz` (all splits), or `DATASET.npz:split[:index]`."""
    path, split, index = parse_reference(str(ref))
    suffix = path.suffix.lower()
    if suffix not in DRAWING_SUFFIXES:
        raise SketchtoolError(f"{ref}: cannot read drawings from {suffix or 'a file without extension'}; "
                              "give an .svg, .svgz or .npz file (optionally DATASET.npz:split:index)")
    if not path.is_file():
        raise SketchtoolError(f"{path}: no such file")
    if suffix == ".npz":
        from sketchtool.formats.npz import load_dataset

        ds = load_dataset(path)
        drawings = ds.splits[split] if split else [d for name in ds.splits for d in ds.splits[name]]
        if index is None:
            return list(drawings)
        if index >= len(drawings):
            raise SketchtoolError(f"{ref}: index {index} out of range; split {split!r} has {len(drawings)} drawings")
        return [drawings[index]]
    from sketchtool.prepare import svg_to_stroke3

    return [svg_to_stroke3(path, **svg_options)]
