"""Objective sample quality: judge-feature Fréchet distance, k-NN precision/recall, recognition, stroke statistics.

Every figure is computed for the samples against a reference split, and beside it for two rows that frame it: the
reference's train split against the same split (the floor a perfect model reaches at this sample count) and a
trivial baseline (random drawings with the data's own step statistics). See docs/score.md for what each figure is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from sketchtool.errors import SketchtoolError

__all__ = ["ScoreOptions", "frechet_distance", "gaussian_stats", "precision_recall", "wasserstein_1d",
           "stroke_statistics", "scribbles", "noise_images", "score_samples", "MIN_SAMPLES", "MAX_SAMPLES"]

MIN_SAMPLES = 10  # below this a covariance of the judge's features means nothing
MIN_REFERENCE = 100  # below this the 64-wide feature covariance of a reference split is barely estimated
MAX_SAMPLES = 20_000  # per set: precision/recall compare every pair, 20,000^2 distances take about a minute
_CHUNK = 1024  # rows of a distance matrix computed at once: bounds memory


@dataclass(frozen=True)
class ScoreOptions:
    """`k` neighbours for precision/recall (3, as Kynkäänniemi et al. 2019); `seed` fixes the train subset of the
    floor row and the baseline's drawings; `max_length` is the model's point cap (a drawing this long did not end
    by itself; None: not reported); `intended` is the judge collection the samples should be (None: the one the
    judge calls most of the reference split)."""

    k: int = 3
    seed: int = 0
    max_length: int | None = None
    intended: str | None = None


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), covariance (D, D)) of features (N, D), in float64."""
    f = np.asarray(features, dtype=np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), the Fréchet (2-Wasserstein) distance between two
    Gaussians (Heusel et al. 2017, arXiv 1706.08500). tr((S1 S2)^(1/2)) is taken as the sum of square roots of
    the eigenvalues of S1^(1/2) S2 S1^(1/2), which is symmetric, so no complex matrix square root is needed."""
    mu1, mu2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T  # S1^(1/2)
    middle = root1 @ sigma2 @ root1
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(max(0.0, diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * cross))


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, arXiv 1904.06991): each set's manifold is the union
    of balls around its points reaching their k-th nearest neighbour in the same set; precision is the share of
    `fake` inside the real manifold, recall the share of `real` inside the fake one. Both sets are (N, D)."""
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if min(len(real), len(fake)) <= k:
        raise SketchtoolError(f"precision/recall with k={k} needs more than {k} drawings in each set")
    return _coverage(real, fake, k), _coverage(fake, real, k)


def wasserstein_1d(a: Sequence[float], b: Sequence[float]) -> float:
    """Earth mover's distance between two 1-D samples: the mean absolute difference of their quantile functions
    (exact for equal sizes, on a 1,000-point quantile grid otherwise)."""
    a, b = np.sort(np.asarray(a, dtype=np.float64)), np.sort(np.asarray(b, dtype=np.float64))
    if len(a) == len(b):
        return float(np.abs(a - b).mean())
    q = (np.arange(1000) + 0.5) / 1000
    return float(np.abs(np.quantile(a, q) - np.quantile(b, q)).mean())


def stroke_statistics(drawings: Sequence[np.ndarray], reference: Sequence[np.ndarray],
                      max_length: int | None = None) -> dict[str, Any]:
    """Points and strokes per drawing against the reference's (median each, and the earth mover's distance between
    the distributions, in points and strokes), and with `max_length` the share that ended by themselves (shorter
    than the cap the sampler stops at)."""
    from sketchtool.strokes import num_strokes

    points = [len(d) for d in drawings]
    strokes = [num_strokes(d) if len(d) else 0 for d in drawings]
    ref_points = [len(d) for d in reference]
    ref_strokes = [num_strokes(d) if len(d) else 0 for d in reference]
    out = {"points_median": float(np.median(points)), "reference_points_median": float(np.median(ref_points)),
           "points_distance": wasserstein_1d(points, ref_points),
           "strokes_median": float(np.median(strokes)), "reference_strokes_median": float(np.median(ref_strokes)),
           "strokes_distance": wasserstein_1d(strokes, ref_strokes)}
    if max_length is not None:
        out["ended_by_itself"] = float(np.mean([p < max_length for p in points]))
    return out


