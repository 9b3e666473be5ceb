"""An SVG or canvas drawing -> model-ready stroke-3, the way the training data was built (normalise, RDP,
quantise, adaptive fit), and results back into the drawing's own coordinates (`complete_polylines`). Shared by
build-dataset, the sampling commands and the Inkscape extension, so every input matches the training data."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.strokes import normalization_transform, polylines_to_stroke3, stroke3_to_polylines

__all__ = [
    "NormalizedSvg",
    "Completion",
    "read_normalized_svg",
    "svg_to_stroke3",
    "prepare_polylines",
    "model_reading_options",
    "complete_polylines",
    "complete_polylines_many",
]

ADAPTIVE_GROWTH = 1.25  # --adaptive multiplies epsilon by this until the drawing fits
ADAPTIVE_MAX_STEPS = 30  # 1.25**30 ~ 800x the starting epsilon: past that only dots would remain
INT16_MAX = 32767
DEFAULT_EPSILON = 2.0  # RDP epsilon of build-dataset and of reading an input as a model's data, unless recorded
READING_SETTINGS = ("epsilon", "size", "keep_units", "tolerance")  # dataset build settings inputs must share


@dataclass(frozen=True)
class NormalizedSvg:
    """One SVG (or drawing of polylines) as training data sees it. `stroke3` is (n, 3) int16 in normalised units (first row offset from
    (0, 0), the top-left of the drawing's bounds); source = normalised / `scale` + `origin` maps it back to
    the SVG's user units (see `to_source`). `epsilon` is the RDP epsilon actually used; `viewbox`, `width`,
    `height` are the SVG's own frame (as `SvgDrawing` has them; None for polylines), for writing results back."""

    stroke3: np.ndarray
    origin: tuple[float, float]
    scale: float
    epsilon: float
    text_elements: int = 0
    viewbox: tuple[float, float, float, float] | None = None
    width: str | None = None
    height: str | None = None
    warnings: tuple[str, ...] = ()  # SvgDrawing.warnings: parts a browser would not draw either

    def to_source(self, polylines: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Normalised absolute polylines (e.g. `stroke3_to_polylines(stroke3)`) -> the SVG's user units."""
        origin = np.asarray(self.origin, dtype=np.float64)
        return [np.asarray(p, dtype=np.float64) / self.scale + origin for p in polylines]


def read_normalized_svg(
    path: str | os.PathLike | bytes,
    *,
    epsilon: float = DEFAULT_EPSILON,
    size: float = 256.0,
    keep_units: bool = False,
    max_seq_len: int | None = None,
    adaptive: bool = False,
    tolerance: float | None = None,
) -> NormalizedSvg:
    """Read one SVG and normalise it exactly as `build_dataset` does: scale the longer side to `size`
    (unless `keep_units`), top-left at the origin, RDP with `epsilon`, round absolute points to integers
    (so offsets carry no accumulated rounding error), drop repeated points; a zero-length stroke stays a dot.
    Raises SketchtoolError (reason "too-long" when it exceeds `max_seq_len`, even after `adaptive`)."""
    from sketchtool.formats.svg_reader import read_svg

    drawing = read_svg(path, tolerance=tolerance)
    name = path if isinstance(path, (str, os.PathLike)) else "SVG data"
    prepared = prepare_polylines(drawing.polylines, epsilon=epsilon, size=size, keep_units=keep_units,
                                 max_seq_len=max_seq_len, adaptive=adaptive, name=name)
    return replace(prepared, text_elements=drawing.text_elements, viewbox=drawing.viewbox, width=drawing.width,
                   height=drawing.height, warnings=tuple(drawing.warnings))


def prepare_polylines(
    polylines: Sequence[np.ndarray],
    *,
    epsilon: float = DEFAULT_EPSILON,
    size: float = 256.0,
    keep_units: bool = False,
    max_seq_len: int | None = None,
    adaptive: bool = False,
    name: str | os.PathLike = "drawing",
) -> NormalizedSvg:
    """`read_normalized_svg` for a drawing that is already polylines ((n, 2) float, in the caller's
    coordinates, y down; e.g. a web canvas or an Inkscape selection): same normalisation, no frame."""
    polylines = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polylines]
    polylines = [p for p in polylines if len(p)]
    if not polylines:
        raise SketchtoolError(f"{name}: nothing drawn", reason="empty")
    if not all(np.isfinite(p).all() for p in polylines):
        raise SketchtoolError(f"{name}: coordinates must be finite numbers", reason="out-of-range")
    origin, scale = normalization_transform(polylines, size)
    if keep_units:
        scale = 1.0
    normalized = [(p - origin) * scale for p in polylines]
    stroke3, used = _fit_length(normalized, epsilon, max_seq_len, adaptive, name)
    return NormalizedSvg(stroke3, (float(origin[0]), float(origin[1])), float(scale), used)


def svg_to_stroke3(path: str | os.PathLike | bytes, **options) -> np.ndarray:
    """One SVG -> (n, 3) int16 stroke-3 normalised exactly as training data is (options as `read_normalized_svg`;
    use that function when you also need the transform back to the SVG's coordinates)."""
    return read_normalized_svg(path, **options).stroke3


@dataclass(frozen=True)
class Completion:
    """`complete_polylines`' result, all (n, 2) float64 in the caller's coordinates: `given` is the input as
    the model saw it (input points kept by RDP, rounded to the model's grid: within 0.71 / `prepared.scale`),
    `endings[k]` the polylines of ending k (possibly none), its first point offset from `given`'s last point
    as the model drew it; `prepared` holds the stroke-3 and the transform used."""

    given: list[np.ndarray]
    endings: list[list[np.ndarray]]
    prepared: NormalizedSvg


def model_reading_options(model, info) -> dict:
    """Keyword arguments for `read_normalized_svg` that read an input as the model's dataset was built (its
    recorded settings, else the builder's defaults), re-simplifying to fit max_seq_len; `prepare_polylines`
    takes all but "tolerance" (curve flattening, which only reading an SVG does)."""
    settings = info.dataset.get("settings") or {}
    options = {k: settings[k] for k in READING_SETTINGS if settings.get(k) is not None}
    return {**options, "max_seq_len": info.spec.max_length, "adaptive": True}


def complete_polylines(polylines: Sequence[np.ndarray], model, info, n: int, options,
                       on_progress: Callable[[int, int], None] | None = None, *,
                       name: str | os.PathLike = "drawing") -> Completion:
    """n endings of a started drawing given as polylines in any coordinates (canvas px, SVG user units),
    returned in those same coordinates; `options` is a `sketchtool.sampling.SampleOptions`."""
    return complete_polylines_many([polylines], model, info, n, options, on_progress, names=[name])[0]


def complete_polylines_many(drawings: Sequence[Sequence[np.ndarray]], model, info, n: int, options,
                            on_progress: Callable[[int, int], None] | None = None, *,
                            names: Sequence[str | os.PathLike] | None = None,
                            seeds: Sequence[int | None] | None = None) -> list[Completion]:
    """`complete_polylines` for several drawings decoded in one batch (a server's concurrent requests), each
    in its own coordinates and with its own seed (`seeds`, default `options.seed` for all): each gives exactly
    `complete_polylines`' result for it alone."""
    from sketchtool.sampling import complete_many  # torch: only when a completion is asked for

    reading = {k: v for k, v in model_reading_options(model, info).items() if k != "tolerance"}
    names = names or [f"drawing {i + 1}" for i in range(len(drawings))]
    prepared = [prepare_polylines(p, **reading, name=name) for p, name in zip(drawings, names)]
    prefixes = [p.stroke3.astype(np.float64) for p in prepared]
    results = complete_many(model, info, prefixes, n, options, on_progress=on_progress, seeds=seeds)
    completions = []
    for p, prefix, drawings_k in zip(prepared, prefixes, results):
        end_point = tuple(prefix[:, :2].sum(axis=0))  # the last given point, in normalised units
        given = p.to_source(stroke3_to_polylines(prefix))
        endings = [p.to_source(stroke3_to_polylines(d[len(prefix):], origin=end_point)) for d in drawings_k]
        completions.append(Completion(given, endings, p))
    return completions


def _quantize(polylines: Sequence[np.ndarray], name) -> np.ndarray:
    """Round absolute points to integers, drop points equal to their predecessor, -> int16 stroke-3."""
    rounded = []
    for p in polylines:
        q = np.round(np.asarray(p, dtype=np.float64).reshape(-1, 2))
        if len(q):
            moved = np.ones(len(q), dtype=bool)
            moved[1:] = np.any(q[1:] != q[:-1], axis=1)
            rounded.append(q[moved])
    stroke3 = polylines_to_stroke3(rounded)
    if len(stroke3) == 0:
        raise SketchtoolError(f"{name}: nothing left to draw after simplification", reason="empty")
    if not np.isfinite(stroke3).all() or np.abs(stroke3[:, :2]).max() > INT16_MAX:
        raise SketchtoolError(f"{name}: coordinates do not fit int16; drop --keep-units or use a smaller --size",
                              reason="out-of-range")
    return stroke3.astype(np.int16)


def _fit_length(normalized, epsilon, max_seq_len, adaptive, name) -> tuple[np.ndarray, float]:
    from sketchtool.simplify import simplify_polylines

    used = float(epsilon)
    for _ in range(ADAPTIVE_MAX_STEPS + 1):
        stroke3 = _quantize(simplify_polylines(normalized, used), name)
        if max_seq_len is None or len(stroke3) <= max_seq_len:
            return stroke3, used
        if not adaptive:
            break
        used = max(used, 0.5) * ADAPTIVE_GROWTH
    strokes = int(stroke3[:, 2].sum())
    how = f" even simplified to epsilon {used:.3g}" if adaptive else " after simplification"
    fewer = " or give a drawing with fewer strokes (each keeps its end points)" if adaptive else " or pass --adaptive"
    raise SketchtoolError(f"{name}: {len(stroke3)} points in {strokes} strokes{how}, more than --max-seq-len "
                          f"{max_seq_len}; raise --max-seq-len{fewer}", reason="too-long")
