"""The sampling commands end to end on a tiny real model: every command writes a file that parses back with
the expected counts, the same seed gives the same bytes, `complete` keeps the SVG's frame (the Inkscape
contract), and bad input is one line on stderr with a non-zero exit."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from sketchtool.cli import cli
from sketchtool.formats.npz import load_dataset
from sketchtool.formats.svg_reader import read_svg

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def fixtures(fixtures_dir) -> Path:
    return fixtures_dir / "sampling"


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(*args: str):
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def drawing_groups(path: Path) -> list[ET.Element]:
    return [g for g in ET.parse(path).getroot().iter(f"{SVG}g") if g.get("id", "").startswith("drawing-")]


def test_generate_svg_npz_png_parse_back(tiny_model, tmp_path):
    ok("generate", "--model", tiny_model, "--n", 6, "--seed", 1, "--out", tmp_path / "g.npz")
    drawings = load_dataset(tmp_path / "g.npz").splits["train"]
    assert len(drawings) == 6
    ok("generate", "--model", tiny_model, "--n", 6, "--seed", 1, "--out", tmp_path / "g.svg", "--cols", 3)
    groups = drawing_groups(tmp_path / "g.svg")
    assert len(groups) == sum(len(d) > 0 for d in drawings)
    assert len(read_svg(tmp_path / "g.svg").polylines) >= len(groups)
    assert ET.parse(tmp_path / "g.svg").getroot().get("width") == "384"  # 3 columns of 128 px
    ok("generate", "--model", tiny_model, "--n", 6, "--seed", 1, "--out", tmp_path / "g.png", "--size", 300)
    with Image.open(tmp_path / "g.png") as image:
        assert image.format == "PNG" and image.width == 300
    ok("generate", "--model", tiny_model, "--n", 6, "--seed", 1, "--out", tmp_path / "g.gcode")
    gcode = (tmp_path / "g.gcode").read_text()
    assert "G21" in gcode and "G1 " in gcode


def test_same_seed_gives_the_same_bytes(tiny_model, tmp_path):
    for name in ("a.svg", "b.svg", "c.svg"):
        seed = 7 if name != "c.svg" else 8
        ok("generate", "--model", tiny_model, "--n", 5, "--seed", seed, "--out", tmp_path / name)
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
    assert (tmp_path / "a.svg").read_bytes() != (tmp_path / "c.svg").read_bytes()


def test_small_runs_are_float32_whatever_the_precision(tiny_model, tmp_path):
    """bfloat16 matmuls are only for batches of BF16_MIN_BATCH and more, so a small run is the same either way."""
    ok("generate", "--model", tiny_model, "--n", 5, "--seed", 3, "--out", tmp_path / "auto.svg")
    ok("generate", "--model", tiny_model, "--n", 5, "--seed", 3, "--precision", "fp32", "--out", tmp_path / "f.svg")
    assert (tmp_path / "auto.svg").read_bytes() == (tmp_path / "f.svg").read_bytes()


def test_the_seed_used_is_printed_so_a_run_can_be_repeated(tiny_model, tmp_path):
    result = ok("generate", "--model", tiny_model, "--n", 2, "--out", tmp_path / "a.svg")
    seed = re.search(r"seed (\d+)", result.output).group(1)
    ok("generate", "--model", tiny_model, "--n", 2, "--seed", seed, "--out", tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_no_progress_bar_goes_into_a_log(tiny_model, tmp_path):
    """Off a terminal (a pipe, a log file) even a large run prints no tqdm bar: only the summary line."""
    small = ok("generate", "--model", tiny_model, "--n", 3, "--seed", 0, "--out", tmp_path / "s.npz")
    assert small.stderr == ""
    large = ok("generate", "--model", tiny_model, "--n", 1000, "--seed", 0, "--out", tmp_path / "l.npz")
    assert large.stderr == "" and "Wrote 1,000 drawings" in large.stdout


def _numbers(d: str) -> np.ndarray:
    return np.array([float(v) for v in re.findall(r"-?\d+\.?\d*", d)]).reshape(-1, 2)


@pytest.mark.parametrize("placement", ["side", "overlay"])
def test_complete_svg_keeps_the_input_frame(tiny_model, fixtures, tmp_path, placement):
    out = tmp_path / "done.svg"
    ok("complete", fixtures / "sheep_start.svg", "--model", tiny_model, "--n", 3, "--seed", 0,
       "--placement", placement, "--out", out)
    root = ET.parse(out).getroot()
    source = ET.parse(fixtures / "sheep_start.svg").getroot()
    vx, vy, vw, vh = (float(v) for v in root.get("viewBox").split())
    assert vx <= 0 and vy <= 0 and vx + vw >= 200 and vy + vh >= 150  # the input's frame, grown if need be
    width, height = (root.get(k) for k in ("width", "height"))
    assert width.endswith("mm") and height.endswith("mm")
    assert (float(width[:-2]), float(height[:-2])) == pytest.approx((vw, vh), abs=1e-3)  # 1 user unit = 1 mm, as input
    variants = [g for g in root.iter(f"{SVG}g") if g.get("class") == "sketchtool-variant"]
    assert [g.get("id") for g in variants] == ["variant-0", "variant-1", "variant-2"]
    shifts = [float(re.search(r"translate\(([-\d.]+),0\)", g.get("transform", "translate(0,0)")).group(1))
              for g in variants]
    if placement == "side":
        assert shifts[0] == 0 and 0 < shifts[1] and np.isclose(shifts[2], 2 * shifts[1])
    else:
        assert shifts == [0, 0, 0]
    given = [p for p in variants[0] if p.get("class") == "given"]
    original = np.concatenate([_numbers(p.get("d")) for p in source.iter(f"{SVG}path")])
    ours = np.concatenate([_numbers(p.get("d")) for p in given])
    # the given part is the input after the training data's simplification: same place, same scale
    assert np.allclose(ours.min(axis=0), original.min(axis=0), atol=0.5)
    assert np.allclose(ours.max(axis=0), original.max(axis=0), atol=0.5)
    assert all({p.get("class") for p in g} <= {"given", "generated"} for g in variants)


def _ink(svg_root: ET.Element, viewbox: tuple[float, float, float, float], px_per_unit: float) -> float:
    """Total alpha cairosvg draws for this SVG shown through `viewbox` (transparent background)."""
    import io

    import cairosvg

    root = ET.fromstring(ET.tostring(svg_root))
    for size in ("width", "height"):  # the viewBox alone sets the canvas, so both renders share the scale
        root.attrib.pop(size, None)
    root.set("viewBox", " ".join(f"{v:.4f}" for v in viewbox))
    png = cairosvg.svg2png(bytestring=ET.tostring(root), output_width=round(viewbox[2] * px_per_unit))
    with Image.open(io.BytesIO(png)) as image:
        return float(np.asarray(image.convert("RGBA"))[..., 3].sum()) / 255


@pytest.mark.parametrize("placement", ["side", "overlay"])
def test_complete_svg_shows_every_ending_when_rendered(fixtures, tmp_path, placement):
    """Each ending, rendered alone in the written file's own frame, has all the ink it has on a canvas that
    surely holds it (its points' bounds, widened), at the same scale: nothing the file holds falls outside
    what a browser or cairosvg shows."""
    out = tmp_path / "done.svg"
    ok("complete", fixtures / "sheep_start.svg", "--n", 6, "--seed", 1, "--placement", placement, "--out", out)
    root = ET.parse(out).getroot()
    frame = tuple(float(v) for v in root.get("viewBox").split())
    endings = 0
    for k, variant in enumerate(g for g in root if g.get("class") == "sketchtool-variant"):
        alone = ET.fromstring(ET.tostring(root))
        for group in list(alone):
            alone.remove(group)
        kept = ET.SubElement(alone, variant.tag, variant.attrib)
        kept.extend(p for p in variant if p.get("class") == "generated")
        if not len(kept):
            continue  # this ending drew nothing
        endings += 1
        dx = float(re.search(r"translate\(([-\d.]+),0\)", variant.get("transform", "translate(0,0)")).group(1))
        points = np.concatenate([_numbers(p.get("d")) for p in kept]) + np.array([dx, 0])
        (x0, y0), (x1, y1) = points.min(axis=0) - 20, points.max(axis=0) + 20
        everything = _ink(alone, (x0, y0, x1 - x0, y1 - y0), 2.0)
        assert everything > 0 and _ink(alone, frame, 2.0) == pytest.approx(everything, rel=0.02), f"ending {k}"
    assert endings >= 4


def test_complete_dataset_reference_to_png_and_npz(tiny_model, sheep_path, tmp_path):
    ok("complete", f"{sheep_path}:test:4", "--model", tiny_model, "--n", 2, "--seed", 0, "--out", tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ok("complete", f"{sheep_path}:test:4", "--model", tiny_model, "--n", 2, "--seed", 0, "--out", tmp_path / "c.npz")
    start = load_dataset(sheep_path).splits["test"][4]
    endings = load_dataset(tmp_path / "c.npz").splits["train"]
    assert len(endings) == 2 and all(np.array_equal(e[:len(start)], start) for e in endings)


def test_interpolate_analogy_reconstruct(tiny_model, fixtures, sheep_path, tmp_path):
    a, b = fixtures / "sheep_a.svg", fixtures / "sheep_b.svg"
    ok("interpolate", a, b, f"{sheep_path}:test:6", "--model", tiny_model, "--steps", 4, "--out", tmp_path / "i.npz")
    assert len(load_dataset(tmp_path / "i.npz").splits["train"]) == 8
    ok("interpolate", a, b, "--model", tiny_model, "--steps", 3, "--linear", "--with-inputs",
       "--out", tmp_path / "i.svg")
    classes = [p.get("class") for p in ET.parse(tmp_path / "i.svg").getroot().iter(f"{SVG}path")]
    assert "given" in classes and "generated" in classes
    ok("analogy", a, b, f"{sheep_path}:test:6", "--model", tiny_model, "--n", 3, "--out", tmp_path / "a.npz")
    assert len(load_dataset(tmp_path / "a.npz").splits["train"]) == 3
    ok("reconstruct", a, f"{sheep_path}:test:6", "--model", tiny_model, "--n", 2, "--with-inputs",
       "--out", tmp_path / "r.svg")
    assert len(drawing_groups(tmp_path / "r.svg")) <= 6


def test_reconstruct_of_a_whole_split_leaves_out_drawings_too_long_and_says_so(tiny_model, sheep_path, tmp_path):
    from sketchtool.checkpoint import load_model
    from sketchtool.dataset import StrokeDataset
    from sketchtool.formats.npz import save_dataset

    limit = load_model(tiny_model)[1].spec.max_length
    sheep = load_dataset(sheep_path).splits["test"]
    short, long = [d for d in sheep if len(d) <= limit][:3], [d for d in sheep if len(d) > limit][:1]
    empty = [np.zeros((0, 3), dtype=np.int16)]
    save_dataset(tmp_path / "mixed.npz", StrokeDataset(splits={"test": short + long + empty}))
    result = ok("reconstruct", f"{tmp_path / 'mixed.npz'}:test", "--model", tiny_model, "--n", 2,
                "--out", tmp_path / "r.npz")
    assert (f"left out 2 of 5 drawings in {tmp_path / 'mixed.npz'}:test: 1 empty, 1 longer than the model takes "
            f"({limit} points)") in result.output  # an empty drawing stopped the split as "input drawing 2 is empty"
    assert len(load_dataset(tmp_path / "r.npz").splits["train"]) == 6
    result = run("reconstruct", f"{tmp_path / 'mixed.npz'}:test:4", "--model", tiny_model, "--out", tmp_path / "x.npz")
    assert result.exit_code == 1 and f"{tmp_path / 'mixed.npz'}:test:4: the drawing is empty" in result.output
    result = run("reconstruct", f"{tmp_path / 'mixed.npz'}:test:3", "--model", tiny_model, "--out", tmp_path / "x.npz")
    assert result.exit_code == 1 and "longer than the model takes" in result.output  # the long one named alone
    save_dataset(tmp_path / "long.npz", StrokeDataset(splits={"test": long * 2}))
    result = run("reconstruct", f"{tmp_path / 'long.npz'}:test", "--model", tiny_model, "--out", tmp_path / "x.npz")
    assert result.exit_code == 1 and "longer than the model takes" in result.output
    assert not (tmp_path / "x.npz").exists()


def test_generate_says_how_many_drawings_came_out_empty(tmp_path):
    """A model that ends every drawing at once wrote "Wrote 3 drawings" of nothing."""
    import torch

    from sketchtool.checkpoint import save_checkpoint
    from sketchtool.dataspec import DataSpec
    from sketchtool.models.sketch_rnn import SketchRNN, SketchRNNHParams

    model = SketchRNN(SketchRNNHParams(max_seq_len=16, dec_rnn_size=8, num_mixture=1, conditional=False),
                      DataSpec(scale_factor=10.0, max_length=16))
    with torch.no_grad():
        model.output.weight.zero_()
        model.output.bias.copy_(torch.eye(len(model.output.bias))[2] * 100)  # the pen logits favour "end"
    save_checkpoint(tmp_path / "silent.pt", model, step=0)
    result = ok("generate", "--model", tmp_path / "silent.pt", "--n", 3, "--out", tmp_path / "g.svg")
    assert result.output.startswith(f"Wrote 3 drawings (3 empty) to {tmp_path / 'g.svg'}")


@pytest.fixture(scope="module")
def unconditional_model(tmp_path_factory) -> Path:
    from sketchtool.checkpoint import save_checkpoint
    from sketchtool.models.sketch_rnn import SketchRNN, SketchRNNHParams

    path = tmp_path_factory.mktemp("uncond") / "decoder_only.pt"
    from sketchtool.dataspec import DataSpec

    model = SketchRNN(SketchRNNHParams(max_seq_len=64, dec_rnn_size=8, num_mixture=1, conditional=False),
                      DataSpec(scale_factor=10.0, max_length=64))
    save_checkpoint(path, model, step=0)
    return path


@pytest.fixture(scope="module")
def broken_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("broken")
    (folder / "garbage.pt").write_bytes(b"not a checkpoint at all")
    (folder / "exists.svg").write_text("<svg/>")
    return {"garbage": folder / "garbage.pt", "exists": folder / "exists.svg"}


ERRORS = [  # (arguments, fragment of the one-line message); {tiny}, {uncond}, {fx}, {tmp}, {garbage}, {exists}
    (["generate", "--n", "0", "--out", "{tmp}/x.svg"], "--n 0"),
    (["generate", "--n", "2", "--temperature", "0", "--out", "{tmp}/x.svg"], "--temperature"),
    (["generate", "--n", "2", "--temperature", "-1", "--out", "{tmp}/x.svg"], "--temperature"),
    (["generate", "--n", "2", "--temperature", "1e300", "--out", "{tmp}/x.svg"], "at most 100"),  # drew NaN paths
    (["generate", "--n", "2", "--z-temperature", "1e308", "--out", "{tmp}/x.svg"], "--z-temperature 1e+308"),
    (["complete", "{fx}/sheep_start.svg", "--pen-temperature", "1e300", "--out", "{tmp}/x.svg"], "at most 100"),
    (["generate", "--n", "2", "--threads", "100000", "--out", "{tmp}/x.svg"], "--threads 100000: give 1 to"),
    (["complete", "{fx}/sheep_samples.npz:train:²", "--out", "{tmp}/x.svg"], "drawing index '²' is not a whole"),
    (["generate", "--n", "2", "--out", "{tmp}/x.pdf"], "unknown output format '.pdf'; use one of"),
    (["generate", "--n", "2", "--out", "{tmp}/x"], "unknown output format"),
    (["generate", "--n", "2", "--out", "{exists}"], "already exists"),
    (["generate", "--n", "2", "--out", "{tmp}/missing/x.svg"], "does not exist"),
    (["generate", "--n", "2", "--class", "cat", "--out", "{tmp}/x.svg"], "not trained with classes"),
    (["generate", "--model", "{garbage}", "--n", "2", "--out", "{tmp}/x.svg"], "not a readable sketchtool checkpoint"),
    (["generate", "--model", "no_such_model", "--n", "2", "--out", "{tmp}/x.svg"], "no embedded model of that name"),
    (["complete", "{fx}/../svg/hostile/empty.svg", "--out", "{tmp}/x.svg"], "empty.svg"),
    (["complete", "{fx}/../svg/hostile/billion_laughs.svg", "--out", "{tmp}/x.svg"], "billion_laughs.svg"),
    (["complete", "{fx}/sheep_start.svg", "--out", "{fx}/sheep_start.svg", "--force"], "overwrite an input"),
    (["complete", "{fx}/no_such.svg", "--out", "{tmp}/x.svg"], "No such file"),
    (["interpolate", "{fx}/sheep_a.svg", "--out", "{tmp}/x.svg"], "at least two"),
    (["interpolate", "{fx}/sheep_a.svg", "{fx}/sheep_b.svg", "--model", "{uncond}", "--out", "{tmp}/x.svg"],
     "cannot encode"),
    (["reconstruct", "{fx}/sheep_a.svg", "--model", "{uncond}", "--out", "{tmp}/x.svg"], "cannot encode"),
    (["generate", "--seed", str(2**64), "--out", "{tmp}/x.svg"], "--seed 18446744073709551616: must be an integer"),
    (["generate", "--seed", "-1", "--out", "{tmp}/x.svg"], "--seed -1: must be an integer from 0"),
    (["generate", "--n", "100001", "--out", "{tmp}/x.svg"], "--n 100001: must be an integer from 1 to 100,000"),
    (["generate", "--n", "2.5", "--out", "{tmp}/x.svg"], "--n 2.5: must be an integer"),
    (["complete", "{fx}/sheep_start.svg", "--n", "1000000", "--out", "{tmp}/x.svg"], "--n 1000000"),
    (["interpolate", "{fx}/sheep_a.svg", "{fx}/sheep_b.svg", "--steps", "1001", "--out", "{tmp}/x.svg"],
     "--steps 1001: must be an integer from 2 to 1,000"),
    (["generate", "--size", "32768", "--out", "{tmp}/x.png"], "--size 32768: must be an integer from 1 to 32,767"),
    (["generate", "--stroke-width", "inf", "--out", "{tmp}/x.svg"], "--stroke-width inf: must be a finite number"),
    (["generate", "--stroke-width", "0", "--out", "{tmp}/x.svg"], "--stroke-width 0"),
    (["complete", "{fx}/sheep_start.svg", "--stroke-width", "-1", "--out", "{tmp}/x.svg"], "--stroke-width -1"),
    (["generate", "--dpi", "-96", "--out", "{tmp}/x.png"], "--dpi -96"),
    (["generate", "--dpi", "20000", "--out", "{tmp}/x.png"], "--dpi 20000"),
    (["generate", "--n", "400", "--dpi", "3000", "--out", "{tmp}/x.png"], "too large (at most 32,767 px a side"),
    (["reconstruct", "{fx}/sheep_a.svg", "{fx}/sheep_b.svg", "--n", "60000", "--out", "{tmp}/x.svg"],
     "2 input(s) x --n 60000 = 120,000 drawings, more than 100,000"),
    (["interpolate", *["{fx}/sheep_a.svg", "{fx}/sheep_b.svg"] * 51, "--steps", "1000", "--out", "{tmp}/x.svg"],
     "101 pair(s) x --steps 1000 = 101,000 drawings, more than 100,000"),
    # look options the output cannot show were ignored without a word
    (["generate", "--size", "300", "--out", "{tmp}/x.svg"], "--size: no effect on .svg output"),
    (["generate", "--dpi", "300", "--cols", "2", "--out", "{tmp}/x.npz"], "--cols, --dpi: no effect on .npz output"),
    (["generate", "--stroke-width", "2", "--colour-by-order", "--out", "{tmp}/x.gcode"],
     "--colour-by-order, --stroke-width: no effect on .gcode output"),
    (["interpolate", "{fx}/sheep_a.svg", "{fx}/sheep_b.svg", "--with-inputs", "--out", "{tmp}/x.npz"],
     "--with-inputs: an .npz holds the results only"),
    (["complete", "{fx}/sheep_start.svg", "--cols", "1", "--out", "{tmp}/x.svg"],
     "--cols: the endings are drawn into the input's own page"),
    (["complete", "{fx}/sheep_start.svg", "--placement", "overlay", "--out", "{tmp}/x.png"],
     "--placement: arranges endings completed in place"),
    (["complete", "{fx}/sheep_samples.npz:train:0", "--placement", "side", "--out", "{tmp}/x.svg"],
     "--placement: arranges endings completed in place"),
]


@pytest.mark.parametrize("args, message", ERRORS, ids=[f"{a[0]}-{m[:24]}" for a, m in ERRORS])
def test_bad_input_is_one_clear_line(tiny_model, unconditional_model, broken_files, fixtures, tmp_path, args,
                                     message):
    names = {"tiny": tiny_model, "uncond": unconditional_model, "fx": fixtures, "tmp": tmp_path,
             "garbage": broken_files["garbage"], "exists": broken_files["exists"]}
    args = [a.format(**names) for a in args]
    if "--model" not in args:
        args += ["--model", str(tiny_model)]
    result = run(*args)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert message in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.svg").exists() and not (tmp_path / "x.png").exists()


def _cell_fill(path: Path) -> list[float]:
    """Each drawing's longer side as a fraction of its 128 px cell, from the written SVG."""
    return [float(np.ptp(np.concatenate([_numbers(p.get("d").replace("h0", "")) for p in g]), axis=0).max()) / 128
            for g in drawing_groups(path)]


def test_grids_fit_each_drawing_unless_common_scale(tiny_model, tmp_path):
    ok("generate", "--model", tiny_model, "--n", 9, "--seed", 2, "--out", tmp_path / "fit.svg")
    ok("generate", "--model", tiny_model, "--n", 9, "--seed", 2, "--common-scale", "--out", tmp_path / "common.svg")
    fit, common = _cell_fill(tmp_path / "fit.svg"), _cell_fill(tmp_path / "common.svg")
    dots = [i for i, f in enumerate(fit) if f == 0]
    assert all(f == pytest.approx(0.84, abs=0.01) for i, f in enumerate(fit) if i not in dots)  # 8% padding
    assert max(common) == pytest.approx(0.84, abs=0.01) and min(common) < max(common)


def test_show_fits_each_drawing_unless_common_scale(sheep_path, tmp_path):
    ok("show", sheep_path, "--n", 9, "-o", tmp_path / "fit.svg")
    ok("show", sheep_path, "--n", 9, "--common-scale", "-o", tmp_path / "common.svg")
    fit, common = _cell_fill(tmp_path / "fit.svg"), _cell_fill(tmp_path / "common.svg")
    assert fit == pytest.approx([0.84] * 9, abs=0.01) and sum(common) < sum(fit)


def test_dpi_scales_a_png_grid(tiny_model, tmp_path):
    for dpi in (96, 192):
        ok("generate", "--model", tiny_model, "--n", 4, "--seed", 0, "--dpi", dpi, "--out", tmp_path / f"{dpi}.png")
    with Image.open(tmp_path / "96.png") as small, Image.open(tmp_path / "192.png") as large:
        assert small.size == (256, 256) and large.size == (512, 512)



def test_an_svg_simplified_further_to_fit_the_model_says_so(tmp_path):
    """A 400-point zigzag was completed from a 2-point line without a word."""
    points = " ".join(f"L{2 * i},{40 * (i % 2)}" for i in range(1, 400))
    zigzag = tmp_path / "zig.svg"
    zigzag.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="-5 -5 810 50"><path d="M0,0 {points}" '
                      'stroke="black" fill="none"/></svg>')
    for command in (["complete", zigzag, "--n", 1, "--seed", 0], ["reconstruct", zigzag, "--n", 1, "--seed", 0]):
        result = ok(*command, "--out", tmp_path / f"{command[0]}.svg")
        assert f"Warning: {zigzag}: simplified at epsilon" in result.output
        assert "(the model's data: 2) to fit the 250 points the model takes" in result.output
    plain = tmp_path / "corner.svg"
    plain.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><path d="M10,10 L90,10 L90,90" '
                     'stroke="black" fill="none"/></svg>')
    assert "Warning" not in ok("complete", plain, "--n", 1, "--out", tmp_path / "c.svg").output
