"""DRAW (sketchtool.models.draw): attention that reads the image exactly when it should, read and write adjoint,
the KL and the reconstruction term against independent computations, learning that beats independent pixels on
sklearn digits with and without attention, and `generate` writing samples and framed animations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from sketchtool.batching import ImageBatch, ImageBatchSource
from sketchtool.cli import cli
from sketchtool.dataspec import DataSpec
from sketchtool.models import get_model_class
from sketchtool.models.base import hparams_from_dict
from sketchtool.models.draw import (DRAW, DRAWHParams, filterbank, gaussian_kl, glimpse, mark_windows, paste,
                                   window_boxes)
from sketchtool.train import TrainOptions, evaluate, train

TINY = {"T": 4, "enc_size": 24, "dec_size": 24, "z_size": 4, "read_n": 3, "write_n": 3, "batch_size": 16}


def _model(shape=(8, 8), **hps) -> DRAW:
    torch.manual_seed(0)
    return DRAW(hparams_from_dict(DRAWHParams, {**TINY, **hps}), DataSpec(kind="images", image_shape=shape))


def _identity_params(batch: int, dtype=torch.float64):
    """g~ = 0 (centre), log σ² = -30 (tiny), log δ~ = 0 (δ = (A-1)/(N-1) = 1 when N = A)."""
    zero = torch.zeros(batch, dtype=dtype)
    return zero, zero, torch.full((batch,), -30.0, dtype=dtype), zero


def test_draw_is_registered():
    assert get_model_class("draw") is DRAW


@pytest.mark.parametrize("side", [8, 28])
def test_full_size_glimpse_with_unit_stride_and_tiny_variance_is_the_image(side):
    x = torch.rand(3, side, side, dtype=torch.float64)
    f_x, f_y = filterbank(*_identity_params(3), side, side, side)
    assert torch.equal(glimpse(x, f_x, f_y), x)
    assert torch.equal(paste(x, f_x, f_y), x)


def test_models_read_with_unit_stride_returns_image_and_error_image_exactly():
    model = _model(read_n=8).double()
    with torch.no_grad():
        model.read_attention.params.weight.zero_()
        model.read_attention.params.bias.copy_(torch.tensor([0.0, 0.0, -30.0, 0.0, 0.0]))  # γ = 1
    x = torch.rand(2, 8, 8, dtype=torch.float64)
    x_hat = x - torch.rand(2, 8, 8, dtype=torch.float64)
    r = model.read(x, x_hat, torch.randn(2, TINY["dec_size"], dtype=torch.float64)).view(2, 2, 8, 8)
    assert torch.equal(r[:, 0], x) and torch.equal(r[:, 1], x_hat)


def test_an_off_by_one_centre_would_shift_the_glimpse():
    """The 1-based convention matters: moving the centre by one pixel is visible in the identity read."""
    x = torch.rand(1, 8, 8, dtype=torch.float64)
    g, _, log_sigma2, log_delta = _identity_params(1)
    shifted = g + 2 / 9  # one pixel: g_x = (A + 1)/2 (g~ + 1)
    f_x, f_y = filterbank(shifted, g, log_sigma2, log_delta, 8, 8, 8)
    assert torch.equal(glimpse(x, f_x, f_y)[0, :, :7], x[0, :, 1:])


def test_read_and_write_are_adjoint_for_random_attention():
    gen = torch.Generator().manual_seed(1)
    b, n, height, width = 5, 4, 9, 7
    params = [torch.randn(b, generator=gen, dtype=torch.float64) * s for s in (0.6, 0.6, 1.0, 0.5)]
    f_x, f_y = filterbank(*params, n, height, width)
    x = torch.randn(b, height, width, generator=gen, dtype=torch.float64)
    w = torch.randn(b, n, n, generator=gen, dtype=torch.float64)
    lhs = (glimpse(x, f_x, f_y) * w).sum((1, 2))  # <F_y x F_x^T, w>
    rhs = (x * paste(w, f_x, f_y)).sum((1, 2))  # <x, F_y^T w F_x>
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)
    assert lhs.abs().min() > 1e-3  # not adjoint by both being zero


def test_filterbank_rows_are_normalised_gaussians():
    g, _, _, log_delta = _identity_params(2)
    f_x, f_y = filterbank(g, g, torch.zeros(2, dtype=torch.float64), log_delta, 3, 10, 11)
    torch.testing.assert_close(f_x.sum(-1), torch.ones(2, 3, dtype=torch.float64))
    assert f_x.shape == (2, 3, 11) and f_y.shape == (2, 3, 10)
    assert (f_x.argmax(-1)[0] == torch.tensor([0, 5, 10])).all()  # 1-based centres 6 -/+ δ = (11 - 1) / 2


def test_kl_equals_the_closed_form_for_known_mu_and_sigma():
    mu = torch.tensor([[0.0, 1.0, -2.0], [0.5, 0.0, 3.0]], dtype=torch.float64)
    sigma = torch.tensor([[1.0, 0.5, 2.0], [0.1, 1.0, 1.5]], dtype=torch.float64)
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(mu, sigma),
                                                 torch.distributions.Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu, sigma.log()), expected)
    # one value by hand: mu = 1, σ = 1/2 -> ½ (1 + ¼ - log ¼ - 1)
    torch.testing.assert_close(gaussian_kl(mu[:1, 1:2], sigma[:1, 1:2].log()),
                               torch.tensor([0.5 * (1.25 + np.log(4) - 1)], dtype=torch.float64))


@pytest.mark.parametrize("attn", [True, False])
def test_loss_terms_equal_an_independent_computation(attn):
    model = _model(read_attn=attn, write_attn=attn).double()
    x = (torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(3)) < 0.4).double()
    terms = model.loss(ImageBatch(x, torch.zeros(6, dtype=torch.int64)), generator=torch.Generator().manual_seed(4))
    out = model.run(x[:, 0], 6, generator=torch.Generator().manual_seed(4))
    q = torch.distributions.Normal(out.mu, out.log_sigma.exp())
    l_z = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum((0, 2)).mean()
    p = torch.sigmoid(out.canvases[-1])
    l_x = -(x[:, 0] * p.log() + (1 - x[:, 0]) * (1 - p).log()).sum((1, 2)).mean()
    torch.testing.assert_close(terms["L_z"], l_z)
    torch.testing.assert_close(terms["L_x"], l_x)
    torch.testing.assert_close(terms["loss"], l_x + l_z)
    assert out.canvases.shape == (TINY["T"], 6, 8, 8)
    torch.testing.assert_close(out.canvases[0] - model.c_0, model.write(_decoder_state_after_one_step(model, out))[0])


def _decoder_state_after_one_step(model, out):
    """h^dec_1 recomputed from z_1 = mu_1 + σ_1 ε with the same ε (the first draw of seed 4)."""
    eps = torch.randn(6, TINY["z_size"], generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    z = out.mu[0] + out.log_sigma[0].exp() * eps
    zero = torch.zeros(6, TINY["dec_size"], dtype=torch.float64)
    return model.decoder(z, (zero, zero))[0]


def test_kl_warmup_weights_only_the_training_loss():
    model = _model(kl_warmup_steps=10).double()
    x = (torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0)) < 0.5).double()
    batch = ImageBatch(x, torch.zeros(4, dtype=torch.int64))
    early = model.loss(batch, step=1, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(early["loss"], early["L_x"] + 0.2 * early["L_z"])
    full = model.eval_loss(batch, torch.Generator().manual_seed(0))
    torch.testing.assert_close(full["loss"], full["L_x"] + full["L_z"])
    assert model.kl_weight_at(9) == 1.0 and model.kl_weight_at(500) == 1.0


def test_gradients_reach_every_parameter():
    model = _model()
    x = (torch.rand(4, 1, 8, 8) < 0.5).float()
    model.loss(ImageBatch(x, torch.zeros(4, dtype=torch.int64)))["loss"].backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def _independent_pixel_nll(dataset) -> float:
    """Per-pixel Bernoulli fitted on the training split's grey levels, scored on the fixed-binarised test split."""
    p = np.clip(dataset.splits["train"].astype(np.float64).mean(0) / 255, 1e-3, 1 - 1e-3)  # (H, W)
    test = next(ImageBatchSource(dataset.splits["test"], dataset.labels["test"], batch_size=10**6,
                                 binarize="fixed").batches()).images[:, 0].double().numpy()
    return float(-(test * np.log(p) + (1 - test) * np.log(1 - p)).sum((1, 2)).mean())


