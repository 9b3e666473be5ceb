"""Paper presets, lengths, orientation, margins, fit/scale grids in mm, and the px grid other commands use."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchtool.errors import SketchtoolError
from sketchtool.layout import (
    MM_PER_PX,
    Page,
    PageStroke,
    fit_page_to_paper,
    grid_page,
    layout_on_paper,
    on_paper,
    parse_length,
    parse_paper,
)


def test_presets_are_portrait_unless_landscape():
    assert (parse_paper("A4").width, parse_paper("A4").height) == (210, 297)
    assert (parse_paper("a3", landscape=True).width, parse_paper("a3", landscape=True).height) == (420, 297)
    assert parse_paper("A6").width == 105 and parse_paper("letter").height == pytest.approx(279.4)
    assert parse_paper("Legal").height == pytest.approx(355.6)


def test_custom_sizes_keep_their_orientation_and_units():
    assert (parse_paper("200x150").width, parse_paper("200x150").height) == (200, 150)
    inches = parse_paper("8.5x11in")
    assert (inches.width, inches.height) == pytest.approx((215.9, 279.4))
    assert parse_paper("100x200mm", landscape=True).width == 200
    assert parse_paper("10x20cm").height == 200


def test_lengths_accept_mm_cm_in_px_and_bare_mm():
    assert parse_length("10mm") == 10 and parse_length("1.5cm") == 15 and parse_length("0.5in") == 12.7
    assert parse_length("96px") == pytest.approx(25.4) and parse_length("7") == 7 and parse_length(3.0) == 3
    assert parse_length("72pt") == pytest.approx(25.4) and parse_length("6pc") == pytest.approx(25.4)


@pytest.mark.parametrize("spec, margin, message", [
    ("A9", "10mm", "paper 'A9'"), ("A4", "2 furlongs", "margin '2 furlongs'"), ("A6", "60mm", "leaves no room"),
    ("1.2.3x100", "10mm", "paper '1.2.3x100'"), (".x100", "10mm", "paper '.x100'"),  # were internal errors
    ("100000000000000x100", "10mm", "larger than any plotter"),  # HP-GL past its integer range, exit 0
    ("0x10", "10mm", "paper '0x10': both sides must be more than 0"),  # was "margin 10 mm leaves no room"
    ("A4", "-5mm", "margin '-5mm': must not be negative"),  # was "give a number with mm, ..."
])
def test_bad_paper_or_margin_is_one_clear_error(spec, margin, message):
    with pytest.raises(SketchtoolError, match=message):
        parse_paper(spec, margin=margin)


def _square(size: float, x: float = 0.0, y: float = 0.0) -> list[np.ndarray]:
    return [np.array([[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]])]


def test_fit_fills_the_margins_and_centres_a_single_drawing():
    paper = parse_paper("A4", margin="10mm")
    page, k = layout_on_paper([_square(50, 300, 400)], paper)
    pts = page.strokes[0].points
    assert page.unit == "mm" and (page.width, page.height) == (210, 297)
    assert k == pytest.approx(190 / 50)
    np.testing.assert_allclose(pts.min(axis=0), [10, (297 - 190) / 2])
    np.testing.assert_allclose(pts.max(axis=0), [200, (297 + 190) / 2])


def test_scale_one_is_natural_size_at_96_px_per_inch():
    page, k = layout_on_paper([_square(96)], parse_paper("A4"), scale=1)
    extent = np.ptp(page.strokes[0].points, axis=0)
    np.testing.assert_allclose(extent, [25.4, 25.4])
    assert k == pytest.approx(MM_PER_PX)


def test_a_layout_that_does_not_fit_is_an_error_not_clipped():
    with pytest.raises(SketchtoolError, match=r"needs 254.0x254.0 mm but A4 has 190.0x277.0 mm"):
        layout_on_paper([_square(960)], parse_paper("A4"), scale=1)


def test_grid_keeps_relative_sizes_and_fills_cells_in_reading_order():
    page, _ = layout_on_paper([_square(10), _square(20), _square(20)], parse_paper("A4", landscape=True), cols=2)
    sizes = [np.ptp(s.points, axis=0)[0] for s in page.strokes]
    assert sizes[1] == pytest.approx(2 * sizes[0]) and sizes[2] == pytest.approx(sizes[1])
    centres = [(s.points.min(axis=0) + s.points.max(axis=0)) / 2 for s in page.strokes]
    assert centres[0][0] < centres[1][0] and centres[0][1] == pytest.approx(centres[1][1])
    assert centres[2][1] > centres[0][1]  # second row
    assert [s.drawing for s in page.strokes] == [0, 1, 2]


def test_empty_input_is_refused():
    with pytest.raises(SketchtoolError, match="nothing to plot"):
        layout_on_paper([[], [np.zeros((0, 2))]], parse_paper("A4"))


polyline = st.lists(st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)), min_size=1, max_size=6).map(np.array)


@settings(max_examples=60, deadline=None)
@given(drawings=st.lists(st.lists(polyline, min_size=1, max_size=3), min_size=1, max_size=7),
       paper=st.sampled_from(["A6", "A4", "letter", "300x100mm"]), landscape=st.booleans(),
       margin=st.floats(0, 20), cols=st.none() | st.integers(1, 8))
def test_every_point_lands_inside_the_margins(drawings, paper, landscape, margin, cols):
    sheet = parse_paper(paper, landscape=landscape, margin=margin)
    page, k = layout_on_paper(drawings, sheet, cols=cols)
    pts = np.concatenate([s.points for s in page.strokes])
    assert k > 0 and np.isfinite(pts).all()
    assert (pts >= margin - 1e-6).all()
    assert (pts <= np.array([sheet.width, sheet.height]) - margin + 1e-6).all()


def test_px_grid_fitted_to_paper_keeps_drawings_and_layers():
    px = grid_page([np.array([[0, 0, 0], [10, 10, 1]])] * 2, cols=2, given_points=[1, 1])
    page, k = fit_page_to_paper(px, parse_paper("A4", landscape=True))
    assert [(s.drawing, s.layer) for s in page.strokes] == [(s.drawing, s.layer) for s in px.strokes]
    assert k == pytest.approx(min(277 / px.width, 190 / px.height))
    assert on_paper(page) is page  # already physical
    assert on_paper(px).width == 297  # a wide px grid goes landscape


def test_grid_page_keeps_its_px_behaviour():
    page = grid_page([np.array([[0, 0, 0], [10, 0, 1]]), np.array([[0, 0, 0], [0, 5, 1]])], cols=2, cell=100)
    assert (page.width, page.height, page.unit) == (200, 100, "px")
    assert isinstance(page, Page) and all(isinstance(s, PageStroke) for s in page.strokes)
    np.testing.assert_allclose(page.strokes[0].points[:, 1], [50, 50])


def test_hundreds_of_drawings_shrink_the_gaps_instead_of_the_page():
    drawings = [_square(10 + i % 7) for i in range(900)]  # 30x30 cells: 29 gaps of 5 mm would exceed A6
    paper = parse_paper("A6")
    page, k = layout_on_paper(drawings, paper)
    pts = np.concatenate([s.points for s in page.strokes])
    assert k > 0 and (pts >= 10 - 1e-9).all() and (pts <= np.array([95, 138]) + 1e-9).all()
    widths = [np.ptp(s.points[:, 0]) for s in page.strokes]
    assert min(widths) > 1.0  # drawings still get most of the paper


def test_automatic_grid_takes_the_papers_shape():
    drawings = [_square(10) for _ in range(12)]
    tall = parse_paper("100x300mm", margin=0)
    page, k = layout_on_paper(drawings, tall)
    columns = {round(float(s.points[:, 0].min()), 6) for s in page.strokes}
    assert len(columns) == 2  # 2 x 6 cells of 50 mm fill a 100x300 sheet; the square 4 x 3 grid would give 25 mm
    explicit = [layout_on_paper(drawings, tall, cols=c)[1] for c in range(1, 13)]
    assert k == pytest.approx(max(explicit))


def test_automatic_grid_draws_as_large_as_any_column_count(sheep_path):
    from sketchtool.plot import read_plot_inputs

    sheep = read_plot_inputs([f"{sheep_path}:test"])
    paper = parse_paper("A4")
    page, k = layout_on_paper(sheep, paper)
    assert k >= max(layout_on_paper(sheep, paper, cols=c)[1] for c in range(1, 40)) * (1 - 1e-9)
    pts = np.concatenate([s.points for s in page.strokes])
    assert np.prod(np.ptp(pts, axis=0)) / np.prod(paper.content) > 0.9  # the about-square grid used 31.5%


@pytest.mark.parametrize("scale", [1e308, float("inf"), float("nan"), -1.0])
def test_absurd_scales_are_one_error_and_no_numpy_warning(scale):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SketchtoolError, match="--scale|larger than any paper|more than any paper"):
            layout_on_paper([_square(96)], parse_paper("A4"), scale=scale)


def test_coordinates_too_large_to_lay_out_are_refused_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SketchtoolError, match="not finite or too large"):
            layout_on_paper([[np.array([[-1e308, 0.0], [1e308, 1.0]])]], parse_paper("A4"))
        with pytest.raises(SketchtoolError, match="not finite or too large"):
            layout_on_paper([[np.array([[0.0, 0.0], [np.nan, 1.0]])]], parse_paper("A4"))


def _grid_extents(page: Page) -> dict[int, tuple[float, float]]:
    """Each drawing's (width, height) on the page."""
    out = {}
    for i in range(page.num_drawings):
        pts = np.concatenate([s.points for s in page.strokes if s.drawing == i])
        out[i] = tuple(np.ptp(pts, axis=0))
    return out


