"""`sketchtool plot` as a library call: read drawings (SVG at their own size, stroke-3 npz, dataset
selections), lay them out on paper and write G-code, plotter SVG or HP-GL through the format dispatch."""

from __future__ import annotations

import math
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
    PAPER_SIZES,
    Paper,
    check_scale,
    layout_on_paper,
    parse_length,
    parse_paper,
)
from sketchtool.strokes import polylines_bounds, stroke3_to_polylines
from sketchtool.travel import TravelReport

__all__ = ["GCODE_SUFFIXES", "PLOT_SUFFIXES", "PlotOptions", "PlotResult", "read_plot_inputs", "plot"]

GCODE_SUFFIXES = (".gcode", ".nc", ".ngc")
PLOT_SUFFIXES = suffixes("plot")
MIN_DRAWING_MM = 1.0  # a pen's line is 0.3-0.5 mm wide: a smaller drawing is a dot of ink
_BARE_NUMBER = re.compile(r"^\s*(\d+\.?\d*|\.\d+)\s*$")  # "12", "12.5", ".5": CSS px


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
    if options.cols is not None and options.cols < 1:
        raise SketchtoolError(f"--cols {options.cols}: give at least 1")
    check_scale(options.scale)
    paper = parse_paper(options.paper, landscape=options.landscape, margin=options.margin)
    if options.profile is not None and out.suffix.lower() not in GCODE_SUFFIXES:
        raise SketchtoolError(f"--profile {options.profile}: a machine profile shapes G-code; {out.suffix} output "
                              "has none")
    drawings = read_plot_inputs(refs)
    if out.suffix.lower() in GCODE_SUFFIXES:
        _check_paper_fits_bed(drawings, paper, options)
    page, mm_per_unit = layout_on_paper(drawings, paper, cols=options.cols, scale=options.scale)
    if options.scale is not None:
        _check_not_a_dot(drawings, mm_per_unit, options.scale)
    output = OutputOptions(profile=options.profile, paper=options.paper, optimize=options.optimize)
    report = write_page(out, page, output)
    strokes = report.strokes_after if report else len(page.strokes)
    return PlotResult(page.num_drawings, strokes, paper, mm_per_unit, report)