# seconds-long configurations that learn on 8x8 digits (probed under load: attention 24.9, none 24.7 nats against
# the baseline's 27.0); the attention reads and writes the whole 8x8 image through its filterbanks
LEARNING = {
    "attention": {"T": 4, "z_size": 4, "read_n": 8, "write_n": 8, "learning_rate": 0.005, "beta1": 0.5},
    "no-attention": {"T": 4, "z_size": 8, "read_attn": False, "write_attn": False, "learning_rate": 0.01},
}


@pytest.mark.parametrize("variant", list(LEARNING))
def test_learning_on_digits_beats_independent_pixels(variant, digits_npz, tmp_path):
    """300 steps of the real trainer; the test bound (β = 1, through `evaluate`) must beat, by a nat, a per-pixel
    Bernoulli fitted to the same training digits, which is also the best a DRAW ignoring its latents can do."""
    from image_data import digits_image_dataset

    hps = hparams_from_dict(DRAWHParams, {"enc_size": 64, "dec_size": 64, "batch_size": 64, **LEARNING[variant]})
    train(digits_npz, tmp_path / "run", model="draw", hps=hps,
          options=TrainOptions(steps=300, save_every=300, precision="fp32", log_every=300))
    terms = evaluate(tmp_path / "run", split="test")
    baseline = _independent_pixel_nll(digits_image_dataset())
    assert terms["loss"] < baseline - 1.0, (terms, baseline)
    assert terms["L_z"] > 0.5  # the latents carry information


