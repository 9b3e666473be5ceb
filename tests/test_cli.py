"""Every command on empty, degenerate and hostile input: one readable error line and a non-zero exit.

One row per (command, input). Real inputs are covered per area (test_cli_data, test_cli_training,
test_cli_sampling, test_plot_cli, test_inkscape_*); this table is the cross-cutting promise that no
command ever answers bad input with a traceback or a silent success.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from sketchtool.cli import cli

HOSTILE = FIXTURES / "svg" / "hostile"


class _Payload:
    def __reduce__(self):  # would create a marker file if anything ever unpickled it
        return (Path.touch, (Path("/tmp/sketchtool-pwned"),))


def _small_dataset(path: Path) -> Path:
    """A valid three-drawing dataset, so a refusal is the option's doing, not the file's."""
    from sketchtool.dataset import StrokeDataset
    from sketchtool.formats.npz import save_dataset

    drawing = np.array([[0, 0, 0], [10, 5, 0], [5, 10, 1]], dtype=np.int16)
    save_dataset(path, StrokeDataset(splits={"train": [drawing] * 3, "valid": [], "test": []}))
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    empty_dir = root / "empty_dir"
    empty_dir.mkdir()
    (root / "empty.npz").write_bytes(b"")
    (root / "empty.svg").write_bytes(b"")
    (root / "text.txt").write_text("hello")
    evil = root / "evil.npz"
    with zipfile.ZipFile(evil, "w") as zf:
        header = np.lib.format.header_data_from_array_1_0(np.empty(1, dtype=object))
        with zf.open("train.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, header)
            pickle.dump(np.array([_Payload()], dtype=object), f, protocol=2)
    readers = _readers_inputs(root)
    # issue 10: plotter profiles that could drive the machine off the bed
    gcode_profiles = {
        "g91": 'header = ["G91"]', "g20": 'header = ["G20"]', "g92": 'header = ["G92 X-50"]', "g55": 'header = ["G55"]',
        "expr": 'header = ["G0 X[500*2]"]', "param": 'header = ["#1=500"]', "newline": 'header = ["M5\\nG91"]',
        "feed_nan": "draw_feed = nan", "z_nan": "z_up = nan", "z_deep": "z_down = -1e6",
        "feed_huge": "draw_feed = 1e300",
    }
    gcode = {}
    for key, body in gcode_profiles.items():
        gcode[f"gcode_{key}"] = root / f"gcode_{key}.toml"
        gcode[f"gcode_{key}"].write_text(f'base = "grbl-z"\n{body}\n')
    gcode["gcode_nobed"] = root / "gcode_nobed.toml"
    gcode["gcode_nobed"].write_text('pen = "z"\n')
    gcode["gcode_svg"] = FIXTURES / "svg" / "feather" / "square.svg"
    return {**readers, **gcode,
            "root": root, "empty_dir": empty_dir, "empty_npz": root / "empty.npz", "empty_svg": root / "empty.svg",
            "text": root / "text.txt", "evil_npz": evil, "bomb_svg": HOSTILE / "billion_laughs.svg",
            "xxe_svg": HOSTILE / "xxe_file.svg", "invisible_svg": HOSTILE / "only_invisible.svg",
            "outputs_a_svg": FIXTURES / "sampling" / "sheep_a.svg", "outputs_b_svg": FIXTURES / "sampling" / "sheep_b.svg",
            "outputs_npz": _small_dataset(root / "outputs.npz"), **_raster_inputs(root), **_checkpoint_inputs(root),
            **_draw_inputs(root), **_pixelcnn_inputs(root), **_chairs_inputs(root)}


def _checkpoint_inputs(root: Path) -> dict[str, Path]:
    """issue 10, models: checkpoints that would draw nonsense, a dataset without a validation split."""
    import torch

    from sketchtool.checkpoint import read_checkpoint, save_checkpoint
    from sketchtool.dataset import StrokeDataset
    from sketchtool.dataspec import DataSpec
    from sketchtool.formats.npz import save_dataset
    from sketchtool.models.sketch_rnn import SketchRNN, SketchRNNHParams

    good = root / "model_good.pt"
    model = SketchRNN(SketchRNNHParams(enc_rnn_size=4, dec_rnn_size=8, z_size=2, num_mixture=1, max_seq_len=20),
                      DataSpec(scale_factor=10.0, max_length=20))
    save_checkpoint(good, model, step=1)
    out = {}
    for name, change in (("nan", lambda p: p["state_dict"]["output.bias"].fill_(float("nan"))),
                         ("zero_scale", lambda p: p["spec"].__setitem__("scale_factor", 0.0))):
        payload = read_checkpoint(good)
        change(payload)
        out[f"model_{name}"] = root / f"model_{name}.pt"
        torch.save(payload, out[f"model_{name}"])
    drawing = np.array([[5, 2, 0], [3, 4, 1]], dtype=np.int16)
    out["model_no_valid"] = root / "model_no_valid.npz"
    save_dataset(out["model_no_valid"], StrokeDataset(splits={"train": [drawing] * 4, "valid": [], "test": []}))
    return out


def _chairs_inputs(root: Path) -> dict[str, Path]:
    """issue 15 (chairs, gran, battle): image datasets whose extras are listed but missing, or hold NaN."""
    import json

    def write(path: Path, members: dict) -> Path:
        with zipfile.ZipFile(path, "w") as zf:
            for key, array in members.items():
                with zf.open(f"{key}.npy", "w") as f:
                    np.lib.format.write_array(f, array)
        return path

    images = {"train": np.zeros((2, 4, 4), np.uint8), "class_names": np.array("[]")}
    missing = write(root / "chairs_missing_extras.npz",
                    {**images, "meta": np.array(json.dumps({"kind": "images", "extras": ["view"]}))})
    nan = write(root / "chairs_nan_view.npz", {**images, "train.view": np.full((2, 2), np.nan, np.float32),
                                               "meta": np.array(json.dumps({"kind": "images", "extras": ["view"],
                                                                            "conditions": ["view"]}))})
    return {"chairs_missing_extras": missing, "chairs_nan_view": nan}


def _raster_inputs(root: Path) -> dict[str, Path]:
    """issue 11 (raster): a tiny stroke dataset, its image dataset, folders with a broken PNG and a PNG bomb."""
    import struct
    import zlib

    from sketchtool.dataset import StrokeDataset
    from sketchtool.formats.npz import save_dataset
    from sketchtool.images import ImageDataset, save_image_dataset

    strokes = root / "raster_strokes.npz"
    save_dataset(strokes, StrokeDataset(splits={"train": [np.array([[0, 0, 0], [5, 5, 1]], np.int16)]}))
    images = root / "raster_images.npz"
    save_image_dataset(images, ImageDataset(splits={"train": np.zeros((2, 4, 4), np.uint8)}))
    broken, bomb = root / "raster_broken", root / "raster_bomb"
    broken.mkdir()
    bomb.mkdir()
    (broken / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    ihdr = struct.pack(">IIBBBBB", 40000, 40000, 8, 0, 0, 0, 0)  # 1.6 G pixels claimed, a few bytes stored
    chunks = [(b"IHDR", ihdr), (b"IDAT", zlib.compress(b"\0" * 64)), (b"IEND", b"")]
    (bomb / "big.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d)) for k, d in chunks))
    return {"raster_strokes": strokes, "raster_images": images, "raster_broken_dir": broken, "raster_bomb_dir": bomb,
            **_vec_inputs(root)}


def _vec_inputs(root: Path) -> dict[str, Path]:
    """issue 13 (vectorize): blank, all-black and fully transparent pictures, and one good line picture."""
    from PIL import Image

    paths = {k: root / f"{k}.png" for k in ("vec_white", "vec_black", "vec_clear", "vec_line")}
    Image.new("L", (30, 30), 255).save(paths["vec_white"])
    Image.new("L", (30, 30), 0).save(paths["vec_black"])
    Image.new("RGBA", (30, 30), (0, 0, 0, 0)).save(paths["vec_clear"])
    line = Image.new("L", (30, 30), 255)
    line.paste(0, (5, 14, 25, 17))
    line.save(paths["vec_line"])
    return paths


def _draw_inputs(root: Path) -> dict[str, Path]:
    """issue 14 (draw): a tiny image dataset with every split and a DRAW run trained on it for one step."""
    from sketchtool.images import ImageDataset, save_image_dataset
    from sketchtool.train import TrainOptions, resolve_hparams, train

    images = root / "draw_images.npz"
    pixels = np.random.default_rng(0).integers(0, 256, (3, 6, 6, 6)).astype(np.uint8)
    save_image_dataset(images, ImageDataset(splits=dict(zip(("train", "valid", "test"), pixels))))
    run = root / "draw_run"
    hps = resolve_hparams("draw", overrides={"T": 2, "enc_size": 4, "dec_size": 4, "z_size": 2, "read_n": 2,
                                             "write_n": 2, "batch_size": 6})
    train(images, run, model="draw", hps=hps, options=TrainOptions(steps=1, save_every=1, precision="fp32"))
    return {"draw_images": images, "draw_run": run}


def _pixelcnn_inputs(root: Path) -> dict[str, Path]:
    """issue 14 (pixelcnn): a one-step gated PixelCNN on a 4x4 two-class image dataset, a 6x6 image dataset, a
    mask PNG that leaves nothing missing."""
    from PIL import Image

    from sketchtool.images import ImageDataset, save_image_dataset
    from sketchtool.models.base import parse_hparams
    from sketchtool.train import TrainOptions, resolve_hparams, train

    rng = np.random.default_rng(0)
    data = root / "pixelcnn_data.npz"
    save_image_dataset(data, ImageDataset(
        splits={s: rng.integers(0, 256, (4, 4, 4)).astype(np.uint8) for s in ("train", "valid", "test")},
        labels={s: np.array([0, 1, 0, 1]) for s in ("train", "valid", "test")}, class_names=["a", "b"]))
    big = root / "pixelcnn_big.npz"
    save_image_dataset(big, ImageDataset(splits={"test": np.zeros((2, 6, 6), np.uint8)}))
    run = root / "pixelcnn_run"
    hps = resolve_hparams("gated-pixelcnn", overrides=parse_hparams("n_layers=1,n_filters=4,batch_size=4"))
    train(data, run, model="gated-pixelcnn", hps=hps, options=TrainOptions(steps=1, save_every=1, device="cpu"))
    full_mask = root / "pixelcnn_full_mask.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(full_mask)
    return {"pixelcnn_data": data, "pixelcnn_big": big, "pixelcnn_run": run, "pixelcnn_full_mask": full_mask}


def _readers_inputs(root: Path) -> dict[str, Path]:
    """issue 10, readers: a protocol-2 pickle calling _codecs.encode with another encoding, an npz zip bomb, a
    dataset of 1e308 offsets, a good dataset (for bad references) and an SVG whose only shapes are outside <use>s."""
    from test_npz import protocol2_member, write_zero_bomb

    odd = root / "readers_utf8_pickle.npz"
    with zipfile.ZipFile(odd, "w") as zf:
        zf.writestr("train.npy", protocol2_member([np.array([[1.0, 2.0, 1.0]])], encoding="utf-8"))
    bomb = root / "readers_bomb.npz"
    write_zero_bomb(bomb, {"train": 64 << 20, "valid": 64 << 20})
    huge = root / "readers_huge.npz"
    drawings = np.empty(1, dtype=object)
    drawings[0] = np.array([[1e308, 1e308, 0.0], [1e308, -1e308, 1.0]])
    np.savez(huge, train=drawings)
    good = root / "readers_good.npz"
    drawings = np.empty(1, dtype=object)
    drawings[0] = np.array([[5, 2, 0], [3, 4, 1]], dtype=np.int16)
    np.savez(good, train=drawings, valid=drawings, test=drawings)
    use_only = root / "readers_use_only.svg"
    use_only.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" stroke="black">'
                        '<use href="file:///etc/passwd#x"/><use href="http://example.com/a.svg#p"/></svg>')
    return {"readers_utf8_pickle": odd, "readers_bomb": bomb, "readers_huge": huge, "readers_good": good,
            "readers_use_only": use_only}


ROWS = [
    ("build-dataset {empty_dir} -o {out}.npz", "empty folder"),
    ("build-dataset {bomb_svg} -o {out}.npz", "entity bomb only"),
    ("info {empty_npz}", "empty file"),
    ("info {evil_npz}", "pickle payload"),
    ("info {text}", "not a dataset"),
    ("show {evil_npz} -o {out}.svg", "pickle payload"),
    ("show {empty_npz} -o {out}.svg", "empty file"),
    ("train {evil_npz} -o {out}", "pickle payload"),
    ("train {empty_npz} -o {out}", "empty file"),
    ("eval {empty_dir}", "not a run"),
    ("curves {empty_dir} -o {out}.png", "not a run"),
    ("generate --n 0 --out {out}.svg", "n <= 0"),
    ("generate --n 2 --temperature 0 --out {out}.svg", "temperature 0"),
    ("generate --n 2 --out {out}.jpg", "unknown format"),
    ("generate --n 2 --precision half --out {out}.svg", "unknown precision"),
    ("generate --n 2 --model {empty_npz} --out {out}.svg", "not a model"),
    ("complete {empty_svg} --out {out}.svg", "empty svg"),
    ("complete {xxe_svg} --out {out}.svg", "external entity"),
    ("complete {invisible_svg} --out {out}.svg", "nothing drawn"),
    ("interpolate {bomb_svg} {xxe_svg} --out {out}.svg", "hostile pair"),
    ("analogy {empty_svg} {bomb_svg} {xxe_svg} --out {out}.svg", "hostile triple"),
    ("reconstruct {evil_npz}:train:0 --out {out}.svg", "pickle payload"),
    ("plot {empty_svg} -o {out}.gcode", "empty svg"),
    ("plot {evil_npz} -o {out}.gcode", "pickle payload"),
    ("plot {text} -o {out}.gcode", "not a drawing"),
    # issue 10: readers
    ("info {readers_utf8_pickle}", "_codecs.encode with utf-8"),
    ("show {readers_utf8_pickle} -o {out}.svg", "_codecs.encode with utf-8"),
    ("info {readers_bomb}", "npz zip bomb"),
    ("show {readers_bomb} -o {out}.png", "npz zip bomb"),
    ("train {readers_bomb} -o {out}", "npz zip bomb"),
    ("info {readers_huge}", "1e308 offsets"),
    ("show {readers_huge} -o {out}.svg", "1e308 offsets"),
    ("show {readers_good} -o {out}.jpg", "unknown format"),
    ("interpolate {readers_good}:tset:0 {readers_good}:train:0 --out {out}.svg", "unknown split"),
    ("reconstruct {readers_good}:train:first --out {out}.svg", "index not a number"),
    ("plot {readers_good}:tset -o {out}.gcode", "unknown split"),
    ("build-dataset {readers_use_only} -o {out}.npz", "only outside <use>"),
    ("complete {readers_use_only} --out {out}.svg", "only outside <use>"),
    ("plot {readers_use_only} -o {out}.svg", "only outside <use>"),
    # issue 10: plotter
    ("plot {gcode_svg} -o {out}.gcode --profile {gcode_g91}", "profile header G91 (relative)"),
    ("plot {gcode_svg} -o {out}.gcode --profile {gcode_g20}", "profile header G20 (inches)"),
    ("plot {gcode_svg} -o {out}.gcode --profile {gcode_g92}", "profile header G92 (offset)"),
    ("plot {gcode_svg} -o {out}.gcode --profile {gcode_g55}", "profile header G55 (work offset)"),
    ("plot {gcode_svg} -o {out}.gcode --profile {gcode_expr}", "profile rs274 expression"),
    ("plot {gcode_svg} -o {out}.gcode --profile {gcode_param}", "profile rs274 parameter"),
    ("plot {gcode_svg} -o {out}.gcode --profile {gcode_newline}", "profile line with a newline"),
    ("plot {gcode_svg} -o {out}.gcode --profile {gcode_feed_nan}", "profile draw_feed nan"),
    ("plot {gcode_svg} -o {out}.gcode --profile {gcode_z_nan}", "profile z_up nan"),
    ("plot {gcode_svg} -o {out}.gcode --profile {gcode_z_deep}", "profile z_down -1e6"),
    ("plot {gcode_svg} -o {out}.gcode --profile {gcode_feed_huge}", "profile draw_feed 1e300"),
    ("plot {gcode_svg} -o {out}.gcode --profile {gcode_nobed}", "profile without a bed"),
    ("plot {gcode_svg} -o {out}.gcode --profile marlin-z", "A4 on the 220 mm bed"),
    ("plot {gcode_svg} -o {out}.gcode --profile marlin-z --landscape", "A4 landscape on the 220 mm bed"),
    ("plot {gcode_svg} -o {out}.gcode --scale 1e308", "scale 1e308"),
    ("plot {gcode_svg} -o {out}.gcode --scale nan", "scale nan"),
    # issue 11: raster
    ("rasterize {empty_npz} -o {out}.npz", "empty file"),
    ("rasterize {evil_npz} -o {out}.npz", "pickle payload"),
    ("rasterize {empty_dir} -o {out}.npz", "empty folder"),
    ("rasterize {raster_strokes} -o {out}.npz --size 0", "size 0"),
    ("rasterize {raster_strokes} -o {out}.npz --size 8 --padding 4", "no room"),
    ("rasterize {raster_strokes} -o {out}.npz --size 5000", "--size 5000: an image dataset holds images of at most"),
    ("rasterize {raster_strokes} -o {out}.png", "not an .npz output"),
    ("rasterize {raster_broken_dir} -o {out}.npz", "folder with a broken PNG"),
    ("rasterize {raster_bomb_dir} -o {out}.npz", "image bomb"),
    ("rasterize {raster_strokes} -o {raster_strokes} --force", "output over input"),
    ("rasterize {raster_images} -o {out}.npz", "already images"),
    ("show {raster_images} -o {out}.svg", "image dataset as svg"),
    # issue 10: outputs
    ("generate --seed 1180591620717411303424 --n 2 --out {out}.svg", "seed 2**70"),
    ("generate --n 2 --size 100000 --out {out}.png", "png wider than cairo allows"),
    ("generate --n 2 --stroke-width nan --out {out}.svg", "stroke width nan"),
    ("generate --n 2 --dpi 0 --out {out}.png", "dpi 0"),
    ("generate --n 2 --dpi nan --out {out}.png", "dpi nan"),
    ("generate --n 10000000 --out {out}.svg", "n ten million"),
    ("interpolate {outputs_a_svg} {outputs_b_svg} --steps 100000 --out {out}.svg", "steps 100000"),
    ("show {outputs_npz} --seed 1180591620717411303424 -o {out}.svg", "seed 2**70"),
    ("show {outputs_npz} --n 10000000 -o {out}.svg", "n ten million"),
    # issue 10: models and training
    ("generate --model {model_nan} --n 2 --out {out}.svg", "checkpoint with NaN weights"),
    ("generate --model {model_zero_scale} --n 2 --out {out}.npz", "checkpoint with a zero scale factor"),
    ("generate --model {outputs_npz} --n 2 --out {out}.svg", "a dataset given as the model"),
    ("eval {model_nan}", "checkpoint with NaN weights"),
    ("train {model_no_valid} -o {out}", "no validation split"),
    ("train {outputs_npz} -o {out} --steps 0", "steps 0"),
    ("train {outputs_npz} -o {out} --seed 1180591620717411303424", "seed 2**70"),
    ("train {outputs_npz} -o {out} --precision half", "unknown precision"),
    ("train {outputs_npz} -o {out} --model toy-nothing", "unknown model"),
    ("train {outputs_npz} -o {out} --preset huge", "unknown preset"),
    ("train {raster_images} -o {out}", "images for a stroke model"),
    ("generate --n 2 --frames {out}.gif --out {out}.svg", "frames of a stroke model"),
    # issue 10: serve
    ("serve --port 0 --host 0.0.0.0", "another address without --allow-remote"),
    ("serve --port 0 --host 192.0.2.1 --allow-remote", "an address this machine lacks"),
    ("serve --port 0 --host no-such-host.invalid", "unknown host name"),
    ("serve --port 0 --model {empty_dir}", "model: not a run"),
    ("serve --port 0 --model {evil_npz}", "model: pickle payload"),
    ("serve --port 0 --model no-such-model", "model: unknown name"),
    ("serve --port 0 --runs {text}", "runs: a file"),
    ("serve --port 0 --runs {empty_dir}/missing", "runs: missing folder"),
    ("serve --port 70000", "port out of range"),
    # issue 12: score
    ("score {empty_npz} --ref {readers_good}:test", "empty samples file"),
    ("score {evil_npz} --ref {readers_good}:test", "pickle payload samples"),
    ("score {outputs_npz} --ref {evil_npz}:test", "pickle payload reference"),
    ("score {outputs_npz} --ref {text}", "reference not a dataset"),
    ("score --ref {readers_good}:test", "neither samples nor model"),
    ("score {outputs_npz} --model sheep --ref {readers_good}:test", "samples and model"),
    ("score {outputs_npz} --ref {outputs_npz}:test", "empty reference split"),
    ("score {outputs_npz} --ref {outputs_npz}:bogus", "unknown split"),
    ("score {outputs_npz} --ref {outputs_npz}:train:0", "one drawing as reference"),
    ("score {outputs_npz} --ref {readers_good}:test", "three samples"),
    ("score {readers_good} --ref {outputs_npz}:train", "reference of three drawings"),
    ("score {outputs_npz} --ref {readers_huge}:train", "1e308 offsets"),
    ("score {outputs_npz} --ref {readers_good}:test --judge {evil_npz}", "judge with a pickle payload"),
    ("score {outputs_npz} --ref {readers_good}:test --judge {empty_npz}", "empty judge file"),
    ("score {outputs_npz} --ref {readers_good}:test --json {out}.txt", "report not json"),
    ("score --model sheep --n 0 --ref {readers_good}:test", "n 0"),
    ("score --model sheep --n 20 --temperature nan --ref {readers_good}:test", "temperature nan"),
    ("score --model {empty_dir} --n 20 --ref {readers_good}:test", "model folder without a run"),
    ("score {raster_images} --ref {raster_images}:train", "two images"),
    # issue 14: draw
    ("train {draw_images} -o {out} --model draw --hparams T=0", "no glimpses"),
    ("train {draw_images} -o {out} --model draw --hparams read_n=0", "read_n 0"),
    ("train {draw_images} -o {out} --model draw --hparams kl_warmup_steps=-1", "negative warm-up"),
    ("train {draw_images} -o {out} --model draw --hparams grad_clip=nan", "grad_clip nan"),
    ("train {draw_images} -o {out} --model draw --preset paper", "unknown preset"),
    ("train {raster_strokes} -o {out} --model draw", "stroke dataset"),
    ("generate --model {draw_run} --n 2 --out {out}.svg", "images as svg"),
    ("generate --model {draw_run} --n 2 --out {out}.png --class 3", "unconditional with --class"),
    ("generate --model {draw_run} --n 2 --out {out}.png --frames {out}.mp4", "frames not a gif"),
    ("generate --model {draw_run} --n 2 --out {out}.png --temperature 0", "draw at temperature 0"),
    ("eval {draw_run} --dataset {raster_strokes}", "stroke dataset"),
    # issue 13: vectorize
    ("vectorize {text} -o {out}.svg", "not an image"),
    ("vectorize {vec_white} -o {out}.svg", "blank picture"),
    ("vectorize {vec_black} -o {out}.svg", "all-black picture"),
    ("vectorize {vec_clear} -o {out}.svg", "transparent picture"),
    ("vectorize {raster_bomb_dir}/big.png -o {out}.svg", "decompression bomb"),
    ("vectorize {raster_broken_dir}/a.png -o {out}.svg", "broken png"),
    ("vectorize {vec_line} -o {vec_line} --force", "output over input"),
    ("vectorize {vec_line} -o {out}.txt", "unknown output format"),
    ("vectorize {vec_line} -o {out}.svg --model sheep", "a sketch model cannot vectorize"),
    ("build-dataset {raster_bomb_dir} -o {out}.npz --pictures skeleton", "picture folder of a bomb"),
    ("build-dataset {vec_white} {vec_black} -o {out}.npz", "blank and black pictures"),
    ("build-dataset {vec_line} -o {out}.npz --pictures agent --vectorizer {empty_npz}", "vectorizer not a model"),
    ("build-dataset {vec_line} -o {out}.npz --pictures agent --vectorizer sheep", "vectorizer a sketch model"),
    ("build-dataset {vec_line} -o {out}.npz --vectorizer sheep", "vectorizer without agent"),
    ("build-dataset {vec_line} -o {out}.npz --refine 30", "refine without agent"),
    ("build-dataset {vec_line} -o {out}.npz --pictures agent --refine -5", "negative refine for build"),
    ("vectorize {vec_line} -o {out}.svg --model {empty_npz}", "model is not a checkpoint"),
    ("vectorize {vec_line} -o {out}.svg --model {raster_images}", "model is a dataset"),
    ("vectorize {vec_line} -o {out}.svg --method skeleton --model {raster_images}", "skeleton with a model"),
    ("vectorize {vec_line} -o {out}.svg --strokes 0", "zero strokes"),
    ("vectorize {vec_line} -o {out}.svg --refine -1", "negative refine"),
    ("vectorize {vec_line} -o {out}.svg --method skeleton --refine 5", "refine with the skeleton tracer"),
    ("vectorize {vec_line} -o {out}.svg --size 2", "canvas too small"),
    ("vectorize {vec_line} -o {out}.svg --stroke-width nan", "stroke width nan"),
    ("vectorize {raster_strokes} -o {out}.svg", "stroke dataset"),
    ("vectorize {raster_images} -o {out}.svg", "dataset of blank images"),
    ("vectorize {raster_images} -o {out}.svg --split nope", "unknown split"),
    # issue 14: pixelcnn
    ("train {pixelcnn_data} -o {out} --model gated-pixelcnn --hparams output=gaussian", "unknown output"),
    ("train {pixelcnn_data} -o {out} --model gated-pixelcnn --hparams kernel_size=4", "even kernel"),
    ("train {outputs_npz} -o {out} --model gated-pixelcnn", "stroke dataset"),
    ("generate --model {pixelcnn_run} --label 7 --n 2 --out {out}.png", "label out of range"),
    ("generate --model {pixelcnn_run} --n 2 --out {out}.svg", "images as svg"),
    ("generate --model {pixelcnn_run} --n 2 --out {out}.png --frames {out}.gif", "frames of a one-step model"),
    ("complete {pixelcnn_data}:test:9 --model {pixelcnn_run} --out {out}.png", "index out of range"),
    ("complete {pixelcnn_data}:test --model {pixelcnn_run} --out {out}.png", "no index"),
    ("complete {pixelcnn_big}:test:0 --model {pixelcnn_run} --out {out}.png", "wrong image size"),
    ("complete {raster_strokes}:train:0 --model {pixelcnn_run} --out {out}.png", "strokes to an image model"),
    ("complete {outputs_a_svg} --model {pixelcnn_run} --out {out}.png", "svg to an image model"),
    ("complete {empty_dir}/missing.png --model {pixelcnn_run} --out {out}.png", "missing png"),
    ("complete {raster_bomb_dir}/big.png --model {pixelcnn_run} --out {out}.png", "image bomb"),
    ("complete {raster_broken_dir}/a.png --model {pixelcnn_run} --out {out}.png", "broken png"),
    ("complete {pixelcnn_data}:test:0 --model {pixelcnn_run} --mask {text} --out {out}.png", "mask not an image"),
    ("complete {pixelcnn_data}:test:0 --model {pixelcnn_run} --mask {pixelcnn_full_mask} --out {out}.png",
     "mask leaves nothing missing"),
    ("complete {pixelcnn_data}:test:0 --model {pixelcnn_run} --out {out}.svg", "images as svg"),
    ("complete {pixelcnn_data}:test:0 --model {pixelcnn_run} --out {pixelcnn_data} --force", "output over input"),
    ("complete {outputs_a_svg} --mask {pixelcnn_full_mask} --out {out}.svg", "mask with a stroke model"),


    ("rasterize {raster_strokes} -o {out}.npz --turntable 2", "turntable of 2 views"),
    ("rasterize {raster_strokes} -o {out}.npz --turntable 100000", "turntable of 100000 views"),
    ("rasterize {raster_broken_dir} -o {out}.npz --turntable 36", "turntable of a folder"),
    ("info {chairs_missing_extras}", "extras listed but missing"),
    ("info {chairs_nan_view}", "NaN view vectors"),
    ("train {chairs_nan_view} -o {out} --model chairs", "NaN view vectors"),
    ("train {raster_images} -o {out} --model chairs", "no turntable conditions"),
    ("train {raster_images} -o {out} --model gran --hparams T=0", "zero steps"),
    ("generate --n 2 --out {out}.svg --condition identity=3", "condition for a stroke model"),
    ("battle {raster_images} {raster_images} --data {raster_images}", "datasets as runs"),
    ("battle {empty_dir} {empty_dir} --data {raster_images}:bogus", "unknown split"),
    ("battle {empty_dir} {empty_dir} --data {raster_images} --n 0", "no samples"),
    ("battle {empty_dir} {empty_dir} --data {raster_images} --json {raster_images}", "json over an input"),
    # issue 12: the pen temperature, fine-tuning from a model
    ("generate --n 2 --pen-temperature 0 --out {out}.svg", "pen temperature 0"),
    ("generate --n 2 --pen-temperature nan --out {out}.svg", "pen temperature nan"),
    ("generate --model {draw_run} --n 2 --pen-temperature 0.5 --out {out}.png", "image model"),
    ("generate --n 2 --z-temperature -1 --out {out}.svg", "z temperature -1"),
    ("generate --n 2 --z-temperature inf --out {out}.svg", "z temperature inf"),
    ("generate --model {draw_run} --n 2 --z-temperature 0.5 --out {out}.png", "z temperature of an image model"),
    ("interpolate {outputs_a_svg} {outputs_b_svg} --z-temperature 0.5 --out {out}.svg", "z temperature, no random z"),
    ("score --model sheep --n 20 --z-temperature nan --ref {readers_good}:test", "score with z temperature nan"),
    ("train {outputs_npz} -o {out} --init {empty_npz}", "init from a dataset"),
    ("train {outputs_npz} -o {out} --init nosuchmodel", "init from an unknown model"),
    ("train {outputs_npz} -o {out} --init sheep --preset small", "init with a preset"),
    ("train {outputs_npz} -o {out} --init sheep --resume", "init with resume"),
    ("train {outputs_npz} -o {draw_run} --resume --hparams learning_rate=0.1", "resume with hparams"),
    ("train {outputs_npz} -o {draw_run} --resume --preset small", "resume with a preset"),
    ("train {outputs_npz} -o {out} --init sheep --hparams dec_rnn_size=8", "init with another shape"),
    ("train {raster_images} -o {out} --init sheep", "init a stroke model on images"),
]


@pytest.mark.parametrize("template, case", ROWS, ids=[f"{r[0].split()[0]}: {r[1]}" for r in ROWS])
def test_bad_input_gives_one_error_line_and_nonzero_exit(template, case, inputs, tmp_path):
    args = template.format(out=tmp_path / "out", **inputs).split()
    result = CliRunner().invoke(cli, args)
    output = result.output.strip()
    assert result.exit_code not in (0, 3), output  # 3 = internal error (a bug of ours)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    error_lines = [line for line in output.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1, output
    assert not Path("/tmp/sketchtool-pwned").exists()
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir()), "no output on failure"


def test_frames_from_a_model_that_does_not_draw_in_steps_is_refused_before_sampling(inputs, tmp_path, monkeypatch):
    import sketchtool.sampling

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampled before refusing")
    monkeypatch.setattr(sketchtool.sampling, "generate", no_sampling)
    result = CliRunner().invoke(cli, ["generate", "--model", str(inputs["pixelcnn_run"]), "--n", "2",
                                      "--out", str(tmp_path / "g.png"), "--frames", str(tmp_path / "g.gif")])
    assert result.exit_code == 1 and "does not draw in steps; drop --frames" in result.output, result.output


@pytest.mark.parametrize("error", [RuntimeError("bad size\nframe #0: c10::Error\nframe #1: ..."),
                                   OSError("disk gone\nsecond line")])
def test_an_unexpected_error_with_a_multi_line_message_prints_one_line(error, monkeypatch):
    """torch's errors carry a C++ stack trace in their message: an internal error printed all ~50 lines of it."""
    import sketchtool.train

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(sketchtool.train, "evaluate", fail)
    result = CliRunner().invoke(cli, ["eval", "sheep"])
    assert result.exit_code != 0
    assert result.output.strip().count("\n") == 0, result.output
    assert result.output.startswith("Error:") and ("bad size" in result.output or "disk gone" in result.output)
