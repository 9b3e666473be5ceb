"""read_svg on real icon/kanji files, hand-written constructs and hostile inputs (tests/fixtures/svg/)."""

from __future__ import annotations

import gzip
import math
import re
import sys
import time
import tracemalloc
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchtool.errors import SketchtoolError
from sketchtool.formats.svg_reader import REASONS, SvgDrawing, read_svg

SVG_DIR = Path(__file__).parent / "fixtures" / "svg"
KANJI = sorted((SVG_DIR / "kanjivg").glob("*.svg"))
SVG_NS = "{http://www.w3.org/2000/svg}"


def read(relative: str, **kwargs) -> SvgDrawing:
    return read_svg(SVG_DIR / relative, **kwargs)


def starts(drawing: SvgDrawing) -> list[tuple[float, float]]:
    return [tuple(np.round(p[0], 6)) for p in drawing.polylines]


def assert_closed_circle(points: np.ndarray, centre, radius: float, tolerance: float = 1e-6) -> None:
    assert np.allclose(points[0], points[-1]), "circles are closed loops"
    assert np.allclose(np.hypot(*(points - centre).T), radius, atol=tolerance)
    assert len(points) >= 9


# --- real files ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", KANJI, ids=lambda p: p.stem)
def test_kanjivg_strokes_are_the_paths_in_document_order(path):
    tree = ET.parse(path)  # the fixtures are trusted; an independent reading of what the file says
    paths = [el.get("d") for el in tree.iter(f"{SVG_NS}path")]
    first_moves = [tuple(float(v) for v in re.match(r"M\s*([-\d.]+)[\s,]*([-\d.]+)", d).groups()) for d in paths]
    drawing = read_svg(path)
    assert len(drawing.polylines) == len(paths)
    assert starts(drawing) == first_moves
    assert drawing.text_elements == len(list(tree.iter(f"{SVG_NS}text")))  # KanjiVG's stroke numbers
    assert drawing.viewbox == (0.0, 0.0, 109.0, 109.0)
    assert (drawing.width, drawing.height) == ("109", "109")
    assert all(p.dtype == np.float64 and p.ndim == 2 and p.shape[1] == 2 for p in drawing.polylines)


def _cubic(p0, p1, p2, p3, t):
    t = t[:, None]
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3


def _distance_to_polyline(points: np.ndarray, polyline: np.ndarray) -> np.ndarray:
    a, b = polyline[:-1], polyline[1:]
    ab = b - a
    t = np.clip(((points[:, None] - a) * ab).sum(-1) / np.maximum((ab**2).sum(-1), 1e-300), 0, 1)
    return np.hypot(*(points[:, None] - (a + t[..., None] * ab)).transpose(2, 0, 1)).min(axis=1)


@pytest.mark.parametrize("tolerance", [None, 0.5, 0.01])
def test_kanji_curve_is_flattened_within_the_tolerance(tolerance):
    # 一: M11,54.25 c3.19,0.62,6.25,0.75,9.73,0.5 c20.64-1.5,50.39-5.12,68.58-5.24 c3.6-0.02,5.77,0.24,7.57,0.49
    relative = [(3.19, 0.62, 6.25, 0.75, 9.73, 0.5), (20.64, -1.5, 50.39, -5.12, 68.58, -5.24),
                (3.6, -0.02, 5.77, 0.24, 7.57, 0.49)]
    current, truth = np.array([11.0, 54.25]), []
    for c1x, c1y, c2x, c2y, x, y in relative:
        controls = [current, current + (c1x, c1y), current + (c2x, c2y), current + (x, y)]
        truth.append(_cubic(*controls, np.linspace(0, 1, 400)))
        current = controls[-1]
    (stroke,) = read("kanjivg/04e00.svg", tolerance=tolerance).polylines
    assert np.allclose(stroke[0], (11, 54.25)) and np.allclose(stroke[-1], (96.88, 50.0))
    limit = tolerance if tolerance is not None else (96.88 - 11) / 1000
    assert _distance_to_polyline(np.concatenate(truth), stroke).max() <= limit * 1.01
    if tolerance == 0.5:
        assert len(stroke) < 15


