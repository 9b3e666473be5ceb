"""The data model: polylines <-> stroke-3 <-> stroke-5, normalisation and the scale factor, checked by property."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sketchtool.errors import SketchtoolError
from sketchtool.strokes import (
    CHUNK_ROWS,
    PackedDrawings,
    as_stroke3,
    augment_strokes,
    normalization_transform,
    normalize_polylines,
    num_strokes,
    polylines_bounds,
    polylines_to_stroke3,
    random_scale,
    scale_factor,
    stroke3_bounds,
    stroke3_to_polylines,
    stroke3_to_stroke5,
    stroke5_to_stroke3,
    stroke_counts,
)

coordinate = st.integers(min_value=-1000, max_value=1000)
polyline = arrays(np.int64, st.tuples(st.integers(1, 12), st.just(2)), elements=coordinate)
drawing = st.lists(polyline, min_size=1, max_size=8)


def _stroke3(polylines) -> np.ndarray:
    return polylines_to_stroke3(polylines)


@given(drawing)
def test_polylines_survive_a_stroke3_round_trip(polylines):
    back = stroke3_to_polylines(_stroke3(polylines))
    assert len(back) == len(polylines)
    for a, b in zip(polylines, back):
        np.testing.assert_array_equal(a, b)


@given(drawing)
def test_stroke3_lifts_the_pen_exactly_at_each_stroke_end(polylines):
    s3 = _stroke3(polylines)
    assert len(s3) == sum(len(p) for p in polylines)
    ends = np.cumsum([len(p) for p in polylines]) - 1
    np.testing.assert_array_equal(np.flatnonzero(s3[:, 2]), ends)
    assert num_strokes(s3) == len(polylines)


@given(drawing, st.tuples(st.floats(-50, 50), st.floats(-50, 50)))
def test_stroke3_to_polylines_starts_from_the_given_origin(polylines, origin):
    shifted = stroke3_to_polylines(_stroke3(polylines), origin=origin)
    np.testing.assert_allclose(shifted[0][0], polylines[0][0] + np.array(origin))


@given(drawing, st.integers(0, 5))
def test_stroke5_round_trip_keeps_stroke3(polylines, padding):
    s3 = _stroke3(polylines)
    s5 = stroke3_to_stroke5(s3, len(s3) + padding)
    assert s5.shape == (len(s3) + padding, 5)
    np.testing.assert_array_equal(s5[:, 2:].sum(axis=1), 1)  # exactly one pen state per row
    np.testing.assert_array_equal(s5[len(s3):, 4], 1)
    np.testing.assert_allclose(stroke5_to_stroke3(s5), s3)


def test_stroke5_refuses_a_drawing_longer_than_max_len():
    with pytest.raises(ValueError, match="more than max_len"):
        stroke3_to_stroke5(np.zeros((5, 3)), 4)


def test_stroke5_to_stroke3_always_lifts_the_pen_at_the_end():
    s5 = np.array([[1, 1, 1, 0, 0], [2, 2, 1, 0, 0], [0, 0, 0, 0, 1]], dtype=np.float32)
    np.testing.assert_array_equal(stroke5_to_stroke3(s5), [[1, 1, 0], [2, 2, 1]])


def test_a_dot_is_a_one_point_stroke_and_survives():
    s3 = _stroke3([np.array([[3, 4]]), np.array([[0, 0], [5, 0]])])
    np.testing.assert_array_equal(s3, [[3, 4, 1], [-3, -4, 0], [5, 0, 1]])
    assert [len(p) for p in stroke3_to_polylines(s3)] == [1, 2]


def test_a_trailing_stroke_without_pen_lift_is_kept():
    s3 = np.array([[1, 1, 1], [2, 0, 0], [2, 0, 0]])
    assert [len(p) for p in stroke3_to_polylines(s3)] == [1, 2]
    assert num_strokes(s3) == 2


def test_empty_inputs_give_empty_outputs():
    assert polylines_to_stroke3([]).shape == (0, 3)
    assert stroke3_to_polylines(np.zeros((0, 3))) == []
    assert num_strokes(np.zeros((0, 3))) == 0
    with pytest.raises(ValueError):
        polylines_bounds([])


@given(drawing, st.floats(1, 1000))
def test_normalisation_puts_the_longer_side_at_size_and_the_top_left_at_the_origin(polylines, size):
    x0, y0, x1, y1 = polylines_bounds(normalize_polylines(polylines, size))
    assert x0 == pytest.approx(0, abs=1e-9) and y0 == pytest.approx(0, abs=1e-9)
    extent = max(x1, y1)
    src = polylines_bounds(polylines)
    if max(src[2] - src[0], src[3] - src[1]) > 0:
        assert extent == pytest.approx(size)
    else:
        assert extent == 0  # a single dot stays a dot at the origin


@given(drawing, st.floats(1, 1000))
def test_normalization_transform_maps_back_to_the_source(polylines, size):
    origin, scale = normalization_transform(polylines, size)
    back = [p / scale + origin for p in normalize_polylines(polylines, size)]
    for a, b in zip(polylines, back):
        np.testing.assert_allclose(a, b, atol=1e-6 * max(1.0, np.abs(a).max()))


@given(drawing)
def test_stroke3_bounds_match_polyline_bounds(polylines):
    assert stroke3_bounds(_stroke3(polylines)) == pytest.approx(polylines_bounds(polylines))


@given(st.lists(drawing, min_size=1, max_size=4), st.floats(0.1, 100))
def test_scale_factor_scales_linearly_and_is_the_offset_std(drawings, k):
    s3s = [_stroke3(d) for d in drawings]
    offsets = np.concatenate([s[:, :2].ravel() for s in s3s])
    expected = offsets.std() if offsets.std() > 0 else 1.0
    assert scale_factor(s3s) == pytest.approx(expected)
    if offsets.std() > 0:
        scaled = [np.column_stack([s[:, :2] * k, s[:, 2]]) for s in s3s]
        assert scale_factor(scaled) == pytest.approx(k * expected, rel=1e-6)


def test_scale_factor_of_the_real_sheep_set_is_stable(sheep_path):
    from sketchtool.formats.npz import load_dataset

    train = load_dataset(sheep_path).splits["train"]
    factor = scale_factor(train)
    normalised = [np.column_stack([d[:, :2] / factor, d[:, 2]]) for d in train]
    assert 5 < factor < 100
    assert scale_factor(normalised) == pytest.approx(1.0)


def _numpy_scale_factor(drawings) -> float:
    """The scale factor as one numpy call over every offset: what `scale_factor` must equal to the bit."""
    return float(np.concatenate([np.asarray(d, dtype=np.float64)[:, :2].ravel() for d in drawings if len(d)]).std())


def _many_drawings(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    drawings = []
    for _ in range(count):
        d = rng.normal(0, 40, (int(rng.integers(0, 200)), 3)).astype(rng.choice([np.float32, np.float64, np.int16]))
        d[:, 2] = rng.random(len(d)) < 0.1
        drawings.append(d)
    return drawings


def test_scale_factor_equals_numpys_std_to_the_bit_beyond_one_chunk(sheep_path):
    from sketchtool.formats.npz import load_dataset

    sheep = load_dataset(sheep_path).splits
    mixed = _many_drawings(3000)  # ~300,000 rows of mixed dtypes and empty drawings: several chunks
    assert sum(map(len, mixed)) > 4 * CHUNK_ROWS
    for drawings in (sheep["train"], sheep["valid"], mixed, mixed[:7]):
        expected = _numpy_scale_factor(drawings)
        assert scale_factor(drawings) == expected
        assert scale_factor(PackedDrawings.pack(drawings, np.float64)) == expected


def test_scale_factor_of_a_large_set_never_copies_every_offset():
    """A QuickDraw-size set made float64 copies of every offset three times over (48 bytes a point)."""
    import tracemalloc

    rows = 2_000_000
    drawings = list(np.random.default_rng(0).integers(-50, 50, (rows, 3), dtype=np.int16).reshape(-1, 100, 3))
    tracemalloc.start()
    try:
        scale_factor(drawings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < rows * 2 * 8 / 4  # a quarter of one float64 copy of the offsets


def test_stroke_counts_are_num_strokes_of_each_drawing(sheep_path):
    from sketchtool.formats.npz import load_dataset

    edge = [np.zeros((0, 3)), np.array([[1, 2, 0]]), np.array([[1, 2, 1]]), np.array([[1, 1, 1], [2, 2, 0]])]
    for drawings in (load_dataset(sheep_path).splits["test"], edge, _many_drawings(1500)):
        expected = [num_strokes(d) for d in drawings]
        assert stroke_counts(drawings).tolist() == expected
        assert stroke_counts(PackedDrawings.pack(drawings, np.float32)).tolist() == expected
    assert stroke_counts([]).tolist() == []


def test_packed_drawings_hold_the_same_drawings_as_views():
    drawings = _many_drawings(2000, seed=1)
    packed = PackedDrawings.pack(drawings, np.float32)
    assert len(packed) == len(drawings) and packed.points.dtype == np.float32
    for i in (0, 1, 999, -1, np.int64(5)):
        np.testing.assert_array_equal(packed[i], np.array(drawings[i], dtype=np.float32).reshape(-1, 3))
        assert packed[i].base is not None  # a view into the one array
    part = packed[10:20]
    assert isinstance(part, PackedDrawings) and [len(d) for d in part] == [len(d) for d in drawings[10:20]]
    assert [len(d) for d in packed] == [len(d) for d in drawings]
    with pytest.raises(IndexError):
        packed[len(drawings)]


@settings(max_examples=50)
@given(drawing, st.floats(0, 0.5), st.integers(0, 2**32 - 1))
def test_random_scale_keeps_pen_states_and_stays_within_the_factor(polylines, factor, seed):
    s3 = _stroke3(polylines).astype(np.float64)
    out = random_scale(s3, factor, np.random.default_rng(seed))
    np.testing.assert_array_equal(out[:, 2], s3[:, 2])
    nonzero = s3[:, :2] != 0
    ratios = out[:, :2][nonzero] / s3[:, :2][nonzero]
    assert np.all((ratios >= 1 - factor - 1e-9) & (ratios <= 1 + factor + 1e-9))


@settings(max_examples=50)
@given(drawing, st.floats(0, 1), st.integers(0, 2**32 - 1))
def test_augment_strokes_keeps_the_end_point_of_every_stroke(polylines, prob, seed):
    s3 = _stroke3(polylines).astype(np.float64)
    out = augment_strokes(s3, prob, np.random.default_rng(seed))
    assert len(out) <= len(s3)
    # dropping a point merges its offset into the next one, so every stroke still ends where it did
    original_ends = [p[-1] for p in stroke3_to_polylines(s3)]
    augmented_ends = [p[-1] for p in stroke3_to_polylines(out)]
    np.testing.assert_allclose(augmented_ends, original_ends)


def test_one_polyline_array_is_refused_rather_than_read_as_dots():
    line = np.array([[0, 0], [40, -10], [80, 0]], dtype=float)  # was three one-point strokes
    with pytest.raises(SketchtoolError, match="give \\[polyline\\]"):
        polylines_to_stroke3(line)
    np.testing.assert_array_equal(polylines_to_stroke3([line]), [[0, 0, 0], [40, -10, 0], [40, 10, 1]])


def test_a_list_of_drawings_given_as_one_is_a_clear_error():
    drawings = [np.zeros((3, 3)), np.zeros((5, 3))]  # was a numpy ValueError about an inhomogeneous shape
    with pytest.raises(SketchtoolError, match="a list of 2 arrays of different lengths"):
        stroke3_to_polylines(drawings)
    with pytest.raises(SketchtoolError, match="got shape \\(4, 2\\); a polyline is"):
        as_stroke3(np.zeros((4, 2)))
    with pytest.raises(SketchtoolError, match="got shape \\(3,\\)"):
        as_stroke3(np.zeros(3))  # one row of a drawing, not a drawing
