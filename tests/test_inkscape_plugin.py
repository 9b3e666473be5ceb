"""The Inkscape script driven the way Inkscape drives it: `python sketchtool_inkscape.py --id=ID ...
--param=value DOCUMENT`, new document on stdout, under Inkscape's own Python with its bundled inkex 1.2
(Debian) and under pip's inkex 1.4; checked on real documents (nested transformed layers, an mm page with a
viewBox, a selection inside a transformed group, a clone)."""

from __future__ import annotations

import functools
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sketchtool.inkscape_install import ENV_FILE, install_extension

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "tests" / "fixtures" / "inkscape"
INKSCAPE_PYTHON = Path("/usr/bin/python3")
INKSCAPE_EXTENSIONS = Path("/usr/share/inkscape/extensions")
ABORT_STATUS = 251  # inkex.AbortExtension: Inkscape shows the message and keeps the document as it was
NEEDS_INKEX = "needs inkex: pip install --no-deps inkex==1.4.1 && pip install cssselect tinycss2"

# (document, selected ids) -> the selection's polylines in document (root user) units, worked out by hand
SELECTIONS = {
    # layer translate(100,50), sublayer rotate(90) scale(2): (x, y) -> (100 - 2y, 50 + 2x)
    "nested": ("nested_layers.svg", ("stroke1", "stroke2"), [[(100, 50), (100, 90), (80, 90)], [(80, 50), (70, 70)]]),
    # layer translate(30,40); rect x=10 y=10 40x20 (mm page, viewBox in mm)
    "mm": ("mm_viewbox.svg", ("box",), [[(40, 50), (80, 50), (80, 70), (40, 70), (40, 50)]]),
    # a path in a group matrix(1.5,0,0,1.5,20,10); its clone shows the bare path moved by x=20 in the layer
    "group": ("group_selection.svg", ("leg", "leg-clone"), [[(35, 32.5), (35, 55)], [(30, 15), (30, 30)]]),
}
# the selection's stroke in document units: (colour, width)
STROKES = {"nested": ("#1a5fb4", 3.0), "mm": ("#000000", 0.5), "group": ("#c01c28", 3.0)}


@functools.cache
def _bundled_inkex_works() -> bool:
    if not (INKSCAPE_PYTHON.is_file() and (INKSCAPE_EXTENSIONS / "inkex").is_dir()):
        return False
    probe = subprocess.run([str(INKSCAPE_PYTHON), "-c", "import inkex"], check=False, env=_env("inkscape"),
                           capture_output=True)
    return probe.returncode == 0


