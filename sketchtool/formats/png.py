"""PNG: a laid-out page rasterised through cairosvg, on white unless asked otherwise; the pixel size is
checked before cairo allocates it (cairo fails on sides over 32,767 px, and memory fails first on huge ones)."""

from __future__ import annotations

import math
import os
import struct
import zlib

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write
from sketchtool.formats.svg import SvgStyle, page_to_svg
from sketchtool.layout import Page

__all__ = ["MAX_SIDE", "MAX_PIXELS", "check_png_size", "png_size", "png_too_large", "with_dpi", "write_png",
           "write_page"]

MAX_SIDE = 32_767           # cairo's largest image surface side
MAX_PIXELS = 100_000_000    # 400 MB of RGBA: a 10,000 x 10,000 px poster


def png_size(page: Page, width_px: int | None = None, dpi: float = 96.0) -> tuple[int, int]:
    """(width, height) in pixels that `write_png` renders: `dpi` / 96 pixels per px unit (a CSS px is 1/96 in),
    `dpi` / 25.4 per mm; `width_px` scales the page to that width instead."""
    if not (math.isfinite(dpi) and dpi > 0):
        raise SketchtoolError(f"--dpi {dpi}: must be a finite number > 0")
    per_unit = dpi / 25.4 if page.unit == "mm" else dpi / 96
    width, height = page.width * per_unit, page.height * per_unit
    if width_px is not None:
        if width_px < 1:
            raise SketchtoolError(f"--size {width_px}: must be at least 1 pixel")
        height, width = (height * width_px / width if width > 0 else height), width_px
    return max(1, round(width)), max(1, round(height))


def check_png_size(width: int, height: int, path, remedy: str = "use a smaller --size or --dpi, fewer drawings, "
                   "or write .svg") -> None:
    """Refuse a PNG larger than cairo (a side) or memory (the pixel count) allows, before anything allocates it."""
    if png_too_large(width, height):
        raise SketchtoolError(f"{path}: a picture of {width:,} x {height:,} px is too large (at most {MAX_SIDE:,} px a "
                              f"side and {MAX_PIXELS // 10**6:,} million pixels); {remedy}")


def png_too_large(width: int, height: int) -> bool:
    return max(width, height) > MAX_SIDE or width * height > MAX_PIXELS


def write_png(page: Page, path: str | os.PathLike, style: SvgStyle | None = None, *,
              width_px: int | None = None, dpi: float = 96.0) -> None:
    """Render the page to PNG; `width_px` fixes the output width, otherwise `dpi` sets the scale
    (cairosvg's default background is transparent, so SvgStyle's white background is drawn in)."""
    width, height = png_size(page, width_px, dpi)
    check_png_size(width, height, path)
    import cairosvg  # heavy: only when a PNG is asked for

    svg = page_to_svg(page, style).encode()
    png = cairosvg.svg2png(bytestring=svg, output_width=width_px or (width if page.unit != "mm" else None),
                           dpi=dpi, unsafe=False)  # cairosvg applies dpi to physical units only
    with atomic_write(path) as f:
        f.write(png if width_px else with_dpi(png, dpi))


def with_dpi(png: bytes, dpi: float) -> bytes:
    """The PNG with a pHYs chunk after its header saying `dpi`, so a viewer or printer shows it at the size
    --dpi asked for (cairosvg writes none)."""
    per_metre = round(dpi / 0.0254)
    body = b"pHYs" + struct.pack(">IIB", per_metre, per_metre, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body))
    end_of_header = 8 + 8 + 13 + 4  # signature, IHDR's length and type, its 13 bytes, its CRC
    return png[:end_of_header] + chunk + png[end_of_header:]


def write_page(page: Page, path: str | os.PathLike, options) -> None:
    """Format-dispatch entry point (see `sketchtool.formats.WRITERS`)."""
    style = SvgStyle(options.stroke_width, options.colour_by_order, options.background)
    write_png(page, path, style, width_px=options.png_width, dpi=options.dpi)
