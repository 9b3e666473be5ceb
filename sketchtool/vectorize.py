"""Line art -> ordered single-line pen strokes (`sketchtool vectorize`): a trained StrokeNet agent, or the classical
baseline (thin the ink to a one-pixel skeleton, trace it into polylines, simplify with our RDP); plus the scores
that compare them, always measured through the real rasteriser.

Pictures are read as grey ink (transparency flattened onto white, a light background inverted), the ink's bounding
box is fitted to the canvas with its aspect kept, and the strokes are mapped back into the picture's own pixel
coordinates (x right, y down), so a drawing keeps the picture's width and height.
"""

from __future__ import annotations

import heapq
import io
import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.image_build import (INK_THRESHOLD, MAX_PIXELS, Fitted, decode_grey, fit_picture, ink_of,
                                    read_grey)

__all__ = ["METHODS", "Fitted", "Vectorized", "check_refine", "check_strokes", "decode_picture", "fit_picture",
           "read_picture", "fit_line_art", "score_reconstruction", "skeleton_polylines", "tidy_polylines", "vectorize",
           "agent_polylines", "render_polylines"]

METHODS = ("agent", "skeleton")
SKELETON_THRESHOLD = 0.35     # ink above this is line, for thinning
MIN_DRAWN_WIDTH = 0.5         # an agent's point with a thinner pen (output pixels) is a pen lift
MIN_DRAWN_COLOUR = 0.25       # an agent's stroke fainter than this is not drawn
MAX_REFINE = 10_000           # refinement steps per batch of pictures
MAX_STROKES = 256             # strokes an agent may be asked to draw per picture
# canvas pixels a line of a large picture is kept wide when scaled down to the canvas: the pen the agents' training
# pictures were drawn with; for the tracer, a line split between two pixels still stands out over its threshold
LINE_WIDTH = 1.5


@dataclass
class Vectorized:
    """One picture's strokes: polylines in picture pixels (x right, y down), in drawing order, and the picture's
    (width, height)."""

    polylines: list[np.ndarray]
    size: tuple[int, int]


def read_picture(path: str | os.PathLike) -> np.ndarray:
    """PNG/JPG (any mode: palette, 16-bit, alpha) -> float32 (H, W) ink in [0, 1]; refuses decompression bombs,
    non-images and blank pictures with one clear line."""
    return _inked(ink_of(read_grey(path)), path)