def _env(interpreter: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if interpreter == "inkscape":  # as Inkscape does: its extensions folder (bundled inkex) on the path
        env["PYTHONPATH"] = str(INKSCAPE_EXTENSIONS)
    return env


def _python(interpreter: str) -> str:
    if interpreter == "inkscape":
        if not _bundled_inkex_works():
            pytest.skip("needs Debian's inkscape (bundled inkex 1.2) with python3-lxml, python3-numpy and "
                        "python3-cssselect for /usr/bin/python3")
        return str(INKSCAPE_PYTHON)
    if importlib.util.find_spec("inkex") is None:
        pytest.skip(NEEDS_INKEX)
    return sys.executable


@pytest.fixture(params=["inkscape", "pip"], ids=["inkscape-python-inkex-1.2", "pip-inkex-1.4"])
def interpreter(request) -> str:
    _python(request.param)
    return request.param


@pytest.fixture
def preferred_interpreter() -> str:
    """Inkscape's own Python where present (what users run), else pip's inkex."""
    interpreter = "inkscape" if _bundled_inkex_works() else "pip"
    _python(interpreter)  # skips with the reason when absent
    return interpreter


@pytest.fixture
def script(tmp_path) -> Path:
    """The plugin installed into a temporary extensions folder, set up to run this environment's sketchtool."""
    return install_extension(tmp_path / "extensions") / "sketchtool_inkscape.py"


def run_effect(script: Path, interpreter: str, document: Path, ids=(), **params) -> subprocess.CompletedProcess:
    """Inkscape's calling convention: one --id per selected object, the params, then a temporary copy of the
    document whose name does not end in .svg; the result document comes back on stdout."""
    copy = script.parent.with_name(f"ink_ext_{document.stem}")
    shutil.copyfile(document, copy)
    args = [f"--id={i}" for i in ids] + [f"--{k}={v}" for k, v in params.items()]
    return subprocess.run([_python(interpreter), str(script), *args, str(copy)], check=False, env=_env(interpreter),
                          cwd=script.parent, capture_output=True, timeout=600)


def assert_aborted(done: subprocess.CompletedProcess, *phrases: str) -> None:
    """A failure Inkscape shows as one message: status 251, no traceback, no new document."""
    message = done.stderr.decode()
    assert done.returncode == ABORT_STATUS, message
    assert "Traceback" not in message and len(message.strip().splitlines()) == 1, message
    assert done.stdout == b""
    for phrase in phrases:
        assert phrase in message, message


def test_selection_is_exported_in_document_coordinates():
    """The temporary SVG handed to sketchtool holds the selection exactly where the document draws it."""
    pytest.importorskip("inkex", reason=NEEDS_INKEX)
    from sketchtool.formats.svg_reader import read_svg

    script = ROOT / "plugins" / "inkscape" / "sketchtool_inkscape.py"
    spec = importlib.util.spec_from_file_location("sketchtool_inkscape", script)
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    for name, ids, expected in SELECTIONS.values():
        effect = plugin.Sketchtool()
        effect.parse_arguments([f"--id={i}" for i in ids] + [str(DOCS / name)])
        effect.load_raw()
        effect.file_io.close()
        exported = read_svg(effect._document_with([effect.svg.getElementById(i) for i in ids]))
        assert len(exported.polylines) == len(expected), name
        for got, want in zip(exported.polylines, expected):
            np.testing.assert_allclose(got, np.array(want, float), atol=1e-6, err_msg=name)


def test_text_only_selection_is_refused(script, interpreter):
    done = run_effect(script, interpreter, DOCS / "nested_layers.svg", ["caption"], verb="complete")
    assert_aborted(done, "nothing drawable", "select paths or shapes")


def test_nothing_selected_and_no_drawable_layer_is_refused(script, interpreter, tmp_path):
    document = tmp_path / "empty_layer.svg"
    document.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" '
        'xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" viewBox="0 0 100 100">'
        '<sodipodi:namedview inkscape:current-layer="notes"/>'
        '<g id="art" inkscape:groupmode="layer"><path id="p" d="M0,0L10,10" stroke="black"/></g>'
        '<g id="notes" inkscape:groupmode="layer" inkscape:label="Notes"><text>hello</text></g></svg>')
    done = run_effect(script, interpreter, document, verb="complete")
    assert_aborted(done, "Nothing is selected", "(Notes)")


def test_interpolate_needs_two_drawings(script, interpreter):
    done = run_effect(script, interpreter, DOCS / "group_selection.svg", ["sheep"], verb="interpolate")
    assert_aborted(done, "exactly two drawings", "holds 1")


def test_interpolating_two_single_points_is_refused(script, interpreter, tmp_path):
    """Two dots make a row of no size: a ZeroDivisionError traceback, after running the model."""
    document = tmp_path / "dots.svg"
    document.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><g id="layer1">'
        '<path id="a" d="M10,10 L10,10" stroke="black"/><path id="b" d="M50,50 L50,50" stroke="black"/></g></svg>')
    done = run_effect(script, interpreter, document, ["a", "b"], verb="interpolate")
    assert_aborted(done, "single points")


def test_script_that_was_not_installed_says_how_to_set_up(preferred_interpreter, tmp_path):
    bare = tmp_path / "bare" / "sketchtool" / "sketchtool_inkscape.py"
    bare.parent.mkdir(parents=True)
    shutil.copyfile(ROOT / "plugins" / "inkscape" / bare.name, bare)
    done = run_effect(bare, preferred_interpreter, DOCS / "nested_layers.svg", ["stroke1"], verb="complete")
    assert_aborted(done, "not set up", "sketchtool inkscape install")


