"""StrokeNet (issue 13): the real environment, the neural renderer and the agents, on tiny canvases (seconds)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from sketchtool.dataspec import DataSpec
from sketchtool.errors import SketchtoolError
from sketchtool.models.strokenet import (StrokeRenderer, StrokeRendererHParams, composite, gaussian_bumps,
                                         random_strokes, real_render)
from sketchtool.models.strokenet_agent import StrokeAgent, StrokeAgentHParams, adjacent_penalty

TINY_RENDERER = "upsample=0,position_hidden=32,position_wide=64,channels=8,pretrain_steps=20,batch_size=16,valid_size=32"
TINY_AGENT = "channels=4,fc1=32,fc2=16,batch_size=32"


def _renderer(size=8, **kw) -> StrokeRenderer:
    torch.manual_seed(0)
    hps = StrokeRendererHParams(upsample=0, position_hidden=32, position_wide=64, channels=8, max_width=2.0, **kw)
    return StrokeRenderer(hps, DataSpec(kind="images", image_shape=(size, size)))


def _agent(renderer: StrokeRenderer, **kw) -> StrokeAgent:
    hps = StrokeAgentHParams(renderer_hparams=json.dumps(renderer.hparams_dict()), channels=4, fc1=32, fc2=16, **kw)
    agent = StrokeAgent(hps, renderer.spec)
    agent.renderer.load_state_dict(renderer.state_dict())
    return agent


# --- the real environment ------------------------------------------------------------------------------------
def test_real_environment_pressure_widens_the_pen_and_zero_lifts_it():
    points = np.array([[[-0.6, 0.0], [0.0, 0.0], [0.6, 0.0]]] * 4, np.float32)  # a horizontal line
    pressure = np.array([[1, 1, 1], [0.4, 0.4, 0.4], [0, 0, 0], [1, 1, 1]], np.float32)
    brush = np.array([[1, 1], [1, 1], [1, 1], [0.5, 1]], np.float32)
    ink = real_render(points, pressure, brush, (32, 32), max_width=6.0)
    assert ink[0].sum() > 2 * ink[1].sum() > 0  # width follows pressure
    assert ink[2].max() == 0  # pressure 0: the pen is up
    np.testing.assert_allclose(ink[3], ink[0] * 0.5, atol=1e-6)  # colour is the grey of the ink
    column = ink[0][:, 16]
    assert column.max() == 1 and 5 <= (column > 0.5).sum() <= 7  # 6 px wide at pressure 1, radius 1


def test_random_strokes_stay_on_the_canvas_and_are_smooth_or_loose():
    rng = np.random.default_rng(0)
    points, pressure, brush = random_strokes(rng, 200, 16, unstructured_share=0.0)
    assert np.abs(points).max() <= 1 and pressure.min() >= 0 and pressure.max() <= 1 and brush.shape == (200, 2)
    smooth = np.linalg.norm(np.diff(points, axis=1), axis=-1).mean()
    loose, _, _ = random_strokes(rng, 200, 16, unstructured_share=1.0)
    assert smooth < 0.5 * np.linalg.norm(np.diff(loose, axis=1), axis=-1).mean()


# --- the renderer --------------------------------------------------------------------------------------------
def test_pretrained_position_encoder_peaks_within_one_pixel_of_the_point():
    model = _renderer(size=8)
    optimizer = torch.optim.Adam(model.position.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        loss = model.bump_loss(torch.rand(128, 2, generator=g) * 2 - 1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    xy = torch.rand(200, 2, generator=g) * 1.8 - 0.9
    with torch.no_grad():
        maps = model.position(xy)                                                       # (200, 8, 8)
    peak = maps.flatten(1).argmax(1)
    centre = torch.stack([peak % 8, peak // 8], 1) + 0.5
    distance = (centre - (xy + 1) * 4).norm(dim=1)
    assert distance.max() < 1.0, distance.max()
    # the target itself: a bump of height 1 at the point, sigma 1 map pixel
    bump = gaussian_bumps(torch.tensor([[0.0, 0.0]]), (8, 8), 1.0)[0]
    assert torch.isclose(bump[3, 3], torch.exp(torch.tensor(-0.25)))


def test_gradients_reach_every_stroke_parameter_through_the_renderer():
    model = _renderer(size=8).eval()
    rng = np.random.default_rng(1)
    points, pressure, brush = (torch.from_numpy(a).requires_grad_() for a in random_strokes(rng, 4, 16, 0.5))
    image = model.forward_render(points, pressure, brush)
    (image * torch.rand(image.shape, generator=torch.Generator().manual_seed(0))).sum().backward()
    for name, t in (("points", points), ("pressure", pressure), ("brush", brush)):
        assert torch.isfinite(t.grad).all() and (t.grad.abs() > 0).all(), name


def test_position_encoder_frozen_after_pretraining_and_renderer_learns(digits_npz, tmp_path):
    from sketchtool.models.base import parse_hparams
    from sketchtool.train import TrainOptions, resolve_hparams, train

    hps = resolve_hparams("strokenet-renderer", overrides=parse_hparams(TINY_RENDERER))
    result = train(digits_npz, tmp_path / "r", model="strokenet-renderer", hps=hps,
                   options=TrainOptions(steps=20, save_every=20, log_every=10))
    first = torch.load(tmp_path / "r" / "latest.pt", weights_only=True)["state_dict"]
    train(digits_npz, tmp_path / "r", model="strokenet-renderer",
          options=TrainOptions(steps=70, save_every=50, log_every=10), resume=True)
    later = torch.load(tmp_path / "r" / "latest.pt", weights_only=True)["state_dict"]
    for name in first:
        if name.startswith("position."):
            assert torch.equal(first[name], later[name]), name  # frozen after pretrain_steps
    assert not torch.equal(first["out.weight"], later["out.weight"])
    from sketchtool.train import read_metrics

    valid = [r["mse"] for r in read_metrics(tmp_path / "r") if r["split"] == "valid"]
    assert valid[-1] < 0.2 * valid[0], valid  # the rest of the renderer learns the real environment's images
    assert result.step == 20


# --- the agents ----------------------------------------------------------------------------------------------
def test_adjacent_point_penalty_equals_a_hand_computation():
    points = torch.tensor([[[0.0, 0.0], [0.3, 0.4], [0.3, -0.6]]])
    pressure = torch.tensor([[0.5, 1.0, 0.0]])
    # (0.3^2 + 0.4^2 + 0.5^2) + (0^2 + 1.0^2 + 1.0^2) = 0.5 + 2.0
    assert torch.isclose(adjacent_penalty(points, pressure), torch.tensor([2.5])).all()


@pytest.mark.parametrize("tune_every", [0, 1])
def test_agent_gradients_reach_the_agent_but_never_the_frozen_renderer(tune_every):
    agent = _agent(_renderer(size=8), steps=2, tune_renderer_every=tune_every).train()
    from sketchtool.batching import ImageBatch

    images = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    agent.loss(ImageBatch(images, torch.zeros(4, dtype=torch.int64)))["loss"].backward()
    assert all(p.grad is None for p in agent.renderer.parameters())
    for name, p in agent.named_parameters():
        if not name.startswith("renderer."):
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert not agent.renderer.training  # batch norm keeps its trained statistics


def _mean_segment(penalty_lambda: float, images: torch.Tensor) -> float:
    from sketchtool.batching import ImageBatch

    torch.manual_seed(0)
    agent = _agent(_renderer(size=8), penalty_lambda=penalty_lambda)
    optimizer = agent.configure_optimizers()["model"]
    batch = ImageBatch(images, torch.zeros(len(images), dtype=torch.int64))
    for _ in range(40):
        loss = agent.loss(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    strokes = agent.vectorize_images(images[:, 0])
    return float(strokes.points.diff(dim=2).norm(dim=-1).mean())


def test_penalty_shortens_segments(digits_npz):
    from sketchtool.images import load_image_dataset

    images = torch.from_numpy(load_image_dataset(digits_npz).images("train")[:32])[:, None]
    with_penalty, without = _mean_segment(200.0 * 64, images), _mean_segment(0.0, images)
    assert with_penalty < 0.5 * without, (with_penalty, without)


def test_agent_trains_from_a_renderer_run_and_needs_it_no_more(digits_npz, tmp_path):
    from sketchtool.checkpoint import load_model
    from sketchtool.models.base import parse_hparams
    from sketchtool.train import TrainOptions, resolve_hparams, train

    opts = TrainOptions(steps=3, save_every=3)
    train(digits_npz, tmp_path / "r", model="strokenet-renderer",
          hps=resolve_hparams("strokenet-renderer", overrides=parse_hparams(TINY_RENDERER)), options=opts)
    hps = resolve_hparams("strokenet-agent", overrides=parse_hparams(f"renderer={tmp_path / 'r'},steps=2,{TINY_AGENT}"))
    train(digits_npz, tmp_path / "a", model="strokenet-agent", hps=hps, options=opts)
    renderer, _ = load_model(tmp_path / "r")
    shutil.rmtree(tmp_path / "r")
    agent, info = load_model(tmp_path / "a")
    for name, value in renderer.state_dict().items():
        assert torch.equal(agent.renderer.state_dict()[name], value), name  # the frozen renderer, carried along
    strokes = agent.vectorize_images(torch.zeros(2, 8, 8), steps=3)
    assert strokes.points.shape == (2, 3, 16, 2) and strokes.points.abs().max() <= 1


def _renderer_gap(renderer: StrokeRenderer, agent: StrokeAgent, images: torch.Tensor) -> float:
    """Neural vs real MSE per pixel on the strokes `agent` draws for `images`, stroke by stroke."""
    s = agent.vectorize_images(images)
    points, pressure, brush = (t.flatten(0, 1) for t in (s.points, s.pressure, s.brush))
    real = real_render(points.numpy(), pressure.numpy(), brush.numpy(), agent.size, agent.renderer.max_width)
    with torch.no_grad():
        return float((renderer.eval().forward_render(points, pressure, brush) - torch.from_numpy(real)).pow(2).mean())


def test_renderer_tuning_learns_the_real_brush_where_the_agent_draws(digits_npz, tmp_path):
    from sketchtool.checkpoint import load_model
    from sketchtool.images import load_image_dataset
    from sketchtool.models.base import parse_hparams
    from sketchtool.train import TrainOptions, read_metrics, resolve_hparams, train

    train(digits_npz, tmp_path / "r", model="strokenet-renderer", options=TrainOptions(steps=40, save_every=40),
          hps=resolve_hparams("strokenet-renderer", overrides=parse_hparams(TINY_RENDERER)))
    hps = resolve_hparams("strokenet-agent", overrides=parse_hparams(
        f"renderer={tmp_path / 'r'},steps=2,{TINY_AGENT},tune_renderer_every=1,renderer_learning_rate=0.003"))
    train(digits_npz, tmp_path / "a", model="strokenet-agent", hps=hps, options=TrainOptions(steps=60, save_every=30))
    renderer, _ = load_model(tmp_path / "r")
    agent, _ = load_model(tmp_path / "a")
    tuned = agent.renderer.state_dict()
    for name, value in renderer.state_dict().items():
        if name.startswith("position."):
            assert torch.equal(tuned[name], value), name  # the pre-trained position encoder stays frozen
    assert not torch.equal(tuned["out.weight"], renderer.state_dict()["out.weight"])
    images = torch.from_numpy(load_image_dataset(digits_npz).images("valid")[:64])
    before, after = _renderer_gap(renderer, agent, images), _renderer_gap(agent.renderer, agent, images)
    assert after < 0.7 * before, (before, after)
    rows = read_metrics(tmp_path / "a")
    assert all("real_mse" in r for r in rows if r["split"] == "valid")
    assert [r["renderer_mse"] > 0 for r in rows if r["split"] == "train"] == [True] * 6


def test_agent_refuses_a_missing_or_mismatched_renderer(digits_npz, tmp_path):
    from sketchtool.models.base import parse_hparams
    from sketchtool.train import TrainOptions, resolve_hparams, train

    with pytest.raises(SketchtoolError, match="needs a trained renderer"):
        train(digits_npz, tmp_path / "a", model="strokenet-agent", options=TrainOptions(steps=1))
    with pytest.raises(SketchtoolError, match="no such model file"):
        train(digits_npz, tmp_path / "b", model="strokenet-agent", options=TrainOptions(steps=1),
              hps=resolve_hparams("strokenet-agent", overrides={"renderer": str(tmp_path / "none")}))
    renderer = _renderer(size=16)
    from sketchtool.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "r16.pt", renderer, step=0)
    with pytest.raises(SketchtoolError, match="draws 16x16 canvases"):
        train(digits_npz, tmp_path / "c", model="strokenet-agent", options=TrainOptions(steps=1),
              hps=resolve_hparams("strokenet-agent", overrides=parse_hparams(f"renderer={tmp_path / 'r16.pt'}")))


def test_composite_is_alpha_over_in_numpy_and_torch():
    assert composite(np.float32(0.5), np.float32(0.5)) == 0.75
    assert float(composite(torch.tensor(0.0), torch.tensor(1.0))) == 1.0