def test_tabler_bounding_box_path_is_dropped_and_dot_kept():
    circle, dot, hook = read("tabler/info-circle.svg").polylines  # the stroke="none" fill="none" box is gone
    assert_closed_circle(circle, (12, 12), 9)
    assert dot.tolist() == [[12.0, 9.0]]  # "M12 9h.01" is a dot
    assert hook.tolist() == [[11, 12], [12, 12], [12, 16], [13, 16]]


def test_filled_icon_keeps_its_outline_and_drops_the_box():
    (outline,) = read("tabler/star-filled.svg").polylines
    assert np.allclose(outline[0], (8.243, 7.34)) and np.allclose(outline[-1], outline[0])


def test_feather_info_circle_line_and_dot():
    circle, line, dot = read("feather/info.svg").polylines
    assert_closed_circle(circle, (12, 12), 10)
    assert line.tolist() == [[12, 16], [12, 12]]
    assert dot.tolist() == [[12, 8]]  # <line x2="12.01"> is a dot


def test_lucide_circles_are_closed_loops():
    small, large = read("lucide/circle-dot.svg").polylines
    assert_closed_circle(small, (12, 12), 1)
    assert_closed_circle(large, (12, 12), 10)
    for circle, x in zip(read("lucide/ellipsis.svg").polylines, (12, 19, 5)):
        assert_closed_circle(circle, (x, 12), 1)


def test_lucide_lines_and_rounded_square_are_exact():
    assert [p.tolist() for p in read("lucide/x.svg").polylines] == [[[18, 6], [6, 18]], [[6, 6], [18, 18]]]
    (square,) = read("lucide/square.svg").polylines
    assert np.allclose(square.min(axis=0), 3) and np.allclose(square.max(axis=0), 21)
    assert np.allclose(square[0], square[-1])
    assert not any(np.allclose(corner, p) for corner in [(3, 3), (21, 3), (21, 21), (3, 21)] for p in square)


def test_feather_polygon_is_closed_and_circles_kept():
    (star,) = read("feather/star.svg").polylines
    assert len(star) == 11 and np.allclose(star[0], star[-1]) and np.allclose(star[0], (12, 2))
    for circle, x in zip(read("feather/more-horizontal.svg").polylines, (12, 19, 5)):
        assert_closed_circle(circle, (x, 12), 1)


# --- hand-written constructs ---------------------------------------------------------------------------------


def test_basic_shapes_exact():
    line, polyline, polygon, rect, rounded, circle, ellipse = read("constructs/basic_shapes.svg").polylines
    assert line.tolist() == [[10, 10], [40, 20]]
    assert polyline.tolist() == [[10, 30], [20, 40], [30, 30], [40, 40]]
    assert polygon.tolist() == [[60, 10], [80, 10], [70, 30], [60, 10]]
    assert rect.tolist() == [[100, 10], [130, 10], [130, 30], [100, 30], [100, 10]]
    assert np.allclose(rounded.min(axis=0), (140, 10)) and np.allclose(rounded.max(axis=0), (170, 30))
    assert [145, 10] in rounded.tolist() and [170, 14] in rounded.tolist()  # rx=5, ry=4 corners
    assert_closed_circle(circle, (30, 70), 20)
    assert np.allclose((((ellipse - (100, 70)) / (30, 10)) ** 2).sum(axis=1), 1)


def test_every_path_command_absolute_equals_relative():
    lines, lines2, cubic, cubic_rel, quad, quad_rel, arc, arc_rel, implicit = read(
        "constructs/path_commands.svg").polylines
    assert lines.tolist() == [[10, 10], [20, 10], [30, 10], [30, 20], [10, 10]]
    assert lines2.tolist() == [[40, 10], [50, 10], [60, 10], [60, 20], [40, 10]]  # after z, m is from the start
    for absolute, relative in [(cubic, cubic_rel), (quad, quad_rel), (arc, arc_rel)]:
        assert np.allclose(absolute, relative)
    assert np.allclose(cubic[[0, -1]], [(10, 50), (50, 50)]) and cubic[:, 1].min() < 43 and cubic[:, 1].max() > 57
    assert np.allclose(quad[[0, -1]], [(10, 80), (50, 80)]) and quad[:, 1].min() < 76 and quad[:, 1].max() > 84
    assert np.allclose(np.hypot(*(arc - (70, 80)).T), 10)
    assert np.isclose(arc[:, 1].min(), 70, atol=0.1)  # the top of the arc, within the flattening tolerance
    assert implicit.tolist() == [[60, 40], [70, 40], [70, 50]]


