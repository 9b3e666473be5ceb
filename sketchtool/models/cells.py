"""Recurrent cells of magenta/models/sketch_rnn/rnn.py: LSTM, layer-normalised LSTM and HyperLSTM
(arXiv 1609.09106), with recurrent dropout without memory loss (arXiv 1603.05118: dropout on the
candidate g only), plus the loops that run them.

Speed: each cell splits its work into `project_inputs` (the input matmul of all time steps at once) and
`step` (the recurrent part), `final_hidden` runs only the true length of each sequence, and `unroll` computes
W_hh's gradient for all steps in one matmul. Weights are stored as magenta lays them out: `x @ W_xh`, `h @ W_hh`, gates in the order i, j, f, o.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CELLS", "HyperLSTMCell", "LSTMCell", "LayerNormLSTMCell", "final_hidden", "final_hidden_fixed", "make_cell",
           "unroll", "zero_state"]

FORGET_BIAS = 1.0  # magenta adds 1.0 to the forget gate
LN_EPSILON = 1e-3  # magenta's layer_norm epsilon


def _glorot_(w: Tensor) -> Tensor:
    limit = math.sqrt(6.0 / (w.shape[0] + w.shape[1]))
    return nn.init.uniform_(w, -limit, limit)


def _ortho_blocks_(w: Tensor) -> Tensor:
    """magenta `lstm_ortho_initializer`: each of the 4 gate blocks is an orthogonal matrix."""
    n = w.shape[1] // 4
    with torch.no_grad():
        for k in range(4):
            nn.init.orthogonal_(w[:, k * n:(k + 1) * n])
    return w


def _layer_norm_all(gates: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
    """Normalise each of the 4 gate blocks on its own (magenta `layer_norm_all`), one gain/bias per unit.
    (Unit weights are passed to F.layer_norm because its CPU kernel without them is 2x slower in torch 2.x.)"""
    shape = gates.shape
    n = shape[-1] // 4
    blocks = gates.reshape(*shape[:-1], 4, n)
    unit = gates.new_ones(n)
    normed = F.layer_norm(blocks, (n,), unit, torch.zeros_like(unit), eps=LN_EPSILON).reshape(shape)
    return torch.addcmul(beta, normed, gamma)


def _tanh(x: Tensor) -> Tensor:
    """tanh. Without autograd on CPU it is computed as 2σ(2x) - 1 (the same function within 3e-7, tested): torch's
    exact CPU tanh kernel is ~5x slower than its sigmoid, and sampling calls it twice per step per drawing."""
    if x.device.type != "cpu" or (x.requires_grad and torch.is_grad_enabled()):
        return torch.tanh(x)
    return torch.sigmoid(2 * x).mul_(2).sub_(1)


def _gates(xw: Tensor, h: Tensor, w_hh: Tensor) -> Tensor:
    """xw + h·W_hh. A W_hh in a narrower dtype than xw (bf16 sampling) runs the product in that dtype and
    the sum in xw's: the matmul is most of a large batch's step, and CPUs with AVX512-BF16/AMX do it 4x faster."""
    if w_hh.dtype == xw.dtype:
        return torch.addmm(xw, h, w_hh)
    return torch.mm(h.to(w_hh.dtype), w_hh).to(xw.dtype).add_(xw)


class LSTMCell(nn.Module):
    """magenta `LSTMCell`: c' = c·σ(f+1) + σ(i)·drop(tanh j), h' = tanh(c')·σ(o). State (h, c)."""

    # gates = xw + h·W_hh with W_hh used as is, so `step` may take a stand-in W_hh (a detached or bf16 copy, or
    # [W_hh; W_x] with h widened by extra inputs): `unroll` and the sampler rely on it. HyperLSTM rescales
    # h·W_hh per step, so it cannot.
    plain_recurrent_matmul: ClassVar[bool] = True

    def __init__(self, input_size: int, num_units: int, *, use_recurrent_dropout: bool = False,
                 dropout_keep_prob: float = 0.9):
        super().__init__()
        self.num_units = num_units
        self.use_recurrent_dropout = use_recurrent_dropout
        self.dropout_keep_prob = dropout_keep_prob
        self.W_xh = nn.Parameter(_glorot_(torch.empty(input_size, 4 * num_units)))
        self.W_hh = nn.Parameter(_ortho_blocks_(torch.empty(num_units, 4 * num_units)))
        self.bias = nn.Parameter(torch.zeros(4 * num_units))

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.num_units, self.num_units)

    def project_inputs(self, x: Tensor) -> Tensor:
        """(..., input_size) -> (..., 4H): x·W_xh + b for all time steps in one matmul (bias fused, so under
        autocast the result stays bf16 and no per-step cast is needed)."""
        flat = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.W_xh)
        return flat.reshape(*x.shape[:-1], self.W_xh.shape[1])

    def _candidate(self, j: Tensor) -> Tensor:
        g = _tanh(j)
        if self.training and self.use_recurrent_dropout:
            g = F.dropout(g, p=1.0 - self.dropout_keep_prob, training=True)
        return g

    def step(self, xw: Tensor, state: tuple[Tensor, ...], w_hh: Tensor | None = None
             ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One time step; `w_hh` replaces W_hh (see `unroll`: a detached copy whose gradient comes later)."""
        h, c = state
        gates = _gates(xw, h, self.W_hh if w_hh is None else w_hh)  # (B, 4H)
        i, j, f, o = gates.chunk(4, dim=-1)
        new_c = c * torch.sigmoid(f + FORGET_BIAS) + torch.sigmoid(i) * self._candidate(j)
        new_h = _tanh(new_c) * torch.sigmoid(o)
        return new_h, (new_h, new_c)


class LayerNormLSTMCell(LSTMCell):
    """magenta `LayerNormLSTMCell`: no bias; layer norm on each gate block and on c before the output tanh."""

    def __init__(self, input_size: int, num_units: int, **kwargs):
        super().__init__(input_size, num_units, **kwargs)
        del self.bias
        self.ln_all_gamma = nn.Parameter(torch.ones(4 * num_units))
        self.ln_all_beta = nn.Parameter(torch.zeros(4 * num_units))
        self.ln_c_gamma = nn.Parameter(torch.ones(num_units))
        self.ln_c_beta = nn.Parameter(torch.zeros(num_units))

    def project_inputs(self, x: Tensor) -> Tensor:
        return torch.matmul(x, self.W_xh)

    def step(self, xw: Tensor, state: tuple[Tensor, ...], w_hh: Tensor | None = None
             ) -> tuple[Tensor, tuple[Tensor, ...]]:
        h, c = state
        gates = _gates(xw, h, self.W_hh if w_hh is None else w_hh)
        gates = _layer_norm_all(gates, self.ln_all_gamma, self.ln_all_beta)
        i, j, f, o = gates.chunk(4, dim=-1)
        new_c = c * torch.sigmoid(f + FORGET_BIAS) + torch.sigmoid(i) * self._candidate(j)
        c_norm = F.layer_norm(new_c, new_c.shape[-1:], self.ln_c_gamma, self.ln_c_beta, eps=LN_EPSILON)
        new_h = _tanh(c_norm) * torch.sigmoid(o)
        return new_h, (new_h, new_c)


class HyperLSTMCell(LSTMCell):
    """magenta `HyperLSTMCell`: a small LSTM reading [x; h] emits, per gate, a scale for the x·W_xh and
    h·W_hh blocks and a bias for the h block (`hyper_norm`), then layer norm as in LayerNormLSTMCell.
    State (h, c, hyper_h, hyper_c)."""

    plain_recurrent_matmul: ClassVar[bool] = False

    def __init__(self, input_size: int, num_units: int, *, hyper_num_units: int = 256, hyper_embedding_size: int = 32,
                 hyper_use_recurrent_dropout: bool = False, use_layer_norm: bool = True, **kwargs):
        super().__init__(input_size, num_units, **kwargs)
        self.use_layer_norm = use_layer_norm
        self.embedding_size = emb = hyper_embedding_size
        # the hyper LSTM reads [x; h]: its x rows live in hyper.W_xh, its h rows in W_hyper_h (separate
        # parameters so that neither is sliced per step); both glorot over the joint (I + H, 4 H_hyper) matrix
        self.hyper = LSTMCell(input_size, hyper_num_units, use_recurrent_dropout=hyper_use_recurrent_dropout,
                              dropout_keep_prob=self.dropout_keep_prob)
        limit = math.sqrt(6.0 / (input_size + num_units + 4 * hyper_num_units))
        nn.init.uniform_(self.hyper.W_xh, -limit, limit)
        self.W_hyper_h = nn.Parameter(torch.empty(num_units, 4 * hyper_num_units).uniform_(-limit, limit))
        init_gamma = 0.10  # recurrent batch norm init (arXiv 1603.09025)
        # gates 0-3 scale the x·W_xh blocks (i, j, f, o), gates 4-7 the h·W_hh blocks, which also get a bias;
        # z-projections of all gates side by side: columns g·E..(g+1)·E belong to gate g
        self.zw_weight = nn.Parameter(torch.zeros(hyper_num_units, 8 * emb))
        self.zw_bias = nn.Parameter(torch.ones(8 * emb))
        self.alpha_weight = nn.Parameter(torch.full((8, emb, num_units), init_gamma / emb))
        self.zb_weight = nn.Parameter(torch.randn(hyper_num_units, 4 * emb) * 0.01)
        self.beta_weight = nn.Parameter(torch.zeros(4, emb, num_units))
        self.ln_all_gamma = nn.Parameter(torch.ones(4 * num_units))
        self.ln_all_beta = nn.Parameter(torch.zeros(4 * num_units))
        self.ln_c_gamma = nn.Parameter(torch.ones(num_units))
        self.ln_c_beta = nn.Parameter(torch.zeros(num_units))

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.num_units, self.num_units, self.hyper.num_units, self.hyper.num_units)

    def project_inputs(self, x: Tensor) -> Tensor:
        """(..., I) -> (..., 4H + 4H_hyper): the main x·W_xh and the x part of the hyper LSTM's input."""
        return torch.cat([torch.matmul(x, self.W_xh), self.hyper.project_inputs(x)], dim=-1)

    def step(self, xw: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        h, c, hyper_h, hyper_c = state
        n, emb = self.num_units, self.embedding_size
        x_gates, hyper_xw = xw[:, : 4 * n], xw[:, 4 * n:]
        hyper_out, (hyper_h, hyper_c) = self.hyper.step(torch.addmm(hyper_xw, h, self.W_hyper_h), (hyper_h, hyper_c))
        zw = torch.addmm(self.zw_bias, hyper_out, self.zw_weight).reshape(-1, 8, emb).transpose(0, 1)  # (8, B, E)
        alpha = torch.bmm(zw, self.alpha_weight)  # (8, B, H)
        zb = torch.matmul(hyper_out, self.zb_weight).reshape(-1, 4, emb).transpose(0, 1)  # (4, B, E)
        beta = torch.bmm(zb, self.beta_weight)  # (4, B, H)
        xg = x_gates.reshape(-1, 4, n).transpose(0, 1) * alpha[:4]  # (4, B, H)
        hg = torch.matmul(h, self.W_hh).reshape(-1, 4, n).transpose(0, 1) * alpha[4:] + beta
        gates = (xg + hg + self.bias.reshape(4, 1, n)).transpose(0, 1).reshape(-1, 4 * n)  # (B, 4H)
        if self.use_layer_norm:
            gates = _layer_norm_all(gates, self.ln_all_gamma, self.ln_all_beta)
        i, j, f, o = gates.chunk(4, dim=-1)
        new_c = c * torch.sigmoid(f + FORGET_BIAS) + torch.sigmoid(i) * self._candidate(j)
        c_norm = F.layer_norm(new_c, new_c.shape[-1:], self.ln_c_gamma, self.ln_c_beta, eps=LN_EPSILON)
        new_h = _tanh(c_norm) * torch.sigmoid(o)
        return new_h, (new_h, new_c, hyper_h, hyper_c)


CELLS = {"lstm": LSTMCell, "layer_norm": LayerNormLSTMCell, "hyper": HyperLSTMCell}


def make_cell(kind: str, input_size: int, num_units: int, **kwargs) -> LSTMCell:
    """Cell by magenta's `dec_model` / `enc_model` name; hyper-only kwargs are dropped for the others."""
    if kind != "hyper":
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith("hyper_")}
    return CELLS[kind](input_size, num_units, **kwargs)


def _autocast_dtype(t: Tensor) -> torch.dtype | None:
    """The dtype autocast gives matmuls on t's device, None where it is off (or has no autocast: "meta")."""
    device = t.device.type
    if device == "meta" or not torch.is_autocast_enabled(device):
        return None
    return torch.get_autocast_dtype(device)


class _RecurrentWeightGrad(torch.autograd.Function):
    """Identity on xw; its backward gives W_hh the gradient of all time steps in one matmul,
    Σ_t h_{t-1}ᵀ·∂L/∂gates_t, because gates_t = xw_t + h_{t-1}·W_hh makes ∂L/∂gates_t = ∂L/∂xw_t.
    (Autograd would otherwise add 250 separate (H, 4H) gradients, and cast each under bf16.)"""

    @staticmethod
    def forward(ctx, xw: Tensor, weight: Tensor, h_prev: list) -> Tensor:
        ctx.h_prev = h_prev  # filled by the loop after this call, read in backward
        ctx.weight_dtype = weight.dtype
        ctx.matmul_dtype = _autocast_dtype(xw) or xw.dtype
        return xw.view_as(xw)

    @staticmethod
    def backward(ctx, grad_xw: Tensor):
        h_prev = torch.stack(ctx.h_prev, dim=1).to(ctx.matmul_dtype)  # (B, T, H)
        grad = grad_xw.to(ctx.matmul_dtype)
        grad_w = h_prev.reshape(-1, h_prev.shape[-1]).t() @ grad.reshape(-1, grad.shape[-1])
        return grad_xw, grad_w.to(ctx.weight_dtype), None


def unroll(cell: LSTMCell, xw: Tensor, state: tuple[Tensor, ...], *, fused_weight_grad: bool = True
           ) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run every time step: xw (B, T, P) from `project_inputs` -> outputs (B, T, H), final state.
    LSTM and layer-norm cells get W_hh's gradient in one matmul (`_RecurrentWeightGrad`)."""
    w_step, h_prev = None, []
    if fused_weight_grad and cell.plain_recurrent_matmul and torch.is_grad_enabled():
        xw = _RecurrentWeightGrad.apply(xw, cell.W_hh, h_prev)
        w_step = cell.W_hh.detach()
        matmul_dtype = _autocast_dtype(xw)
        if matmul_dtype is not None:  # cast once, not once per step
            w_step = w_step.to(matmul_dtype)
    outputs = []
    for xw_t in xw.unbind(1):  # one backward for all steps; indexing xw[:, t] costs a full-size zero fill each
        if w_step is None:
            h, state = cell.step(xw_t, state)
        else:
            h_prev.append(state[0].detach())
            h, state = cell.step(xw_t, state, w_step)
        outputs.append(h)
    return torch.stack(outputs, dim=1), state


def zero_state(cell: LSTMCell, batch: int, like: Tensor) -> tuple[Tensor, ...]:
    return tuple(like.new_zeros(batch, size) for size in cell.state_sizes)


def final_hidden(cell: LSTMCell, x: Tensor, lengths: Tensor) -> Tensor:
    """h after each sequence's own last step (like dynamic_rnn with sequence_length), computing only the
    true lengths: rows are sorted longest first and the batch shrinks as sequences end. x (B, T, I) -> (B, H)."""
    batch = x.shape[0]
    order = torch.argsort(lengths, descending=True, stable=True)
    xw = cell.project_inputs(x[order])  # sort the narrow inputs, not the 4H-wide projections
    lens = lengths[order].tolist()
    active = [sum(1 for n in lens if n > t) for t in range(lens[0] if lens else 0)]
    state = zero_state(cell, batch, x)
    pieces, n_prev = [], batch
    for xw_t, n in zip(xw.unbind(1), active):
        if n < n_prev:  # rows n..n_prev ended at this step
            pieces.append(state[0][n:n_prev])
            state = tuple(s[:n] for s in state)
        _, state = cell.step(xw_t[:n], state)
        n_prev = n
    pieces.append(state[0][:n_prev])
    h_sorted = torch.cat(pieces[::-1], dim=0)
    return h_sorted[torch.argsort(order)]


def final_hidden_fixed(cell: LSTMCell, x: Tensor, lengths: Tensor) -> Tensor:
    """`final_hidden` in fixed shapes: every row runs all T steps and keeps its state from its own last step on
    (a masked unroll). Twice the encoder's work on sheep, but nothing on the host depends on the lengths, so a
    CUDA graph can capture it (sketchtool/cuda_graph.py). x (B, T, I) -> (B, H)."""
    state = zero_state(cell, x.shape[0], x)
    lengths = lengths.to(x.device)[:, None]
    for t, xw_t in enumerate(cell.project_inputs(x).unbind(1)):
        _, new_state = cell.step(xw_t, state)
        state = tuple(torch.where(lengths > t, new, old) for new, old in zip(new_state, state))
    return state[0]
