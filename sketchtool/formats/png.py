"""PNG: a laid-out page rasterised through cairosvg, on white unless asked otherwise."""

from __future__ import annotations

import os

from sketchtool.fileio import atomic_write
from sketchtool.formats.svg import SvgStyle, page_to_svg
from sketchtool.layout import Page

__all__ = ["write_png", "write_page"]


def write_png(page: Page, path: str | os.PathLike, style: SvgStyle | None = None, *,
              width_px: int | None = None, dpi: float = 96.0) -> None:
    """Render the page to PNG; `width_px` fixes the output width, otherwise `dpi` sets the scale
    (cairosvg's default background is transparent, so SvgStyle's white background is drawn in)."""
    import cairosvg  # heavy: only when a PNG is asked for

    svg = page_to_svg(page, style).encode()
    png = cairosvg.svg2png(bytestring=svg, output_width=width_px, dpi=dpi, unsafe=False)
    with atomic_write(path) as f:
        f.write(png)


def write_page(page: Page, path: str | os.PathLike, options) -> None:
    """Format-dispatch entry point (see `sketchtool.formats.WRITERS`)."""
    style = SvgStyle(options.stroke_width, options.colour_by_order, options.background)
    write_png(page, path, style, width_px=options.png_width, dpi=options.dpi)