def test_nested_transforms_compose():
    got = [p.tolist() for p in read("constructs/nested_transforms.svg").polylines]
    assert np.allclose(got, [[[10, 20], [20, 20]], [[10, 20], [10, 30]], [[40, 20], [45, 20]], [[60, 20], [65, 25]]])


def test_use_symbol_and_defs_are_instantiated_in_document_order():
    got = [p.tolist() for p in read("constructs/use_symbol_defs.svg").polylines]
    assert got == [[[1, 1], [2, 2]], [[20, 30], [30, 30]], [[50, 50], [50, 60]], [[70, 30], [80, 30]]]


def test_use_of_another_file_or_a_missing_id_is_skipped_and_the_rest_drawn():
    drawing = read("constructs/use_outside.svg")
    assert [p.tolist() for p in drawing.polylines] == [[[1, 1], [2, 2]], [[7, 5], [8, 6]]]
    assert drawing.warnings == [f"<use> of {href!r} not drawn: not an element of this file{times}" for href, times in
                                [("file:///etc/passwd#x", ""), ("http://example.com/a.svg#x", ""), ("other.svg#p", ""),
                                 ("#nowhere", " (2 times)"), ("#gone", "")]]
    assert read("constructs/use_symbol_defs.svg").warnings == []


def test_nothing_left_but_unresolved_uses_is_empty_and_says_why():
    with pytest.raises(SketchtoolError, match=r"nothing visible is drawn .*; <use> of 'file:///etc/passwd#x' not "
                                              r"drawn") as info:
        read("hostile/use_outside_only.svg")
    assert info.value.reason == "empty"


def test_many_unresolved_uses_are_dropped_in_one_pass_and_listed_briefly():
    uses = "".join(f'<use href="http://example.com/{i}.svg#x"/>' for i in range(50_000))
    svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" stroke="black"><path d="M1 1 L2 2"/>'
    drawing = read_svg(f"{svg}<g>{uses}</g></svg>".encode())
    assert len(drawing.polylines) == 1
    assert len(drawing.warnings) == 11 and drawing.warnings[-1] == "49990 more unresolved <use> references not drawn"


def test_hidden_elements_are_skipped():
    # display none (attribute, style, class), visibility hidden unless overridden, no paint, zero stroke width,
    # transparent stroke, a non-invertible transform, and everything inside defs/clipPath/mask/marker/pattern/symbol
    kept = [p[0, 1] for p in read("constructs/hidden.svg").polylines]
    assert kept == [1, 7, 9, 19]


@pytest.mark.parametrize("hidden", ['opacity="0"', 'style="opacity:0"', 'opacity="0%"'])
def test_shapes_at_opacity_zero_are_not_drawn(hidden):
    """stroke-opacity 0 was skipped and opacity 0 kept, though a browser draws neither."""
    head = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" stroke="black">'
    drawing = read_svg(f'{head}<path d="M1 1 L2 2" {hidden}/><g {hidden}><path d="M1 3 L2 3"/></g>'
                       '<path d="M1 5 L2 5" opacity="0.3"/><path d="M1 7 L2 7" opacity="junk"/></svg>'.encode())
    assert [p[0, 1] for p in drawing.polylines] == [5, 7]


def test_css_selectors_that_decide_visibility():
    # a, b: "A, B" lists; c: #id; e: tag.class; f: !important; 8: one of several classes; 10: a class rule beats
    # the presentation attribute stroke="none"; 11: !important in a style attribute
    assert [p[0, 1] for p in read("constructs/css.svg").polylines] == [10, 12]


def test_style_sheet_after_the_elements_still_applies():
    assert [p.tolist() for p in read("constructs/style_after.svg").polylines] == [[[2, 2], [9, 2]]]


def test_text_is_ignored_and_counted():
    drawing = read("constructs/text.svg")
    assert drawing.text_elements == 2  # the tspan is not a second text, the display:none one is not drawn
    assert [p.tolist() for p in drawing.polylines] == [[[10, 50], [90, 50]]]


