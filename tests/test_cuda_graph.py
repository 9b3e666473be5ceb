"""`train --cuda-graph`: what the captured step needs is checked on the CPU (fixed shapes compute what the true-length
loop computes, and nothing in the step reads a device value back to the host); the capture itself on a GPU, where
present (benchmarks/gpu_session.sh runs these on a rented one)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from sketchtool.batching import BatchSource, prepare_drawings
from sketchtool.checkpoint import read_checkpoint
from sketchtool.cuda_graph import CapturedStep, portable_optimizer_state
from sketchtool.formats.npz import load_dataset
from sketchtool.models.base import parse_hparams
from sketchtool.models.sketch_rnn import SketchRNN
from sketchtool.strokes import scale_factor
from sketchtool.train import TrainOptions, resolve_hparams, train

from test_train import TINY

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _model_and_batch(subset, extra: str = "", dtype=torch.float32):
    hps = resolve_hparams("sketch-rnn", overrides=parse_hparams(TINY + extra))
    drawings, _ = prepare_drawings(load_dataset(subset).splits["train"], hps.max_seq_len)
    source = BatchSource(drawings, np.zeros(len(drawings)), scale_factor=scale_factor(drawings),
                         max_seq_len=hps.max_seq_len, batch_size=hps.batch_size, seed=0)
    batch = source.random_batch()
    batch.strokes5 = batch.strokes5.to(dtype)
    torch.manual_seed(0)
    return SketchRNN(hps).to(dtype).train(), batch


def test_fixed_shapes_give_the_true_length_loss_and_gradients(subset):
    """Real sheep of different lengths: the masked encoder changes nothing but the shapes (dropout off, so both
    runs draw the same noise)."""
    model, batch = _model_and_batch(subset, ",use_recurrent_dropout=False", torch.float64)
    assert len(set(batch.lengths.tolist())) > 5
    results = []
    for fixed in (False, True):
        model.fixed_shapes = fixed
        model.zero_grad()
        terms = model.loss(batch, kl_weight=torch.tensor(0.3, dtype=torch.float64),
                           generator=torch.Generator().manual_seed(1))
        terms["loss"].backward()
        results.append((terms, {k: p.grad.clone() for k, p in model.named_parameters()}))
    (terms0, grads0), (terms1, grads1) = results
    for name in terms0:
        torch.testing.assert_close(terms1[name], terms0[name], rtol=1e-12, atol=1e-12)
    for name in grads0:
        torch.testing.assert_close(grads1[name], grads0[name], rtol=1e-9, atol=1e-12, msg=name)


class _HostReads(TorchDispatchMode):
    """Raises at any op that brings a tensor's value to the host or gives a shape that depends on values: what a
    CUDA graph cannot capture (`.item()`, `bool()`, `int()` all dispatch `_local_scalar_dense`)."""

    FORBIDDEN = ("_local_scalar_dense", "nonzero", "masked_select", "unique", "repeat_interleave")

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if any(name in func.__name__ for name in self.FORBIDDEN):
            raise AssertionError(f"host read: {func.__name__}")
        return func(*args, **(kwargs or {}))


def _step_without_host_reads(model, batch, monkeypatch) -> None:
    def refuse(*_):
        raise AssertionError("host read: tolist/numpy")

    monkeypatch.setattr(torch.Tensor, "tolist", refuse)
    monkeypatch.setattr(torch.Tensor, "numpy", refuse)
    with _HostReads():
        terms = model.loss(batch, kl_weight=torch.tensor(0.5))
        terms["loss"].backward()
        model.clip_gradients()


def test_the_fixed_shape_step_reads_nothing_back_to_the_host(subset, monkeypatch):
    """Loss, backward and clipping as `CapturedStep` runs them; the true-length encoder, which sizes its loop by
    the lengths, is caught by the same check."""
    model, batch = _model_and_batch(subset)
    model.fixed_shapes = True
    _step_without_host_reads(model, batch, monkeypatch)
    assert all(p.grad is not None for p in model.parameters())
    model.fixed_shapes = False
    with pytest.raises(AssertionError, match="host read"):
        _step_without_host_reads(model, batch, monkeypatch)


def test_a_checkpoint_written_under_cuda_graph_resumes_without_it(subset):
    """CapturedStep makes Adam capturable with a tensor learning rate; the saved state is an eager run's, so it
    steps on a CPU (as saved, Adam refuses: capturable state needs a GPU)."""
    model, batch = _model_and_batch(subset)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.loss(batch)["loss"].backward()
    optimizer.step()
    CapturedStep(model, optimizer, "fp32")
    assert optimizer.param_groups[0]["capturable"] and isinstance(optimizer.param_groups[0]["lr"], torch.Tensor)
    live_steps = [entry["step"] for entry in optimizer.state.values()]
    portable = portable_optimizer_state(optimizer.state_dict())
    for entry in portable["state"].values():  # what is saved shares no entry with the live optimiser, which
        entry["step"] = None                  # keeps its own step counts (on a GPU, the tensors the graph updates)
    assert all(entry["step"] is step for entry, step in zip(optimizer.state.values(), live_steps))
    assert optimizer.param_groups[0]["capturable"]

    resumed = torch.optim.Adam(model.parameters(), lr=1e-3)
    resumed.load_state_dict(portable_optimizer_state(optimizer.state_dict()))
    resumed.step()
    assert resumed.param_groups[0]["lr"] == 0.0 and not resumed.param_groups[0]["capturable"]
    as_is = torch.optim.Adam(model.parameters(), lr=1e-3)
    as_is.load_state_dict(optimizer.state_dict())
    with pytest.raises(Exception, match="capturable"):
        as_is.step()


def test_cuda_graph_without_a_gpu_is_a_one_line_error(subset, tmp_path):
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "sketchtool", "train", str(subset), "-o", str(run), "--device", "cpu",
                           "--cuda-graph", "--steps", "2", "--hparams", TINY], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode != 0
    assert done.stderr.strip() == "Error: --cuda-graph needs a CUDA device (--device cuda)", done.stderr
    assert not run.exists()


def _weights(run):
    return {k: v.float() for k, v in read_checkpoint(run / "latest.pt")["state_dict"].items()}


@needs_cuda
@pytest.mark.slow
def test_captured_steps_train_as_eager_steps_do(subset, tmp_path):
    """Three eager warm-up steps, the capture, then five replays: the weights after 8 steps are an eager run's (no
    dropout, no latent noise: an unconditional model, so both runs compute the same thing)."""
    hps = resolve_hparams("sketch-rnn", overrides=parse_hparams(
        TINY + ",use_recurrent_dropout=False,conditional=False,random_scale_factor=0,augment_stroke_prob=0"))
    for name, graph in (("eager", False), ("graph", True)):
        train(subset, tmp_path / name, hps=hps, options=TrainOptions(steps=8, save_every=4, device="cuda",
                                                                      precision="fp32", cuda_graph=graph))
    eager, graph = _weights(tmp_path / "eager"), _weights(tmp_path / "graph")
    for name in eager:  # five replayed steps at lr 1e-3 move weights by ~5e-3, far outside the tolerance
        torch.testing.assert_close(graph[name], eager[name], rtol=1e-4, atol=1e-5, msg=name)


@needs_cuda
@pytest.mark.slow
def test_a_captured_run_learns_and_resumes_on_the_cpu(subset, tmp_path):
    """The reference recipe's noise (recurrent dropout, z samples) under replay: the training loss falls over 40
    steps, and the checkpoint resumes on the CPU without --cuda-graph."""
    from sketchtool.train import read_metrics

    hps = resolve_hparams("sketch-rnn", overrides=parse_hparams(TINY))
    run = tmp_path / "run"
    train(subset, run, hps=hps, options=TrainOptions(steps=40, save_every=20, log_every=5, device="cuda",
                                                    cuda_graph=True))
    losses = [r["loss"] for r in read_metrics(run) if r["split"] == "train"]
    assert np.isfinite(losses).all() and np.mean(losses[-2:]) < np.mean(losses[:2]), losses
    result = train(subset, run, resume=True, options=TrainOptions(steps=42, save_every=2, device="cpu",
                                                                 precision="fp32"))
    assert result.step == 42
