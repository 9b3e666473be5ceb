"""The chairs generator (`sketchtool.models.chairs`) and its turntable datasets (`rasterize --turntable`): the
unpooling and loss of the paper, turntable geometry and splits, drawing unseen angles better than the mean-image
and nearest-seen-view baselines, and the commands (`generate --condition`)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sketchtool.cli import cli
from sketchtool.dataspec import DataSpec
from sketchtool.errors import SketchtoolError
from sketchtool.image_build import TRANSFORM_NAMES, TRANSFORM_NEUTRAL, _turn, _unit_polylines, turntable_from_strokes
from sketchtool.images import load_image_dataset, save_image_dataset
from sketchtool.models.base import Condition
from sketchtool.models.chairs import Chairs, ChairsHParams, unpool, view_report
from sketchtool.raster import RasterOptions

TINY = {"fc_size": 32, "joint_size": 64, "start_channels": 16, "nkerns": [16, 8], "batch_size": 32}


@pytest.fixture(scope="module")
def turntable(sheep_path, tmp_path_factory):
    """12 sheep at 24 angles, 16x16: train 15 angles, valid 3, test 6 per sheep."""
    from sketchtool.formats.npz import load_dataset

    path = tmp_path_factory.mktemp("turn") / "turn.npz"
    options = RasterOptions(size=16, line_width=1.0, padding=1.0)
    save_image_dataset(path, turntable_from_strokes(load_dataset(sheep_path), options, 24, limit=12, seed=1))
    return path


@pytest.fixture(scope="module")
def chairs_run(turntable, tmp_path_factory):
    """A chairs run of two steps on `turntable`: enough for the checks that come before any drawing."""
    from sketchtool.train import TrainOptions, resolve_hparams, train

    run = tmp_path_factory.mktemp("chairs") / "run"
    train(turntable, run, model="chairs", hps=resolve_hparams("chairs", overrides=TINY),
          options=TrainOptions(steps=2, save_every=2))
    return run


def _changed_turntable(turntable, path, change):
    """A copy of `turntable` at `path` after `change(dataset)`, every split alike."""
    ds = load_image_dataset(turntable)
    change(ds)
    save_image_dataset(path, ds)
    return path


def tiny_chairs(spec: DataSpec) -> Chairs:
    torch.manual_seed(0)
    return Chairs(ChairsHParams(**TINY), spec)


def test_unpooling_puts_each_value_top_left_of_its_block():
    x = torch.arange(8.0).view(1, 2, 2, 2)
    out = unpool(x)
    assert out.shape == (1, 2, 4, 4)
    assert torch.equal(out[:, :, ::2, ::2], x) and out.sum() == x.sum()
    assert torch.count_nonzero(out[:, :, 1::2]) == 0 and torch.count_nonzero(out[:, :, :, 1::2]) == 0


def test_turntable_splits_by_angle_and_carries_views_transforms_and_masks(turntable):
    ds = load_image_dataset(turntable)
    assert ds.counts() == {"train": 12 * 15, "valid": 12 * 3, "test": 12 * 6}
    angles = {s: set(ds.extras["angle"][s].tolist()) for s in ("train", "valid", "test")}
    assert not angles["test"] & angles["train"] and not angles["valid"] & angles["train"]
    theta = np.radians(ds.extras["angle"]["test"])
    np.testing.assert_allclose(ds.extras["view"]["test"], np.stack([np.sin(theta), np.cos(theta)], 1), atol=1e-6)
    assert ds.conditions == {"view": 2, "transform": len(TRANSFORM_NAMES)} and len(ds.class_names) == 12
    # ink never brighter than the image's brightness; the mask is where the stroke covers half a pixel or more
    brightness = ds.extras["transform"]["train"][:, 4]
    images, masks = ds.splits["train"].astype(float), ds.extras["mask"]["train"]
    assert (images.max(axis=(1, 2)) <= np.round(brightness * 255) + 1).all()
    assert (images[masks == 1] >= 0.5 * 255 * np.repeat(brightness, (masks == 1).sum(axis=(1, 2))) - 1).all()


def test_a_quarter_turn_is_the_rendering_rotated_clockwise():
    l_shape = _unit_polylines([np.array([[0.0, 0.0], [0.0, 8.0], [5.0, 8.0]])])
    options = RasterOptions(size=24, line_width=1.0, padding=0.0, antialias="none")
    upright = _turn(l_shape, 0.0, np.array(TRANSFORM_NEUTRAL), options)
    quarter = _turn(l_shape, 90.0, np.array(TRANSFORM_NEUTRAL), options)
    assert upright.sum() > 10
    assert np.abs(quarter - np.rot90(upright, k=-1)).mean() < 0.02 * upright.mean() + 1e-9


def test_loss_is_lambda_times_image_mse_plus_mask_mse(turntable):
    from sketchtool.models.chairs import TurntableBatchSource

    ds = load_image_dataset(turntable)
    model = tiny_chairs(DataSpec(kind="images", class_names=ds.class_names, image_shape=(16, 16),
                                 conditions=ds.conditions, settings=ds.meta))
    batch = next(TurntableBatchSource(ds, "train", batch_size=8).batches())
    terms = model.loss(batch)
    with torch.no_grad():
        image, mask = model.forward_images(torch.eye(12)[batch.labels], batch.view, batch.transform)
    expected = 10.0 * ((image - batch.images) ** 2).mean() + ((mask - batch.masks) ** 2).mean()
    torch.testing.assert_close(terms["loss"].detach(), expected)
    terms["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_trained_generator_draws_unseen_angles_better_than_the_baselines(turntable, tmp_path):
    from sketchtool.checkpoint import load_model
    from sketchtool.train import TrainOptions, resolve_hparams, train

    hps = resolve_hparams("chairs", overrides={**TINY, "learning_rate": 2e-3})
    train(turntable, tmp_path / "run", model="chairs", hps=hps, options=TrainOptions(steps=300, save_every=300))
    model, info = load_model(tmp_path / "run")
    assert info.spec.conditions == {"view": 2, "transform": 5}
    report = view_report(model, load_image_dataset(turntable), "test")
    assert report["mse"] < 0.85 * report["mean_image_mse"], report
    assert report["mse"] < report["nearest_view_mse"], report
    assert report["mask_iou"] > 0.3, report
    # the CLI: a turntable strip with a sweep, a morph, and a refusal without the conditions the model needs
    for condition in ("identity=3,angle=0:330", "identity=2:5,angle=40,scale=0.9"):
        out = tmp_path / f"{condition[9]}.png"
        result = CliRunner().invoke(cli, ["generate", "--model", str(tmp_path / "run"), "--n", "4", "--out", str(out),
                                          "--condition", condition])
        assert result.exit_code == 0 and out.is_file(), result.output
        assert "no noise)" in result.output and "temperature" not in result.output  # it has none to set
    result = CliRunner().invoke(cli, ["generate", "--model", str(tmp_path / "run"), "--n", "4",
                                      "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 1 and "identity=3,angle=40" in result.output and not (tmp_path / "x.png").exists()


def test_conditions_become_identity_view_and_transform_inputs(turntable):
    ds = load_image_dataset(turntable)
    model = tiny_chairs(DataSpec(kind="images", class_names=ds.class_names, image_shape=(16, 16),
                                 conditions=ds.conditions, settings=ds.meta))
    from sketchtool.sampling import parse_condition

    condition = parse_condition("identity=2:4,angle=90,width=1.5", 3, ds.class_names)
    identity, view, transform = model.condition_inputs(3, condition)
    np.testing.assert_allclose(identity[:, [2, 4]], [[1, 0], [0.5, 0.5], [0, 1]])
    np.testing.assert_allclose(view, [[1.0, 0.0]] * 3, atol=1e-6)
    np.testing.assert_allclose(transform, [[1.0, 0.0, 0.0, 1.5, 1.0]] * 3)
    # a morph's ends are the identities themselves
    ends = model.render(3, condition)[0]
    alone = model.render(1, Condition(labels=torch.tensor([2]), vectors={"angle": torch.tensor([[90.0]]),
                                                                         "width": torch.tensor([[1.5]])}))[0]
    np.testing.assert_allclose(ends[0], alone[0], atol=1e-6)
    with pytest.raises(SketchtoolError, match="needs a view"):
        model.condition_inputs(1, Condition(labels=torch.tensor([0])))
    with pytest.raises(SketchtoolError, match="identities 0 to 11"):
        model.condition_inputs(1, Condition(labels=torch.tensor([12]), vectors={"angle": torch.zeros(1, 1)}))


def _more_identities(ds):
    ds.class_names = ds.class_names + ["another"]
    ds.labels["test"] = np.full_like(ds.labels["test"], len(ds.class_names) - 1)


def _widen(name, width):
    def change(ds):
        ds.extras[name] = {k: np.zeros((len(a), width), np.float32) for k, a in ds.splits.items()}
    return change


def _small_masks(ds):
    ds.extras["mask"] = {k: np.zeros((len(a), 8, 8), np.uint8) for k, a in ds.splits.items()}


@pytest.mark.parametrize("change, message", [
    (_more_identities, "holds 13 classes; the model knows 12"),
    (_widen("view", 3), "its view vectors have 3 entries; the model takes 2"),
    (_widen("transform", 2), "its transform vectors have 2 entries; the model takes 5"),
    (_small_masks, "masks are 8x8, its images 16x16"),
])
def test_eval_names_what_a_turntable_has_that_the_model_cannot_read(chairs_run, turntable, tmp_path, change, message):
    """Were a RuntimeError from one_hot and matmul shape errors from the layers."""
    data = _changed_turntable(turntable, tmp_path / "other.npz", change)
    result = CliRunner().invoke(cli, ["eval", str(chairs_run), "--dataset", str(data)])
    assert result.exit_code == 1 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_one_identity_model_refuses_batches_of_other_identities(turntable):
    """A model trained on one identity has a one-entry identity code; identity 11 failed inside one_hot."""
    model = tiny_chairs(DataSpec(kind="images", image_shape=(16, 16), conditions={"view": 2, "transform": 5}))
    ds = load_image_dataset(turntable)
    with pytest.raises(SketchtoolError, match="identity 11 in split 'test': this model knows identities 0 to 0"):
        Chairs.batch_source(model.hps, model.spec, ds, "test", train=False, seed=0)
    ds.labels["test"][:] = 0
    assert len(Chairs.batch_source(model.hps, model.spec, ds, "test", train=False, seed=0))


def test_eval_says_a_given_dataset_file_is_missing(chairs_run, tmp_path):
    result = CliRunner().invoke(cli, ["eval", str(chairs_run), "--dataset", str(tmp_path / "missing.npz")])
    assert result.exit_code == 1 and "missing.npz: no such dataset file" in result.output, result.output
    assert "pass the dataset with --dataset" not in result.output


def test_a_one_number_view_is_an_angle_and_other_widths_are_one_line(turntable):
    """`--condition identity=3,view=5` (view is documented beside angle) was a matmul shape error."""
    ds = load_image_dataset(turntable)
    model = tiny_chairs(DataSpec(kind="images", class_names=ds.class_names, image_shape=(16, 16),
                                 conditions=ds.conditions, settings=ds.meta))
    from sketchtool.sampling import parse_condition

    by_view = model.condition_inputs(2, parse_condition("identity=3,view=90", 2, ds.class_names))
    by_angle = model.condition_inputs(2, parse_condition("identity=3,angle=90", 2, ds.class_names))
    for a, b in zip(by_view, by_angle):
        assert torch.equal(a, b)
    with pytest.raises(SketchtoolError, match="condition view: this model takes 2 numbers, not 3; or give an angle"):
        model.condition_inputs(1, Condition(labels=torch.tensor([0]), vectors={"view": torch.zeros(1, 3)}))
    with pytest.raises(SketchtoolError, match="condition transform: this model takes 5 numbers, not 1; or give its "
                                              "parts scale"):
        model.condition_inputs(1, parse_condition("identity=3,angle=40,transform=1", 1, ds.class_names))


@pytest.mark.parametrize("args, message", [
    (["--condition", "identity=3,angle=0", "--temperature", "5"], "--temperature: model .* samples no noise"),
    (["--condition", "identity=3,angle=0", "--greedy"], "--greedy: model .* samples no noise"),
    (["--condition", "identity=3:5,angle=0", "--label", "1"], "both pick the class"),  # --label was ignored
    (["--condition", "identity=3,angle=0,angle=90"], "angle given twice"),  # the last one won
    (["--condition", "identity=3,angle=0,view=90"], "view and angle: both give the view"),  # the view won
])
def test_generate_refuses_what_a_chairs_run_would_ignore(chairs_run, tmp_path, args, message):
    result = CliRunner().invoke(cli, ["generate", "--model", str(chairs_run), "--n", "2", "--out",
                                      str(tmp_path / "x.png"), *args])
    assert result.exit_code == 1 and re.search(message, result.output), result.output
    assert not (tmp_path / "x.png").exists()


def test_chairs_refuses_a_dataset_without_turntable_conditions(digits_npz, tmp_path):
    from sketchtool.train import train

    with pytest.raises(SketchtoolError, match="turntable"):
        train(digits_npz, tmp_path / "run", model="chairs")
    assert not (tmp_path / "run").exists()
