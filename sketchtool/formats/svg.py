"""SVG: writing laid-out pages: px previews (one group per drawing, coloured by layer) and, for pages in
mm, plotter SVG (physical page size, one Inkscape layer per pen layer, `<path>` elements, no fills)."""

from __future__ import annotations

import colorsys
import math
import os
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write
from sketchtool.layout import Page
from sketchtool.travel import optimize_page

__all__ = ["SvgStyle", "page_to_svg", "plotter_svg", "write_svg", "write_page"]

LAYER_COLOURS = {"ink": "#000000", "given": "#1f3a93", "generated": "#d9480f"}
PEN_WIDTH_MM = 0.3
_INKSCAPE = "http://www.inkscape.org/namespaces/inkscape"


@dataclass
class SvgStyle:
    """How strokes look: `stroke_width` in page units; `colour_by_order` cycles hues along each drawing's
    strokes (to show stroke order); `background` None for transparent."""

    stroke_width: float = 1.5
    colour_by_order: bool = False
    background: str | None = "#ffffff"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.stroke_width) and self.stroke_width > 0):
            raise SketchtoolError(f"--stroke-width {self.stroke_width}: must be a finite number > 0")


def _stroke_colour(layer: str, index: int, style: SvgStyle) -> str:
    if style.colour_by_order and layer in ("ink", "generated"):
        r, g, b = colorsys.hls_to_rgb((index * 47) % 360 / 360, 0.40, 0.75)  # hex: cairosvg draws hsl() black
        return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
    return LAYER_COLOURS.get(layer, "#000000")


def _path_data(points: np.ndarray, digits: int = 2) -> str:
    if len(points) == 1:  # a dot: a zero-length segment, drawn by the round line cap
        x, y = points[0]
        return f"M{x:.{digits}f},{y:.{digits}f}h0"
    first, *rest = (f"{x:.{digits}f},{y:.{digits}f}" for x, y in points)
    return f"M{first}L{' '.join(rest)}"


def plotter_svg(page: Page) -> str:
    """An mm page for vpype, AxiDraw's Inkscape extension or Inkscape: width/height in mm with a matching
    viewBox, one Inkscape layer ("1 ink", "2 generated", ...) per page layer in order of first appearance,
    one `<path>` per stroke in drawing order, no background (a plotter would draw it)."""
    if page.unit != "mm":
        raise ValueError("plotter SVG needs a page in mm")
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:inkscape="{_INKSCAPE}" '
        f'width="{page.width:g}mm" height="{page.height:g}mm" viewBox="0 0 {page.width:g} {page.height:g}">',
    ]
    layers = list(dict.fromkeys(s.layer for s in page.strokes))
    for number, layer in enumerate(layers, start=1):
        out.append(
            f'<g id="layer{number}" inkscape:groupmode="layer" inkscape:label={quoteattr(f"{number} {layer}")} '
            f'fill="none" stroke="{LAYER_COLOURS.get(layer, "#000000")}" stroke-width="{PEN_WIDTH_MM:g}" '
            'stroke-linecap="round" stroke-linejoin="round">'
        )
        out.extend(f'<path d="{_path_data(s.points, 3)}"/>' for s in page.strokes if s.layer == layer and len(s.points))
        out.append("</g>")
    out.append("</svg>\n")
    return "\n".join(out)


def page_to_svg(page: Page, style: SvgStyle | None = None) -> str:
    """The page as an SVG document string: one `<g>` per drawing, one `<path>` per stroke (a px preview;
    see `plotter_svg` for pages in mm)."""
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
    """Write the page as SVG, atomically: plotter SVG for an mm page, a styled preview otherwise."""
    with atomic_write(path, "w") as f:
        f.write(plotter_svg(page) if page.unit == "mm" else page_to_svg(page, style))


def write_page(page: Page, path: str | os.PathLike, options):
    """Format-dispatch entry point (see `sketchtool.formats.WRITERS`); an mm page's strokes are first
    ordered from the top-left corner (AxiDraw's home) unless `options.optimize` is off."""
    report = None
    if page.unit == "mm" and options.optimize:
        page, report = optimize_page(page, start=(0.0, 0.0))
    write_svg(page, path, SvgStyle(options.stroke_width, options.colour_by_order, options.background))
    return report