@pytest.fixture(scope="module")
def digits_run(digits_npz, tmp_path_factory):
    run = tmp_path_factory.mktemp("draw") / "run"
    hps = hparams_from_dict(DRAWHParams, {**TINY, "T": 5})
    train(digits_npz, run, model="draw", hps=hps, options=TrainOptions(steps=2, save_every=2, precision="fp32"))
    return run


def test_generate_writes_a_png_grid_and_frames_with_the_write_window(digits_run, tmp_path):
    out, gif = tmp_path / "grid.png", tmp_path / "steps.gif"
    result = CliRunner().invoke(cli, ["generate", "--model", str(digits_run), "--n", "6", "--seed", "3",
                                      "--out", str(out), "--frames", str(gif), "--cols", "3"])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == Image.open(gif).size
    with Image.open(gif) as im:
        assert im.n_frames == 5


def test_the_frames_gif_takes_the_grids_size_even_beside_an_npz(digits_run, tmp_path):
    gif = tmp_path / "steps.gif"
    args = ["generate", "--model", str(digits_run), "--n", "6", "--seed", "3", "--frames", str(gif), "--cols", "3"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "grid.png"), "--size", "200"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "grid.png").size == Image.open(gif).size == (200, 133)
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "images.npz"), "--size", "90", "--force"])
    assert result.exit_code == 0, result.output
    assert Image.open(gif).size == (90, 60)
    for size, message in [("30000", "a picture of 30,000 x 19,974 px is too large"), ("9000", "too many pixels")]:
        result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "x.npz"), "--size", size, "--force"])
        assert result.exit_code != 0 and message in result.output and not (tmp_path / "x.npz").exists()
        assert Image.open(gif).size == (90, 60)  # untouched


