"""StrokeNet's agents: CNNs that read a picture and emit strokes, trained through the frozen neural renderer
(Zheng, Jiang, Huang, ICLR 2019, sec. 3.3-3.4; reference code vexilligera/strokenet, its agent and recurrent
training scripts). `steps` = 1 is the single-step agent (target in, one stroke out); `steps` > 1 the recurrent agent
(target and current canvas in, one stroke per step, the canvas composited through the renderer).

Loss = summed pixel MSE(target, canvas) + lambda * sum of squared distances between adjacent points (x, y,
pressure), the reference's lambda = 200 on its 256 x 256 canvas; ours is scaled by canvas area / 256^2 so the
balance with the summed MSE stays the paper's at any canvas size (`penalty_lambda` is given at the paper's scale).
Deviations: the VGG-like encoder has as many blocks as the canvas allows (5 at 64 x 64) and narrower channels for
CPU training; composition is white ink over black with alpha = the renderer's ink (`strokenet.composite`).
One addition, off by default: `tune_renderer_every` = N > 0 lets the renderer keep learning the real environment
on the agent's own latest strokes, one step every N agent steps (the agent's loss never trains it). A renderer
trained only on random strokes is wrong where an agent draws, and an agent trained through a frozen one learns to
exploit that: our MNIST agent's strokes were read 93 % of the time through the neural renderer and 82 % through
the real one, and 93 % through both once tuned (docs/BENCHMARKS.md). In a distributed run the renderer's
gradients are averaged over the processes like the agent's, so they tune one renderer. Validation reports
`real_mse`, the real environment's canvas error, beside the neural `mse`. A second addition, for
`vectorize --refine`: `refine` fits a picture's strokes to it by gradient descent through the renderer after the
agent's one pass, with chamfer terms that pull strokes to ink none of them reached.
The trained renderer is read from `renderer` (a run or checkpoint) when the agent is first built; its weights then
live in the agent's checkpoint, so a trained agent needs nothing else.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from sketchtool.errors import SketchtoolError
from sketchtool.models.base import MAX_UNROLLED_STEPS, SketchModel, check_ranges
from sketchtool.models.strokenet import StrokeRenderer, composite

__all__ = ["StrokeAgent", "StrokeAgentHParams", "Strokes", "adjacent_penalty"]

PAPER_CANVAS = 256 * 256
REFINE_LEARNING_RATE = 0.1  # Adam on the stroke parameters when `refine` fits them to a picture
REFINE_CHAMFER_WEIGHT = 80.0  # the chamfer terms against the summed pixel MSE (docs/BENCHMARKS.md, session 17)


@dataclass
class StrokeAgentHParams:
    renderer: str = ""                                      # a trained strokenet-renderer run or checkpoint
    renderer_hparams: str = ""                              # its hparams as JSON (filled in from `renderer`)
    steps: int = 1                                          # strokes per picture: 1 single-step, > 1 recurrent
    penalty_lambda: float = 200.0                           # adjacent-point penalty at the paper's 256^2 scale
    channels: int = 16                                      # first VGG block (two 3x3 convs + avg pool); doubles
                                                            # per block up to 8x, at most 5 blocks
    fc1: int = 1024                                         # FC 1024, FC 256, then the three heads
    fc2: int = 256
    binarize: str = "none"                                  # targets keep their grey
    tune_renderer_every: int = 0                            # 0: the renderer stays frozen (the paper); N: every N
                                                            # steps it learns the real brush on the agent's strokes
    renderer_learning_rate: float = 1e-4
    batch_size: int = 64
    learning_rate: float = 1e-3
    num_steps: int = 10_000
    save_every: int = 500

    def validate(self) -> None:
        if not 1 <= self.steps <= MAX_UNROLLED_STEPS or self.penalty_lambda < 0 or self.tune_renderer_every < 0:
            raise SketchtoolError(f"steps must be from 1 to {MAX_UNROLLED_STEPS:,}; penalty_lambda and "
                                  "tune_renderer_every >= 0")
        check_ranges(self, positive=("learning_rate", "renderer_learning_rate"))


@dataclass
class Strokes:
    """points (B, K, n, 2) in [-1, 1], pressure (B, K, n), brush (B, K, 2) (colour, radius), all in [0, 1]."""

    points: torch.Tensor
    pressure: torch.Tensor
    brush: torch.Tensor


def adjacent_penalty(points: torch.Tensor, pressure: torch.Tensor) -> torch.Tensor:
    """(..., n, 2), (..., n) -> (...): sum over i of |(x, y, p)_{i+1} - (x, y, p)_i|^2."""
    xyp = torch.cat([points, pressure[..., None]], -1)                                       # (..., n, 3)
    return (xyp[..., 1:, :] - xyp[..., :-1, :]).pow(2).sum((-2, -1))


class Encoder(nn.Module):
    """VGG-like: blocks of two 3x3 convs + ReLU + 2x2 average pool, as many as the canvas allows; flattened."""

    def __init__(self, in_channels: int, channels: list[int], size: tuple[int, int]):
        super().__init__()
        blocks = min(len(channels), int(math.log2(min(size))))
        layers: list[nn.Module] = []
        c = in_channels
        for out in channels[:blocks]:
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU(), nn.Conv2d(out, out, 3, padding=1), nn.ReLU(),
                       nn.AvgPool2d(2)]
            c = out
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.features = c * (size[0] >> blocks) * (size[1] >> blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class StrokeAgent(SketchModel):
    """Picture (B, H, W) -> `Strokes` with K = `steps` strokes; trained through the frozen renderer."""

    name: ClassVar[str] = "strokenet-agent"
    HParams: ClassVar[type] = StrokeAgentHParams
    PRESETS: ClassVar[dict] = {"reference": {}, "recurrent": {"steps": 3}}
    input_kind: ClassVar[str] = "images"
    output_kind: ClassVar[str] = "strokes"
    capabilities: ClassVar[frozenset[str]] = frozenset({"vectorize"})

    def __init__(self, hps: StrokeAgentHParams, spec=None):
        super().__init__(hps, spec)
        if not hps.renderer_hparams:
            raise SketchtoolError("strokenet-agent needs a trained renderer: --hparams renderer=RUN "
                                  "(train one with `sketchtool train IMAGES.npz --model strokenet-renderer`)")
        from sketchtool.models.base import hparams_from_dict
        from sketchtool.models.strokenet import StrokeRendererHParams

        self.renderer = StrokeRenderer(hparams_from_dict(StrokeRendererHParams, json.loads(hps.renderer_hparams)),
                                       self.spec)
        if hps.renderer and Path(hps.renderer).exists():
            self.renderer.load_state_dict(_read_renderer(hps.renderer)[1]["state_dict"])
        self.renderer.requires_grad_(False).eval()
        self.size = self.renderer.size
        self.n = self.renderer.hps.num_points
        self.target_encoder = Encoder(1, _block_channels(hps.channels), self.size)
        self.canvas_encoder = Encoder(1, _block_channels(hps.channels), self.size) if hps.steps > 1 else None
        width = self.target_encoder.features * (2 if self.canvas_encoder is not None else 1)
        layers: list[nn.Module] = []
        for size in (hps.fc1, hps.fc2):
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.fc = nn.Sequential(*layers)
        self.brush_head = nn.Linear(width, 2)
        self.coord_head = nn.Linear(width, 2 * self.n)
        self.pressure_head = nn.Linear(width, self.n)
        self._drawn: Strokes | None = None                  # the latest training strokes, for the renderer
        self._gaps: list[float] = []                         # its error on them since the last log

    def describe(self) -> str:
        kind = "single-step" if self.hps.steps == 1 else f"recurrent, {self.hps.steps} strokes"
        return f"StrokeNet agent ({kind}), {self.n} points per stroke, canvas {self.size[1]}x{self.size[0]}"

    @classmethod
    def fit_data(cls, hps, dataset, spec):
        hps, spec = super().fit_data(hps, dataset, spec)
        if not hps.renderer:
            raise SketchtoolError("strokenet-agent needs a trained renderer: --hparams renderer=RUN "
                                  "(train one with `sketchtool train IMAGES.npz --model strokenet-renderer`)")
        info, payload = _read_renderer(hps.renderer)
        shape = tuple(info.spec.image_shape)
        if shape != tuple(spec.image_shape):
            raise SketchtoolError(f"renderer {hps.renderer} draws {shape[1]}x{shape[0]} canvases but the images are "
                                  f"{spec.image_shape[1]}x{spec.image_shape[0]}; rasterize them at its size")
        return replace(hps, renderer=str(Path(hps.renderer).resolve()),
                       renderer_hparams=json.dumps(payload["hparams"])), spec

    def train(self, mode: bool = True):
        super().train(mode)
        self.renderer.eval()  # frozen: its batch-norm statistics stay the trained ones
        return self

    def configure_optimizers(self):
        params = [p for name, p in self.named_parameters() if not name.startswith("renderer.")]
        optimizers = {"model": torch.optim.Adam(params, lr=self.hps.learning_rate)}
        if self.hps.tune_renderer_every:
            optimizers["renderer"] = torch.optim.Adam(self.renderer.render_params(), lr=self.hps.renderer_learning_rate)
        return optimizers

    def training_step(self, batch, ctx):
        """The agent's step (the renderer gets no gradient from it); with `tune_renderer_every`, every N steps the
        renderer's step on a batch of the strokes the agent just drew, rendered by the real environment."""
        terms = super().training_step(batch, ctx)
        if self.hps.tune_renderer_every and ctx.step % self.hps.tune_renderer_every == 0:
            self._tune_renderer(ctx)
        return terms

    def _tune_renderer(self, ctx) -> None:
        from sketchtool.models.strokenet import real_render

        drawn = self._drawn
        pick = torch.randperm(len(drawn.points))[:self.hps.batch_size]
        points, pressure, brush = (t[pick] for t in (drawn.points, drawn.pressure, drawn.brush))
        real = real_render(*(t.float().cpu().numpy() for t in (points, pressure, brush)), self.size,
                           self.renderer.max_width)
        params = self.renderer.render_params()  # the position encoder stays frozen, as in the paper
        for p in params:
            p.requires_grad_(True)
        with ctx.autocast():
            ink = self.renderer.forward_render(points, pressure, brush)
        err = (ink.float() - torch.from_numpy(real).to(ink.device)).pow(2)
        self.zero_grad(set_to_none=True)  # the agent's gradients were spent on its own step
        ctx.backward(err.sum((1, 2)).mean())
        ctx.optimizers["renderer"].step()
        for p in params:
            p.requires_grad_(False)
        self._gaps.append(float(err.detach().mean()))

    def log_scalars(self, step: int) -> dict[str, float]:
        gaps, self._gaps = self._gaps, []
        return {"renderer_mse": sum(gaps) / len(gaps)} if gaps else {}

    # --- the agent ------------------------------------------------------------------------------------------------
    def act(self, target: torch.Tensor, canvas: torch.Tensor | None) -> Strokes:
        """One stroke per picture: (B, H, W) target [and canvas] -> Strokes with K = 1."""
        h = self.target_encoder(target[:, None])                                            # (B, F)
        if self.canvas_encoder is not None:
            h = torch.cat([h, self.canvas_encoder(canvas[:, None])], 1)                     # (B, 2F)
        h = self.fc(h)                                                                       # (B, 256)
        points = torch.tanh(self.coord_head(h)).unflatten(-1, (self.n, 2))                  # (B, n, 2)
        pressure = torch.sigmoid(self.pressure_head(h))                                      # (B, n)
        brush = torch.sigmoid(self.brush_head(h))                                            # (B, 2)
        return Strokes(points[:, None], pressure[:, None], brush[:, None])

    def draw(self, target: torch.Tensor, steps: int | None = None, *,
             final_canvas: bool = True) -> tuple[Strokes, torch.Tensor]:
        """(B, H, W) target -> (Strokes with K = steps, (B, H, W) neural canvas); without `final_canvas` the last
        stroke is not rendered (vectorising needs only the strokes: the single-step agent then renders nothing)."""
        canvas = torch.zeros_like(target)
        strokes = []
        steps = steps or self.hps.steps
        for k in range(steps):
            s = self.act(target, canvas)
            if final_canvas or k < steps - 1:
                canvas = composite(canvas, self.renderer.forward_render(s.points[:, 0], s.pressure[:, 0], s.brush[:, 0]))
            strokes.append(s)
        return Strokes(*(torch.cat([getattr(s, k) for s in strokes], 1) for k in ("points", "pressure", "brush"))), canvas

    def loss(self, batch, step=None):
        terms, strokes = self._loss_terms(batch.images[:, 0])
        if self.training and self.hps.tune_renderer_every:
            drawn = (strokes.points, strokes.pressure, strokes.brush)
            self._drawn = Strokes(*(t.detach().flatten(0, 1) for t in drawn))
        return terms

    def eval_loss(self, batch, generator):
        """The loss terms, and `real_mse`: the same strokes drawn by the real environment, the canvas error that
        `vectorize` users see (the neural `mse` is only the renderer's view of it)."""
        from sketchtool.models.strokenet import real_canvas

        target = batch.images[:, 0]
        terms, strokes = self._loss_terms(target)
        canvas = real_canvas(*(t.float().cpu().numpy() for t in (strokes.points, strokes.pressure, strokes.brush)),
                             self.size, self.renderer.max_width)
        return {**terms, "real_mse": (torch.from_numpy(canvas) - target.float().cpu()).pow(2).sum((1, 2)).mean()}

    def _loss_terms(self, target: torch.Tensor) -> tuple[dict[str, torch.Tensor], Strokes]:
        strokes, canvas = self.draw(target)
        mse, penalty = (t.mean() for t in _picture_terms(canvas, target, strokes.points, strokes.pressure))
        return {"loss": mse + self.penalty_weight * penalty, "mse": mse, "penalty": penalty}, strokes

    @property
    def penalty_weight(self) -> float:
        """lambda on this canvas: `penalty_lambda` (the paper's scale) times canvas area / 256^2."""
        return self.hps.penalty_lambda * self.size[0] * self.size[1] / PAPER_CANVAS

    @torch.no_grad()
    def vectorize_images(self, images: torch.Tensor, steps: int | None = None, refine: int = 0) -> Strokes:
        """(B, H, W) pictures at the canvas size, ink 1 -> their strokes (eval mode); with `refine` > 0 they are
        then fitted to each picture for that many steps (`StrokeAgent.refine`)."""
        was = self.training
        self.eval()
        images = images.to(next(self.parameters()).device, torch.float32)
        strokes, _ = self.draw(images, steps, final_canvas=False)
        if refine:
            strokes = self.refine(images, strokes, refine)
        self.train(was)
        return strokes

    def refine(self, target: torch.Tensor, strokes: Strokes, iterations: int,
               learning_rate: float = REFINE_LEARNING_RATE, chamfer_weight: float = REFINE_CHAMFER_WEIGHT) -> Strokes:
        """Fit strokes to their pictures directly: Adam on the stroke parameters (before the heads' tanh and
        sigmoid) through the frozen renderer, minimising each picture's training loss plus `chamfer_weight` times
        its chamfer terms (`chamfer_terms`). An addition to the paper, which stops at the agent's one-pass guess:
        the environment is differentiable, so each picture's strokes can be improved after it. The pixel loss only
        feels ink a stroke already touches; the chamfer terms pull the nearest drawn segment to ink no stroke
        reached, and drawn segments onto the ink (300 test kanji, 4 strokes, 60 steps: F1 0.968 without them,
        0.981 with them, 0.998 once `vectorize` has tidied them; docs/BENCHMARKS.md)."""
        eps = 1e-4
        raw = [torch.atanh(strokes.points.clamp(-1 + eps, 1 - eps)), torch.logit(strokes.pressure, eps),
               torch.logit(strokes.brush, eps)]
        raw = [t.detach().clone().requires_grad_(True) for t in raw]
        optimizer = torch.optim.Adam(raw, lr=learning_rate)
        ink, ink_mask = ink_pixels(target)
        with torch.enable_grad():
            for _ in range(iterations):
                points, pressure, brush = torch.tanh(raw[0]), torch.sigmoid(raw[1]), torch.sigmoid(raw[2])
                canvas = torch.zeros_like(target)
                for k in range(points.shape[1]):
                    canvas = composite(canvas, self.renderer.forward_render(points[:, k], pressure[:, k], brush[:, k]))
                mse, penalty = _picture_terms(canvas, target, points, pressure)
                per_picture = mse + self.penalty_weight * penalty
                if chamfer_weight:
                    recall, precision = chamfer_terms(Strokes(points, pressure, brush), ink, ink_mask,
                                                      target.shape[-1], self.renderer.max_width)
                    per_picture = per_picture + chamfer_weight * (recall + precision)
                optimizer.zero_grad(set_to_none=True)
                per_picture.sum().backward()  # a sum: each picture's strokes get only their own picture's gradient
                optimizer.step()
        return Strokes(torch.tanh(raw[0]).detach(), torch.sigmoid(raw[1]).detach(), torch.sigmoid(raw[2]).detach())


