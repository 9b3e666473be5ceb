"""The SVG that `complete` writes for an SVG input: the input's own user units and position, one group per
variant holding the given start and the model's continuation, so it overlays the original drawing. The
input's frame (viewBox, width, height) grows, at the same units per pixel, until it holds every variant.

Contract with the Inkscape extension: `<g class="sketchtool-variant" id="variant-K">` per variant, side
placement translating variant k by k x (drawing width x 1.15) with `transform="translate(dx,0)"`, overlay
none; inside, `<path class="given">` and `<path class="generated">` with `d` in the input's user units.
"""

from __future__ import annotations

import math
import os
import re
from typing import Sequence

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write
from sketchtool.formats.svg import LAYER_COLOURS, _path_data
from sketchtool.formats.svg_reader import PRESERVE_ASPECT_RATIO
from sketchtool.strokes import polylines_bounds

__all__ = ["PLACEMENTS", "SIDE_GAP", "completion_svg", "write_completion_svg"]

PLACEMENTS = ("side", "overlay")
SIDE_GAP = 1.15  # variant k sits k x width x SIDE_GAP to the right
MAX_DIGITS = 12  # decimals of the smallest drawings (a float64 keeps about 16 significant digits)
STROKE_WIDTH_FRACTION = 0.01  # default stroke width: 1% of the drawing's larger side, in its user units
_LENGTH = re.compile(r"^\s*(?P<value>[+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<unit>[a-zA-Z]*|%)\s*$")
_UNITS = {"", "px", "pt", "pc", "mm", "cm", "in", "em", "ex", "%"}


def completion_svg(given: Sequence[np.ndarray], variants: Sequence[Sequence[np.ndarray]], *,
                   viewbox: tuple[float, float, float, float], width: str | None, height: str | None,
                   placement: str = "side", stroke_width: float | None = None,
                   preserve_aspect_ratio: str | None = None) -> str:
    """`given`: the start's polylines; `variants[k]`: variant k's continuation polylines; all (n, 2) in the
    input's user units. Side placement steps by the width of everything drawn (start and all endings). The
    input's `preserve_aspect_ratio` is kept, so a stretched frame ("none") still lies over the original."""
    if placement not in PLACEMENTS:
        raise SketchtoolError(f"--placement {placement!r}: use one of {', '.join(PLACEMENTS)}")
    x0, y0, x1, y1 = polylines_bounds([*given, *(p for v in variants for p in v)])
    step = (x1 - x0) * SIDE_GAP if placement == "side" else 0.0
    if stroke_width is None:
        stroke_width = max(x1 - x0, y1 - y0) * STROKE_WIDTH_FRACTION or 1.0
    if not (math.isfinite(stroke_width) and stroke_width > 0):
        raise SketchtoolError(f"--stroke-width {stroke_width}: must be a finite number > 0")
    pad = stroke_width  # round caps reach half a stroke width past the points; the rest is margin
    drawn = (x0 - pad, y0 - pad, x1 + step * max(len(variants) - 1, 0) + pad, y1 + pad)
    # decimals for a thousandth of the drawing's size at least: a drawing 1e-4 units wide was written as one point
    extent = max(x1 - x0, y1 - y0)
    digits = min(MAX_DIGITS, max(3, 3 - math.floor(math.log10(extent)))) if extent > 0 else 3
    viewbox, width, height = _frame_holding(viewbox, _page_length(width), _page_length(height), drawn, digits + 1)
    vb = " ".join(_number(v, digits + 1) for v in viewbox)
    if preserve_aspect_ratio is not None and not PRESERVE_ASPECT_RATIO.match(preserve_aspect_ratio):
        preserve_aspect_ratio = None  # nothing but the attribute's own grammar reaches the markup
    size = "".join(f' {name}="{value}"' for name, value in (("width", width), ("height", height),
                                                          ("preserveAspectRatio", preserve_aspect_ratio)) if value)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg"{size} viewBox="{vb}">',
    ]
    for k, variant in enumerate(variants):
        shift = f' transform="translate({_number(k * step, digits + 1)},0)"' if step else ""
        out.append(f'<g class="sketchtool-variant" id="variant-{k}"{shift} fill="none" '
                   f'stroke-width="{stroke_width:.4g}" stroke-linecap="round" stroke-linejoin="round">')
        for layer, polylines in (("given", given), ("generated", variant)):
            out.extend(f'<path class="{layer}" stroke="{LAYER_COLOURS[layer]}" d="{_path_data(p, digits)}"/>'
                       for p in polylines if len(p))
        out.append("</g>")
    out.append("</svg>\n")
    return "\n".join(out)


def write_completion_svg(path: str | os.PathLike, given: Sequence[np.ndarray],
                         variants: Sequence[Sequence[np.ndarray]], **options) -> None:
    """Write `completion_svg(given, variants, **options)` atomically."""
    text = completion_svg(given, variants, **options)
    with atomic_write(path, "w") as f:
        f.write(text)


def _frame_holding(viewbox, width, height, drawn,
                   digits: int = 4) -> tuple[tuple[float, float, float, float], str | None, str | None]:
    """The input's frame grown to hold `drawn` (x0, y0, x1, y1 in user units), rounded outwards to `digits`
    decimals. Its user units keep their size on the page: width and height grow by the factor the viewBox sides
    grew (a percentage stays as it is)."""
    vx, vy, vw, vh = viewbox
    if vx <= drawn[0] and vy <= drawn[1] and drawn[2] <= vx + vw and drawn[3] <= vy + vh:
        return viewbox, width, height
    if not (vw > 0 and vh > 0):  # no usable frame: the drawing's own bounds, sized by the viewBox alone
        return (drawn[0], drawn[1], drawn[2] - drawn[0], drawn[3] - drawn[1]), None, None
    unit = 10.0 ** digits
    x0, y0 = (math.floor(min(v, d) * unit) / unit for v, d in ((vx, drawn[0]), (vy, drawn[1])))
    x1, y1 = (math.ceil(max(v, d) * unit) / unit for v, d in ((vx + vw, drawn[2]), (vy + vh, drawn[3])))
    return (x0, y0, x1 - x0, y1 - y0), _scaled(width, (x1 - x0) / vw), _scaled(height, (y1 - y0) / vh)


def _page_length(length: str | None) -> str | None:
    """The input's width or height if an SVG reader takes it as one (a number > 0, a unit or %), else None: the
    viewBox decides. Nothing else from the input reaches the output's markup."""
    m = _LENGTH.match(length or "")
    if not m or m.group("unit").lower() not in _UNITS or not 0 < float(m.group("value")) < math.inf:
        return None
    return length.strip()


def _scaled(length: str | None, factor: float) -> str | None:
    m = _LENGTH.match(length or "")
    if not m or m.group("unit") == "%":  # None or a percentage: the viewBox decides
        return length
    return f"{_number(float(m.group('value')) * factor)}{m.group('unit')}"


def _number(value: float, digits: int = 4) -> str:
    return f"{value + 0.0:.{digits}f}".rstrip("0").rstrip(".")