def test_coordinates_are_viewbox_user_units():
    drawing = read("constructs/viewbox_units.svg")
    assert drawing.viewbox == (-10.0, 20.0, 200.0, 100.0)
    assert (drawing.width, drawing.height) == ("100mm", "50mm")
    assert drawing.polylines[0].tolist() == [[0, 30], [100, 30]]


def test_without_viewbox_the_viewport_is_width_and_height():
    drawing = read("constructs/no_viewbox.svg")
    assert drawing.viewbox == (0.0, 0.0, 120.0, 80.0)
    assert drawing.polylines[0].tolist() == [[10, 10], [50, 40]]


def test_zero_length_strokes_are_dots_and_bare_moveto_draws_nothing():
    got = [p.tolist() for p in read("constructs/dots.svg").polylines]
    assert got == [[[10, 10]], [[20, 20]], [[30, 30]], [[40, 40]], [[60, 60], [90, 90]]]


def test_svgz_bytes_and_path_sources_agree():
    plain = read("constructs/basic_shapes.svg")
    for other in (read("constructs/gzipped.svgz"), read_svg((SVG_DIR / "constructs/basic_shapes.svg").read_bytes())):
        assert all(np.array_equal(a, b) for a, b in zip(plain.polylines, other.polylines))
        assert len(plain.polylines) == len(other.polylines) and plain.viewbox == other.viewbox


def test_simple_internal_entities_like_illustrator_are_accepted():
    assert read("constructs/illustrator_entities.svg").polylines[0].tolist() == [[10, 10], [90, 90]]


_AFFINE = st.tuples(*[st.floats(-3, 3, allow_nan=False)] * 4, *[st.floats(-50, 50, allow_nan=False)] * 2).filter(
    lambda m: abs(m[0] * m[3] - m[1] * m[2]) > 0.05)


@settings(max_examples=40, deadline=None)
@given(outer=_AFFINE, inner=_AFFINE, points=st.lists(st.tuples(st.integers(-20, 20), st.integers(-20, 20)),
                                                         min_size=2, max_size=6, unique=True))
def test_random_nested_transforms_compose_like_matrices(outer, inner, points):
    def matrix(m):
        a, b, c, d, e, f = m
        return np.array([[a, c, e], [b, d, f], [0, 0, 1]])

    text = " ".join(f"{x},{y}" for x, y in points)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" stroke="black" fill="none">'
           f'<g transform="matrix({" ".join(map(repr, outer))})"><polyline transform="matrix('
           f'{" ".join(map(repr, inner))})" points="{text}"/></g></svg>')
    xy1 = np.column_stack([np.array(points, dtype=float), np.ones(len(points))])
    expected = (matrix(outer) @ matrix(inner) @ xy1.T).T[:, :2]
    polylines = read_svg(svg.encode(), tolerance=1e-9).polylines
    assert len(polylines) == 1
    assert np.allclose(polylines[0], expected, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(m=_AFFINE, r=st.floats(0.5, 40), tolerance=st.sampled_from([0.5, 0.05, 0.01]))
def test_transformed_circles_stay_on_their_ellipse_within_tolerance(m, r, tolerance):
    a, b, c, d, e, f = m
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="3" cy="4" r="{r!r}" '
           f'stroke="black" transform="matrix({a!r} {b!r} {c!r} {d!r} {e!r} {f!r})"/></svg>')
    points = read_svg(svg.encode(), tolerance=tolerance).polylines[0]
    inverse = np.linalg.inv(np.array([[a, c], [b, d]]))
    back = (points - (e, f)) @ inverse.T
    assert np.allclose(np.hypot(*(back - (3, 4)).T), r, rtol=1e-6, atol=1e-6)  # vertices lie on the curve
    assert np.allclose(points[0], points[-1])
    if len(points) > 1:  # every chord's midpoint stays within tolerance of the true ellipse
        mid = ((points[1:] + points[:-1]) / 2 - (e, f)) @ inverse.T - (3, 4)
        on_curve = (mid / np.hypot(*mid.T)[:, None] * r + (3, 4)) @ np.array([[a, c], [b, d]]).T + (e, f)
        sagitta = np.hypot(*(((points[1:] + points[:-1]) / 2) - on_curve).T)
        assert sagitta.max() <= tolerance * 1.05


# --- bad and hostile input -----------------------------------------------------------------------------------

