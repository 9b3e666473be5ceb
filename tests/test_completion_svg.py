"""The completion SVG: variants in the input's user units, in a frame grown (never shrunk) to hold them all."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from sketchtool.errors import SketchtoolError
from sketchtool.formats.completion_svg import SIDE_GAP, completion_svg

GIVEN = [np.array([[10.0, 10.0], [30.0, 10.0]])]
ENDINGS = [[np.array([[30.0, 10.0], [30.0, 20.0]])], [np.array([[30.0, 10.0], [20.0, 25.0]])]]


def _frame(text: str) -> tuple[list[float], str | None, str | None]:
    root = ET.fromstring(text)
    return [float(v) for v in root.get("viewBox").split()], root.get("width"), root.get("height")


def test_a_frame_that_holds_everything_is_kept_as_written():
    text = completion_svg(GIVEN, ENDINGS, viewbox=(0, 0, 100, 50), width="100mm", height="50mm", placement="overlay")
    assert _frame(text) == ([0, 0, 100, 50], "100mm", "50mm")


def test_side_by_side_endings_widen_the_frame_at_the_same_units_per_mm():
    text = completion_svg(GIVEN, ENDINGS, viewbox=(0, 0, 40, 30), width="80mm", height="60mm", stroke_width=1)
    (x, y, w, h), width, height = _frame(text)
    right = 30 + (30 - 10) * SIDE_GAP + 1  # ending 1's right edge plus the stroke
    assert (x, y, h) == (0, 0, 30) and w >= right
    assert float(width[:-2]) == pytest.approx(2 * w, abs=1e-3) and height == "60mm"  # 2 mm per user unit, as given
    shifts = [float(s) for s in re.findall(r"translate\(([-\d.]+),0\)", text)]
    assert shifts == [0, pytest.approx(20 * SIDE_GAP)]


def test_endings_beyond_any_edge_grow_the_frame_there():
    far = [[np.array([[30.0, 10.0], [-15.0, -20.0]])]]
    (x, y, w, h), width, height = _frame(completion_svg(GIVEN, far, viewbox=(0, 0, 40, 30), width="100%",
                                                        height=None, placement="overlay", stroke_width=2))
    assert x <= -17 and y <= -22 and x + w >= 40 and y + h >= 30
    assert (width, height) == ("100%", None)  # no absolute size to scale: the viewBox decides


def test_a_drawing_a_ten_thousandth_of_a_unit_wide_keeps_its_shape():
    """Three decimals wrote every point of a 1e-4-unit drawing as the same 10.000,10.000: nothing was drawn."""
    given, endings = [g * 1e-5 + 10 for g in GIVEN], [[p * 1e-5 + 10 for p in e] for e in ENDINGS]
    text = completion_svg(given, endings, viewbox=(10, 10, 4e-4, 3e-4), width=None, height=None)
    paths = [np.array(re.findall(r"([-\d.]+),([-\d.]+)", d), float) for d in re.findall(r' d="([^"]+)"', text)]
    written = [paths[0], paths[1], paths[3]]  # variant 0's start and ending, variant 1's ending (before its shift)
    for mine, theirs in zip(written, [given[0], endings[0][0], endings[1][0]]):
        np.testing.assert_allclose(mine, theirs, atol=1e-8, rtol=0)
    (x, y, w, h), _, _ = _frame(text)
    assert x <= 10 + 1e-4 and x + w >= 10 + 3e-4 + 2e-4 * SIDE_GAP and 0 < h < 1e-3  # ending 1 beside


def test_unusable_stroke_width_is_refused():
    with pytest.raises(SketchtoolError, match="--stroke-width"):
        completion_svg(GIVEN, ENDINGS, viewbox=(0, 0, 40, 30), width=None, height=None, stroke_width=float("nan"))


@pytest.mark.parametrize("width, kept", [
    ('100%" onload="alert(1)', None), ("a&b<", None), ("nan", None), ("inf", None), ("1e999mm", None),
    ("0", None), ("12 parsecs", None), ("12.5mm", "12.5mm"), ("80%", "80%"), (" 300 ", "300"),
])
def test_only_a_real_length_of_the_input_reaches_the_output(width, kept):
    text = completion_svg(GIVEN, ENDINGS, viewbox=(0, 0, 100, 50), width=width, height=width, placement="overlay")
    assert _frame(text)[1:] == (kept, kept)  # parses: nothing of the input's markup came through


def test_a_stretched_frame_stays_stretched_so_the_result_lies_over_the_input():
    """complete dropped preserveAspectRatio="none": the given part no longer covered the original in a viewer."""
    text = completion_svg(GIVEN, ENDINGS, viewbox=(0, 0, 100, 50), width="200mm", height="50mm",
                          placement="overlay", preserve_aspect_ratio="none")
    assert ET.fromstring(text).get("preserveAspectRatio") == "none"
    hostile = completion_svg(GIVEN, ENDINGS, viewbox=(0, 0, 100, 50), width="200mm", height="50mm",
                             placement="overlay", preserve_aspect_ratio='none" onload="alert(1)')
    assert ET.fromstring(hostile).get("preserveAspectRatio") is None and "onload" not in hostile
