"""StrokeNet's painting environment: the real brush (our rasteriser), its random training strokes and the neural
renderer that stands in for it (Zheng, Jiang, Huang, "StrokeNet: A Neural Painting Environment", ICLR 2019, sec. 3;
reference code vexilligera/strokenet). The agents that draw through this renderer are in `strokenet_agent.py`.

A stroke is a brush (colour, radius) and n points (x, y, pressure): x, y in [-1, 1] on the canvas (-1, -1 top
left), pressure, colour and radius in [0, 1]. The real environment draws it as a round-joined polyline whose width at
point i is `radius * max_width * pressure_i` output pixels, its ink `colour` (grey 0..1) times coverage: pressure
widens the pen and pressure 0 lifts it, as the paper's brush does through libmypaint's pressure-to-radius mapping.
Deviations, all deliberate: (1) the reference brush also maps pressure to opacity; ours keeps one grey per stroke so
a stroke stays a pen line a plotter can draw; (2) smooth training strokes come from a small softened three-body
simulation as in the paper, mixed with unstructured strokes (uniform random points) so the renderer also covers what
an untrained agent emits (a probe showed the neural/real gap otherwise); (3) the renderer's maps are
canvas / 2**upsample pixels and upsampled by `upsample` transposed convolutions (the paper: 64 -> 256), and the
output is a sigmoid ink image in [0, 1] (the paper: tanh); (4) the position encoder is pre-trained for
`pretrain_steps` steps inside the same run (then frozen), so one `sketchtool train` call makes the whole renderer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from sketchtool.errors import SketchtoolError
from sketchtool.models.base import SketchModel, check_ranges

__all__ = ["RenderBatch", "RenderBatchSource", "StrokeRenderer", "StrokeRendererHParams", "composite", "default_max_width",
           "random_strokes", "real_canvas", "real_render", "stroke_widths"]


@dataclass
class StrokeRendererHParams:
    num_points: int = 16                                   # n points per stroke (the paper: 16)
    max_width: float = 0.0                                 # pen width in output pixels at radius 1, pressure 1;
                                                           # 0: canvas height / 8, set from the data
    position_hidden: int = 256                             # position encoder 2 -> 256 -> 1024 -> map
    position_wide: int = 1024
    brush_size: int = 256                                  # brush encoder hidden size (2->256->map)
    channels: int = 64                                     # conv channels
    group_channels: int = 4                                # channels per segment in the grouped 7x7 conv
    upsample: int = 1                                      # transposed-conv x2 stages from the maps to the canvas
    bump_sigma: float = 1.0                                # the position encoder's Gaussian, in map pixels
    pretrain_steps: int = 1000                             # position encoder alone, then frozen
    unstructured_share: float = 0.5                        # share of random-point strokes among training strokes
    valid_size: int = 512                                  # fixed validation strokes (seeded)
    batch_size: int = 64
    learning_rate: float = 1e-3
    num_steps: int = 10_000
    save_every: int = 500

    def validate(self) -> None:
        if not 2 <= self.num_points <= 64:
            raise SketchtoolError(f"num_points={self.num_points}: use 2 to 64 points per stroke")
        if not (0 <= self.unstructured_share <= 1):
            raise SketchtoolError(f"unstructured_share={self.unstructured_share}: give a share from 0 to 1")
        if self.upsample < 0 or self.pretrain_steps < 0 or self.valid_size < 1 or self.batch_size < 1:
            raise SketchtoolError("upsample, pretrain_steps must be >= 0; valid_size, batch_size >= 1")
        check_ranges(self, positive=("bump_sigma", "learning_rate"), non_negative=("max_width",))


# --- the real environment -----------------------------------------------------------------------------------------
def default_max_width(size) -> float:
    """The pen's widest line when not given: an eighth of the canvas height, at least one pixel."""
    return max(1.0, size[0] / 8)


def stroke_widths(pressure: np.ndarray, brush: np.ndarray, max_width: float) -> np.ndarray:
    """(B, n) pen widths in output pixels: radius * max_width * pressure."""
    return np.asarray(brush)[:, 1:2] * max_width * np.asarray(pressure)


