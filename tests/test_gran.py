"""GRAN (`sketchtool.models.gran`): the canvas is the sigmoid of summed increments, weights shared over steps,
each adversarial update moves only its own network, training on 8x8 digits brings samples toward the data,
and a GAM battle picks a trained GRAN over a briefly trained copy of it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sketchtool.cli import cli
from sketchtool.dataspec import DataSpec
from sketchtool.errors import SketchtoolError
from sketchtool.models.base import Condition, StepContext
from sketchtool.models.gran import GRAN, GRANHParams

TINY = GRAN.PRESETS["tiny"]  # the preset `train --model gran --preset tiny` uses


def tiny_gran(T: int = 3, seed: int = 0) -> GRAN:
    torch.manual_seed(seed)
    return GRAN(GRANHParams(T=T, **TINY), DataSpec(kind="images", image_shape=(8, 8)))


def test_image_is_the_sigmoid_of_the_summed_increments_and_frames_are_running_sums():
    model = tiny_gran(T=3).eval()
    out = model.sample(5, generator=torch.Generator().manual_seed(1), temperature=1.0, frames=True)
    z = torch.randn(5, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        increments = model.canvas_increments(z)[:, :, 0].numpy()  # (T, 5, 8, 8)
    assert out.images.shape == (5, 8, 8) and out.frames.shape == (3, 5, 8, 8)
    np.testing.assert_allclose(out.images, 1 / (1 + np.exp(-increments.sum(0))), atol=1e-6)
    np.testing.assert_allclose(out.frames[0], 1 / (1 + np.exp(-increments[0])), atol=1e-6)
    np.testing.assert_array_equal(out.frames[-1], out.images)
    assert not np.allclose(increments[0], increments[1])  # h_c feeds each step its predecessor's increment


def test_steps_share_weights_and_T1_is_the_single_step_ablation():
    t1, t3 = tiny_gran(T=1), tiny_gran(T=3)
    assert sum(p.numel() for p in t1.parameters()) == sum(p.numel() for p in t3.parameters())
    t3.load_state_dict(t1.state_dict())
    z = torch.randn(4, 16)
    with torch.no_grad():
        first = t3.eval().canvas_increments(z)[0]
        np.testing.assert_allclose(t1.eval().generate_images(z), torch.sigmoid(first), atol=1e-6)


def test_each_adversarial_update_moves_only_its_own_network():
    model = tiny_gran().train()
    opts = model.configure_optimizers()
    ctx = StepContext(0, opts, lambda: torch.autocast("cpu", enabled=False))
    x = torch.rand(16, 1, 8, 8)
    gen_before = [p.detach().clone() for p in model.generator_parameters()]
    dis_before = [p.detach().clone() for p in model.discriminator.parameters()]
    fake = model.generate_images(torch.randn(16, 16))
    model.discriminator_step(x, fake.detach(), ctx)
    assert all(torch.equal(a, b) for a, b in zip(gen_before, model.generator_parameters()))
    dis_after = [p.detach().clone() for p in model.discriminator.parameters()]
    assert not all(torch.equal(a, b) for a, b in zip(dis_before, dis_after))
    model.generator_step(fake, ctx)
    assert all(torch.equal(a, b) for a, b in zip(dis_after, model.discriminator.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(gen_before, model.generator_parameters()))
    assert all(p.grad is None for p in model.discriminator.parameters())


def test_gran_is_unconditional_and_refuses_odd_image_sides():
    with pytest.raises(SketchtoolError, match="unconditional"):
        tiny_gran().sample(2, condition=Condition(labels=torch.zeros(2, dtype=torch.int64)))
    with pytest.raises(SketchtoolError, match="divisible by 4"):
        GRAN(GRANHParams(**TINY), DataSpec(kind="images", image_shape=(10, 10)))


def test_list_hparams_are_given_on_the_command_line_as_json_lists():
    """nkerns=[4,2]'s comma is part of the value, not a separator; the stage count follows the list."""
    from sketchtool.models.base import parse_hparams
    from sketchtool.train import resolve_hparams

    hps = resolve_hparams("gran", overrides=parse_hparams("nkerns=[4,2,1], T=2,ckern=3"))
    assert (hps.nkerns, hps.T, hps.ckern) == ([4, 2, 1], 2, 3)
    assert GRAN(hps, DataSpec(kind="images", image_shape=(16, 16))).decoder.channels == [12, 6, 3, 1]
    for bad, message in (("nkerns=[4,2", "expected list"), ("nkerns=[0]", "whole numbers")):
        with pytest.raises(SketchtoolError, match=message):
            resolve_hparams("gran", overrides=parse_hparams(bad))


