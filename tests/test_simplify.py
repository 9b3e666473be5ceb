"""RDP: the distance definition (segment, not line) is pinned on hooked strokes and checked against an
independent pure-Python implementation; properties hold for arbitrary strokes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sketchtool.errors import SketchtoolError
from sketchtool.formats.svg_reader import read_svg
from sketchtool.simplify import rdp, simplify_polylines

KANJI = Path(__file__).parent / "fixtures" / "svg" / "kanjivg"


def _segment_distance(p, a, b) -> float:
    ab, ap = b - a, p - a
    length2 = float(ab @ ab)
    t = 0.0 if length2 == 0 else min(1.0, max(0.0, float(ap @ ab) / length2))
    return float(np.hypot(*(ap - t * ab)))


def _line_distance(p, a, b) -> float:
    ab, ap = b - a, p - a
    length = float(np.hypot(*ab))
    return float(np.hypot(*ap)) if length == 0 else abs(float(ab[0] * ap[1] - ab[1] * ap[0])) / length


def reference_rdp(points: np.ndarray, epsilon: float, distance=_segment_distance) -> np.ndarray:
    """Textbook recursive RDP, independent of the library under test."""
    if len(points) <= 2:
        return points
    d = [distance(p, points[0], points[-1]) for p in points[1:-1]]
    i = int(np.argmax(d)) + 1
    if d[i - 1] <= epsilon:
        return points[[0, -1]]
    return np.concatenate([reference_rdp(points[: i + 1], epsilon, distance)[:-1],
                           reference_rdp(points[i:], epsilon, distance)])


HOOK = np.array([[0.0, 0.0], [10.0, 0.0], [2.0, 1.0]])  # out to the right, then back: a hook


def test_golden_hook_uses_segment_distance():
    # (10, 0) lies 4.47 from the LINE through the end points but 8.06 from the SEGMENT between them
    assert _line_distance(HOOK[1], HOOK[0], HOOK[2]) == pytest.approx(4.472, abs=1e-3)
    assert _segment_distance(HOOK[1], HOOK[0], HOOK[2]) == pytest.approx(8.062, abs=1e-3)
    assert rdp(HOOK, 5.0).tolist() == HOOK.tolist()  # kept: segment distance 8.06 > 5
    assert rdp(HOOK, 8.5).tolist() == [[0, 0], [2, 1]]  # dropped: 8.06 <= 8.5
    assert reference_rdp(HOOK, 5.0, _line_distance).tolist() == [[0, 0], [2, 1]]  # the other definition loses it


def test_collinear_u_turn_survives():
    u_turn = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 0.0]])  # 0 from the line, 5 from the segment
    assert rdp(u_turn, 1.0).tolist() == u_turn.tolist()
    closed = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 0.0]])  # a loop: ends coincide
    assert rdp(closed, 1.0).tolist() == closed.tolist()


def test_matches_the_reference_on_random_walks():
    rng = np.random.default_rng(7)
    for _ in range(100):
        walk = np.cumsum(rng.normal(size=(int(rng.integers(3, 120)), 2)), axis=0)
        epsilon = float(rng.uniform(0.05, 3.0))
        assert np.array_equal(rdp(walk, epsilon), reference_rdp(walk, epsilon))


def test_real_kanji_stroke_is_simplified_within_epsilon():
    strokes = read_svg(KANJI / "0611b.svg", tolerance=0.01).polylines
    simplified = simplify_polylines(strokes, 0.5)
    assert len(simplified) == len(strokes)
    assert sum(map(len, simplified)) < sum(map(len, strokes)) / 4
    for before, after in zip(strokes, simplified):
        assert np.array_equal(after, reference_rdp(before, 0.5))


def test_small_inputs_epsilon_zero_and_bad_epsilon():
    assert rdp(np.zeros((0, 2)), 1.0).shape == (0, 2)
    assert rdp(np.array([[3.0, 4.0]]), 1.0).tolist() == [[3, 4]]
    assert rdp(np.array([[0, 0], [1, 1]]), 1.0).dtype == np.float64
    line = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    assert rdp(line, 0.0).tolist() == line.tolist()  # epsilon 0 keeps every point, even collinear ones
    assert rdp(line, 1e-12).tolist() == [[0, 0], [2, 0]]
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(SketchtoolError, match="epsilon"):
            rdp(line, bad)


def test_dots_stay_dots():
    polylines = [np.array([[1.0, 1.0]]), HOOK, np.array([[5.0, 5.0]])]
    out = simplify_polylines(polylines, 100.0)
    assert [len(p) for p in out] == [1, 2, 1]


_COORD = st.floats(-1000, 1000, allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=100, deadline=None)
@given(points=arrays(np.float64, st.tuples(st.integers(1, 40), st.just(2)), elements=_COORD),
       epsilon=st.floats(0, 50))
def test_output_is_a_subsequence_keeping_ends_within_epsilon(points, epsilon):
    out = rdp(points, epsilon)
    assert out.shape[1] == 2 and 1 <= len(out) <= len(points)
    assert np.array_equal(out[0], points[0]) and np.array_equal(out[-1], points[-1])
    i = 0
    for row in out:  # a subsequence: every output row appears in order in the input
        while not np.array_equal(points[i], row):
            i += 1
        i += 1
    for p in points:  # every dropped point lies within epsilon of the simplified polyline
        if len(out) == 1:
            break
        assert min(_segment_distance(p, a, b) for a, b in zip(out[:-1], out[1:])) <= epsilon * (1 + 1e-9) + 1e-9