def real_render(points: np.ndarray, pressure: np.ndarray, brush: np.ndarray, size: tuple[int, int],
                max_width: float) -> np.ndarray:
    """The painting program: (B, n, 2) points in [-1, 1], (B, n) pressures, (B, 2) brushes (colour, radius) ->
    (B, H, W) float32 ink in [0, 1], drawn by `sketchtool.raster` with round joins (`widths=`)."""
    from sketchtool.raster import RasterOptions, rasterize

    options = RasterOptions(size=size, view=(-1.0, -1.0, 1.0, 1.0), padding=0.0, line_width=1.0)
    widths = stroke_widths(pressure, brush, max_width)
    out = np.zeros((len(points), *options.size), dtype=np.float32)
    for i in range(len(points)):
        if brush[i, 0] > 0 and widths[i].max() > 0:
            out[i] = rasterize(np.asarray(points[i], dtype=np.float64), options, widths=[widths[i]]) * brush[i, 0]
    return out


def composite(canvas, ink):
    """Ink over a canvas with alpha = ink (white ink on black): 1 - (1 - canvas)(1 - ink); numpy or torch."""
    return 1 - (1 - canvas) * (1 - ink)


def real_canvas(points: np.ndarray, pressure: np.ndarray, brush: np.ndarray, size: tuple[int, int],
                max_width: float) -> np.ndarray:
    """K strokes per picture ((B, K, n, 2), (B, K, n), (B, K, 2)) -> (B, H, W) float32: each drawn by the real
    environment and composited in order, as the agent's canvas is through the neural renderer."""
    canvas = np.zeros((len(points), *size), np.float32)
    for k in range(points.shape[1]):
        canvas = composite(canvas, real_render(points[:, k], pressure[:, k], brush[:, k], size, max_width))
    return canvas