@pytest.mark.parametrize("command, phrases", [
    (["/nonexistent/bin/python", "-m", "sketchtool"], ("no longer exists", "sketchtool inkscape install")),
    ([sys.executable, "-S", "-m", "sketchtool"], ("sketchtool is not installed for", "sketchtool inkscape install")),
    ([], ("not set up", "sketchtool inkscape install")),  # were an IndexError and a TypeError traceback
    ([3, "-m", "sketchtool"], ("not set up", "sketchtool inkscape install")),
], ids=["python-gone", "sketchtool-not-importable", "empty-command", "command-not-words"])
def test_broken_environment_is_a_message(script, preferred_interpreter, command, phrases):
    (script.parent / ENV_FILE).write_text(json.dumps({"command": command}))
    done = run_effect(script, preferred_interpreter, DOCS / "nested_layers.svg", ["stroke1"], verb="complete")
    assert_aborted(done, *phrases)


# --- with the real sampling commands and a real model -----------------------------------------------------


@pytest.fixture(scope="session")
def sampling_model(request) -> str:
    """The `--model` to use: "" (the embedded default) when it ships, else conftest's tiny trained model."""
    from sketchtool.cli import cli

    missing = [name for name in ("complete", "generate", "interpolate") if name not in cli.commands]
    if missing:
        pytest.skip(f"`sketchtool {'/'.join(missing)}` is not in this checkout yet (the sampling commands)")
    from sketchtool.pretrained import DEFAULT_MODEL, EMBEDDED

    if EMBEDDED[DEFAULT_MODEL].available:
        return ""
    return str(request.getfixturevalue("tiny_model"))


def inserted(output: bytes, label: str):
    """The group the effect added (found by its Inkscape label) and the parsed document."""
    inkex = pytest.importorskip("inkex", reason=NEEDS_INKEX)

    svg = inkex.load_svg(io.BytesIO(output)).getroot()
    found = [g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("inkscape:label") == label]
    assert len(found) == 1, f"expected one group labelled {label!r}"
    return found[0], svg


def document_points(path) -> np.ndarray:
    """A single-polyline path's points in document units, through every transform up to the root."""
    import inkex

    points = inkex.Path(path.get("d")).transform(path.composed_transform()).end_points
    return np.array([(p.x, p.y) for p in points], float)


def paths_of(group, kind: str) -> list:
    return [p for p in group.iter("{http://www.w3.org/2000/svg}path") if kind in (p.get("class") or "").split()]


@pytest.mark.parametrize("case", ["nested", "mm", "group"])
def test_complete_side_by_side_in_document_coordinates(script, preferred_interpreter, sampling_model, case):
    name, ids, expected = SELECTIONS[case]
    original = (DOCS / name).read_bytes()
    done = run_effect(script, preferred_interpreter, DOCS / name, ids, verb="complete", variants=3, seed=3,
                      placement="side", model=sampling_model)
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode()  # silent: no Inkscape dialog
    group, svg = inserted(done.stdout, "Sketchtool completion")
    last = svg.getElementById(ids[-1])
    assert group.getprevious() is last  # right above the selection, in its parent
    variants = [g for g in group if "sketchtool-variant" in (g.get("class") or "")]
    assert len(variants) == 3
    assert not paths_of(variants[0], "given")  # the first continues the original in place
    colour, width = STROKES[case]
    shifts = [0.0]
    for variant in variants[1:]:  # the others are whole drawings beside it
        given = paths_of(variant, "given")
        assert len(given) == len(expected)
        shift = document_points(given[0])[0] - np.array(expected[0][0], float)
        assert shift[0] > shifts[-1] and abs(shift[1]) < 1e-6  # to the right, at the same height
        for path, want in zip(given, expected):
            np.testing.assert_allclose(document_points(path), np.array(want, float) + shift, atol=1e-2)
        shifts.append(shift[0])
    for path in group.iter("{http://www.w3.org/2000/svg}path"):  # the user's stroke, in document units
        assert path.style.get("stroke") == colour
        scale = np.sqrt(abs(np.linalg.det(np.array(path.composed_transform().matrix)[:, :2])))
        assert float(path.style.get("stroke-width")) * scale == pytest.approx(width)
    assert all(paths_of(variant, "generated") for variant in variants)
    import inkex
    from lxml import etree

    before = inkex.load_svg(io.BytesIO(original)).getroot()
    for i in ids:  # the original objects are untouched
        assert etree.tostring(svg.getElementById(i), with_tail=False) == etree.tostring(
            before.getElementById(i), with_tail=False)


