"""The vpype commands: skgenerate lays out exactly what `generate` draws, skcomplete adds exactly what
`complete_polylines` finishes a layer with, each layer on its own, and bad input is one vpype error line."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

vpype = pytest.importorskip("vpype", reason="the vpype commands need vpype (pip install 'sketchtool[vpype]')")
vpype_cli = pytest.importorskip("vpype_cli")

from sketchtool import vpype_plugin  # noqa: E402
from sketchtool.checkpoint import load_model  # noqa: E402
from sketchtool.layout import grid_page  # noqa: E402
from sketchtool.prepare import complete_polylines  # noqa: E402
from sketchtool.sampling import SampleOptions, generate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CM = 96 / 2.54  # vpype's unit is the CSS pixel


@pytest.fixture(scope="module")
def pipeline():
    for command in (vpype_plugin.skgenerate, vpype_plugin.skcomplete):  # as the entry points add them
        vpype_cli.cli.add_command(command)
    return vpype_cli.execute


@pytest.fixture(scope="module")
def sheep():
    return load_model("sheep")


def _points(line: np.ndarray) -> np.ndarray:
    return np.column_stack([line.real, line.imag])


def test_skgenerate_lays_out_what_generate_draws_in_cells_of_the_given_length(pipeline, sheep):
    document = pipeline("skgenerate -n 4 --seed 3 -t 0.3 --cols 2 --cell 2cm")
    lines = list(document.layers[1])
    expected = grid_page(generate(*sheep, 4, SampleOptions(seed=3, temperature=0.3)), cols=2, cell=2 * CM).strokes
    assert len(lines) == len(expected) > 8
    for line, stroke in zip(lines, expected):
        np.testing.assert_allclose(_points(line), stroke.points)
    x0, y0, x1, y1 = document.bounds()
    assert 0 <= x0 and 0 <= y0 and x1 <= 4 * CM and y1 <= 4 * CM and x1 > 2 * CM and y1 > 2 * CM  # a 2 x 2 grid


def test_skcomplete_keeps_each_layer_s_lines_and_adds_the_model_s_ending(pipeline, sheep):
    document = vpype.Document()
    back = vpype.LineCollection([np.array([0, 60 + 10j, 120 + 0j]), np.array([130 + 5j, 150 + 30j])])
    head = vpype.LineCollection([np.array([400 + 400j, 380 + 420j, 400 + 440j])])
    document.add(back, 1)
    document.add(head, 2)
    finished = pipeline("skcomplete --seed 5", document=document)
    for layer, start in ((1, back), (2, head)):
        lines = list(finished.layers[layer])
        assert len(lines) > len(start)
        for got, given in zip(lines, start):  # the user's own lines come first, as they were
            np.testing.assert_array_equal(got, given)
        ending = complete_polylines([_points(line) for line in start], *sheep, 1, SampleOptions(seed=5)).endings[0]
        assert len(lines) - len(start) == len(ending)
        for got, points in zip(lines[len(start):], ending):
            np.testing.assert_allclose(_points(got), points)
    assert abs(complex(np.mean(np.concatenate(list(finished.layers[2]))) - (400 + 420j))) < 200  # drawn near it


def test_skcomplete_keeps_each_layer_s_pen_and_name(pipeline, fixtures_dir):
    svg = fixtures_dir / "sampling" / "sheep_layers.svg"
    before = pipeline(f"read '{svg}'")
    after = pipeline(f"read '{svg}' skcomplete --seed 1")
    assert sorted(after.layers) == sorted(before.layers) == [1, 2]  # vpype's read drops the empty third layer
    for layer in (1, 2):
        assert len(after.layers[layer]) > len(before.layers[layer])
        assert after.layers[layer].property("vp_color") == before.layers[layer].property("vp_color")
        assert after.layers[layer].property("vp_name") == before.layers[layer].property("vp_name")
        assert after.layers[layer].property("vp_pen_width") == before.layers[layer].property("vp_pen_width")
    assert after.layers[1].property("vp_color") != after.layers[2].property("vp_color")


def test_a_pipeline_reads_a_model_once_however_many_layers_and_commands_use_it(pipeline, fixtures_dir, monkeypatch):
    from sketchtool import checkpoint

    loads = []
    real_load = checkpoint.load_model
    monkeypatch.setattr(checkpoint, "load_model", lambda ref: loads.append(ref) or real_load(ref))
    svg = fixtures_dir / "sampling" / "sheep_layers.svg"
    document = pipeline(f"read '{svg}' skcomplete --seed 1 skgenerate -n 2 --seed 0 -l new skcomplete -l 1 --seed 2")
    assert len(loads) == 1
    assert len(document.layers) == 3
    alone = list(pipeline(f"read '{svg}' skcomplete --seed 1").layers[2])  # the same lines as a fresh load draws
    assert len(alone) == len(document.layers[2])
    for got, expected in zip(document.layers[2], alone):
        np.testing.assert_array_equal(got, expected)


def test_options_take_vpype_expressions_so_each_grid_cell_draws_its_own(pipeline, sheep):
    """`--seed %_i%` was refused when the pipeline was parsed ("'%_i%' is not a valid integer range")."""
    document = pipeline("begin grid -o 4cm 4cm 2 1 skgenerate --seed %_i% --cell 3cm end")
    expected = [stroke.points + [i * 4 * CM, 0] for i in range(2)
                for stroke in grid_page(generate(*sheep, 1, SampleOptions(seed=i)), cell=3 * CM).strokes]
    lines = list(document.layers[1])
    assert len(lines) == len(expected)
    for line, points in zip(lines, expected):
        np.testing.assert_allclose(_points(line), points, atol=1e-9)


@pytest.fixture(scope="module")
def draw_run(digits_npz, tmp_path_factory):
    """A tiny DRAW run: a model that draws images, not lines."""
    from sketchtool.train import TrainOptions, resolve_hparams, train

    run = tmp_path_factory.mktemp("draw") / "run"
    hps = resolve_hparams("draw", overrides={"T": 2, "enc_size": 8, "dec_size": 8, "z_size": 2, "read_n": 2,
                                              "write_n": 2, "batch_size": 16})
    train(digits_npz, run, model="draw", hps=hps, options=TrainOptions(steps=1, save_every=1))
    return run


def test_skgenerate_refuses_an_image_model_in_one_line(pipeline, draw_run):
    from click.testing import CliRunner

    result = CliRunner().invoke(vpype_cli.cli, ["skgenerate", "--model", str(draw_run), "-n", "2"])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.output
    assert "draws images, not lines" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command, message", [
    ("skgenerate --model no-such-run", "no such run directory or checkpoint file"),
    ("skgenerate -t 0", "--temperature 0.0: must be a number > 0"),
    ("skgenerate --cell 0cm", "--cell"),
    ("line 0 0 1cm 1cm skcomplete --model no-such-run", "no such run directory or checkpoint file"),
])
def test_bad_input_is_one_error_line_not_a_traceback(pipeline, command, message):
    from click.testing import CliRunner

    result = CliRunner().invoke(vpype_cli.cli, command.split())
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert message in result.output and "Traceback" not in result.output


def test_the_entry_points_name_the_commands_and_vpype_finds_them_once_installed():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["vpype.plugins"]
    assert declared == {"skgenerate": "sketchtool.vpype_plugin:skgenerate",
                        "skcomplete": "sketchtool.vpype_plugin:skcomplete"}
    installed = {e.name: e.value for e in metadata.entry_points(group="vpype.plugins")}
    if installed.get("skgenerate") != declared["skgenerate"]:
        pytest.skip("this install of sketchtool predates its vpype entry points; pip install -e . registers them")
    code = "import sys; from vpype_cli.cli import cli; sys.argv = ['vpype', '--help']; cli()"  # what `vpype` runs
    help_text = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "sketchtool:" in help_text and "skgenerate" in help_text and "skcomplete" in help_text
