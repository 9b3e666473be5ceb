"""The rasteriser: golden images, geometry against hand computation, monotone in line width, aspect kept."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from sketchtool.errors import SketchtoolError
from sketchtool.raster import RasterOptions, fit_transform, rasterize, rasterize_batch
from sketchtool.strokes import polylines_to_stroke3

REFS = Path(__file__).parent / "fixtures" / "refs"
UPDATE_REFS = os.environ.get("SKETCHTOOL_UPDATE_REFS") == "1"


def _spiral() -> list[np.ndarray]:
    t = np.linspace(0, 4 * np.pi, 60)
    return [np.column_stack([t * np.cos(t), t * np.sin(t)])]


def _square_dot_and_tick() -> np.ndarray:
    """stroke-3: a closed square, a one-point dot, then a two-segment tick (three strokes)."""
    return polylines_to_stroke3([np.array([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], float),
                                 np.array([[5, 5]], float), np.array([[12, 4], [14, 8], [20, -2]], float)])


def _tall_zigzag() -> list[np.ndarray]:
    return [np.array([[0, 0], [3, 4], [0, 8], [3, 12], [0, 16], [3, 20]], float)]


GOLDEN = {
    "raster-square-dot-tick.png": (_square_dot_and_tick, {"size": 32, "line_width": 1.5}),
    "raster-spiral.png": (_spiral, {"size": 48, "line_width": 1.0, "antialias": "best"}),
    "raster-zigzag-wide.png": (_tall_zigzag, {"size": (24, 40), "line_width": 3.0, "padding": 1.0}),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_images(name):
    from PIL import Image

    make, fields = GOLDEN[name]
    image = rasterize(make(), **fields)
    ref_path = REFS / name
    if UPDATE_REFS:
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(ref_path)
    assert ref_path.is_file(), f"missing {ref_path}; run with SKETCHTOOL_UPDATE_REFS=1 and review the image"
    ref = np.asarray(Image.open(ref_path), dtype=np.float32) / 255
    assert ref.shape == image.shape
    diff = np.abs(ref - image)
    assert diff.max() <= 4 / 255 and diff.mean() <= 0.5 / 255, f"{name}: max {diff.max():.4f}, mean {diff.mean():.5f}"


def test_output_is_float32_in_unit_range_with_ink_one():
    image = rasterize(_square_dot_and_tick(), size=32)
    assert image.dtype == np.float32 and image.shape == (32, 32)
    assert image.min() == 0.0 and image.max() == 1.0
    assert image[0, 0] == 0.0  # background in the padding


@pytest.mark.parametrize("antialias", ["fast", "best"])
def test_ink_area_is_length_times_width_plus_round_caps(antialias):
    view = (0, 0, 64, 64)  # one drawing unit = one pixel
    for width in (1.0, 2.0, 4.0):
        image = rasterize([np.array([[10.3, 20.6], [50.3, 20.6]])], size=64, line_width=width, view=view,
                          antialias=antialias)
        expected = 40 * width + math.pi * (width / 2) ** 2
        assert image.sum() == pytest.approx(expected, rel=0.02)


def test_coordinates_map_x_to_columns_and_y_down_to_rows():
    image = rasterize([np.array([[10.5, 20.5]])], size=32, line_width=3, view=(0, 0, 32, 32), antialias="best")
    rows, cols = np.indices(image.shape)
    assert (image * cols).sum() / image.sum() == pytest.approx(10.0, abs=0.02)  # pixel i spans [i, i + 1]
    assert (image * rows).sum() / image.sum() == pytest.approx(20.0, abs=0.02)


def test_a_one_point_stroke_is_a_round_dot():
    image = rasterize([np.array([[16.0, 16.0]])], size=32, line_width=6, view=(0, 0, 32, 32), antialias="best")
    assert image.sum() == pytest.approx(math.pi * 9, rel=0.02)


def test_pen_lifts_separate_strokes():
    drawing = polylines_to_stroke3([np.array([[0, 0], [0, 10]], float), np.array([[10, 0], [10, 10]], float)])
    image = rasterize(drawing, size=32, line_width=2)
    assert image[:, 16].max() == 0.0  # nothing joins the two verticals
    joined = drawing.copy()
    joined[1, 2] = 0  # same points, pen kept down: a U-turn through the middle
    assert rasterize(joined, size=32, line_width=2)[:, 16].max() > 0.5


def test_monotone_in_line_width():
    drawing = _square_dot_and_tick()
    widths = [0.5, 1.0, 1.5, 2.0, 3.0, 4.0]
    fixed = [rasterize(drawing, size=48, line_width=w, view=(-2, -4, 22, 20), antialias="best") for w in widths]
    for thin, thick in zip(fixed, fixed[1:]):
        assert (thick >= thin - 1 / 255).all() and thick.sum() > thin.sum()
    fitted = [rasterize(drawing, size=48, line_width=w).sum() for w in widths]
    assert all(b > a for a, b in zip(fitted, fitted[1:]))


def test_bounding_box_is_fitted_with_aspect_kept_and_centred():
    wide = [np.array([[0, 0], [20, 0], [20, 10], [0, 10], [0, 0]], float)]  # 2:1
    size, padding, width = 64, 4.0, 2.0
    image = rasterize(wide, size=size, line_width=width, padding=padding, antialias="best")
    rows, cols = np.flatnonzero(image.max(axis=1) > 0.5), np.flatnonzero(image.max(axis=0) > 0.5)
    ink_w, ink_h = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
    assert ink_w == pytest.approx(size - 2 * padding, abs=1)
    inner_w, inner_h = ink_w - width, ink_h - width  # the outline's centre lines
    assert inner_w / inner_h == pytest.approx(2.0, rel=0.05)
    assert cols[0] + cols[-1] == pytest.approx(size - 1, abs=1) and rows[0] + rows[-1] == pytest.approx(size - 1, abs=1)
    tall = [p[:, ::-1] for p in wide]
    transposed = np.abs(rasterize(tall, size=size, line_width=width, padding=padding, antialias="best") - image.T)
    assert transposed.max() < 0.05 and transposed.mean() < 0.005  # cairo's coverage is not exactly symmetric


def test_fit_transform_maps_bounds_onto_the_canvas_less_padding_and_half_width():
    options = RasterOptions(size=(20, 40), line_width=2.0, padding=3.0)
    scale, offset = fit_transform(np.array([[0.0, 0.0], [10.0, 5.0]]), options)
    assert scale == pytest.approx((20 - 6 - 2) / 5)  # height limits: 12 px for 5 units
    assert offset == pytest.approx([20 - 5 * scale, 10 - 2.5 * scale])


def test_stroke3_polylines_batch_and_uint8_agree_and_repeat_exactly():
    polylines = _spiral()
    single = rasterize(polylines, size=40)
    assert np.array_equal(single, rasterize(polylines_to_stroke3(polylines), size=40))
    assert np.array_equal(single, rasterize(polylines[0], size=40))  # one (n, 2) array is one polyline
    batch = rasterize_batch([polylines, _square_dot_and_tick(), []], size=40)
    assert batch.shape == (3, 40, 40) and batch.dtype == np.float32
    assert np.array_equal(batch[0], single) and not batch[2].any()
    as_bytes = rasterize_batch([polylines], size=40, dtype=np.uint8)
    assert as_bytes.dtype == np.uint8 and np.array_equal(as_bytes[0] / np.float32(255), single)
    assert np.array_equal(rasterize(polylines, size=40), single)


def test_batch_reports_progress_and_spans_chunks():
    drawings = [_square_dot_and_tick()] * 1500
    calls = []
    images = rasterize_batch(drawings, size=16, dtype=np.uint8, on_progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (1500, 1500) and len(calls) == 2
    assert (images == images[0]).all()


def test_per_point_widths_vary_along_the_stroke():
    line = [np.array([[0.0, 16.0], [16.0, 16.0], [32.0, 16.0]])]
    view = (0, 0, 32, 32)
    constant = rasterize(line, size=32, line_width=3, view=view, antialias="best")
    same = rasterize(line, widths=[np.full(3, 3.0)], size=32, line_width=3, view=view, antialias="best")
    assert np.abs(same - constant).mean() < 0.01 and same.sum() == pytest.approx(constant.sum(), rel=0.03)
    taper = rasterize(line, widths=[np.array([1.0, 4.0, 9.0])], size=32, view=view, antialias="best")
    assert taper[:, 4].sum() < taper[:, 16].sum() < taper[:, 28].sum()
    assert taper[:, 28].sum() == pytest.approx(2 * (2 + 2.5 * 12.5 / 16), abs=0.3)  # radius linear along x
    assert taper.max() <= 1.0  # the union has no overlapping seams


@pytest.mark.parametrize("fields, phrase", [
    ({"size": 0}, "size"), ({"size": (10, 2.5)}, "size"), ({"line_width": 0}, "line width"),
    ({"line_width": float("nan")}, "line width"), ({"padding": -1}, "padding"),
    ({"size": 8, "padding": 4}, "no room"), ({"antialias": "subpixel"}, "antialias"), ({"view": (0, 0, 0, 1)}, "view"),
])
def test_bad_options_are_one_clear_error(fields, phrase):
    with pytest.raises(SketchtoolError, match=phrase):
        RasterOptions(**fields)


def test_non_finite_drawings_are_refused():
    with pytest.raises(SketchtoolError, match="NaN"):
        rasterize(np.array([[0.0, 0.0, 0.0], [np.nan, 1.0, 1.0]]))
    with pytest.raises(SketchtoolError, match="widths"):
        rasterize([np.zeros((2, 2))], widths=[np.ones(3)])


def test_every_sheep_rasterises_inside_its_padding(sheep_path):
    from sketchtool.formats.npz import load_dataset

    drawings = [d for split in load_dataset(sheep_path).splits.values() for d in split]
    images = rasterize_batch(drawings, size=32, padding=2.0, line_width=1.0, dtype=np.uint8)
    assert images.shape == (len(drawings), 32, 32)
    assert (images.reshape(len(images), -1).max(axis=1) > 128).all()  # every drawing leaves ink
    assert not images[:, :1].any() and not images[:, -1:].any() and not images[:, :, :1].any()