def test_complete_overlay_with_nothing_selected_uses_current_layer(script, sampling_model, interpreter):
    done = run_effect(script, interpreter, DOCS / "mm_viewbox.svg", verb="complete", variants=1, placement="overlay",
                      model=sampling_model)
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode()
    group, svg = inserted(done.stdout, "Sketchtool completion")
    assert group.getparent() is svg.getElementById("layer1") and group.getparent()[-1] is group
    variant, = [g for g in group if "sketchtool-variant" in (g.get("class") or "")]
    assert not paths_of(variant, "given")  # the original is right under it
    points = np.concatenate([document_points(p) for p in paths_of(variant, "generated")])
    # the drawing (rect + circle) spans x 40..110, y 50..70 mm: the continuation is drawn around it, in mm
    assert np.all(np.abs(points - [75, 60]) < 300), points


def test_generate_grid_at_view_centre(script, preferred_interpreter, sampling_model):
    done = run_effect(script, preferred_interpreter, DOCS / "mm_viewbox.svg", verb="generate", count=5, cols=3,
                      cell_size=20, cell_unit="mm", position="view", model=sampling_model)
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode()
    group, svg = inserted(done.stdout, "Sketchtool sketches")
    assert group.getparent() is svg.getElementById("layer1")
    drawings = [g for g in group if g.tag == "{http://www.w3.org/2000/svg}g"]
    assert 0 < len(drawings) <= 5  # an empty drawing (possible with the tiny test model) gets no group
    points = np.concatenate([document_points(p) for p in group.iter("{http://www.w3.org/2000/svg}path")])
    # 3 x 2 cells of 20 mm centred on the view (inkscape:cx/cy are px: 396.85 px = 105 mm, 561.26 px = 148.5 mm)
    assert np.all(points >= [105 - 30, 148.5 - 20]) and np.all(points <= [105 + 30, 148.5 + 20]), points


def test_interpolate_row_under_the_two_drawings(script, preferred_interpreter, sampling_model):
    done = run_effect(script, preferred_interpreter, DOCS / "group_selection.svg", ["sheep", "other"],
                      verb="interpolate", steps=4, model=sampling_model)
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode()
    group, _ = inserted(done.stdout, "Sketchtool interpolation")
    assert 0 < len([g for g in group if g.tag == "{http://www.w3.org/2000/svg}g"]) <= 4
    points = np.concatenate([document_points(p) for p in group.iter("{http://www.w3.org/2000/svg}path")])
    # the pair spans x 20..190, y -5..55 (the sheep's leg) in the document, the larger drawing is 64.1 wide:
    # a row of cells that size starts 6.4 under the pair
    assert points[:, 1].min() >= 55 + 6.4 and points[:, 1].max() <= 55 + 6.5 + 64.1, points
    assert points[:, 0].min() >= 20 - 1e-6, points


def test_failing_model_is_a_message_and_leaves_document_alone(script, preferred_interpreter, sampling_model,
                                                               tmp_path):
    done = run_effect(script, preferred_interpreter, DOCS / "nested_layers.svg", ["stroke1"], verb="complete",
                      model=str(tmp_path / "no-such-model"))
    assert_aborted(done, "sketchtool:", "no-such-model")


def test_failures_name_the_selection_not_a_temporary_file(script, preferred_interpreter, sampling_model, tmp_path):
    document = tmp_path / "invisible.svg"
    document.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><path id="p1" d="M10 10 L90 90" '
                        'stroke="black" opacity="0"/></svg>')
    done = run_effect(script, preferred_interpreter, document, ["p1"], verb="complete", model=sampling_model)
    assert_aborted(done, "sketchtool: the selection: nothing visible is drawn")
    assert "sketchtool-inkscape-" not in done.stderr.decode()  # was /tmp/sketchtool-inkscape-XXXX/given.svg


@pytest.fixture(scope="module")
def silent_model(tmp_path_factory) -> Path:
    """A real (tiny, untrained) Sketch-RNN whose pen head always picks "end of drawing": every sample is empty."""
    import torch

    from sketchtool.checkpoint import save_checkpoint
    from sketchtool.dataspec import DataSpec
    from sketchtool.models.sketch_rnn import SketchRNN, SketchRNNHParams

    model = SketchRNN(SketchRNNHParams(max_seq_len=250, enc_rnn_size=8, dec_rnn_size=8, z_size=4, num_mixture=1),
                      DataSpec(scale_factor=10.0, max_length=250))
    with torch.no_grad():
        model.output.weight.zero_()
        model.output.bias.copy_(torch.eye(len(model.output.bias))[2] * 100)  # logits: pen states, end third
    path = tmp_path_factory.mktemp("silent") / "silent.pt"
    save_checkpoint(path, model, step=0)
    return path


