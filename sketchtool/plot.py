"""`sketchtool plot` as a library call: read drawings (SVG at their own size, stroke-3 npz, dataset
selections), lay them out on paper and write G-code, plotter SVG or HP-GL through the format dispatch."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.formats import (OutputOptions, accepts, parse_reference, read_drawings, require_output, suffixes,
                                write_page)
from sketchtool.layout import (
    MM_PER_PX,
    Paper,
    layout_on_paper,
    parse_length,
    parse_paper,
)
from sketchtool.strokes import stroke3_to_polylines
from sketchtool.travel import TravelReport

__all__ = ["PLOT_SUFFIXES", "PlotOptions", "PlotResult", "read_plot_inputs", "plot"]

PLOT_SUFFIXES = suffixes("plot")
_BARE_NUMBER = re.compile(r"^\s*[\d.]+\s*$")


@dataclass
class PlotOptions:
    """Paper (preset or "WxH" with units), orientation, margin ("10mm"), `scale` None to fit the margins or
    a factor on the natural size (one unit = one CSS px), grid columns, machine profile, travel optimisation."""

    paper: str = "A4"
    landscape: bool = False
    margin: str = "10mm"
    scale: float | None = None
    cols: int | None = None
    profile: str | None = None
    optimize: bool = True


@dataclass(frozen=True)
class PlotResult:
    """What was written: drawings and strokes placed, the paper, mm per drawing unit, travel before/after."""

    drawings: int
    strokes: int
    paper: Paper
    mm_per_unit: float
    travel: TravelReport | None


def read_plot_inputs(refs: Sequence[str | os.PathLike]) -> list[list[np.ndarray]]:
    """Drawings as polylines: an SVG keeps its own geometry (user units converted to CSS px, so its true
    size is scale 1); an npz or `DATASET.npz:split[:index]` gives its stroke-3 drawings (units read as px)."""
    drawings: list[list[np.ndarray]] = []
    for ref in refs:
        path, _, _ = parse_reference(str(ref))
        if accepts("svg", path):
            drawings.append(_svg_in_px(path))
        else:
            drawings.extend(stroke3_to_polylines(d) for d in read_drawings(ref))
    return drawings


def plot(refs: Sequence[str | os.PathLike], out: str | os.PathLike, options: PlotOptions | None = None) -> PlotResult:
    """Lay `refs` out on paper and write `out` (.gcode/.nc/.ngc, .svg or .hpgl). The caller checks that
    `out` may be written (fileio.check_output_path)."""
    options = options or PlotOptions()
    out = Path(out)
    require_output("plot", out)
    if options.scale is not None and not options.scale > 0:
        raise SketchtoolError(f"--scale {options.scale}: give a positive factor (1 = natural size)")
    if options.cols is not None and options.cols < 1:
        raise SketchtoolError(f"--cols {options.cols}: give at least 1")
    paper = parse_paper(options.paper, landscape=options.landscape, margin=options.margin)
    page, mm_per_unit = layout_on_paper(read_plot_inputs(refs), paper, cols=options.cols, scale=options.scale)
    output = OutputOptions(profile=options.profile, paper=options.paper, optimize=options.optimize)
    report = write_page(out, page, output)
    strokes = report.strokes_after if report else len(page.strokes)
    return PlotResult(page.num_drawings, strokes, paper, mm_per_unit, report)


def _svg_in_px(path: Path) -> list[np.ndarray]:
    from sketchtool.formats.svg_reader import read_svg

    svg = read_svg(path)
    px_per_unit = 1.0
    if svg.width is not None and svg.viewbox[2] > 0:
        width = svg.width.strip()
        try:
            width_px = float(width) if _BARE_NUMBER.match(width) else parse_length(width) / MM_PER_PX
        except SketchtoolError:  # %, em, ...: no physical size, keep user units as px
            width_px = svg.viewbox[2]
        px_per_unit = width_px / svg.viewbox[2]
    return [p * px_per_unit for p in svg.polylines]
