"""prepare: a drawing (SVG or polylines in any coordinates) read as the training data was built, and
`complete_polylines`, which hands the model's endings back in the caller's own coordinates."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sketchtool.errors import SketchtoolError
from sketchtool.formats.svg_reader import read_svg
from sketchtool.prepare import complete_polylines, prepare_polylines, read_normalized_svg
from sketchtool.strokes import polylines_bounds


@pytest.fixture(scope="module")
def start_svg(fixtures_dir):
    return fixtures_dir / "sampling" / "sheep_start.svg"


@pytest.fixture(scope="module")
def sheep_model():
    """The embedded sheep model (shipped in the package): a real model, no data needed."""
    from sketchtool.checkpoint import load_model
    from sketchtool.pretrained import resolve_model

    return load_model(resolve_model(None))


def test_polylines_are_prepared_exactly_like_the_svg_they_came_from(start_svg):
    from_svg = read_normalized_svg(start_svg, epsilon=1.0, max_seq_len=250)
    from_polylines = prepare_polylines(read_svg(start_svg).polylines, epsilon=1.0, max_seq_len=250)
    np.testing.assert_array_equal(from_polylines.stroke3, from_svg.stroke3)
    assert (from_polylines.origin, from_polylines.scale) == (from_svg.origin, from_svg.scale)
    assert from_svg.viewbox == (0, 0, 200, 150) and from_polylines.viewbox is None


@pytest.mark.parametrize("polylines, message", [
    ([], "nothing drawn"),
    ([np.zeros((0, 2))], "nothing drawn"),
    ([np.array([[0.0, 0.0], [np.nan, 1.0]])], "finite"),
])
def test_unusable_polylines_are_one_clear_error(polylines, message):
    with pytest.raises(SketchtoolError, match=message):
        prepare_polylines(polylines, name="canvas")


def test_completion_comes_back_in_the_callers_coordinates(start_svg, sheep_model):
    from sketchtool.sampling import SampleOptions

    model, info = sheep_model
    source = read_svg(start_svg).polylines
    # a caller whose coordinates are 3x larger and far from the origin (a web canvas, an Inkscape layer)
    theirs = [p * 3 + np.array([1000.0, -500.0]) for p in source]
    ours = complete_polylines(source, model, info, 4, SampleOptions(seed=5))
    result = complete_polylines(theirs, model, info, 4, SampleOptions(seed=5))
    np.testing.assert_array_equal(result.prepared.stroke3, ours.prepared.stroke3)  # the model saw the same start

    # the given part is the input, simplified and rounded to the model's grid, in the input's coordinates
    tolerance = (0.5 * np.sqrt(2) + result.prepared.epsilon) / result.prepared.scale
    given = np.concatenate(result.given)
    inputs = np.concatenate(theirs)
    nearest = np.min(np.linalg.norm(given[:, None] - inputs[None], axis=2), axis=1)
    assert nearest.max() <= 0.5 * np.sqrt(2) / result.prepared.scale + 1e-9  # kept points are input points
    np.testing.assert_allclose(polylines_bounds(result.given), polylines_bounds(theirs), atol=tolerance)

    # each ending starts where the model left off (offsets from the last given point) and maps like the input
    assert len(result.endings) == 4 and any(len(e) for e in result.endings)
    for mine, reference in zip(result.endings, ours.endings):
        assert len(mine) == len(reference)
        for p, q in zip(mine, reference):
            np.testing.assert_allclose(p, q * 3 + np.array([1000.0, -500.0]), rtol=0, atol=1e-6)
    from sketchtool.sampling import complete

    prefix = result.prepared.stroke3
    drawn = complete(model, info, prefix, 4, SampleOptions(seed=5))  # the same draws, in the model's units
    last = result.given[-1][-1]
    for ending, drawing in zip(result.endings, drawn):
        if ending:
            np.testing.assert_allclose((ending[0][0] - last) * result.prepared.scale, drawing[len(prefix), :2],
                                       atol=1e-6)


def test_formats_and_the_cli_read_svgs_without_the_dataset_builder(start_svg):
    code = ("import sys\nfrom sketchtool.formats import read_drawings\n"
            f"read_drawings({str(start_svg)!r})\nimport sketchtool.cli.sampling\n"
            "print('sketchtool.build' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