def ink_pixels(target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, H, W) pictures -> (B, P, 2) centres (x, y in canvas pixels) of each picture's ink pixels (> 0.5), padded
    to the most inked picture, and (B, P) their mask (1 = an ink pixel, 0 = padding)."""
    on = target > 0.5
    count = on.flatten(1).sum(1)
    ink = torch.zeros(len(target), max(1, int(count.max())), 2, device=target.device)
    mask = torch.zeros(ink.shape[:2], device=target.device)
    for i in range(len(target)):
        rows, cols = torch.nonzero(on[i], as_tuple=True)
        ink[i, :len(rows)] = torch.stack([cols, rows], 1).float() + 0.5
        mask[i, :len(rows)] = 1
    return ink, mask


def chamfer_terms(strokes: Strokes, ink: torch.Tensor, ink_mask: torch.Tensor, size: int,
                  max_width: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) recall and (B,) precision, in squared canvas pixels. Recall: each ink pixel's squared distance to the
    nearest drawn segment, averaged over the ink. Precision: the squared distance to the nearest ink pixel of
    points along the drawn segments, averaged over them. "Drawn" is a soft gate on the pen width and the brush's
    colour, centred where `vectorize` lifts the pen, so a lifted segment neither covers ink nor is pulled."""
    from sketchtool.vectorize import MIN_DRAWN_COLOUR, MIN_DRAWN_WIDTH

    xy = (strokes.points + 1) * size / 2                                                   # (B, K, n, 2) pixels
    width = strokes.brush[..., 1:] * max_width * strokes.pressure                           # (B, K, n)
    drawn = (torch.sigmoid((width - MIN_DRAWN_WIDTH) / 0.1)
             * torch.sigmoid((strokes.brush[..., :1] - MIN_DRAWN_COLOUR) / 0.05))
    gate = torch.minimum(drawn[..., 1:], drawn[..., :-1]).flatten(1)                          # (B, S) segments
    start, end = xy[:, :, :-1].flatten(1, 2), xy[:, :, 1:].flatten(1, 2)                       # (B, S, 2)
    along = end - start
    # |ink - (start + t along)|^2 with t the projection clamped to the segment, by matrix products (no (B, P, S, 2))
    ink_dot_start, ink_dot_along = ink @ start.transpose(1, 2), ink @ along.transpose(1, 2)       # (B, P, S)
    start_dot_along, length2 = (start * along).sum(-1)[:, None], along.pow(2).sum(-1)[:, None]   # (B, 1, S)
    t = ((ink_dot_along - start_dot_along) / (length2 + 1e-6)).clamp(0, 1)
    from_start2 = ink.pow(2).sum(-1)[..., None] - 2 * ink_dot_start + start.pow(2).sum(-1)[:, None]
    squared = from_start2 - 2 * t * (ink_dot_along - start_dot_along) + t.pow(2) * length2
    to_segment = squared.clamp(min=0).add(1e-6).sqrt() + size * (1 - gate[:, None])
    recall = (to_segment.min(-1).values.pow(2) * ink_mask).sum(1) / ink_mask.sum(1).clamp(min=1)
    fractions = torch.tensor([0.25, 0.5, 0.75], device=xy.device)[:, None]
    samples = (start[:, :, None] + fractions * along[:, :, None]).flatten(1, 2)               # (B, 3S, 2)
    to_ink = (samples.pow(2).sum(-1)[..., None] - 2 * samples @ ink.transpose(1, 2) + ink.pow(2).sum(-1)[:, None]
              + (1 - ink_mask[:, None]) * size ** 2)                                          # (B, 3S, P)
    weight = gate.repeat_interleave(len(fractions), 1)                                          # (B, 3S)
    precision = (to_ink.min(-1).values.clamp(min=0) * weight).sum(1) / (weight.sum(1) + 1e-3)
    return recall, precision


def _picture_terms(canvas: torch.Tensor, target: torch.Tensor, points: torch.Tensor, pressure: torch.Tensor):
    """The training loss's two terms, per picture: (B,) summed pixel MSE and (B,) adjacent-point penalty."""
    return (canvas - target).pow(2).sum((1, 2)), adjacent_penalty(points, pressure).sum(1)


def _block_channels(first: int) -> list[int]:
    return [first * min(2 ** i, 8) for i in range(5)]


def _read_renderer(ref: str):
    """(ModelInfo, checkpoint dict) of a trained strokenet-renderer; one clear error for anything else."""
    from sketchtool.checkpoint import _info, read_checkpoint, resolve_checkpoint

    path = resolve_checkpoint(ref)
    payload = read_checkpoint(path)
    if payload["model"] != StrokeRenderer.name:
        raise SketchtoolError(f"{ref}: a {payload['model']} model, not a {StrokeRenderer.name}; "
                              f"train one with `sketchtool train IMAGES.npz --model {StrokeRenderer.name}`")
    return _info(payload, path), payload
