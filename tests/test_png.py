"""PNG output: the pixel size is known (and bounded) before cairo allocates anything; dpi scales px pages."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sketchtool.errors import SketchtoolError
from sketchtool.formats.png import MAX_PIXELS, MAX_SIDE, png_size, write_png
from sketchtool.formats.svg import SvgStyle
from sketchtool.layout import Page, PageStroke


def _page(width: float, height: float, unit: str = "px") -> Page:
    return Page(width, height, unit, [PageStroke(np.array([[1.0, 1.0], [width - 1, height - 1]]))])


@pytest.mark.parametrize("page, width_px, dpi, expected", [
    (_page(640, 384), None, 96, (640, 384)),
    (_page(640, 384), None, 192, (1280, 768)),
    (_page(640, 384), 320, 96, (320, 192)),
    (_page(100, 50, "mm"), None, 254, (1000, 500)),
])
def test_the_size_written_is_the_size_predicted(tmp_path, page, width_px, dpi, expected):
    assert png_size(page, width_px, dpi) == expected
    write_png(page, tmp_path / "p.png", width_px=width_px, dpi=dpi)
    with Image.open(tmp_path / "p.png") as image:
        assert image.size == expected
        image.load()  # every chunk's CRC checked
        if width_px is None:  # the resolution asked for is recorded, so it prints at the page's size
            assert image.info["dpi"] == pytest.approx((dpi, dpi), abs=0.03)  # whole pixels per metre
        else:
            assert "dpi" not in image.info


@pytest.mark.parametrize("page, width_px, dpi", [
    (_page(40_000, 100), None, 96),            # wider than cairo allows
    (_page(640, 640), None, 96 * 20),          # 12,800 x 12,800: within cairo's sides, over the pixel budget
    (_page(100, 2_000), 20_000, 96),            # a tall page at a modest width
])
def test_too_large_a_png_is_refused_before_cairo_and_writes_nothing(tmp_path, page, width_px, dpi):
    width, height = png_size(page, width_px, dpi)
    assert max(width, height) > MAX_SIDE or width * height > MAX_PIXELS
    with pytest.raises(SketchtoolError, match="too large"):
        write_png(page, tmp_path / "p.png", width_px=width_px, dpi=dpi)
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("dpi", [0, -1, float("nan"), float("inf")])
def test_unusable_dpi_is_refused(tmp_path, dpi):
    with pytest.raises(SketchtoolError, match="--dpi"):
        write_png(_page(10, 10), tmp_path / "p.png", dpi=dpi)


@pytest.mark.parametrize("width", [0, -1, float("nan"), float("inf")])
def test_unusable_stroke_width_is_refused(width):
    with pytest.raises(SketchtoolError, match="--stroke-width"):
        SvgStyle(stroke_width=width)