@pytest.mark.parametrize("verb, ids, params", [("generate", [], {"count": 3}), ("interpolate", ["sheep", "other"], {})])
def test_a_model_that_draws_nothing_is_a_message_not_an_empty_group(script, preferred_interpreter, silent_model,
                                                                     verb, ids, params):
    done = run_effect(script, preferred_interpreter, DOCS / "group_selection.svg", ids, verb=verb,
                      model=str(silent_model), **params)
    assert_aborted(done, f"sketchtool {verb} returned no drawing")


def test_a_relative_model_path_is_found_from_inkscapes_folder(script, preferred_interpreter, silent_model):
    """docs/inkscape.md shows `runs/my`; sketchtool ran in a temporary folder, so a relative path was never found."""
    shutil.copyfile(silent_model, script.parent / "my-silent.pt")
    done = run_effect(script, preferred_interpreter, DOCS / "group_selection.svg", [], verb="generate",
                      model="my-silent.pt", count=3)
    assert_aborted(done, "sketchtool generate returned no drawing")  # found and run: it draws nothing


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("inkscape") is None or shutil.which("xvfb-run") is None,
                    reason="needs inkscape and xvfb-run (apt-get install inkscape xvfb xauth python3-lxml "
                           "python3-numpy python3-cssselect)")
def test_all_three_effects_in_real_inkscape(tmp_path, sampling_model):
    """Install into a temporary profile and apply each effect in one headless Inkscape GUI session."""
    if not _bundled_inkex_works():  # then no Python extension at all runs in this Inkscape
        pytest.skip("Inkscape's /usr/bin/python3 cannot import its inkex: apt-get install python3-lxml "
                    "python3-numpy python3-cssselect")
    profile = tmp_path / "profile"
    install_extension(profile / "extensions")
    if sampling_model:  # `.noprefs` runs an effect with the parameters stored in the preferences
        models = " ".join(f'org.sketchtool.{verb}.model="{sampling_model}"'
                          for verb in ("complete", "generate", "interpolate"))
        (profile / "preferences.xml").write_text(
            f'<?xml version="1.0"?>\n<inkscape version="1"><group id="extensions" {models}/></inkscape>\n')
    document, out = tmp_path / "in.svg", tmp_path / "out.svg"
    shutil.copyfile(DOCS / "group_selection.svg", document)
    actions = ";".join([
        "select-by-id:leg,leg-clone", "org.sketchtool.complete.noprefs",
        "select-clear", "org.sketchtool.generate.noprefs",
        "select-by-id:sheep,other", "org.sketchtool.interpolate.noprefs",
        f"export-filename:{out}", "export-do",
    ])
    # without --with-gui Inkscape registers no extension actions (and still exits 0): judge the file only
    env = {**os.environ, "INKSCAPE_PROFILE_DIR": str(profile)}
    subprocess.run(["timeout", "500", "xvfb-run", "-a", "inkscape", "--with-gui", "--batch-process",
                    f"--actions={actions}", str(document)], check=False, env=env, capture_output=True, timeout=560)
    assert out.is_file(), "Inkscape saved nothing"
    from lxml import etree

    root = etree.parse(str(out)).getroot()
    label = "{http://www.inkscape.org/namespaces/inkscape}label"
    groups = {g.get(label): g for g in root.iter("{http://www.w3.org/2000/svg}g")
              if (g.get(label) or "").startswith("Sketchtool")}
    assert set(groups) == {"Sketchtool completion", "Sketchtool sketches", "Sketchtool interpolation"}
    completion = groups["Sketchtool completion"]
    assert completion.getprevious().get("id") == "leg-clone"
    assert len(paths_of(completion, "generated")) >= 3  # 3 variants by default
    assert 0 < len([g for g in groups["Sketchtool sketches"] if g.tag.endswith("}g")]) <= 12
    assert 0 < len([g for g in groups["Sketchtool interpolation"] if g.tag.endswith("}g")]) <= 6
    for kept in ("body", "leg", "leg-clone", "wave"):
        assert root.find(f".//*[@id='{kept}']") is not None
