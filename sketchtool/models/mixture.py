"""Sketch-RNN's output head (arXiv 1704.03477 §3.2, magenta model.py `get_mixture_coef`/`get_lossfunc`):
a bivariate-Gaussian mixture over (Δx, Δy) and a softmax over the 3 pen states, its loss and its sampler.

Output layout per step (6M+3 values): pen logits (3), then π, μx, μy, σ̂x, σ̂y, ρ̂ (M each), as magenta.
Sampling temperature τ follows the paper: π logits are divided by τ and σ² is scaled by τ (σ by √τ; magenta's
Python sampler scales σ by τ instead, a known deviation from its own paper). The pen logits are divided by a pen
temperature: τ in the paper and magenta's `sample()`; by default here 0.5 + 0.5·τ, the heuristic of magenta-js (the
paper author's sampler behind the web demos, `getPDF`'s `softmaxTemperature`, which it applies to π as well; on π
it made the kanji model's strokes wobblier, docs/BENCHMARKS.md). See `pen_temperature_for`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

__all__ = [
    "NLL_EPSILON",
    "MixtureParams",
    "bivariate_normal_pdf",
    "offset_nll",
    "pen_cross_entropy",
    "pen_temperature_for",
    "sample_mixture",
    "split_output",
]

NLL_EPSILON = 1e-6  # magenta: -log(Σ π N + 1e-6)


@dataclass
class MixtureParams:
    """All (..., M) except `pen_logits` (..., 3). The head's raw σ̂, ρ̂ are kept; sigma = exp(σ̂) and
    rho = tanh(ρ̂) are computed on first use (the sampler transforms only the component it picked)."""

    pen_logits: Tensor
    pi_logits: Tensor
    mu1: Tensor
    mu2: Tensor
    sigma1_hat: Tensor
    sigma2_hat: Tensor
    rho_hat: Tensor

    @cached_property
    def sigma1(self) -> Tensor:
        return torch.exp(self.sigma1_hat)

    @cached_property
    def sigma2(self) -> Tensor:
        return torch.exp(self.sigma2_hat)

    @cached_property
    def rho(self) -> Tensor:
        return torch.tanh(self.rho_hat)


def split_output(y: Tensor, num_mixture: int) -> MixtureParams:
    """(..., 6M+3) raw decoder output -> MixtureParams."""
    if y.shape[-1] != 6 * num_mixture + 3:
        raise ValueError(f"expected {6 * num_mixture + 3} outputs, got {y.shape[-1]}")
    return MixtureParams(y[..., :3], *y[..., 3:].chunk(6, dim=-1))


def bivariate_normal_pdf(x1: Tensor, x2: Tensor, p: MixtureParams) -> Tensor:
    """N(x1, x2 | μ, σ, ρ) per component, computed as magenta's `tf_2d_normal` does. x1, x2: (...,) -> (..., M)."""
    norm1 = x1.unsqueeze(-1) - p.mu1
    norm2 = x2.unsqueeze(-1) - p.mu2
    s1s2 = p.sigma1 * p.sigma2
    z = (norm1 / p.sigma1) ** 2 + (norm2 / p.sigma2) ** 2 - 2 * p.rho * norm1 * norm2 / s1s2
    neg_rho = 1 - p.rho**2
    return torch.exp(-z / (2 * neg_rho)) / (2 * math.pi * s1s2 * torch.sqrt(neg_rho))


def offset_nll(p: MixtureParams, dx: Tensor, dy: Tensor) -> Tensor:
    """-log(Σ_k π_k N_k(dx, dy) + 1e-6), magenta's L_s term before masking. (...,)."""
    pi = torch.softmax(p.pi_logits, dim=-1)
    return -torch.log((pi * bivariate_normal_pdf(dx, dy, p)).sum(-1) + NLL_EPSILON)


def pen_cross_entropy(p: MixtureParams, pen: Tensor) -> Tensor:
    """Softmax cross-entropy of the pen logits against one-hot (p1, p2, p3) targets (..., 3). (...,)."""
    return -(pen * torch.log_softmax(p.pen_logits, dim=-1)).sum(-1)


def pen_temperature_for(temperature: float) -> float:
    """The default pen-state temperature for sampling temperature τ: 0.5 + 0.5·τ (magenta-js's heuristic). Dividing
    the pen logits by a low τ erases an end-of-drawing state the model gives less than the other states, so drawings
    run on to the length cap; this keeps most of the ending the model learnt."""
    return 0.5 + 0.5 * float(temperature)


def sample_mixture(p: MixtureParams, *, temperature: float = 1.0, greedy: bool = False,
                   generator: torch.Generator | None = None, pen_temperature: float | None = None,
                   noise: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """One draw per row from (B, M) params -> offsets (B, 2) and pen state index (B,) in {0, 1, 2}.
    π logits are divided by `temperature` and σ² scaled by it; pen logits are divided by `pen_temperature` (None:
    `temperature`, as magenta's Python sampler). Greedy: the most likely component's mean and pen state (magenta
    `greedy_mode`). The randomness is `noise` (uniforms (B, 2) for component and pen, standard normals (B, 2) for
    the offset) when given, so a caller can fix each row's own stream; else drawn from `generator`."""
    tau = max(float(temperature), 1e-4)
    pen_tau = tau if pen_temperature is None else max(float(pen_temperature), 1e-4)
    if greedy:
        k = p.pi_logits.argmax(-1, keepdim=True)
        pen_state = p.pen_logits.argmax(-1)
    else:
        u = noise[0].to(p.pi_logits.dtype) if noise is not None else torch.rand(
            p.pi_logits.shape[0], 2, generator=generator, device=p.pi_logits.device, dtype=p.pi_logits.dtype)
        k = _categorical(p.pi_logits / tau, u[:, :1])
        pen_state = _categorical(p.pen_logits / pen_tau, u[:, 1:]).squeeze(-1)
    # the picked component only: gathering before exp/tanh transforms 1 value per row, not M
    mu1, mu2, s1_hat, s2_hat, rho_hat = (t.gather(-1, k).squeeze(-1)
                                         for t in (p.mu1, p.mu2, p.sigma1_hat, p.sigma2_hat, p.rho_hat))
    if greedy:
        return torch.stack([mu1, mu2], -1), pen_state
    s1 = torch.exp(s1_hat) * math.sqrt(tau)
    s2 = torch.exp(s2_hat) * math.sqrt(tau)
    rho = torch.tanh(rho_hat)
    e = noise[1].to(mu1.dtype) if noise is not None else torch.randn(
        mu1.shape[0], 2, generator=generator, device=mu1.device, dtype=mu1.dtype)
    x = mu1 + s1 * e[:, 0]
    y = mu2 + s2 * (rho * e[:, 0] + torch.sqrt(1 - rho**2) * e[:, 1])
    return torch.stack([x, y], -1), pen_state


def _categorical(logits: Tensor, u: Tensor) -> Tensor:
    """Index drawn from softmax(logits) (B, K) by inverting its CDF at uniforms u in [0, 1) (B, 1) -> (B, 1).
    (torch.multinomial draws K exponentials per row; this needs one uniform.) The uniform is mapped into
    (0, CDF total] so that rounding never picks a component of zero probability."""
    cdf = torch.softmax(logits, dim=-1).cumsum(dim=-1)
    return (cdf < cdf[..., -1:] * (1 - u)).sum(dim=-1, keepdim=True)