def scribbles(reference: Sequence[np.ndarray], n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The trivial stroke baseline: n drawings whose lengths and rows (dx, dy, pen) are drawn independently from
    the reference's own, so they match its length and step statistics but carry no structure."""
    rows = np.concatenate([np.asarray(d, dtype=np.float64).reshape(-1, 3) for d in reference])
    lengths = rng.choice(np.array([len(d) for d in reference]), size=n)
    out = []
    for length in lengths:
        d = rows[rng.integers(0, len(rows), size=max(int(length), 1))].copy()
        d[-1, 2] = 1
        out.append(d)
    return out


def noise_images(reference: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """The trivial image baseline: (n, H, W) float32 images whose pixels are independent Bernoulli draws with the
    reference's mean ink per pixel (a model that knows where ink goes but not how it connects)."""
    mean = np.asarray(reference, dtype=np.float64).mean(axis=0)
    return (rng.random((n, *mean.shape)) < mean).astype(np.float32)


def score_samples(samples, reference, train, judge, options: ScoreOptions = ScoreOptions(),
                  on_progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The score report, JSON-able. `samples`, `reference` and `train` are each a list of stroke-3 drawings or an
    (N, H, W) float array of images in [0, 1] (1.0 = ink); `judge` a loaded `sketchtool.judge.Judge`. Rows:
    "samples", "floor" (N train drawings, a seeded subset, scored the same way) and "baseline" (N scribbles or
    noise images), each with frechet, precision, recall, recognition and, for drawings, stroke statistics."""
    n = len(samples)
    if n < MIN_SAMPLES:
        raise SketchtoolError(f"{n} samples: score needs at least {MIN_SAMPLES} (1,000 gives stable figures)")
    if min(n, len(reference)) <= options.k:  # the samples row came out empty, every figure "-", and exit 0
        which = f"{n} samples" if n <= options.k else f"a reference split of {len(reference)} drawings"
        raise SketchtoolError(f"{which}: precision and recall with --k {options.k} need more than {options.k} "
                              "in each set")
    if max(n, len(reference)) > MAX_SAMPLES:
        raise SketchtoolError(f"{max(n, len(reference)):,} drawings in one set: score compares at most "
                              f"{MAX_SAMPLES:,} (1,000 gives stable figures); pass fewer")
    rng = np.random.default_rng(options.seed)
    strokes = _is_drawings(reference)
    floor = [train[i] for i in np.sort(rng.permutation(len(train))[:n])] if strokes else \
        np.asarray(train)[np.sort(rng.permutation(len(train))[:n])]
    baseline = scribbles(reference, n, rng) if strokes else noise_images(reference, n, rng)
    progress = on_progress or (lambda what: None)
    progress("reference")
    ref_features, ref_classes = judge.features(reference)
    intended = options.intended or judge.collection_of(np.bincount(ref_classes).argmax())
    if intended not in judge.collections:
        raise SketchtoolError(f"class {intended!r}: the judge knows {', '.join(judge.collections)}")
    mu, sigma = gaussian_stats(ref_features)
    rows = {}
    for name, drawings in (("samples", samples), ("floor", floor), ("baseline", baseline)):
        progress(name)
        rows[name] = _row(drawings, judge, intended, ref_features, (mu, sigma), options)
        if strokes and _is_drawings(drawings) and len(drawings):
            rows[name]["strokes"] = stroke_statistics(drawings, reference, options.max_length if name == "samples"
                                                      else None)
    warnings = []
    if len(reference) < MIN_REFERENCE:
        warnings.append(f"the reference split has {len(reference)} drawings, under {MIN_REFERENCE}: the judge's "
                        "features are 64 wide, so every figure here is mostly noise; score against a larger split")
    if len(floor) < n:
        warnings.append(f"the floor has {len(floor)} train drawings, fewer than the {n} samples: it sits higher than "
                        f"a floor of {n} would")
    return {"n": n, "reference_n": len(reference), "floor_n": len(floor), "intended": intended, "k": options.k,
            "seed": options.seed, "judge": judge.describe(), "warnings": warnings, **rows}


def _row(drawings, judge, intended: str, ref_features: np.ndarray, ref_stats, options: ScoreOptions) -> dict:
    if len(drawings) <= options.k:
        return {"n": len(drawings)}  # a train split too small to frame the figures
    features, classes = judge.features(drawings)
    precision, recall = precision_recall(ref_features, features, options.k)
    recognised = np.array([judge.collection_of(c) == intended for c in classes])
    return {"n": len(drawings), "frechet": frechet_distance(*gaussian_stats(features), *ref_stats),
            "precision": precision, "recall": recall, "recognition": float(recognised.mean())}


def _is_drawings(items) -> bool:
    return not (isinstance(items, np.ndarray) and items.ndim == 3)


def _coverage(manifold: np.ndarray, queries: np.ndarray, k: int) -> float:
    """Share of `queries` within the k-NN ball of some point of `manifold`."""
    radii = np.concatenate([np.partition(_distances(manifold[i:i + _CHUNK], manifold), k, axis=1)[:, k]
                            for i in range(0, len(manifold), _CHUNK)])  # column 0 is the point itself
    inside = np.zeros(len(queries), dtype=bool)
    for start in range(0, len(queries), _CHUNK):
        d = _distances(queries[start:start + _CHUNK], manifold)
        inside[start:start + _CHUNK] = (d <= radii[None, :]).any(axis=1)
    return float(inside.mean())


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances (len(a), len(b)), float64, never negative from rounding."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.clip(sq, 0, None))
