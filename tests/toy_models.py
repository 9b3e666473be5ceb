"""Two toy models a third party could ship, registered only through the `sketchtool.models` entry point in
tests/test_model_interface.py: they prove the trainer, checkpoints and commands have no special case for
Sketch-RNN. Each is a few lines of the interface and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from sketchtool.models.base import Condition, ImageSamples, SketchModel

__all__ = ["PixelBernoulli", "StrokeWalk"]


@dataclass
class PixelBernoulliHParams:
    batch_size: int = 64
    learning_rate: float = 0.05
    binarize: str = "stochastic"


class PixelBernoulli(SketchModel):
    """Every pixel an independent Bernoulli with a learned logit, per class: NLL in nats per image."""

    name: ClassVar[str] = "toy-pixels"
    HParams: ClassVar[type] = PixelBernoulliHParams
    input_kind: ClassVar[str] = "images"
    output_kind: ClassVar[str] = "images"
    capabilities: ClassVar[frozenset[str]] = frozenset({"generate"})

    def __init__(self, hps, spec=None):
        super().__init__(hps, spec)
        self.logits = torch.nn.Parameter(torch.zeros(self.num_classes, *self.spec.image_shape))

    def loss(self, batch, step=None):
        x = batch.images[:, 0]  # (B, H, W)
        nll = F.binary_cross_entropy_with_logits(self.logits[batch.labels], x, reduction="none").sum((1, 2))
        return {"loss": nll.mean(), "nll": nll.mean(), "ink": x.mean()}

    def sample(self, n, *, generator=None, temperature=1.0, greedy=False, condition=None, on_progress=None,
               precision="auto", frames=False):
        condition = condition or Condition()
        labels = condition.labels
        if labels is None:
            labels = torch.randint(self.num_classes, (n,), generator=generator)
        p = torch.sigmoid(self.logits.detach()[labels] / temperature)  # (n, H, W)
        x = (p > 0.5).float() if greedy else torch.bernoulli(p, generator=generator)
        return ImageSamples(x.numpy().astype(np.float32))


@dataclass
class StrokeWalkHParams:
    batch_size: int = 16
    learning_rate: float = 0.05
    length: int = 12


class StrokeWalk(SketchModel):
    """Offsets i.i.d. Gaussian with learned mean and log-std; the pen lifts with a learned probability."""

    name: ClassVar[str] = "toy-walk"
    HParams: ClassVar[type] = StrokeWalkHParams
    capabilities: ClassVar[frozenset[str]] = frozenset({"generate"})

    def __init__(self, hps, spec=None):
        super().__init__(hps, spec)
        self.mu = torch.nn.Parameter(torch.zeros(2))
        self.log_sigma = torch.nn.Parameter(torch.zeros(2))
        self.lift_logit = torch.nn.Parameter(torch.zeros(()))

    def loss(self, batch, step=None):
        x = batch.strokes5[:, 1:]  # (B, T, 5)
        mask = 1.0 - x[..., 4]
        gauss = (0.5 * ((x[..., :2] - self.mu) / self.log_sigma.exp()) ** 2 + self.log_sigma).sum(-1)
        lift = F.binary_cross_entropy_with_logits(self.lift_logit.expand_as(mask), x[..., 3], reduction="none")
        nll = ((gauss + lift) * mask).sum() / mask.sum()
        return {"loss": nll, "offsets": (gauss * mask).sum() / mask.sum()}

    def sample(self, n, *, generator=None, temperature=1.0, greedy=False, condition=None, on_progress=None,
               precision="auto", frames=False):
        steps = self.hps.length
        xy = self.mu.detach() + temperature * self.log_sigma.detach().exp() * torch.randn(n, steps, 2,
                                                                                          generator=generator)
        lift = torch.rand(n, steps, generator=generator) < torch.sigmoid(self.lift_logit.detach())
        out = torch.cat([xy, lift[..., None].float()], dim=-1).double().numpy()
        out[:, -1, 2] = 1.0
        return list(out)
