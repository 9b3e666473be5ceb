"""The recurrent cells against hand-written numpy versions of magenta's equations, and the true-length loop
against a plain per-sequence unroll."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sketchtool.models.cells import (
    HyperLSTMCell,
    LayerNormLSTMCell,
    LSTMCell,
    final_hidden,
    final_hidden_fixed,
    make_cell,
    unroll,
    zero_state,
)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def layer_norm(x, gamma, beta, eps=1e-3):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def numpy_lstm(cell, x, h, c):
    p = {k: v.detach().double().numpy() for k, v in cell.named_parameters()}
    gates = x @ p["W_xh"] + h @ p["W_hh"] + p["bias"]
    i, j, f, o = np.split(gates, 4, axis=-1)
    new_c = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    return np.tanh(new_c) * sigmoid(o), new_c


def numpy_layer_norm_lstm(cell, x, h, c):
    p = {k: v.detach().double().numpy() for k, v in cell.named_parameters()}
    n = h.shape[-1]
    gates = x @ p["W_xh"] + h @ p["W_hh"]
    blocks = [layer_norm(g, p["ln_all_gamma"][k * n:(k + 1) * n], p["ln_all_beta"][k * n:(k + 1) * n])
              for k, g in enumerate(np.split(gates, 4, axis=-1))]
    i, j, f, o = blocks
    new_c = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    return np.tanh(layer_norm(new_c, p["ln_c_gamma"], p["ln_c_beta"])) * sigmoid(o), new_c


def numpy_hyper_lstm(cell, x, h, c, hh, hc):
    p = {k: v.detach().double().numpy() for k, v in cell.named_parameters()}
    n = h.shape[-1]
    hyper_w_xh = np.concatenate([p["hyper.W_xh"], p["W_hyper_h"]])  # magenta's one matrix over [x; h]
    hg = np.concatenate([x, h], -1) @ hyper_w_xh + hh @ p["hyper.W_hh"] + p["hyper.bias"]
    i, j, f, o = np.split(hg, 4, axis=-1)
    new_hc = hc * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    new_hh = np.tanh(new_hc) * sigmoid(o)

    def hyper_norm(layer, g, with_bias):  # magenta HyperLSTMCell.hyper_norm, one gate at a time
        e = p["alpha_weight"].shape[1]
        zw = new_hh @ p["zw_weight"][:, g * e:(g + 1) * e] + p["zw_bias"][g * e:(g + 1) * e]
        out = (zw @ p["alpha_weight"][g]) * layer
        if with_bias:
            k = g - 4
            out = out + (new_hh @ p["zb_weight"][:, k * e:(k + 1) * e]) @ p["beta_weight"][k]
        return out

    xs = np.split(x @ p["W_xh"], 4, -1)
    hs = np.split(h @ p["W_hh"], 4, -1)
    bs = np.split(p["bias"], 4)
    gates = [hyper_norm(xs[k], k, False) + hyper_norm(hs[k], 4 + k, True) + bs[k] for k in range(4)]
    gates = [layer_norm(g, p["ln_all_gamma"][k * n:(k + 1) * n], p["ln_all_beta"][k * n:(k + 1) * n])
             for k, g in enumerate(gates)]
    i, j, f, o = gates
    new_c = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    return np.tanh(layer_norm(new_c, p["ln_c_gamma"], p["ln_c_beta"])) * sigmoid(o), new_c


def _randomise(cell, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in cell.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3 + (1.0 if "gamma" in name else 0.0))
    return cell


@pytest.mark.parametrize("kind", ["lstm", "layer_norm", "hyper"])
def test_cell_step_matches_the_reference_equations(kind):
    torch.manual_seed(0)
    cell = make_cell(kind, 5, 8, hyper_num_units=6, hyper_embedding_size=3).double().eval()
    _randomise(cell)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5))
    state = tuple(rng.normal(size=(3, n)) for n in cell.state_sizes)
    h, new_state = cell.step(cell.project_inputs(torch.from_numpy(x)), tuple(map(torch.from_numpy, state)))
    if kind == "lstm":
        want_h, want_c = numpy_lstm(cell, x, *state)
    elif kind == "layer_norm":
        want_h, want_c = numpy_layer_norm_lstm(cell, x, *state)
    else:
        want_h, want_c = numpy_hyper_lstm(cell, x, *state)
    np.testing.assert_allclose(h.detach().numpy(), want_h, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(new_state[1].detach().numpy(), want_c, rtol=1e-10, atol=1e-12)
    assert [s.shape[-1] for s in new_state] == list(cell.state_sizes)


def test_initialisation_follows_magenta():
    cell = LSTMCell(5, 16)
    for k in range(4):  # each gate block of W_hh orthogonal (lstm_ortho_initializer)
        block = cell.W_hh[:, k * 16:(k + 1) * 16].detach()
        torch.testing.assert_close(block.T @ block, torch.eye(16), atol=1e-5, rtol=0)
    assert torch.count_nonzero(cell.bias) == 0
    hyper = HyperLSTMCell(5, 16, hyper_num_units=8, hyper_embedding_size=4)
    assert torch.all(hyper.zw_bias == 1.0) and torch.all(hyper.zw_weight == 0) and torch.all(hyper.beta_weight == 0)
    torch.testing.assert_close(hyper.alpha_weight, torch.full_like(hyper.alpha_weight, 0.1 / 4))


def test_recurrent_dropout_touches_only_the_candidate_and_only_in_training():
    torch.manual_seed(0)
    cell = LayerNormLSTMCell(5, 32, use_recurrent_dropout=True, dropout_keep_prob=0.5)
    x = cell.project_inputs(torch.randn(4, 5))
    state = zero_state(cell, 4, x)
    cell.eval()
    h1, _ = cell.step(x, state)
    h2, _ = cell.step(x, state)
    assert torch.equal(h1, h2)
    cell.train()
    _, (_, c_train) = cell.step(x, state)
    _, (_, c_eval) = cell.eval().step(x, state)
    # with c = 0 the new cell state is σ(i)·g: dropped units are exactly 0, kept ones scaled by 1/keep
    dropped = c_train == 0
    assert dropped.any() and (~dropped).any()
    torch.testing.assert_close(c_train[~dropped], c_eval[~dropped] / 0.5)


def test_final_hidden_equals_unrolling_each_sequence_alone():
    torch.manual_seed(0)
    cell = LSTMCell(5, 8).eval()
    x = torch.randn(4, 7, 5)
    lengths = torch.tensor([3, 7, 0, 5])
    got = final_hidden(cell, x, lengths)
    for b, n in enumerate(lengths.tolist()):
        xw = cell.project_inputs(x[b:b + 1, :n])
        state = zero_state(cell, 1, xw)
        if n:
            _, state = unroll(cell, xw, state)
        torch.testing.assert_close(got[b], state[0][0])


@pytest.mark.parametrize("kind", ["lstm", "layer_norm", "hyper"])
def test_fixed_shape_final_hidden_equals_the_true_length_loop(kind):
    """The masked full-length unroll a CUDA graph captures gives the same h and the same gradients (a length-0
    row keeps the zero state; rows past their end feel nothing)."""
    torch.manual_seed(0)
    cell = make_cell(kind, 5, 8, hyper_num_units=6, hyper_embedding_size=4).double().eval()
    x = torch.randn(4, 7, 5, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([3, 7, 0, 5])
    results = []
    for run in (final_hidden, final_hidden_fixed):
        x.grad = None
        cell.zero_grad()
        h = run(cell, x, lengths)
        (h * torch.linspace(-1, 1, h.numel(), dtype=h.dtype).reshape(h.shape)).sum().backward()
        results.append((h.detach(), x.grad.clone(), {k: p.grad.clone() for k, p in cell.named_parameters()}))
    (h0, dx0, dw0), (h1, dx1, dw1) = results
    torch.testing.assert_close(h1, h0, rtol=1e-12, atol=1e-12)
    assert (h1[2] == 0).all()
    torch.testing.assert_close(dx1, dx0, rtol=1e-10, atol=1e-12)
    for name in dw0:
        torch.testing.assert_close(dw1[name], dw0[name], rtol=1e-10, atol=1e-12, msg=name)


def test_final_hidden_backpropagates_through_every_used_step():
    cell = LSTMCell(5, 8)
    x = torch.randn(3, 6, 5, requires_grad=True)
    final_hidden(cell, x, torch.tensor([6, 2, 4])).sum().backward()
    used = x.grad.abs().sum(-1) > 0
    assert used.tolist() == [[True] * 6, [True] * 2 + [False] * 4, [True] * 4 + [False] * 2]


@pytest.mark.parametrize("kind", ["lstm", "layer_norm"])
def test_fused_recurrent_weight_gradient_equals_autograd(kind):
    torch.manual_seed(0)
    cell = make_cell(kind, 5, 8).double().eval()
    x = torch.randn(3, 6, 5, dtype=torch.float64)
    grads = []
    for fused in (False, True):
        cell.zero_grad()
        outputs, state = unroll(cell, cell.project_inputs(x), zero_state(cell, 3, x), fused_weight_grad=fused)
        (outputs.pow(2).sum() + state[1].sum()).backward()
        grads.append({k: p.grad.clone() for k, p in cell.named_parameters()})
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-10, atol=1e-12)


def test_inference_tanh_is_tanh():
    """Without autograd the cells compute tanh as 2σ(2x) - 1 (faster on CPU); it must be the same function."""
    from sketchtool.models.cells import _tanh

    x = torch.cat([torch.linspace(-30, 30, 100_001), torch.tensor([0.0, 1e-8, -1e-8, float("inf"), float("-inf")])])
    with torch.no_grad():
        torch.testing.assert_close(_tanh(x), torch.tanh(x), atol=3e-7, rtol=0)
    x.requires_grad_(True)
    y = _tanh(x)
    assert y.grad_fn.name() == "TanhBackward0", "training keeps torch.tanh's exact backward"
