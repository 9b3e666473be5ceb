"""The CUDA paths: every model trains on a GPU and its checkpoint serves on a CPU, a resumed GPU run continues the
uninterrupted one, the GPU computes what the CPU computes, and seeded GPU sampling repeats itself. Tests that mean
something on a CPU run there too; the GPU cases skip where no CUDA device is present (benchmarks/gpu_session.sh
runs them on a rented one)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sketchtool.checkpoint import load_model
from sketchtool.models.base import parse_hparams
from sketchtool.train import TrainOptions, resolve_hparams, train

import test_draw
import test_gran
import test_pixelcnn
import test_strokenet
import test_train

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                   reason="needs a CUDA GPU"))]
# model: (dataset fixture, hparams), the sizes of the models' own tests
TINY = {
    "sketch-rnn": ("subset", parse_hparams(test_train.TINY)),
    "gran": ("digits_npz", test_gran.TINY),
    "draw": ("digits_npz", test_draw.TINY),
    "gated-pixelcnn": ("digits_npz", parse_hparams(test_pixelcnn.TINY)),
    "strokenet-renderer": ("digits_npz", {**parse_hparams(test_strokenet.TINY_RENDERER), "pretrain_steps": 2}),
}


def _train(request, tmp_path, model: str, device: str, steps: int, *, resume=False, hparams=(), **options):
    fixture, tiny = TINY[model]
    hps = None if resume else resolve_hparams(model, overrides={**tiny, **dict(hparams)})
    return train(request.getfixturevalue(fixture), tmp_path / "run", model=model, hps=hps, resume=resume,
                 options=TrainOptions(steps=steps, save_every=2, device=device, **options))


def _weights(run) -> dict[str, torch.Tensor]:
    model, _ = load_model(run / "latest.pt")
    return {k: v.float() for k, v in model.state_dict().items() if v.is_floating_point()}


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("model", sorted(TINY))
def test_every_model_trains_on_the_device_and_serves_on_the_cpu(model, device, request, tmp_path):
    """Four steps at the default precision (bf16 matmuls on a GPU): the weights move, stay finite, and the
    checkpoint loads on a CPU-only machine and evaluates there."""
    from sketchtool.train import evaluate

    if model == "strokenet-renderer":  # its strokes come from the real rasteriser: a dependency a bare GPU box lacks
        pytest.importorskip("cairocffi", reason="the renderer's training strokes need cairo")
    _train(request, tmp_path, model, device, 2)
    before = _weights(tmp_path / "run")
    _train(request, tmp_path, model, device, 4, resume=True)
    after = _weights(tmp_path / "run")
    assert all(torch.isfinite(w).all() for w in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in after), "four steps changed no weight"
    losses = evaluate(tmp_path / "run", split="valid", device="cpu")
    assert all(np.isfinite(v) for v in losses.values()), losses


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_a_resumed_run_continues_the_uninterrupted_one(device, request, tmp_path):
    """The device's RNG state (dropout masks, z's noise) travels in the checkpoint: 2 + 2 steps end where 4 do."""
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    for folder, runs in ((straight, [4]), (halves, [2, 4])):
        folder.mkdir()
        for i, steps in enumerate(runs):
            _train(request, folder, "sketch-rnn", device, steps, resume=i > 0, hparams={"use_recurrent_dropout": True},
                   precision="fp32")
    a, b = _weights(straight / "run"), _weights(halves / "run")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES[1:])
def test_the_device_computes_what_the_cpu_computes(device, request, tmp_path):
    """The same weights and batch give the same decoder outputs and loss gradients in fp32 on either device."""
    from sketchtool.formats.npz import load_dataset
    from sketchtool.models.mixture import offset_nll, pen_cross_entropy, split_output

    _train(request, tmp_path, "sketch-rnn", "cpu", 2, precision="fp32")
    dataset = load_dataset(request.getfixturevalue("subset"))
    results = []
    for where in ("cpu", device):
        model, info = load_model(tmp_path / "run", device=where)
        batches = type(model).batch_source(model.hps, info.spec, dataset, "valid", train=False, seed=0)
        batch = batches.random_batch().to(where)
        x = batch.strokes5
        # L_R at the posterior mean, not `model.loss`: its z noise comes from a generator on the device, and CPU
        # and CUDA generators draw different numbers from one seed
        z = model._encode_params(x[:, 1:], batch.lengths)[0]
        cond = model._condition(z, batch.labels, len(x), x.device)
        y, _ = model._decode(x[:, :-1], cond, model._initial_state(cond, len(x), x))
        mix = split_output(y, model.hps.num_mixture)
        l_s = offset_nll(mix, x[:, 1:, 0], x[:, 1:, 1]) * (1 - x[:, 1:, 4])
        l_r = (l_s + pen_cross_entropy(mix, x[:, 1:, 2:])).mean()
        l_r.backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        results.append((y.detach().cpu(), l_r.item(), grads.cpu()))
    (out_a, loss_a, grad_a), (out_b, loss_b, grad_b) = results
    torch.testing.assert_close(out_a, out_b, rtol=1e-4, atol=1e-4)
    assert loss_a == pytest.approx(loss_b, rel=1e-4)
    torch.testing.assert_close(grad_a, grad_b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_seeded_sampling_on_the_device_repeats_itself(device):
    """The embedded sheep drawn twice on the device from one seed gives the same drawings, which end."""
    from sketchtool.pretrained import resolve_model
    from sketchtool.sampling import SampleOptions, generate

    model, info = load_model(resolve_model("sheep"), device=device)
    first, second = (generate(model, info, 8, SampleOptions(seed=3)) for _ in range(2))
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert all(a[-1, 2] == 1 and len(a) < model.hps.max_seq_len for a in first)
