"""The GMM + pen head against an independent computation (torch.distributions), and its sampler."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchtool.models.mixture import (
    NLL_EPSILON,
    offset_nll,
    pen_cross_entropy,
    sample_mixture,
    split_output,
)


def _params(seed: int, batch: int = 6, m: int = 4):
    g = torch.Generator().manual_seed(seed)
    return split_output(torch.randn(batch, 6 * m + 3, generator=g, dtype=torch.float64), m)


def _independent_likelihood(p, dx, dy):
    """Σ π N(x | μ, Σ) with Σ built from σ and ρ, by torch.distributions."""
    cov = torch.stack([
        torch.stack([p.sigma1**2, p.rho * p.sigma1 * p.sigma2], -1),
        torch.stack([p.rho * p.sigma1 * p.sigma2, p.sigma2**2], -1),
    ], -2)
    mvn = torch.distributions.MultivariateNormal(torch.stack([p.mu1, p.mu2], -1), covariance_matrix=cov)
    log_n = mvn.log_prob(torch.stack([dx, dy], -1)[:, None, :])
    return torch.exp(torch.logsumexp(torch.log_softmax(p.pi_logits, -1) + log_n, -1))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 3.0))
def test_offset_nll_matches_an_independent_gmm(seed, scale):
    p = _params(seed)
    g = torch.Generator().manual_seed(seed + 1)
    dx, dy = (torch.randn(6, generator=g, dtype=torch.float64) * scale for _ in range(2))
    want = -torch.log(_independent_likelihood(p, dx, dy) + NLL_EPSILON)
    torch.testing.assert_close(offset_nll(p, dx, dy), want, rtol=1e-9, atol=1e-9)


def test_split_output_layout_is_magentas():
    y = torch.arange(6 * 2 + 3, dtype=torch.float64)[None]
    p = split_output(y, 2)
    assert p.pen_logits.tolist() == [[0, 1, 2]]
    assert p.pi_logits.tolist() == [[3, 4]] and p.mu1.tolist() == [[5, 6]] and p.mu2.tolist() == [[7, 8]]
    torch.testing.assert_close(p.sigma1, torch.exp(torch.tensor([[9.0, 10.0]], dtype=torch.float64)))
    torch.testing.assert_close(p.rho, torch.tanh(torch.tensor([[13.0, 14.0]], dtype=torch.float64)))


def test_pen_cross_entropy_is_the_softmax_cross_entropy():
    p = _params(3)
    target = torch.eye(3, dtype=torch.float64)[torch.tensor([0, 1, 2, 0, 1, 2])]
    want = torch.nn.functional.cross_entropy(p.pen_logits, target.argmax(-1), reduction="none")
    torch.testing.assert_close(pen_cross_entropy(p, target), want)


def test_sampling_is_reproducible_and_greedy_returns_the_mean():
    p = _params(5, batch=3)
    a = sample_mixture(p, generator=torch.Generator().manual_seed(1))
    b = sample_mixture(p, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    offsets, pen = sample_mixture(p, greedy=True)
    k = p.pi_logits.argmax(-1)
    torch.testing.assert_close(offsets[:, 0], p.mu1.gather(-1, k[:, None])[:, 0])
    assert pen.tolist() == p.pen_logits.argmax(-1).tolist()


def test_temperature_scales_the_variance_by_tau():
    """Paper semantics: σ² scaled by τ, so the sample spread scales by √τ (magenta scales σ by τ)."""
    m, n = 1, 20000
    y = torch.zeros(n, 6 * m + 3, dtype=torch.float64)  # one component at 0 with σ = 1, ρ = 0
    p = split_output(y, m)
    for tau in (0.25, 1.0):
        offsets, _ = sample_mixture(p, temperature=tau, generator=torch.Generator().manual_seed(0))
        assert abs(offsets[:, 0].std().item() - math.sqrt(tau)) < 0.02


def test_component_and_pen_draws_follow_the_tempered_softmax():
    """Each row's mixture component and pen state are draws from softmax(logits / τ)."""
    m, n, tau = 5, 40000, 0.5
    g = torch.Generator().manual_seed(7)
    row = torch.randn(6 * m + 3, generator=g, dtype=torch.float64)
    p = split_output(row.expand(n, -1), m)
    offsets, pen = sample_mixture(p, temperature=tau, generator=g)
    pen_freq = torch.bincount(pen, minlength=3) / n
    torch.testing.assert_close(pen_freq.double(), torch.softmax(row[:3] / tau, -1), atol=0.01, rtol=0)
    # the component shows in the sample: with tiny σ each offset sits on its component's mean
    tight = row.clone()
    tight[3 + 3 * m:3 + 5 * m] = -12.0  # σ̂ -> σ = 6e-6
    offsets, _ = sample_mixture(split_output(tight.expand(n, -1), m), temperature=tau, generator=g)
    means = tight[3 + m:3 + 2 * m]
    k = (offsets[:, :1] - means[None]).abs().argmin(-1)
    torch.testing.assert_close((torch.bincount(k, minlength=m) / n).double(), torch.softmax(row[3:3 + m] / tau, -1),
                               atol=0.01, rtol=0)