def random_strokes(rng: np.random.Generator, count: int, num_points: int,
                   unstructured_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points (B, n, 2), pressure (B, n), brush (B, 2)) float32: smooth trajectories of one body of a softened
    three-body simulation (the paper's data; pressure from its third coordinate), and a share of unstructured
    strokes (uniform points and pressures)."""
    points, pressure = _three_body(rng, count, num_points)
    loose = rng.random(count) < unstructured_share
    points[loose] = rng.uniform(-1, 1, (int(loose.sum()), num_points, 2))
    pressure[loose] = rng.random((int(loose.sum()), num_points))
    brush = rng.random((count, 2))
    return points.astype(np.float32), pressure.astype(np.float32), brush.astype(np.float32)


def _three_body(rng: np.random.Generator, count: int, num_points: int, substeps: int = 4, dt: float = 0.02):
    pos = rng.normal(0, 1, (count, 3, 3))
    vel = rng.normal(0, 0.5, (count, 3, 3))
    track = np.empty((count, num_points, 3))
    for t in range(num_points * substeps):
        delta = pos[:, None, :, :] - pos[:, :, None, :]                                  # (B, 3, 3, 3) j - i
        inv = (np.square(delta).sum(-1, keepdims=True) + 0.1) ** -1.5                    # softened gravity
        vel += dt * (delta * inv).sum(2)
        pos += dt * vel
        if t % substeps == 0:
            track[:, t // substeps] = pos[:, 0]
    xy = track[..., :2] - track[..., :2].mean(1, keepdims=True)                          # (B, n, 2)
    extent = np.abs(xy).max((1, 2), keepdims=True) + 1e-9
    xy = xy / extent * rng.uniform(0.1, 0.9, (count, 1, 1))
    xy += rng.uniform(-1, 1, (count, 1, 2)) * (1 - np.abs(xy).max(1, keepdims=True))     # keep it on the canvas
    z = track[..., 2]
    pressure = 1 / (1 + np.exp(-(z - z.mean(1, keepdims=True)) / (z.std(1, keepdims=True) + 1e-9)))
    return xy, pressure


@dataclass
class RenderBatch:
    """points (B, n, 2), pressure (B, n), brush (B, 2) float32; images (B, H, W) float32: the real renders."""

    points: torch.Tensor
    pressure: torch.Tensor
    brush: torch.Tensor
    images: torch.Tensor

    def to(self, device) -> RenderBatch:
        return RenderBatch(*(t.to(device) for t in (self.points, self.pressure, self.brush, self.images)))

    def __len__(self) -> int:
        return int(self.points.shape[0])


class RenderBatchSource:
    """Random strokes drawn by the real environment at the data's canvas size; the dataset's images themselves are
    not used (the renderer learns the brush, not the drawings). Valid/test: `valid_size` fixed strokes."""

    def __init__(self, hps: StrokeRendererHParams, size: tuple[int, int], *, train: bool, seed: int, split: str):
        self.hps, self.size, self.train = hps, size, train
        self.rng = np.random.default_rng([seed, ("train", "valid", "test").index(split)])
        self.fixed = None if train else self._make(hps.valid_size)

    def _make(self, count: int) -> RenderBatch:
        points, pressure, brush = random_strokes(self.rng, count, self.hps.num_points, self.hps.unstructured_share)
        images = real_render(points, pressure, brush, self.size, self.hps.max_width or default_max_width(self.size))
        return RenderBatch(*(torch.from_numpy(a) for a in (points, pressure, brush, images)))

    def __len__(self) -> int:
        return self.hps.valid_size if self.fixed is not None else self.hps.batch_size

    def random_batch(self) -> RenderBatch:
        return self._make(self.hps.batch_size)

    def batches(self):
        b, fixed = self.hps.batch_size, self.fixed if self.fixed is not None else self._make(self.hps.valid_size)
        for start in range(0, len(fixed), b):
            yield RenderBatch(*(t[start:start + b] for t in (fixed.points, fixed.pressure, fixed.brush, fixed.images)))

    def get_state(self) -> str:
        return json.dumps(self.rng.bit_generator.state)

    def set_state(self, state: str) -> None:
        self.rng.bit_generator.state = json.loads(state)


# --- the neural renderer (the paper's "generator") ------------------------------------------------------------------
class PositionEncoder(nn.Module):
    """MLP (x, y) -> an (h, w) map; pre-trained alone to a Gaussian bump at the point, then frozen."""

    def __init__(self, sizes: list[int], map_size: tuple[int, int]):
        super().__init__()
        dims = [2, *sizes]
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(dims[-1], map_size[0] * map_size[1]))
        self.map_size = map_size

    def forward(self, xy: torch.Tensor) -> torch.Tensor:
        return self.net(xy).unflatten(-1, self.map_size)                                   # (..., h, w)


def gaussian_bumps(xy: torch.Tensor, map_size: tuple[int, int], sigma: float) -> torch.Tensor:
    """The position encoder's target: exp(-d^2 / 2 sigma^2) around each point, pixel centres at i + 0.5, the
    canvas [-1, 1] spanning the map as the real environment's view spans the image."""
    h, w = map_size
    side = min(h, w)
    cx = xy[..., 0, None, None] * side / 2 + w / 2                                         # (..., 1, 1)
    cy = xy[..., 1, None, None] * side / 2 + h / 2
    rows = torch.arange(h, device=xy.device, dtype=xy.dtype)[:, None] + 0.5
    cols = torch.arange(w, device=xy.device, dtype=xy.dtype)[None, :] + 0.5
    return torch.exp(-((cols - cx) ** 2 + (rows - cy) ** 2) / (2 * sigma ** 2))            # (..., h, w)


class StrokeRenderer(SketchModel):
    """G(points, pressure, brush) -> (B, H, W) ink in [0, 1], differentiable in every stroke parameter."""

    name: ClassVar[str] = "strokenet-renderer"
    HParams: ClassVar[type] = StrokeRendererHParams
    PRESETS: ClassVar[dict] = {"reference": {}, "small": {"position_hidden": 128, "position_wide": 512, "channels": 32,
                                                          "pretrain_steps": 300, "num_steps": 3000}}
    input_kind: ClassVar[str] = "images"
    output_kind: ClassVar[str] = "images"
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, hps: StrokeRendererHParams, spec=None):
        super().__init__(hps, spec)
        self.size = tuple(int(v) for v in (self.spec.image_shape or (64, 64)))
        k = 2 ** hps.upsample
        if self.size[0] % k or self.size[1] % k:
            raise SketchtoolError(f"canvas {self.size[1]}x{self.size[0]} is not divisible by 2**upsample = {k}; "
                                  "choose another upsample or image size")
        self.max_width = hps.max_width or default_max_width(self.size)
        self.map_size = (self.size[0] // k, self.size[1] // k)
        n, c, g = hps.num_points, hps.channels, hps.group_channels
        self.position = PositionEncoder([hps.position_hidden, hps.position_wide], self.map_size)
        self.brush = nn.Sequential(nn.Linear(2, hps.brush_size), nn.ReLU(),
                                   nn.Linear(hps.brush_size, self.map_size[0] * self.map_size[1]))
        self.grouped = nn.Conv2d(n - 1, (n - 1) * g, 7, padding=3, groups=n - 1)           # each segment alone
        self.full = nn.Conv2d(n, c, 7, padding=3)                                            # segments + brush map
        self.bn0 = nn.BatchNorm2d((n - 1) * g + c)
        self.conv1 = nn.Conv2d((n - 1) * g + c + 1, c, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c + 1, c, 5, padding=2)
        self.bn2 = nn.BatchNorm2d(c)
        self.up = nn.ModuleList(nn.ConvTranspose2d(c, c, 4, stride=2, padding=1) for _ in range(hps.upsample))
        self.up_bn = nn.ModuleList(nn.BatchNorm2d(c) for _ in range(hps.upsample))
        self.out = nn.Conv2d(c, 1, 3, padding=1)

    def describe(self) -> str:
        return (f"StrokeNet renderer: {self.hps.num_points} points, maps {self.map_size[1]}x{self.map_size[0]} -> "
                f"canvas {self.size[1]}x{self.size[0]}")

    @classmethod
    def fit_data(cls, hps, dataset, spec):
        from dataclasses import replace

        hps, spec = super().fit_data(hps, dataset, spec)
        if not hps.max_width:
            hps = replace(hps, max_width=default_max_width(spec.image_shape))
        return hps, spec

    @classmethod
    def batch_source(cls, hps, spec, dataset, split, *, train, seed):
        return RenderBatchSource(hps, tuple(spec.image_shape), train=train, seed=seed, split=split)

    def forward_render(self, points: torch.Tensor, pressure: torch.Tensor, brush: torch.Tensor) -> torch.Tensor:
        """(B, n, 2), (B, n), (B, 2) -> (B, H, W)."""
        maps = self.position(points) * pressure[..., None, None]                            # (B, n, h, w)
        segments = maps[:, :-1] + maps[:, 1:]                                                # (B, n-1, h, w)
        brush_map = self.brush(brush).unflatten(-1, self.map_size)[:, None]                 # (B, 1, h, w)
        x = torch.cat([self.grouped(segments), self.full(torch.cat([segments, brush_map], 1))], 1)
        x = F.leaky_relu(self.bn0(x), 0.2)                                                   # (B, (n-1)g + c, h, w)
        x = F.leaky_relu(self.bn1(self.conv1(torch.cat([x, brush_map], 1))), 0.2)           # (B, c, h, w)
        x = F.leaky_relu(self.bn2(self.conv2(torch.cat([x, brush_map], 1))), 0.2)
        for up, bn in zip(self.up, self.up_bn):
            x = F.leaky_relu(bn(up(x)), 0.2)                                                 # (B, c, 2h, 2w)
        return torch.sigmoid(self.out(x))[:, 0]                                              # (B, H, W)

    def render_params(self) -> list[nn.Parameter]:
        """Everything but the position encoder (frozen once pre-trained)."""
        return [p for name, p in self.named_parameters() if not name.startswith("position.")]

    def configure_optimizers(self):
        lr = self.hps.learning_rate
        return {"position": torch.optim.Adam(self.position.parameters(), lr=lr),
                "model": torch.optim.Adam(self.render_params(), lr=lr)}

    def bump_loss(self, xy: torch.Tensor) -> torch.Tensor:
        """Summed squared error of the position encoder's maps against Gaussian bumps, mean over points."""
        target = gaussian_bumps(xy, self.map_size, self.hps.bump_sigma)
        return (self.position(xy) - target).pow(2).sum((-2, -1)).mean()

    def loss(self, batch: RenderBatch, step=None):
        pred = self.forward_render(batch.points, batch.pressure, batch.brush)                # (B, H, W)
        err = (pred - batch.images).pow(2)
        bump = self.bump_loss(batch.points.reshape(-1, 2))
        return {"loss": err.sum((1, 2)).mean(), "mse": err.mean(), "bump": bump}

    def training_step(self, batch, ctx):
        """Steps 0..pretrain_steps-1 train the position encoder alone on bumps; then it is frozen and the rest of
        the renderer learns the real environment's images (the paper's two phases)."""
        from sketchtool.models.base import check_finite

        pretraining = ctx.step < self.hps.pretrain_steps
        optimizer = ctx.optimizers["position" if pretraining else "model"]
        with ctx.autocast():
            terms = self.loss(batch, step=ctx.step)
        if pretraining:
            terms = {**terms, "loss": terms["bump"]}
        check_finite(terms, ctx.step)
        for opt in ctx.optimizers.values():
            opt.zero_grad(set_to_none=True)
        ctx.backward(terms["loss"])
        optimizer.step()
        return terms

    def sample(self, *args, **kwargs):
        self.require("generate", "generate")