HOSTILE = {
    "truncated.svg": "malformed-xml",
    "mismatched.svg": "malformed-xml",
    "png_named.svg": "not-svg",
    "html_named.svg": "not-svg",
    "empty.svg": "empty",
    "only_invisible.svg": "empty",
    "infinite.svg": "bad-coordinates",
    "absurd.svg": "bad-coordinates",
    "use_loop.svg": "use-loop",
    "use_self.svg": "use-loop",
    "use_outside_only.svg": "empty",
    "use_bomb.svg": "too-large",
    "deep_nesting.svg": "too-large",
    "gzip_bomb.svgz": "gzip-bomb",
    "billion_laughs.svg": "entity",
    "quadratic_blowup.svg": "entity",
    "xxe_file.svg": "entity",
    "xxe_network.svg": "entity",
    "xxe_parameter.svg": "entity",
    "attlist_defaults.svg": "entity",  # a 500 KB file with 100 KB defaults on every <g/> took gigabytes
}


def test_every_hostile_fixture_is_in_the_table():
    assert sorted(p.name for p in (SVG_DIR / "hostile").iterdir()) == sorted(HOSTILE)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_raises_one_line_error_with_reason(name):
    with pytest.raises(SketchtoolError) as info:
        read(f"hostile/{name}")
    assert info.value.reason == HOSTILE[name] and info.value.reason in REASONS
    message = str(info.value)
    assert "\n" not in message and name in message and "root:" not in message


class _Audit:
    """Records file and network access while armed (a real audit hook: no mocks)."""

    events: list[tuple[str, tuple]] = []
    armed = False

    @classmethod
    def hook(cls, event, args):
        if cls.armed and event.startswith(("open", "socket.", "urllib.", "subprocess.", "os.system", "os.exec",
                                           "os.posix_spawn", "os.startfile", "ftplib.", "http.")):
            cls.events.append((event, args))


sys.addaudithook(_Audit.hook)


@pytest.mark.parametrize("relative", ["hostile/xxe_file.svg", "hostile/xxe_network.svg", "hostile/xxe_parameter.svg",
                                      "constructs/external_dtd.svg", "constructs/use_outside.svg",
                                      "hostile/use_outside_only.svg"])
def test_no_file_or_network_access_from_inside_an_svg(relative):
    data = (SVG_DIR / relative).read_bytes()
    read_svg(SVG_DIR / "constructs/dots.svg")  # lazy imports open files: keep them out of the audit window
    _Audit.events.clear()
    _Audit.armed = True
    try:
        read_svg(SVG_DIR / "constructs/dots.svg")  # the hook sees the reader open a file it was given...
        assert [event for event, _ in _Audit.events] == ["open"]
        _Audit.events.clear()
        read_svg(data)  # ...and nothing at all when the file itself asks for one
    except SketchtoolError as e:
        assert "root:" not in str(e)
    finally:
        _Audit.armed = False
    assert _Audit.events == []


def test_billion_laughs_is_refused_at_the_declaration():
    start = time.perf_counter()
    with pytest.raises(SketchtoolError, match="lol1") as info:  # the first nested entity, before any expansion
        read("hostile/billion_laughs.svg")
    assert info.value.reason == "entity"
    assert time.perf_counter() - start < 5  # a hang guard, not a speed target: expanded it would be 3 GB


def test_gzip_bomb_is_stopped_with_bounded_memory():
    tracemalloc.start()
    try:
        with pytest.raises(SketchtoolError, match="gzip bomb") as info:
            read("hostile/gzip_bomb.svgz")  # 64 MiB once inflated
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.reason == "gzip-bomb" and peak < 40 * 2**20


_TOKENS = [b"<", b">", b'"', b"nan", b"1e308", b"-", b".", b"#", b"%", b"A", b"h.", b"Z", b"&#0;", b"&amp;",
           b'transform="rotate(', b"matrix(0 0 0 0 0 0)", b'r="-5"', b'viewBox="0 0 0 0"', b'<use href="#x"/>',
           b'id="x"', b"<g>", b"</g>", b"<svg>", b"scale(0)", b"<![CDATA[", b"<style>*{", b"}</style>"]