@pytest.fixture(scope="module")
def trained_pair(digits_npz, tmp_path_factory):
    """A tiny GRAN trained 200 steps on the digits and a copy of the same run stopped at step 25."""
    from sketchtool.train import TrainOptions, resolve_hparams, train

    root = tmp_path_factory.mktemp("gran")
    hps = resolve_hparams("gran", preset="tiny")
    train(digits_npz, root / "trained", model="gran", hps=hps, options=TrainOptions(steps=25, save_every=25))
    shutil.copytree(root / "trained", root / "brief")
    result = train(digits_npz, root / "trained", resume=True, options=TrainOptions(steps=200, save_every=100))
    return root / "trained", root / "brief", result


def test_training_brings_samples_toward_the_data_and_saves_both_optimisers(trained_pair, digits_npz):
    from sketchtool.checkpoint import read_checkpoint
    from sketchtool.train import evaluate, read_metrics

    trained, brief, result = trained_pair
    first = next(r for r in read_metrics(trained) if r["split"] == "valid")  # step 25
    assert first["step"] == 25
    # pixel moment mismatch of samples against the valid split, at step 25 and at step 200
    assert result.metrics["loss"] < 0.75 * first["loss"], (first["loss"], result.metrics)
    assert set(read_checkpoint(trained / "latest.pt")["training"]["optimizers"]) == {"gen", "dis"}
    test = evaluate(trained, split="test")
    assert test["items"] == 180 and np.isfinite(test["d_loss"])


def test_battle_picks_the_trained_gran_over_its_briefly_trained_copy(trained_pair, digits_npz, tmp_path):
    trained, brief, _ = trained_pair
    for a, b, winner in ((trained, brief, "A"), (brief, trained, "B")):
        out = tmp_path / f"battle-{winner}.json"
        result = CliRunner().invoke(cli, ["battle", str(a), str(b), "--data", f"{digits_npz}:test", "--n", "400",
                                          "--json", str(out)])
        assert result.exit_code == 0, result.output
        report = json.loads(out.read_text())
        assert report["gate_passed"] and report["winner"] == winner, result.output
        assert f"{winner} wins" in result.output and "r_sample" in result.output and "D_A on test " in result.output
    before = (trained / "run.json").read_bytes()  # the report over a battling run's own file: refused, even --force
    result = CliRunner().invoke(cli, ["battle", str(trained), str(brief), "--data", f"{digits_npz}:test",
                                      "--json", str(trained / "run.json"), "--force"])
    assert result.exit_code == 1 and "a file in the input folder" in result.output
    assert (trained / "run.json").read_bytes() == before
    result = CliRunner().invoke(cli, ["battle", str(trained), str(brief), "--data", f"{digits_npz}:test",
                                      "--json", str(tmp_path / "report.txt")])
    assert result.exit_code == 1 and "give a .json file" in result.output


def test_generate_writes_images_and_the_canvas_over_steps(trained_pair, tmp_path):
    trained, _, _ = trained_pair
    args = ["generate", "--model", str(trained), "--n", "6", "--seed", "3", "--out", str(tmp_path / "g.png"),
            "--frames", str(tmp_path / "g.gif")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(tmp_path / "g.gif") as gif:
        assert gif.n_frames >= GRANHParams().T
