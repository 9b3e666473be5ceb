"""Pen travel: ordering keeps every stroke's ink, shortens pen-up travel, merges touching ends, drops tiny moves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchtool.layout import Page, PageStroke, layout_on_paper, parse_paper
from sketchtool.strokes import stroke3_to_polylines
from sketchtool.travel import merge_lines, optimize_page, order_lines, travel_lengths


def test_travel_lengths_count_ink_and_pen_up_moves_from_the_start():
    lines = [np.array([[0, 0], [3, 4]]), np.array([[3, 8], [3, 9]])]
    assert travel_lengths(lines) == (6.0, 4.0)
    assert travel_lengths(lines, start=(0, -2)) == (6.0, 6.0)
    assert travel_lengths([]) == (0.0, 0.0)


def test_greedy_reverses_a_stroke_whose_far_end_is_nearer():
    lines = [np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([[30.0, 0.0], [11.0, 0.0]])]
    assert order_lines(lines, start=(0, 0)) == [(0, False), (1, True)]


def test_shuffled_collinear_segments_are_drawn_in_one_sweep():
    rng = np.random.default_rng(0)
    segments = [np.array([[x, 0.0], [x + 1, 0.0]]) for x in range(0, 40, 2)]
    shuffled = [segments[i][:: rng.choice([1, -1])] for i in rng.permutation(len(segments))]
    plan = order_lines(shuffled, start=(0, 0))
    oriented = [shuffled[i][::-1] if flip else shuffled[i] for i, flip in plan]
    assert travel_lengths(oriented, (0, 0))[1] == pytest.approx(19.0)  # the optimum: 1 mm between neighbours
    assert travel_lengths(shuffled, (0, 0))[1] > 100


def test_two_opt_repairs_a_greedy_detour():
    # dots on a line: greedy zig-zags 0 -> 1 -> -2 -> 4.5 -> -9 (24); 2-opt finds 0 -> 1 -> 4.5 -> -2 -> -9 (18)
    lines = [np.array([[x, 0.0]]) for x in (1.0, -2.0, 4.5, -9.0)]
    greedy = order_lines(lines, two_opt=False)
    better = order_lines(lines, two_opt=True)

    def up(plan):
        return travel_lengths([lines[i][::-1] if f else lines[i] for i, f in plan], (0, 0))[1]

    assert (up(greedy), up(better)) == (24.0, 18.0)


def test_touching_lines_merge_and_gaps_stay_lifts():
    lines = [np.array([[0.0, 0.0], [5.0, 0.0]]), np.array([[5.05, 0.0], [9.0, 0.0]]), np.array([[9.5, 0.0], [12.0, 0.0]])]
    merged = merge_lines(lines, tolerance=0.1)
    assert len(merged) == 2
    np.testing.assert_allclose(merged[0], [[0, 0], [5, 0], [9, 0]])  # 5.05 is within 0.1 of 5: dropped


def test_short_moves_are_dropped_but_both_ends_stay_exact():
    line = np.array([[0.0, 0.0], [0.02, 0.0], [0.04, 0.0], [5.0, 0.0], [5.03, 0.01], [5.05, 0.0]])
    (kept,) = merge_lines([line], tolerance=0.1)
    np.testing.assert_allclose(kept, [[0, 0], [5.05, 0.0]])


def test_layers_are_drawn_one_after_another():
    strokes = [PageStroke(np.array([[i, 0.0], [i, 1.0]]), i, 0, "given" if i % 2 else "generated") for i in range(6)]
    page, _ = optimize_page(Page(10, 10, "mm", strokes))
    assert [s.layer for s in page.strokes] == ["generated"] * 3 + ["given"] * 3


def _ink(strokes) -> set:
    """Segments (undirected, zero-length ones left out) and the dots no segment covers: what ends up on paper."""
    segments, dots = set(), set()
    for p in strokes:
        p = [tuple(float(v) for v in q) for q in np.asarray(p)]
        own = {tuple(sorted(ab)) for ab in zip(p[:-1], p[1:]) if ab[0] != ab[1]}
        segments |= own
        dots |= set() if own else {p[0]}
    return segments | (dots - {end for seg in segments for end in seg})


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=5), min_size=1, max_size=25))
def test_optimisation_keeps_exactly_the_same_ink(raw):
    """With tolerance 0 the optimised page draws the same segments and dots (merging only joins exact ends,
    repeated points collapse)."""
    strokes = [PageStroke(np.array(p, dtype=float), 0, i) for i, p in enumerate(raw)]
    page, report = optimize_page(Page(60, 60, "mm", strokes), tolerance=0.0)
    assert _ink(s.points for s in page.strokes) == _ink(s.points for s in strokes)
    assert report.pen_down_after == pytest.approx(report.pen_down_before)
    assert report.strokes_after <= report.strokes_before


def test_real_sheep_grid_travel_drops_by_more_than_half(sheep_path):
    from sketchtool.formats import read_drawings

    drawings = [stroke3_to_polylines(d) for d in read_drawings(f"{sheep_path}:test")[:50]]
    page, _ = layout_on_paper(drawings, parse_paper("A3", landscape=True))
    optimised, report = optimize_page(page, start=(0.0, page.height))
    assert report.pen_up_after < 0.5 * report.pen_up_before
    assert report.pen_down_after == pytest.approx(report.pen_down_before, rel=0.01)
    assert len({s.drawing for s in optimised.strokes}) == 50