def test_grid_fits_each_drawing_to_its_cell_by_default():
    small, wide, tall = (np.array([[0, 0, 0], [w, h, 1]]) for w, h in ((3, 2), (40, 10), (5, 90)))
    page = grid_page([small, wide, tall], cols=3, cell=100, padding=0.1)
    extents = _grid_extents(page)
    assert [max(extents[i]) for i in range(3)] == pytest.approx([80, 80, 80])  # longer side = cell less padding
    assert extents[1][0] / extents[1][1] == pytest.approx(4)  # aspect kept
    for i in range(3):  # centred in cell i
        pts = np.concatenate([s.points for s in page.strokes if s.drawing == i])
        assert (pts.min(axis=0) + pts.max(axis=0)) / 2 == pytest.approx([100 * i + 50, 50])


def test_common_scale_keeps_relative_sizes_for_comparisons():
    small, large = np.array([[0, 0, 0], [10, 0, 1]]), np.array([[0, 0, 0], [0, 40, 1]])
    extents = _grid_extents(grid_page([small, large], cols=2, cell=100, padding=0.1, common_scale=True))
    assert extents[1][1] == pytest.approx(80) and extents[0][0] == pytest.approx(20)


def test_a_lone_dot_is_drawn_in_its_cell_either_way():
    dot = np.array([[5.0, 5.0, 1.0]])
    for common in (False, True):
        page = grid_page([dot, np.array([[0, 0, 0], [0, 40, 1]])], cols=2, cell=100, common_scale=common)
        np.testing.assert_allclose(page.strokes[0].points, [[50, 50]])


def test_fitted_sheep_fill_their_cells(sheep_path):
    """The point of fitting: on real sheep, each drawing's box covers most of its cell; at one common scale
    (set by the largest sheep) the typical one is much smaller."""
    from sketchtool.formats.npz import load_dataset

    sheep = load_dataset(sheep_path).splits["test"][:50]
    fill = {}
    for common in (False, True):
        page = grid_page(sheep, cols=10, cell=128, common_scale=common)
        fill[common] = np.mean([w * h / 128**2 for w, h in _grid_extents(page).values()])
    assert fill[False] > 0.4 and fill[False] > 2 * fill[True]
