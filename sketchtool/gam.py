"""The Generative Adversarial Metric (GAM) of Im, Kim, Jiang, Memisevic, "Generating Images with Recurrent
Adversarial Networks" (arXiv 1602.05110, section 4): a battle between two models M1 = (G1, D1), M2 = (G2, D2).

With eps(D(x)) the share of x a discriminator gets wrong (real called generated, generated called real, at p = 0.5):
    r_test   = eps(D1(x_test)) / eps(D2(x_test))
    r_sample = eps(D1(G2(z))) / eps(D2(G1(z)))
M1 wins when r_sample < 1 and r_test ~ 1 (the gate: both discriminators judge real data alike, so neither won by
overfitting or by calling everything fake). Deliberate deviations from the official code (jiwoongim/GRAN,
battle.py): error ratios as the paper defines them, not accuracy ratios, and the r_test gate is applied. Error
ratios are 0/0 when both discriminators are perfect (common on digits), so the raw error counts are always
reported, and each ratio also with additive smoothing, (k1 + a) / (n1 + 2a) over (k2 + a) / (n2 + 2a), flagged
as such; the decision uses the raw ratio where it is defined and the smoothed one otherwise. "r_test ~ 1" is read
statistically (our interpretation; the paper gives no threshold): the gate passes when the 95% interval of
r_test (Katz's log method on the smoothed counts) reaches into [1 - tolerance, 1 + tolerance], so a ratio of
two small error rates from a few hundred test images is not mistaken for a difference, while a degenerate
discriminator (one that calls everything real) still fails it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from sketchtool.errors import SketchtoolError

__all__ = ["BattleResult", "ErrorCount", "Ratio", "battle", "check_settings", "decide", "error_count", "ratio"]

DEFAULT_TOLERANCE = 0.2  # r_test within a factor 1 + this of 1: the discriminators judge real data alike
DEFAULT_SMOOTHING = 1.0  # add-one (Laplace) smoothing of the error counts
Z_95 = 1.959964  # two-sided 95% normal quantile


@dataclass(frozen=True)
class ErrorCount:
    """`errors` wrong out of `n` judged."""

    errors: int
    n: int

    @property
    def rate(self) -> float:
        return self.errors / self.n if self.n else math.nan


@dataclass(frozen=True)
class Ratio:
    """raw: errors ratio (None for 0/0, inf for k/0); smoothed: the additive-smoothed ratio; value: raw where
    defined and finite, else smoothed; smoothed_used says which one `value` is; low, high: its 95% interval."""

    raw: float | None
    smoothed: float
    value: float
    smoothed_used: bool
    low: float
    high: float


@dataclass(frozen=True)
class BattleResult:
    """The four error counts, both ratios, the gate and the verdict ("A", "B", "tie" or None: no decision)."""

    test_a: ErrorCount
    test_b: ErrorCount
    sample_a: ErrorCount  # D_A judging G_B's samples
    sample_b: ErrorCount  # D_B judging G_A's samples
    r_test: Ratio
    r_sample: Ratio
    tolerance: float
    smoothing: float
    gate_passed: bool
    winner: str | None
    reason: str

    def to_dict(self) -> dict:
        """JSON-able, and valid JSON: JSON has no NaN or Infinity, so inf is "inf" and NaN (a rate of 0 judged) None."""
        out = asdict(self)
        for key in ("test_a", "test_b", "sample_a", "sample_b"):
            out[key]["rate"] = getattr(self, key).rate
        return _json_safe(out)


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def check_settings(tolerance: float, smoothing: float) -> None:
    """Refuse a tolerance or smoothing that would make the ratios or the gate NaN (battle, and its command before
    loading anything)."""
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise SketchtoolError(f"tolerance {tolerance}: must be a finite number >= 0")
    _check_smoothing(smoothing)


def _check_smoothing(smoothing: float) -> None:
    if not (math.isfinite(smoothing) and smoothing > 0):
        raise SketchtoolError(f"smoothing {smoothing}: must be a finite number > 0 (it is what makes 0/0 a number)")


def error_count(p_real: np.ndarray, *, real: bool) -> ErrorCount:
    """How many of `p_real` (a discriminator's P(real), any shape) are wrong when every input is `real` (or
    every input generated), deciding at 0.5."""
    p = np.asarray(p_real, dtype=np.float64).ravel()
    wrong = p < 0.5 if real else p >= 0.5
    return ErrorCount(int(wrong.sum()), int(p.size))


def ratio(top: ErrorCount, bottom: ErrorCount, smoothing: float = DEFAULT_SMOOTHING) -> Ratio:
    """eps_top / eps_bottom, raw and smoothed."""
    _check_smoothing(smoothing)
    k1, n1 = top.errors + smoothing, top.n + 2 * smoothing
    k2, n2 = bottom.errors + smoothing, bottom.n + 2 * smoothing
    smoothed = (k1 / n1) / (k2 / n2)
    spread = Z_95 * math.sqrt(max(1 / k1 - 1 / n1 + 1 / k2 - 1 / n2, 0.0))  # Katz: SE of log(ratio)
    if bottom.errors == 0:
        raw = None if top.errors == 0 else math.inf
    else:
        raw = top.rate / bottom.rate
    usable = raw is not None and math.isfinite(raw)
    return Ratio(raw, smoothed, raw if usable else smoothed, not usable, smoothed * math.exp(-spread),
                 smoothed * math.exp(spread))


def decide(test_a: ErrorCount, test_b: ErrorCount, sample_a: ErrorCount, sample_b: ErrorCount, *,
           tolerance: float = DEFAULT_TOLERANCE, smoothing: float = DEFAULT_SMOOTHING) -> BattleResult:
    """The paper's rule on the four error counts: the r_test gate (its 95% interval reaches within a factor
    1 + `tolerance` of 1, so that swapping A and B, which turns each ratio into its reciprocal, gives the same
    verdict mirrored), then r_sample < 1 -> A wins, > 1 -> B wins."""
    check_settings(tolerance, smoothing)
    r_test, r_sample = ratio(test_a, test_b, smoothing), ratio(sample_a, sample_b, smoothing)
    gate = r_test.low <= 1.0 + tolerance and r_test.high >= 1.0 / (1.0 + tolerance)  # 1 - tolerance was lopsided
    if not gate:
        winner = None
        reason = (f"no decision: r_test = {r_test.value:.3g} (95% interval {r_test.low:.3g} to {r_test.high:.3g}) "
                  f"is not within a factor {1 + tolerance:g} of 1, so the discriminators judge real data differently and "
                  "r_sample cannot be trusted")
    elif r_sample.value < 1:
        winner, reason = "A", f"A wins: r_sample = {r_sample.value:.3g} < 1 (D_A spots G_B's samples more often)"
    elif r_sample.value > 1:
        winner, reason = "B", f"B wins: r_sample = {r_sample.value:.3g} > 1 (D_B spots G_A's samples more often)"
    else:
        winner, reason = "tie", "tie: r_sample = 1"
    return BattleResult(test_a, test_b, sample_a, sample_b, r_test, r_sample, tolerance, smoothing, gate, winner,
                        reason)


def battle(model_a, model_b, test_images: np.ndarray, *, n_samples: int = 1000, seed: int = 0,
           tolerance: float = DEFAULT_TOLERANCE, smoothing: float = DEFAULT_SMOOTHING,
           batch_size: int = 500) -> BattleResult:
    """GAM between two models that can generate and discriminate images; `test_images` float (N, H, W) in [0, 1].
    Each model draws `n_samples` samples from a generator seeded with `seed` (so a battle is reproducible)."""
    import torch

    from sketchtool.models.base import SketchModel

    check_settings(tolerance, smoothing)
    for label, model in (("A", model_a), ("B", model_b)):
        if not isinstance(model, SketchModel):
            raise SketchtoolError(f"model {label} is not a sketchtool model")
        model.require("generate", "a GAM battle")
        model.require("discriminate", "a GAM battle")
        if model.output_kind != "images":
            raise SketchtoolError(f"model {label} ({model.name}) draws {model.output_kind}; a battle needs images")
    test_images = np.asarray(test_images, dtype=np.float32)
    if test_images.ndim != 3 or not len(test_images):
        raise SketchtoolError("a battle needs test images (N, H, W); the split is empty")
    for label, model in (("A", model_a), ("B", model_b)):
        if tuple(model.spec.image_shape) != test_images.shape[1:]:
            raise SketchtoolError(f"model {label} makes {tuple(model.spec.image_shape)} images, the test data is "
                                  f"{test_images.shape[1:]}; battle models of one dataset")
    if n_samples < 1:
        raise SketchtoolError(f"--n {n_samples}: a battle needs at least one sample per model")
    samples = {}
    with torch.no_grad():
        for label, model in (("A", model_a), ("B", model_b)):
            device = next(model.parameters()).device
            generator = torch.Generator(device=device).manual_seed(seed)
            parts = [model.sample(min(batch_size, n_samples - start), generator=generator).images
                     for start in range(0, n_samples, batch_size)]
            samples[label] = np.concatenate(parts)

        def judge(model, images: np.ndarray) -> np.ndarray:
            device = next(model.parameters()).device
            return np.concatenate([model.discriminate(torch.from_numpy(images[i:i + batch_size]).to(device))
                                   .float().cpu().numpy() for i in range(0, len(images), batch_size)])

        test_a = error_count(judge(model_a, test_images), real=True)
        test_b = error_count(judge(model_b, test_images), real=True)
        sample_a = error_count(judge(model_a, samples["B"]), real=False)
        sample_b = error_count(judge(model_b, samples["A"]), real=False)
    return decide(test_a, test_b, sample_a, sample_b, tolerance=tolerance, smoothing=smoothing)
