"""The model interface end to end: two toy models that exist only as a third-party package registered through the
`sketchtool.models` entry point go through `train`, `--resume` (tensor for tensor), `eval`, `curves`,
`generate` and `models --all` with no special case for them anywhere (tests/toy_models.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sketchtool.checkpoint import read_checkpoint
from sketchtool.train import read_metrics

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def toy_env(tmp_path_factory) -> dict[str, str]:
    """An environment in which the toy models are an installed distribution with entry points."""
    site = tmp_path_factory.mktemp("site")
    info = site / "sketchtool_toy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sketchtool-toy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[sketchtool.models]\ntoy-pixels = toy_models:PixelBernoulli\ntoy-walk = toy_models:StrokeWalk\n")
    path = os.pathsep.join([str(site), str(TESTS), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def _cli(env, *args, ok=True):
    done = subprocess.run([sys.executable, "-m", "sketchtool", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=300)
    if ok:
        assert done.returncode == 0, done.stderr[-2000:]
    return done


def _assert_same_state(a: Path, b: Path) -> None:
    pa, pb = read_checkpoint(a / "latest.pt"), read_checkpoint(b / "latest.pt")
    assert pa["step"] == pb["step"]
    for key in pa["state_dict"]:
        assert torch.equal(pa["state_dict"][key], pb["state_dict"][key]), key
    for name, state in pa["training"]["optimizers"].items():
        for k, v in state["state"].items():
            assert torch.equal(v["exp_avg"], pb["training"]["optimizers"][name]["state"][k]["exp_avg"])


def test_an_entry_point_image_model_trains_resumes_evaluates_and_generates(toy_env, digits_npz, tmp_path):
    listed = _cli(toy_env, "models", "--all").stdout
    assert "toy-pixels: images -> images; can generate" in listed and "toy-walk: strokes -> strokes" in listed

    whole, split = tmp_path / "whole", tmp_path / "split"
    common = ["--model", "toy-pixels", "--save-every", "10", "--threads", "1", "--precision", "fp32"]
    _cli(toy_env, "train", digits_npz, "-o", whole, "--steps", 30, *common)
    _cli(toy_env, "train", digits_npz, "-o", split, "--steps", 17, *common)
    _cli(toy_env, "train", digits_npz, "-o", split, "--steps", 30, "--resume", *common)
    _assert_same_state(whole, split)

    valid = [r for r in read_metrics(whole) if r["split"] == "valid"]
    assert [r["step"] for r in valid] == [10, 20, 30] and valid[-1]["nll"] < valid[0]["nll"]
    checkpoint, evaluated = _cli(toy_env, "eval", whole, "--split", "test").stdout.splitlines()
    assert checkpoint.endswith("best.pt at step 30") or checkpoint.endswith("best.pt at step 20"), checkpoint
    assert evaluated.startswith("test (180 items): loss ") and " nll " in evaluated and " ink " in evaluated

    pytest.importorskip("matplotlib")
    _cli(toy_env, "curves", whole, "-o", tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"

    from PIL import Image

    _cli(toy_env, "generate", "--model", whole, "--n", 6, "--cols", 3, "--seed", 1, "--out", tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").size[0] > Image.open(tmp_path / "g.png").size[1] > 0
    again = _cli(toy_env, "generate", "--model", whole, "--n", 6, "--cols", 3, "--seed", 1, "--out",
                 tmp_path / "h.png")
    assert again.returncode == 0 and (tmp_path / "g.png").read_bytes() == (tmp_path / "h.png").read_bytes()
    for refused in (["generate", "--model", whole, "--n", 2, "--out", tmp_path / "x.svg"],
                    ["generate", "--model", whole, "--n", 2, "--out", tmp_path / "y.png", "--frames", tmp_path / "y.gif"],
                    ["complete", tmp_path / "g.png", "--model", whole, "--out", tmp_path / "z.png"]):
        done = _cli(toy_env, *refused, ok=False)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1 and len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert not any((tmp_path / name).exists() for name in ("x.svg", "y.png", "y.gif", "z.png"))


def test_an_entry_point_stroke_model_trains_and_generates(toy_env, sheep_path, tmp_path):
    from sketchtool.dataset import StrokeDataset
    from sketchtool.formats.npz import load_dataset, save_dataset

    sheep = load_dataset(sheep_path)
    small = tmp_path / "sheep.npz"
    save_dataset(small, StrokeDataset(splits={k: [d for d in v if len(d) <= 40][:48] for k, v in sheep.splits.items()}))
    run = tmp_path / "run"
    _cli(toy_env, "train", small, "-o", run, "--model", "toy-walk", "--steps", 12, "--save-every", 6, "--threads", 1)
    out = _cli(toy_env, "eval", run).stdout
    assert "offsets" in out
    _cli(toy_env, "generate", "--model", run, "--n", 5, "--seed", 0, "--out", tmp_path / "walk.npz")
    drawings = load_dataset(tmp_path / "walk.npz").splits["train"]
    assert len(drawings) == 5 and all(len(d) == 12 for d in drawings)
    spec = read_checkpoint(run / "latest.pt")["spec"]
    scale = np.std(np.concatenate([d[:, :2] for d in drawings]))
    assert spec["kind"] == "strokes" and spec["scale_factor"] > 0 and scale > 0
    done = _cli(toy_env, "interpolate", f"{small}:test:0", f"{small}:test:1", "--model", run, "--out",
                tmp_path / "i.svg", ok=False)
    assert done.returncode == 1 and "cannot encode" in done.stderr


GENERIC = ["sketchtool/train.py", "sketchtool/checkpoint.py", "sketchtool/curves.py", "sketchtool/cli/training.py",
           "sketchtool/sampling.py", "sketchtool/dataspec.py", "sketchtool/cli/sampling.py"]
ALLOWED = {
    "save_every",  # the run option (--save-every), which a model's run_length() may default
    "max_seq_len",  # only where reading format-1 checkpoints (all Sketch-RNN's) and SVGs (prepare's own keyword)
}


@pytest.mark.parametrize("path", GENERIC)
def test_generic_code_names_no_sketch_rnn_hparam_or_loss_term(path):
    """Names and string literals only (prose in help texts may give examples)."""
    import dataclasses
    import io
    import tokenize

    from sketchtool.models.sketch_rnn import SketchRNNHParams

    specific = {f.name for f in dataclasses.fields(SketchRNNHParams)} | {"L_R", "L_KL", "L_s", "L_p", "kl_weight_at"}
    specific -= ALLOWED
    if path != "sketchtool/checkpoint.py":
        specific.add("max_seq_len")
    source = (TESTS.parent / path).read_text()
    found = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        text = token.string
        if token.type == tokenize.STRING:
            text = text.strip("\"'rbf")
        if token.type in (tokenize.NAME, tokenize.STRING) and text in specific:
            found.add(text)
    assert not found, f"{path} names {sorted(found)}"
