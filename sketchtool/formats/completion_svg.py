"""The SVG that `complete` writes for an SVG input: the input's own frame (viewBox, width, height), one group
per variant holding the given start and the model's continuation, so it overlays the original drawing.

Contract with the Inkscape extension: `<g class="sketchtool-variant" id="variant-K">` per variant, side
placement translating variant k by k x (drawing width x 1.15) with `transform="translate(dx,0)"`, overlay
none; inside, `<path class="given">` and `<path class="generated">` with `d` in the input's user units.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write
from sketchtool.formats.svg import LAYER_COLOURS, _path_data
from sketchtool.strokes import polylines_bounds

__all__ = ["PLACEMENTS", "SIDE_GAP", "completion_svg", "write_completion_svg"]

PLACEMENTS = ("side", "overlay")
SIDE_GAP = 1.15  # variant k sits k x width x SIDE_GAP to the right
STROKE_WIDTH_FRACTION = 0.01  # default stroke width: 1% of the drawing's larger side, in its user units


def completion_svg(given: Sequence[np.ndarray], variants: Sequence[Sequence[np.ndarray]], *,
                   viewbox: tuple[float, float, float, float], width: str | None, height: str | None,
                   placement: str = "side", stroke_width: float | None = None) -> str:
    """`given`: the start's polylines; `variants[k]`: variant k's continuation polylines; all (n, 2) in the
    input's user units. Side placement steps by the width of everything drawn (start and all endings)."""
    if placement not in PLACEMENTS:
        raise SketchtoolError(f"--placement {placement!r}: use one of {', '.join(PLACEMENTS)}")
    x0, y0, x1, y1 = polylines_bounds([*given, *(p for v in variants for p in v)])
    step = (x1 - x0) * SIDE_GAP if placement == "side" else 0.0
    if stroke_width is None:
        stroke_width = max(x1 - x0, y1 - y0) * STROKE_WIDTH_FRACTION or 1.0
    vb = " ".join(f"{v:g}" for v in viewbox)
    size = "".join(f' {name}="{value}"' for name, value in (("width", width), ("height", height)) if value)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg"{size} viewBox="{vb}">',
    ]
    for k, variant in enumerate(variants):
        shift = f' transform="translate({k * step:.4f},0)"' if step else ""
        out.append(f'<g class="sketchtool-variant" id="variant-{k}"{shift} fill="none" '
                   f'stroke-width="{stroke_width:.4g}" stroke-linecap="round" stroke-linejoin="round">')
        for layer, polylines in (("given", given), ("generated", variant)):
            out.extend(f'<path class="{layer}" stroke="{LAYER_COLOURS[layer]}" d="{_path_data(p, 3)}"/>'
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