def decode_picture(data: bytes, *, name: str = "the picture", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """`read_picture` for a PNG or JPEG held in memory (an upload): the same checks, `max_pixels` read from the
    header before decoding, refusals naming `name`; no other format is decoded."""
    return _inked(ink_of(decode_grey(io.BytesIO(data), name=name, max_pixels=max_pixels, formats=("PNG", "JPEG"))),
                  name)


def _inked(ink: np.ndarray, name) -> np.ndarray:
    """`ink`, unless nothing in it stands out from the paper (blank, all black, one flat colour)."""
    if not (ink > INK_THRESHOLD).any() or float(ink.max() - ink.min()) <= INK_THRESHOLD:
        raise SketchtoolError(f"{name}: no ink found (a blank or single-colour picture); nothing to vectorize",
                              reason="empty")
    return ink


# --- the classical baseline ------------------------------------------------------------------------------------------
def skeleton_polylines(canvas: np.ndarray, *, epsilon: float = 0.8, min_length: float = 2.0,
                       threshold: float = SKELETON_THRESHOLD) -> list[np.ndarray]:
    """(S, S) ink -> polylines in canvas pixels (pixel centres at i + 0.5): skeletonize (scikit-image), walk the
    8-connected pixel graph from line ends, then junctions, then loops, so each polyline runs end to end without
    lifting; drop spurs and junction links shorter than `min_length` pixels; join pieces that carry on
    straight through a junction; RDP with `epsilon`; ordered top to bottom, left to right."""
    try:
        from skimage.morphology import skeletonize
    except ImportError:
        raise SketchtoolError("the skeleton tracer needs scikit-image: pip install 'sketchtool[vectorize]'") from None

    from sketchtool.simplify import rdp

    skeleton = skeletonize(canvas > threshold)
    neighbours = _pixel_graph(skeleton)
    degree = {p: len(q) for p, q in neighbours.items()}
    used: set[frozenset] = set()
    lines = []
    starts = sorted(neighbours, key=lambda p: (degree[p] != 1, degree[p] < 3, p))  # ends, junctions, then the rest
    for start in starts:
        for nxt in sorted(neighbours[start]):
            if frozenset((start, nxt)) in used:
                continue
            path = [start, nxt]
            used.add(frozenset((start, nxt)))
            while degree[path[-1]] == 2:
                step = [q for q in neighbours[path[-1]] if frozenset((path[-1], q)) not in used]
                if not step:
                    break
                used.add(frozenset((path[-1], step[0])))
                path.append(step[0])
            lines.append(path)
        if not neighbours[start]:
            lines.append([start])  # an isolated dot
    kept = []
    for path in lines:
        points = np.array([(c + 0.5, r + 0.5) for r, c in path], dtype=np.float64)
        length = float(np.hypot(*np.diff(points, axis=0).T).sum()) if len(points) > 1 else 0.0
        spur = len(path) > 1 and (degree[path[0]] >= 3 or degree[path[-1]] >= 3) and length < min_length
        if not spur:
            kept.append(points)
    out = [rdp(p, epsilon) if len(p) > 2 else p for p in _join_continuations(kept)]
    out.sort(key=lambda p: (round(float(p[:, 1].min()) / 4), float(p[:, 0].min())))
    return out


def _join_continuations(lines: list[np.ndarray], gap: float = 1.5, max_turn: float = 50.0,
                        reach: int = 4) -> list[np.ndarray]:
    """Join polylines that meet end to end (within `gap` px) and carry on in nearly the same direction (turning
    less than `max_turn` degrees, directions over `reach` pixels), straightest pair first: a pen goes straight
    through a crossing instead of lifting at every junction.

    The ends never move (a joined line's ends are its parts' outer ends), so which ends are near each other is
    found once, and a heap keeps the candidate joins: n log n, where rescoring every pair after each join was
    cubic and never finished on a noisy picture's thousands of pieces. Ties go as a scan over the lines in
    order would take them (a line's rank is its place in that order; a joined line goes last)."""
    from scipy.spatial import KDTree

    lines = [p for p in lines if len(p)]
    if len(lines) < 2:
        return lines
    cos_limit = np.cos(np.radians(max_turn))
    ends = np.array([e for p in lines for e in (p[0], p[-1])])       # end 2i: line i's start, 2i + 1: its end
    near: dict[int, list[int]] = {}
    for i, j in KDTree(ends).query_pairs(gap):
        near.setdefault(int(i), []).append(int(j))
        near.setdefault(int(j), []).append(int(i))
    line_of = {rank: (p, 2 * rank, 2 * rank + 1) for rank, p in enumerate(lines)}  # rank -> (points, start, end)
    rank_of = [k // 2 for k in range(len(ends))]                     # end -> its line's rank (None: joined inside)
    heap: list[tuple] = []

    def side(k: int) -> int:
        return 0 if line_of[rank_of[k]][1] == k else 1

    def outward(k: int) -> np.ndarray | None:
        """The unit direction pointing out of end k's line at k, or None for a line of one point."""
        p = line_of[rank_of[k]][0]
        d = p[0] - p[min(len(p) - 1, reach)] if side(k) == 0 else p[-1] - p[max(0, len(p) - 1 - reach)]
        length = float(np.hypot(*d))
        return d / max(length, 1e-9) if length > 0 else None

    def push(k: int) -> None:
        u = outward(k)
        for j in near.get(k, ()):
            v = outward(j) if rank_of[j] is not None and rank_of[j] != rank_of[k] else None
            if u is None or v is None:
                continue
            straight = -float(u[0] * v[0] + u[1] * v[1])  # cos of the turn when leaving one end into the other
            if straight >= cos_limit:
                for a, b in ((k, j), (j, k)):
                    heapq.heappush(heap, (-straight, rank_of[a], side(a), rank_of[b], side(b), a, b))

    for k in range(0, len(ends), 2):
        push(k)
        push(k + 1)
    next_rank = len(lines)
    while heap:
        _, rank1, side1, rank2, side2, e1, e2 = heapq.heappop(heap)
        if rank_of[e1] != rank1 or rank_of[e2] != rank2:
            continue  # a line that has since been joined
        (p1, s1, t1), (p2, s2, t2) = line_of.pop(rank1), line_of.pop(rank2)
        a = p1 if side1 else p1[::-1]        # runs into e1
        b = p2[::-1] if side2 else p2        # runs out of e2
        joined = np.concatenate([a, b[1:] if np.hypot(*(a[-1] - b[0])) < 0.5 else b])
        start, end = (s1 if side1 else t1), (s2 if side2 else t2)
        rank_of[e1] = rank_of[e2] = None
        line_of[next_rank] = (joined, start, end)
        rank_of[start] = rank_of[end] = next_rank
        next_rank += 1
        push(start)
        push(end)
    return [line_of[rank][0] for rank in sorted(line_of)]


def _through(lines: list[np.ndarray], e1: int, e2: int) -> tuple[np.ndarray, np.ndarray]:
    """The two lines that own ends e1 and e2 (end 2i is line i's start, 2i + 1 its end), oriented so that the
    first ends at e1 and the second starts at e2: joined, a pen runs through e1 into e2."""
    a = lines[e1 // 2] if e1 % 2 else lines[e1 // 2][::-1]
    b = lines[e2 // 2][::-1] if e2 % 2 else lines[e2 // 2]
    return a, b


def _pixel_graph(skeleton: np.ndarray) -> dict[tuple[int, int], set[tuple[int, int]]]:
    """8-neighbour adjacency of skeleton pixels, without the diagonal that short-cuts an L of three pixels (it
    would make every staircase corner a junction)."""
    rows, cols = np.nonzero(skeleton)
    on = set(zip(rows.tolist(), cols.tolist()))
    graph: dict[tuple[int, int], set[tuple[int, int]]] = {p: set() for p in on}
    for r, c in on:
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            q = (r + dr, c + dc)
            if q not in on:
                continue
            if dr and dc and ((r + dr, c) in on or (r, c + dc) in on):
                continue
            graph[(r, c)].add(q)
            graph[q].add((r, c))
    return graph


# --- the learned agent --------------------------------------------------------------------------------------------
def agent_polylines(points: np.ndarray, pressure: np.ndarray, brush: np.ndarray, size: int,
                    max_width: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One picture's agent strokes ((K, n, 2) in [-1, 1], (K, n), (K, 2)) -> (polylines in canvas pixels, their
    widths): each stroke split where its pen is lifted (width under MIN_DRAWN_WIDTH); faint strokes dropped."""
    from sketchtool.models.strokenet import stroke_widths

    widths = stroke_widths(pressure, brush, max_width)                                  # (K, n)
    lines, line_widths = [], []
    for k in range(len(points)):
        if brush[k, 0] < MIN_DRAWN_COLOUR:
            continue
        drawn = widths[k] >= MIN_DRAWN_WIDTH
        xy = (points[k].astype(np.float64) + 1) * size / 2
        edges = np.flatnonzero(np.diff(np.concatenate([[0], drawn.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2]):
            lines.append(xy[a:b])
            line_widths.append(widths[k, a:b])
    return lines, line_widths


def tidy_polylines(lines: Sequence[np.ndarray], canvas: np.ndarray, *, blank: float = 0.2, bridge: float = 3.0,
                   cover: float = 1.5) -> list[np.ndarray]:
    """Refined polylines (canvas pixels) checked against the picture they trace, in three passes: the pen is
    lifted wherever a line crosses a pixel or more of paper whose ink is under `blank` (a stroke that goes from
    one line to the next with the pen down); ends within `bridge` pixels are joined, nearest first, where the
    straight bridge crosses no such paper; then, shortest first, a polyline is dropped when the others already
    pass within `cover` pixels of every ink pixel it does. The refinement puts strokes on the ink but cannot
    tell a line from the paper between two close lines (at 28 pixels a kanji's strokes are 2 apart), nor see a
    repeat; the picture can. Only refined strokes are tidied: the agent's one pass lays them up to 2 px beside
    the ink, where cutting loses ink they cover (docs/BENCHMARKS.md)."""
    ink = np.argwhere(canvas > 0.5)[:, ::-1] + 0.5                                       # (P, 2) x, y centres
    if not len(ink):
        return []
    pieces = []
    for line in lines:
        dense, vertex = _resample(np.asarray(line, dtype=np.float64))
        keep = ~_over_paper(canvas, dense, blank)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a > 1:
                chosen = vertex[a:b].copy()
                chosen[[0, -1]] = True
                pieces.append(dense[a:b][chosen])
    pieces = _join_over_ink(pieces, canvas, bridge, blank)
    covered = [_distance_to(_resample(p)[0], ink) <= cover for p in pieces]               # per piece: (P,) bools
    kept = list(range(len(pieces)))
    for k in sorted(kept, key=lambda k: float(np.hypot(*np.diff(pieces[k], axis=0).T).sum())):
        others = [covered[j] for j in kept if j != k]
        if others and not (covered[k] & ~np.any(others, axis=0)).any():
            kept.remove(k)
    return [pieces[k] for k in kept]


RESAMPLE_STEP = 0.25  # pixels between the points at which `tidy_polylines` checks a line against the picture


def _resample(line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A polyline -> (points every RESAMPLE_STEP px or closer along it, which of them are its own vertices)."""
    dense, vertex = [], []
    for a, b in zip(line[:-1], line[1:]):
        count = max(1, int(np.ceil(np.hypot(*(b - a)) / RESAMPLE_STEP)))
        dense.append(a + np.arange(count)[:, None] / count * (b - a))
        vertex.append(np.arange(count) == 0)
    return np.concatenate(dense + [line[-1:]]), np.concatenate(vertex + [[True]])


def _over_paper(canvas: np.ndarray, dense: np.ndarray, blank: float) -> np.ndarray:
    """(N,) bools: the resampled points that lie in a run of at least a pixel where the picture's ink, read
    bilinearly between pixel centres, is under `blank`."""
    h, w = canvas.shape
    x, y = np.clip(dense[:, 0] - 0.5, 0, w - 1), np.clip(dense[:, 1] - 0.5, 0, h - 1)
    x0, y0 = np.minimum(x.astype(int), max(w - 2, 0)), np.minimum(y.astype(int), max(h - 2, 0))
    fx, fy = x - x0, y - y0
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    ink = ((canvas[y0, x0] * (1 - fx) + canvas[y0, x1] * fx) * (1 - fy)
           + (canvas[y1, x0] * (1 - fx) + canvas[y1, x1] * fx) * fy)
    paper = ink < blank
    edges = np.flatnonzero(np.diff(np.concatenate([[0], paper.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2]):
        paper[a:b] = (b - a) * RESAMPLE_STEP >= 1.0                                    # shorter runs stay drawn
    return paper


def _distance_to(targets: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N,) distance from each of `points` (N, 2) to the nearest of `targets` (M, 2)."""
    return np.sqrt(((points[:, None] - targets[None]) ** 2).sum(-1).min(1))


def _join_over_ink(pieces: list[np.ndarray], canvas: np.ndarray, bridge: float, blank: float) -> list[np.ndarray]:
    """Join polyline ends within `bridge` px, nearest pair first, where the straight bridge between them crosses
    no paper (`_over_paper`); the joined line takes the first one's place in the drawing order."""
    pieces = list(pieces)
    while len(pieces) > 1:
        ends = np.array([e for p in pieces for e in (p[0], p[-1])])                         # (2L, 2)
        owner = np.arange(len(ends)) // 2
        gaps = np.linalg.norm(ends[:, None] - ends[None], axis=-1)
        gaps[(owner[:, None] == owner[None]) | np.tri(len(ends), dtype=bool)] = np.inf  # each pair once, e1 < e2
        for e1, e2 in zip(*np.unravel_index(np.argsort(gaps, axis=None), gaps.shape)):
            if gaps[e1, e2] > bridge:
                return pieces
            if not _over_paper(canvas, _resample(ends[[e1, e2]])[0], blank).any():
                break
        pieces[owner[e1]] = np.concatenate(_through(pieces, e1, e2))
        del pieces[owner[e2]]
    return pieces


def check_strokes(strokes: int | None, method: str | None) -> None:
    """`--strokes` the agent draws (None: as trained): in range, and only for the agent."""
    if strokes is not None and not 1 <= strokes <= MAX_STROKES:
        raise SketchtoolError(f"--strokes {strokes}: give 1 to {MAX_STROKES} strokes")
    if strokes is not None and method != "agent":
        raise SketchtoolError("--strokes is for the agent; the skeleton tracer draws the strokes a picture needs")


def check_refine(refine: int, method: str | None) -> None:
    """`--refine` steps: in range, and only for the agent (the skeleton tracer has no strokes to fit)."""
    if not 0 <= refine <= MAX_REFINE:
        raise SketchtoolError(f"--refine {refine}: give 0 to {MAX_REFINE} steps")
    if refine and method != "agent":
        raise SketchtoolError("--refine fits an agent's strokes; the skeleton tracer has none to fit (use the agent)")


def vectorize(pictures: Sequence[np.ndarray | Fitted], *, method: str = "skeleton", model=None,
              size: int | None = None, strokes: int | None = None, refine: int = 0, padding: float = 2.0,
              batch_size: int = 256, on_progress: Callable[[int, int], None] | None = None) -> list[Vectorized]:
    """Pictures ((H, W) float ink in [0, 1], any size; or already fitted to the canvas, as `fitted_canvas_size`
    says, so that a folder of large scans need not be held in memory at once) -> their strokes in picture pixels.
    `method` "agent" needs `model` (a trained strokenet-agent; its canvas size is used) and draws `strokes` strokes
    (default: as trained), then fits them to each picture for `refine` steps through the renderer and tidies them
    against it (`tidy_polylines`; slower, closer); "skeleton" fits each picture to a `size` canvas (default 128).
    Agent pictures go through the model in batches."""
    size = fitted_canvas_size(method, model=model, size=size, strokes=strokes, refine=refine)
    out: list[Vectorized] = []
    for first in range(0, len(pictures), batch_size):
        fitted = [p if isinstance(p, Fitted) else fit_line_art(np.asarray(p, dtype=np.float32), size, padding)
                  for p in pictures[first:first + batch_size]]
        if any(f.canvas.shape != (size, size) for f in fitted):
            raise ValueError(f"pictures fitted to another canvas than {size} x {size}")
        if method == "skeleton":
            lines = [skeleton_polylines(f.canvas) for f in fitted]
        else:
            import torch

            drawn = model.vectorize_images(torch.from_numpy(np.stack([f.canvas for f in fitted])), strokes, refine)
            arrays = [t.cpu().numpy() for t in (drawn.points, drawn.pressure, drawn.brush)]
            lines = [agent_polylines(arrays[0][i], arrays[1][i], arrays[2][i], size, model.renderer.max_width)[0]
                     for i in range(len(fitted))]
            if refine:
                lines = [tidy_polylines(ls, f.canvas) for ls, f in zip(lines, fitted)]
        out += [Vectorized([f.to_picture(p) for p in ls], f.size) for f, ls in zip(fitted, lines)]
        if on_progress is not None:
            on_progress(len(out), len(pictures))
    return out


def fit_line_art(ink: np.ndarray, size: int, padding: float = 2.0) -> Fitted:
    """`fit_picture` for tracing: the lines of a large picture kept LINE_WIDTH canvas pixels wide."""
    return fit_picture(ink, size, padding, line_width=LINE_WIDTH)


def fitted_canvas_size(method: str, *, model=None, size: int | None = None, strokes: int | None = None,
                       refine: int = 0) -> int:
    """The canvas `vectorize` fits pictures to (the agent's own; else `size`, default 128), once the options are
    checked: a bad option is refused before any picture is read."""
    if method not in METHODS:
        raise SketchtoolError(f"--method {method}: use one of {', '.join(METHODS)}")
    check_strokes(strokes, method)
    check_refine(refine, method)
    if method == "agent":
        if model is None:
            raise SketchtoolError("--method agent needs a trained strokenet-agent: --model RUN")
        model.require("vectorize", "vectorize")
        if size is not None and size != model.size[0]:
            raise SketchtoolError(f"--size {size}: the agent draws on its own canvas of {model.size[0]} pixels; "
                                  "drop --size")
        size = model.size[0]
    size = 128 if size is None else size
    if not 8 <= size <= 4096:
        raise SketchtoolError(f"--size {size}: give 8 to 4096 pixels")
    return size


# --- scores -------------------------------------------------------------------------------------------------------
def render_polylines(polylines: Sequence[np.ndarray], size: tuple[int, int], line_width: float) -> np.ndarray:
    """Polylines in picture pixels -> (H, W) ink through THE rasteriser, at the picture's own scale."""
    from sketchtool.raster import RasterOptions, rasterize

    w, h = size
    options = RasterOptions(size=(h, w), view=(0.0, 0.0, float(w), float(h)), padding=0.0, line_width=line_width)
    kept = [p for p in polylines if len(p)]
    return rasterize(kept, options) if kept else np.zeros((h, w), np.float32)


def score_reconstruction(target: np.ndarray, drawn: np.ndarray, *, tolerance: float = 2.0,
                         threshold: float = 0.5) -> dict[str, float]:
    """Ink F1 within `tolerance` pixels (precision: drawn ink near target ink; recall: target ink near drawn ink)
    and the symmetric chamfer distance (mean of both directions' mean nearest-ink distance, pixels)."""
    from scipy.ndimage import distance_transform_edt

    t, d = target > threshold, drawn > threshold
    if not t.any() or not d.any():
        return {"f1": 0.0, "precision": 0.0, "recall": 0.0, "chamfer": float(max(target.shape))}
    to_t, to_d = distance_transform_edt(~t), distance_transform_edt(~d)
    precision = float((to_t[d] <= tolerance).mean())
    recall = float((to_d[t] <= tolerance).mean())
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"f1": f1, "precision": precision, "recall": recall,
            "chamfer": float((to_t[d].mean() + to_d[t].mean()) / 2)}