def _check_not_a_dot(drawings: list[list[np.ndarray]], mm_per_unit: float, scale: float) -> None:
    """A --scale so small that the largest drawing is under MIN_DRAWING_MM is refused, not plotted as dots."""
    boxes = [polylines_bounds(d) for d in drawings if any(len(p) for p in d)]
    largest = max((max(x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes), default=0.0) * mm_per_unit
    if 0 < largest < MIN_DRAWING_MM:
        raise SketchtoolError(f"--scale {scale:g} makes the largest drawing {largest:.2g} mm across, a dot of ink; "
                              "give a larger --scale, or leave it out to fill the paper")


def _check_paper_fits_bed(drawings: list[list[np.ndarray]], paper: Paper, options: PlotOptions) -> None:
    """A paper larger than the profile's bed is an error that names options which do work: each suggestion
    is laid out with the user's other options (margin, columns, scale) before it is offered."""
    from sketchtool.formats.gcode import fits_bed
    from sketchtool.profiles import load_profile

    profile = load_profile(options.profile)
    if fits_bed(paper.width, paper.height, profile):
        return
    candidates = _paper_candidates(options, profile)
    works = [text for text, spec, landscape in candidates if _lays_out(drawings, spec, landscape, options, profile)]
    problem = (f"the {paper.described} paper is larger than the "
               f"{profile.bed_width:g}x{profile.bed_height:g} mm bed of profile {profile.name}")
    if works:
        raise SketchtoolError(f"{problem}; use {works[0]}" + (f" (or {works[-1]})" if len(works) > 1 else ""))
    if options.scale is None:
        raise SketchtoolError(f"{problem}, and no paper that fits the bed leaves room inside --margin "
                              f"{options.margin}; use a smaller --margin")
    text, bed, _ = candidates[-1]
    scale = _largest_scale(drawings, bed, options)
    rescaled = PlotOptions(**{**vars(options), "scale": scale})
    fix = (f"{text.split(',')[0]} --scale {scale:g} (the largest on the whole bed) or --fit"
           if scale and _lays_out(drawings, bed, False, rescaled, profile) else "--fit or a smaller --margin")
    raise SketchtoolError(f"{problem}, and no paper that fits the bed holds this layout at --scale "
                          f"{options.scale:g}; use {fix}")


def _largest_scale(drawings, spec: str, options: PlotOptions) -> float | None:
    """The --scale that fills `spec` paper, rounded down to 3 significant digits; None if it has no room."""
    try:
        _, k = layout_on_paper(drawings, parse_paper(spec, margin=options.margin), cols=options.cols)
    except SketchtoolError:
        return None
    exact = k / MM_PER_PX
    step = 10.0 ** (math.floor(math.log10(exact)) - 2)
    return math.floor(exact / step) * step


def _paper_candidates(options: PlotOptions, profile) -> list[tuple[str, str, bool]]:
    """(suggestion, paper spec, landscape): the same paper turned, the largest preset on the bed (in the
    user's orientation among equals), the whole bed."""
    from sketchtool.formats.gcode import fits_bed

    without = " without --landscape" if options.landscape else ""
    presets = [(w * h, landscape == options.landscape, key, landscape)
               for key, (w, h) in PAPER_SIZES.items() for landscape in (False, True)
               if fits_bed(*((h, w) if landscape else (w, h)), profile)]
    largest = [(f"--paper {key.upper() if key.startswith('a') else key}" + (" --landscape" if landscape else without),
                key, landscape) for *_, key, landscape in sorted(presets, reverse=True)[:1]]
    bed = f"{profile.bed_width:g}x{profile.bed_height:g}mm"
    return [("no --landscape" if options.landscape else "--landscape", options.paper, not options.landscape),
            *largest, (f"--paper {bed}{without}, the whole bed", bed, False)]


def _lays_out(drawings, spec: str, landscape: bool, options: PlotOptions, profile) -> bool:
    from sketchtool.formats.gcode import fits_bed

    try:
        paper = parse_paper(spec, landscape=landscape, margin=options.margin)
        if not fits_bed(paper.width, paper.height, profile):
            return False
        layout_on_paper(drawings, paper, cols=options.cols, scale=options.scale)
    except SketchtoolError:
        return False
    return True


def _svg_in_px(path: Path) -> list[np.ndarray]:
    from sketchtool.formats.svg_reader import read_svg

    svg = read_svg(path)
    scales = [_px_per_unit(svg.width, svg.viewbox[2]), _px_per_unit(svg.height, svg.viewbox[3])]
    aspect = (svg.preserve_aspect_ratio or "").split()
    if None in scales:  # one side without a physical size: the other decides, as a viewer draws it
        scales = [next((s for s in scales if s is not None), 1.0)] * 2
    elif "none" not in aspect:  # the viewBox fits width x height whole ("meet", the default) or covers it ("slice")
        scales = [max(scales) if "slice" in aspect else min(scales)] * 2
    if not all(math.isfinite(s) and s > 0 for s in scales):
        raise SketchtoolError(f"{path}: width {svg.width!r} and height {svg.height!r} over a viewBox "
                              f"{svg.viewbox[2]:g} x {svg.viewbox[3]:g} give no usable size; fix the size or viewBox")
    with np.errstate(over="ignore"):  # an overflow is refused by the layout, as not finite
        return [p * np.asarray(scales) for p in svg.polylines]


def _px_per_unit(length: str | None, side: float) -> float | None:
    """Pixels per user unit of one side: its width or height over the viewBox's; None when the length gives no
    physical size (absent, %, em)."""
    if length is None or not side > 0:
        return None
    length = length.strip()
    try:
        return (float(length) if _BARE_NUMBER.match(length) else parse_length(length) / MM_PER_PX) / side
    except SketchtoolError:
        return None