def test_pen_temperature_tempers_the_pen_state_alone():
    """Pen states follow softmax(pen logits / pen_temperature) while the component still follows softmax(π / τ)
    and σ scales by √τ; without a pen temperature the pen follows τ too (magenta's Python sampler)."""
    m, n, tau, pen_tau = 3, 40000, 0.3, 0.8
    g = torch.Generator().manual_seed(3)
    row = torch.randn(6 * m + 3, generator=g, dtype=torch.float64)
    row[3 + 3 * m:3 + 5 * m] = 0.0  # σ = 1 before temperature
    row[3 + m:3 + 3 * m] = 0.0  # every component centred at 0, so the offsets show σ alone
    p = split_output(row.expand(n, -1), m)
    offsets, pen = sample_mixture(p, temperature=tau, pen_temperature=pen_tau, generator=g)
    torch.testing.assert_close((torch.bincount(pen, minlength=3) / n).double(), torch.softmax(row[:3] / pen_tau, -1),
                               atol=0.01, rtol=0)
    assert abs(offsets[:, 0].std().item() - math.sqrt(tau)) < 0.02
    _, pen_paper = sample_mixture(p, temperature=tau, generator=g)
    torch.testing.assert_close((torch.bincount(pen_paper, minlength=3) / n).double(), torch.softmax(row[:3] / tau, -1),
                               atol=0.01, rtol=0)
    tight = row.clone()
    tight[3 + m:3 + 2 * m] = torch.arange(m, dtype=torch.float64) * 10  # component k centred at x = 10k
    tight[3 + 3 * m:3 + 5 * m] = -12.0
    offsets, _ = sample_mixture(split_output(tight.expand(n, -1), m), temperature=tau, pen_temperature=pen_tau,
                                generator=g)
    k = (offsets[:, 0] / 10).round().long()
    torch.testing.assert_close((torch.bincount(k, minlength=m) / n).double(), torch.softmax(row[3:3 + m] / tau, -1),
                               atol=0.01, rtol=0)


def test_the_default_pen_temperature_is_magenta_js_heuristic():
    from sketchtool.models.mixture import pen_temperature_for

    assert pen_temperature_for(1.0) == 1.0  # τ = 1 samples the model as trained, as both samplers do
    assert pen_temperature_for(0.4) == pytest.approx(0.7)
    assert pen_temperature_for(0.0) == 0.5


def test_a_component_of_zero_probability_is_never_drawn():
    """Edge uniforms (0 and the largest float below 1) and a CDF that rounds short of 1 must still land on a
    component that has probability."""
    from sketchtool.models.mixture import _categorical

    logits = torch.tensor([[-200.0, 0.0, 0.1, -200.0]] * 3)  # components 0 and 3 underflow to probability 0
    u = torch.tensor([[0.0], [0.5], [1.0 - 2**-24]])
    k = _categorical(logits, u).squeeze(-1)
    assert set(k.tolist()) == {1, 2}  # u maps to (1 - u) of the CDF's total: u = 0 -> the last positive one
