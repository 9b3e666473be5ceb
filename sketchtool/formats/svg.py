"""SVG: writing laid-out pages (and, below, reading drawings from SVG files)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import numpy as np

from sketchtool.fileio import atomic_write
from sketchtool.layout import Page

__all__ = ["SvgStyle", "page_to_svg", "write_svg", "write_page"]

LAYER_COLOURS = {"ink": "#000000", "given": "#1f3a93", "generated": "#d9480f"}


@dataclass
class SvgStyle:
    """How strokes look: `stroke_width` in page units; `colour_by_order` cycles hues along each drawing's
    strokes (to show stroke order); `background` None for transparent."""

    stroke_width: float = 1.5
    colour_by_order: bool = False
    background: str | None = "#ffffff"


def _stroke_colour(layer: str, index: int, style: SvgStyle) -> str:
    if style.colour_by_order and layer in ("ink", "generated"):
        return f"hsl({(index * 47) % 360},75%,40%)"
    return LAYER_COLOURS.get(layer, "#000000")


def _path_data(points: np.ndarray) -> str:
    if len(points) == 1:  # a dot: a zero-length segment, drawn by the round line cap
        x, y = points[0]
        return f"M{x:.2f},{y:.2f}h0"
    first, *rest = (f"{x:.2f},{y:.2f}" for x, y in points)
    return f"M{first}L{' '.join(rest)}"


def page_to_svg(page: Page, style: SvgStyle | None = None) -> str:
    """The page as an SVG document string: one `<g>` per drawing, one `<path>` per stroke."""
    style = style or SvgStyle()
    w, h, unit = page.width, page.height, page.unit
    size_unit = "mm" if unit == "mm" else ""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}{size_unit}" height="{h:g}{size_unit}" '
        f'viewBox="0 0 {w:g} {h:g}">',
    ]
    if style.background:
        out.append(f'<rect width="100%" height="100%" fill={quoteattr(style.background)} stroke="none"/>')
    current = None
    for s in page.strokes:
        if s.drawing != current:
            if current is not None:
                out.append("</g>")
            out.append(
                f'<g id="drawing-{s.drawing}" fill="none" stroke-width="{style.stroke_width:g}" '
                'stroke-linecap="round" stroke-linejoin="round">'
            )
            current = s.drawing
        out.append(
            f'<path class="{s.layer}" stroke="{_stroke_colour(s.layer, s.index, style)}" d="{_path_data(s.points)}"/>'
        )
    if current is not None:
        out.append("</g>")
    out.append("</svg>\n")
    return "\n".join(out)


def write_svg(page: Page, path: str | os.PathLike, style: SvgStyle | None = None) -> None:
    """Write the page as SVG, atomically."""
    with atomic_write(path, "w") as f:
        f.write(page_to_svg(page, style))


def write_page(page: Page, path: str | os.PathLike, options) -> None:
    """Format-dispatch entry point (see `sketchtool.formats.WRITERS`)."""
    write_svg(page, path, SvgStyle(options.stroke_width, options.colour_by_order, options.background))