def test_pictures_too_large_are_refused_before_sampling(digits_run, tmp_path):
    """A grid's size depends on n, the image shape and the options only: --n 100000 sampled for a minute at 4.5 GB
    before 'too large'. The --condition this model refuses once sampling starts shows the order."""
    args = ["generate", "--model", str(digits_run), "--condition", "angle=1"]
    result = CliRunner().invoke(cli, [*args, "--n", "100000", "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 1 and "a picture of 40,892 x 40,763 px is too large" in result.output, result.output
    result = CliRunner().invoke(cli, [*args, "--n", "6", "--out", str(tmp_path / "g.npz"), "--size", "9000",
                                      "--frames", str(tmp_path / "g.gif")])
    assert result.exit_code == 1 and "5 frames of 9,000 x 5,992 px are too many pixels" in result.output, result.output
    assert not list(tmp_path.iterdir())


def test_sampled_frames_are_the_canvas_over_time_ending_at_the_images():
    model = _model()
    out = model.sample(3, generator=torch.Generator().manual_seed(0), frames=True)
    assert out.frames.shape == (TINY["T"], 3, 8, 8) and out.images.shape == (3, 8, 8)
    plain = model.sample(3, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(plain.images, out.images)
    with torch.no_grad():
        canvases = torch.sigmoid(model.run(None, 3, generator=torch.Generator().manual_seed(0)).canvases).numpy()
    window = out.frames != canvases
    assert window.any() and np.isin(out.frames[window], [0.0, 1.0]).all()  # the write window over the canvas
    model_plain = _model(write_attn=False)
    no_window = model_plain.sample(3, generator=torch.Generator().manual_seed(0), frames=True)
    np.testing.assert_array_equal(no_window.frames[-1], no_window.images)


def test_the_window_spans_the_filter_centres():
    """With N = side and δ = 1 the filters sit on every pixel: the window is the whole image; half the stride
    halves it about the centre."""
    p = torch.tensor([[0.0, 0.0, -30.0, 0.0, 0.0], [0.0, 0.0, -30.0, float(np.log(0.5)), 0.0]])
    boxes = window_boxes(p, 8, 8, 8)
    torch.testing.assert_close(boxes[0], torch.tensor([0.0, 0.0, 7.0, 7.0]))
    torch.testing.assert_close(boxes[1], torch.tensor([1.75, 1.75, 5.25, 5.25]))


def test_mark_windows_draws_a_clipped_border_that_contrasts_with_the_canvas():
    frames = np.zeros((1, 2, 6, 6), np.float32)
    frames[0, 0, 4] = 0.9  # a dark row: the border crosses it in white
    boxes = np.array([[[1, 1, 3, 4], [-2, 3, 8, 9]]], np.float64)
    marked = mark_windows(frames, boxes)
    inside = marked[0, 0]
    assert (inside[1, 1:4] == 1).all() and (inside[1:4, 3] == 1).all() and (inside[1:4, 1] == 1).all()
    assert (inside[4, 1:4] == 0).all() and inside[4, 0] == np.float32(0.9)
    assert inside[2:4, 2].sum() == 0 and inside[0].sum() == 0
    clipped = marked[0, 1]
    assert (clipped[3] == 1).all() and clipped[4:, 0].sum() == 0 and clipped[:3].sum() == 0
    assert (frames[0, 0, 4] == np.float32(0.9)).all() and frames[0, 0, :4].sum() == 0  # a copy


def test_greedy_samples_are_binary_and_temperature_zero_is_deterministic():
    model = _model()
    greedy = model.sample(4, generator=torch.Generator().manual_seed(0), greedy=True).images
    assert set(np.unique(greedy)) <= {0.0, 1.0}
    a = model.sample(2, generator=torch.Generator().manual_seed(0), temperature=1e-9).images
    b = model.sample(2, generator=torch.Generator().manual_seed(5), temperature=1e-9).images
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("preset", list(DRAW.PRESETS))
def test_presets_build_and_take_a_step(preset):
    from sketchtool.train import resolve_hparams

    hps = resolve_hparams("draw", preset=preset, overrides={"batch_size": 2})
    model = DRAW(hps, DataSpec(kind="images", image_shape=(28, 28)))
    x = (torch.rand(2, 1, 28, 28) < 0.3).float()
    terms = model.loss(ImageBatch(x, torch.zeros(2, dtype=torch.int64)), step=0)
    assert torch.isfinite(terms["loss"]) and terms["L_x"] > 0
    if hps.kl_warmup_steps:
        assert model.kl_weight_at(0) < 1 and model.log_scalars(0)["kl_weight"] == model.kl_weight_at(0)


def test_generate_s_image_samples_go_to_write_images_and_not_to_write_drawings(digits_run, tmp_path):
    """What a notebook does with `st.generate` of an image model: write_images took only the bare array (a
    TypeError for the ImageSamples), write_drawings iterated it (a TypeError)."""
    import sketchtool as st

    samples = st.generate(*st.load_model(digits_run), 4, st.SampleOptions(seed=0))
    st.write_images(tmp_path / "grid.png", samples)
    st.write_images(tmp_path / "bare.png", samples.images)
    assert (tmp_path / "grid.png").read_bytes() == (tmp_path / "bare.png").read_bytes()
    with pytest.raises(st.SketchtoolError, match="an image model's samples, not drawings; write them with "
                                                 "write_images as .png or .npz"):
        st.write_drawings(tmp_path / "grid.svg", samples)
    assert not (tmp_path / "grid.svg").exists()