def test_mutated_real_files_never_crash():
    """Seeded fuzzing of the fixtures: every outcome is a drawing or a SketchtoolError, never another exception
    (this found svgelements' TypeError on "h." path data and unknown XML encodings)."""
    rng = np.random.default_rng(3)
    seeds = [p.read_bytes() for p in sorted(SVG_DIR.glob("*/*.svg")) if p.stat().st_size < 20_000]
    for _ in range(300):
        data = bytearray(seeds[rng.integers(len(seeds))])
        for _ in range(int(rng.integers(1, 4))):
            at = int(rng.integers(len(data) + 1))
            if rng.random() < 0.5:
                data[at:at] = _TOKENS[rng.integers(len(_TOKENS))]
            else:
                del data[at:at + int(rng.integers(1, 8))]
        try:
            drawing = read_svg(bytes(data))
        except SketchtoolError as e:
            assert e.reason in REASONS and "\n" not in str(e)
        else:
            assert drawing.polylines and all(np.isfinite(p).all() for p in drawing.polylines)


def test_truncated_and_corrupt_gzip():
    data = gzip.compress((SVG_DIR / "constructs/dots.svg").read_bytes())
    for broken in (data[: len(data) // 2], data[:12] + b"\xff" * 40):
        with pytest.raises(SketchtoolError) as info:
            read_svg(broken)
        assert info.value.reason == "bad-gzip"


def test_size_limits():
    huge_path = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><path stroke="black" d="M0 0'
                 + " L1 1 L2 2" * 300_000 + '"/></svg>').encode()
    with pytest.raises(SketchtoolError) as info:
        read_svg(huge_path)
    assert info.value.reason == "too-large"
    with pytest.raises(SketchtoolError) as info:
        read("kanjivg/0611b.svg", max_bytes=1000)
    assert info.value.reason == "too-large"
    style_bomb = ('<svg xmlns="http://www.w3.org/2000/svg"><style>*{stroke:red;' + "a:b;" * 2**14 + "}</style>"
                  + '<path d="M1 1 L2 2"/>' * 5000 + "</svg>").encode()  # svgelements re-reads the sheet per element
    path_bomb = ('<svg xmlns="http://www.w3.org/2000/svg"><defs><path id="p" stroke="red" d="M0 0' + " L1 1" * 2000
                 + '"/></defs>' + '<use href="#p"/>' * 200 + "</svg>").encode()
    for bomb in (style_bomb, path_bomb):
        with pytest.raises(SketchtoolError, match="once <use> is expanded") as info:
            read_svg(bomb)
        assert info.value.reason == "too-large"
    big_circle = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="1e6" stroke="black"/></svg>'
    with pytest.raises(SketchtoolError) as info:
        read_svg(big_circle, tolerance=1e-3, max_points=1000)
    assert info.value.reason == "too-large"


def test_unreadable_source_and_bad_tolerance(tmp_path):
    for missing in (tmp_path / "nope.svg", tmp_path):
        with pytest.raises(SketchtoolError) as info:
            read_svg(missing)
        assert info.value.reason == "unreadable"
    for tolerance in (0, -1, math.nan, math.inf):
        with pytest.raises(SketchtoolError, match="tolerance"):
            read("constructs/dots.svg", tolerance=tolerance)


def test_long_runs_of_spaces_in_styles_read_in_linear_time(tmp_path):
    """`\\s*!\\s*important` backtracked over whitespace: 40,000 spaces in a style took 2.2 s, 2 MB about 1.5 h."""
    spaces = " " * 100_000
    path = tmp_path / "spaces.svg"
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><style>path {{{spaces}}}</style>'
                    f'<path d="M0 0L5 5" style="stroke:black{spaces};fill:none !important"/></svg>')
    assert len(read_svg(path).polylines) == 1


def test_attribute_defaults_for_many_elements_are_refused_before_counting_them_all(tmp_path):
    """Each element given a default costs a count over the whole file; 500,000 of them in 16 MB would take hours."""
    declarations = "".join(f'<!ATTLIST e{i} a CDATA "x">\n' for i in range(101))
    path = tmp_path / "many.svg"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE svg [\n{declarations}]>\n'
                    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><path d="M0 0L5 5" stroke="black"/>'
                    '</svg>')
    with pytest.raises(SketchtoolError, match="attribute defaults declared for more than 100 elements") as info:
        read_svg(path)
    assert info.value.reason == "entity"
