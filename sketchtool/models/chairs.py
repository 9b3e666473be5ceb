"""The up-convolutional generator of "Learning to Generate Chairs with Convolutional Neural Networks" (Dosovitskiy,
Springenberg, Brox, CVPR 2015, arXiv 1411.5928, section 3, figure 2), on turntable datasets of drawings
(`sketchtool rasterize DATA.npz --turntable K`): identity = one drawing, view = in-plane angle as (sin, cos),
transform = scale, shift, stroke width, brightness; target = the rendering and its stroke mask.

Identity (one-hot c), view v and transform theta each pass through their own two fully connected layers; joined,
two more FC layers and one to `start_channels` maps of (H/2^s, W/2^s); s up-convolution stages (unpooling: each
value to the top-left of a 2x2 block, zeros elsewhere; a 5x5 convolution; a 3x3 convolution after it), leaky
ReLU (0.2) throughout; loss lam * ||image - x||^2 + ||mask - m||^2 with lam = 10 (means over pixels instead of
sums: the same ratio, a learning rate independent of image size). There is no official code; deliberate
deviations: image and mask come from two 3x3 convolutions on one shared up-convolution trunk (the paper has a
narrower separate stream for the mask); grey images, one channel; sizes scaled down for 32x32 images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sketchtool.batching import ArrayBatches
from sketchtool.errors import SketchtoolError
from sketchtool.models.base import Condition, ImageSamples, SketchModel

__all__ = ["Chairs", "ChairsHParams", "TurntableBatch", "TurntableBatchSource", "mask_iou", "unpool", "view_report"]


@dataclass
class ChairsHParams:
    fc_size: int = 512  # each input stream's two FC layers (paper: 512)
    joint_size: int = 1024  # the two FC layers after joining (paper: 1024)
    start_channels: int = 256  # maps reshaped from the last FC (paper: 256 maps of 8x8)
    nkerns: list = field(default_factory=lambda: [92, 48])  # channels per up-convolution stage
    lam: float = 10.0  # weight of the image term (paper lambda)
    learning_rate: float = 5e-4  # Adam (paper: 0.0005)
    batch_size: int = 64
    num_steps: int = 5000
    save_every: int = 500

    def validate(self) -> None:
        if min(self.fc_size, self.joint_size, self.start_channels, self.batch_size) < 1:
            raise SketchtoolError("hparams fc_size, joint_size, start_channels and batch_size must be >= 1")
        if not self.nkerns or not all(isinstance(k, int) and k >= 1 for k in self.nkerns):
            raise SketchtoolError(f"hparam nkerns={self.nkerns}: a list of whole numbers >= 1, e.g. [92,48]")
        if not (self.lam >= 0 and self.learning_rate > 0):
            raise SketchtoolError("hparams lam >= 0 and learning_rate > 0, please")


# --- data ---------------------------------------------------------------------------------------------------------
@dataclass
class TurntableBatch:
    """images, masks (B, 1, H, W) float32 in [0, 1]; labels (B,) int64 identities; view (B, 2); transform (B, k)."""

    images: torch.Tensor
    masks: torch.Tensor
    labels: torch.Tensor
    view: torch.Tensor
    transform: torch.Tensor

    def to(self, device) -> TurntableBatch:
        return TurntableBatch(*(t.to(device) for t in (self.images, self.masks, self.labels, self.view,
                                                         self.transform)))

    def __len__(self) -> int:
        return int(self.labels.shape[0])


class TurntableBatchSource(ArrayBatches):
    """One split of a turntable dataset; random batches from a numpy Generator saved with checkpoints."""

    def __init__(self, dataset, split: str, *, batch_size: int, seed: int = 0):
        missing = [k for k in ("view", "transform", "mask") if k not in dataset.extras]
        if missing:
            raise SketchtoolError(f"the chairs generator trains on turntable datasets (views, transforms and masks); "
                                  f"this one lacks {', '.join(missing)}; make one with `sketchtool rasterize "
                                  "DATA.npz -o turn.npz --size 32 --turntable 36`")
        self.images = dataset.splits[split]
        self.masks = dataset.extras["mask"][split]
        if self.masks.shape[1:] != self.images.shape[1:]:
            raise SketchtoolError(f"the turntable's masks are {'x'.join(map(str, self.masks.shape[1:]))}, its images "
                                  f"{'x'.join(map(str, self.images.shape[1:]))}; a mask is one per image, of its size")
        self.labels = dataset.labels_of(split)
        self.view = dataset.extras["view"][split].astype(np.float32)
        self.transform = dataset.extras["transform"][split].astype(np.float32)
        self.batch_size = int(batch_size)
        self.rng = np.random.default_rng(seed)

    def _batch(self, idx: np.ndarray) -> TurntableBatch:
        return TurntableBatch(torch.from_numpy(self.images[idx].astype(np.float32)[:, None] / 255),
                              torch.from_numpy(self.masks[idx].astype(np.float32)[:, None]),
                              torch.from_numpy(self.labels[idx]), torch.from_numpy(self.view[idx]),
                              torch.from_numpy(self.transform[idx]))


# --- parts --------------------------------------------------------------------------------------------------------
def unpool(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, 2H, 2W): each value to the top-left of its 2x2 block, zeros elsewhere (paper 3.1)."""
    out = x.new_zeros(x.shape[0], x.shape[1], 2 * x.shape[2], 2 * x.shape[3])
    out[:, :, ::2, ::2] = x
    return out


def _stream(n_in: int, size: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, size), nn.LeakyReLU(0.2), nn.Linear(size, size), nn.LeakyReLU(0.2))


class UpConv(nn.Module):
    """Unpooling, 5x5 convolution, leaky ReLU, 3x3 convolution, leaky ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv5 = nn.Conv2d(c_in, c_out, 5, padding=2)
        self.conv3 = nn.Conv2d(c_out, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv5(unpool(x)), 0.2)  # (B, c_out, 2H, 2W)
        return F.leaky_relu(self.conv3(x), 0.2)


# --- model --------------------------------------------------------------------------------------------------------
class Chairs(SketchModel):
    name: ClassVar[str] = "chairs"
    uses_temperature: ClassVar[bool] = False
    HParams: ClassVar[type] = ChairsHParams
    PRESETS: ClassVar[dict] = {"reference": {},
                               "tiny": {"fc_size": 64, "joint_size": 128, "start_channels": 32, "nkerns": [16, 8],
                                        "batch_size": 32}}
    input_kind: ClassVar[str] = "images"
    output_kind: ClassVar[str] = "images"
    capabilities: ClassVar[frozenset[str]] = frozenset({"generate"})

    def __init__(self, hps: ChairsHParams, spec=None):
        super().__init__(hps, spec)
        shape = tuple(self.spec.image_shape or (0, 0))
        _check_spec(self.spec, hps)
        stages = len(hps.nkerns)
        self.h0, self.w0 = shape[0] >> stages, shape[1] >> stages
        self.identity_stream = _stream(self.num_classes, hps.fc_size)
        self.view_stream = _stream(self.spec.conditions["view"], hps.fc_size)
        self.transform_stream = _stream(self.spec.conditions["transform"], hps.fc_size)
        self.joint = nn.Sequential(nn.Linear(3 * hps.fc_size, hps.joint_size), nn.LeakyReLU(0.2),
                                   nn.Linear(hps.joint_size, hps.joint_size), nn.LeakyReLU(0.2),
                                   nn.Linear(hps.joint_size, hps.start_channels * self.h0 * self.w0),
                                   nn.LeakyReLU(0.2))
        channels = [hps.start_channels, *hps.nkerns]
        self.upconv = nn.Sequential(*(UpConv(a, b) for a, b in zip(channels, channels[1:])))
        self.to_image = nn.Conv2d(channels[-1], 1, 3, padding=1)
        self.to_mask = nn.Conv2d(channels[-1], 1, 3, padding=1)

    @classmethod
    def fit_data(cls, hps, dataset, spec):
        hps, spec = super().fit_data(hps, dataset, spec)
        _check_spec(spec, hps)
        return hps, spec

    @classmethod
    def batch_source(cls, hps, spec, dataset, split, *, train, seed):
        labels = dataset.labels_of(split)
        if len(labels) and labels.max() >= spec.num_classes:  # an identity code is a one-hot of the trained ones
            raise SketchtoolError(f"identity {int(labels.max())} in split {split!r}: this model knows identities 0 "
                                  f"to {spec.num_classes - 1}")
        return TurntableBatchSource(dataset, split, batch_size=hps.batch_size, seed=seed)

    def describe(self) -> str:
        return f"up-convolutional generator, {self.num_classes} identities, image {self.spec.image_shape}"

    def forward_images(self, identity: torch.Tensor, view: torch.Tensor, transform: torch.Tensor):
        """(image, mask), each (B, 1, H, W), from identity codes (B, n_ids), view (B, 2), transform (B, k)."""
        h = torch.cat([self.identity_stream(identity), self.view_stream(view),
                       self.transform_stream(transform)], dim=1)  # (B, 3 fc_size)
        h = self.joint(h).view(len(h), self.hps.start_channels, self.h0, self.w0)  # (B, C0, h0, w0)
        h = self.upconv(h)  # (B, C_last, H, W)
        return self.to_image(h), self.to_mask(h)

    def loss(self, batch: TurntableBatch, step=None):
        identity = F.one_hot(batch.labels, self.num_classes).float()  # (B, n_ids)
        image, mask = self.forward_images(identity, batch.view, batch.transform)
        image_mse = F.mse_loss(image, batch.images)
        mask_mse = F.mse_loss(mask, batch.masks)
        terms = {"loss": self.hps.lam * image_mse + mask_mse, "image_mse": image_mse, "mask_mse": mask_mse}
        if not self.training:
            terms["mask_iou"] = mask_iou(mask > 0.5, batch.masks > 0.5)
        return terms

    # --- sampling -----------------------------------------------------------------------------------------------
    def condition_inputs(self, n: int, condition: Condition | None) -> tuple[torch.Tensor, ...]:
        """(identity (n, n_ids), view (n, 2), transform (n, k)) from a Condition: identity from `labels` or a soft
        code `vectors["identity"]`; view from `vectors["view"]` (sin, cos) or `vectors["angle"]` (degrees; a
        one-number view is an angle too); transform from `vectors["transform"]` or its named parts (defaults: the
        neutral transform)."""
        condition = condition or Condition()
        device = next(self.parameters()).device
        vectors = {k: torch.as_tensor(v, dtype=torch.float32, device=device).reshape(n, -1)
                   for k, v in condition.vectors.items()}
        names, neutral = self.transform_names()
        unknown = sorted(set(vectors) - {"identity", "view", "angle", "transform", *names})
        if unknown:
            raise SketchtoolError(f"condition {', '.join(unknown)}: not one this model takes; it takes identity, "
                                  f"angle (or view), {', '.join(names)}")
        if "identity" in vectors:
            identity = vectors["identity"]
            if identity.shape[1] != self.num_classes:
                raise SketchtoolError(f"an identity code has {self.num_classes} entries, not {identity.shape[1]}")
        elif condition.labels is not None:
            labels = torch.as_tensor(condition.labels, device=device).reshape(n)
            if labels.min() < 0 or labels.max() >= self.num_classes:
                raise SketchtoolError(f"identity {int(labels.max())}: this model knows identities 0 to "
                                      f"{self.num_classes - 1}")
            identity = F.one_hot(labels.long(), self.num_classes).float()
        else:
            raise SketchtoolError("the chairs generator draws a given identity at a given view; give them, "
                                  "e.g. --condition identity=3,angle=40")
        if "view" in vectors and "angle" in vectors:  # the view won without a word
            raise SketchtoolError("condition view and angle: both give the view; give one")
        if "view" in vectors and vectors["view"].shape[1] == 1:  # `view=40` on the command line: an angle
            vectors["angle"] = vectors.pop("view")
        if "view" in vectors:
            view = vectors["view"]
        elif "angle" in vectors:
            theta = torch.deg2rad(vectors["angle"][:, :1])
            view = torch.cat([torch.sin(theta), torch.cos(theta)], dim=1)  # (n, 2)
        else:
            raise SketchtoolError("the chairs generator needs a view; give an angle, e.g. --condition "
                                  "identity=3,angle=40")
        for name, got in (("view", view), ("transform", vectors.get("transform"))):
            if got is not None and got.shape[1] != self.spec.conditions[name]:
                parts = "an angle" if name == "view" else f"its parts {', '.join(names)}"
                raise SketchtoolError(f"condition {name}: this model takes {self.spec.conditions[name]} numbers, not "
                                      f"{got.shape[1]}; or give {parts}")
        transform = vectors.get("transform")
        if transform is None:
            transform = torch.tensor(neutral, dtype=torch.float32, device=device).repeat(n, 1)
            for i, name in enumerate(names):
                if name in vectors:
                    transform[:, i] = vectors[name][:, 0]
        return identity, view, transform

    def transform_names(self) -> tuple[list[str], list[float]]:
        """The transform vector's entry names and neutral values, from the turntable's settings."""
        info = self.spec.settings.get("turntable", {})
        size = self.spec.conditions["transform"]
        names = list(info.get("transform_names", [f"t{i}" for i in range(size)]))
        neutral = list(info.get("transform_neutral", [0.0] * size))
        return names, neutral

    def render(self, n: int, condition: Condition | None) -> tuple[np.ndarray, np.ndarray]:
        """(images, masks), float32 (n, H, W) in [0, 1]."""
        was_training = self.training
        self.eval()
        with torch.no_grad():
            image, mask = self.forward_images(*self.condition_inputs(n, condition))
        self.train(was_training)
        return (image[:, 0].clamp(0, 1).float().cpu().numpy(), mask[:, 0].clamp(0, 1).float().cpu().numpy())

    def sample(self, n, *, generator=None, temperature=1.0, greedy=False, condition=None, on_progress=None,
               precision="auto", frames=False):
        """Deterministic: the rendering of the conditioned identity, view and transform (no noise)."""
        return ImageSamples(self.render(n, condition)[0])


def view_report(model: Chairs, dataset, split: str = "test") -> dict[str, float]:
    """How well `model` draws the views of `split` (a turntable's test angles are never seen in training): MSE of
    its images against the true renderings beside three references, the mean training image, the nearest seen
    view of the same identity (the training image with the closest angle) and the model's MSE on the training
    views themselves; and the mask IoU (masks at 0.5). Pixels in [0, 1]."""
    truth = dataset.images(split)  # (N, H, W)
    if not len(truth):
        raise SketchtoolError(f"split {split!r} is empty")
    extras = dataset.extras

    def drawn(name: str) -> tuple[np.ndarray, np.ndarray]:
        labels = torch.from_numpy(dataset.labels_of(name))
        condition = Condition(labels=labels, vectors={"view": torch.from_numpy(extras["view"][name]),
                                                      "transform": torch.from_numpy(extras["transform"][name])})
        return model.render(len(labels), condition)

    images, masks = drawn(split)
    seen, _ = drawn("train")
    train = dataset.images("train")
    train_labels, train_angles = dataset.labels_of("train"), extras["angle"]["train"]
    nearest = []
    for label, angle in zip(dataset.labels_of(split), extras["angle"][split]):
        same = np.flatnonzero(train_labels == label)
        gap = np.abs((train_angles[same] - angle + 180) % 360 - 180)
        nearest.append(train[same[np.argmin(gap)]])
    iou = mask_iou(torch.from_numpy(masks > 0.5), torch.from_numpy(extras["mask"][split] > 0))
    return {"mse": float(np.mean((images - truth) ** 2)),
            "mean_image_mse": float(np.mean((train.mean(0) - truth) ** 2)),
            "nearest_view_mse": float(np.mean((np.stack(nearest) - truth) ** 2)),
            "seen_mse": float(np.mean((seen - train) ** 2)), "mask_iou": float(iou), "items": len(truth)}


def mask_iou(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Intersection over union of two boolean masks, over the whole batch (1.0 when both are empty)."""
    union = (predicted | target).sum()
    return (predicted & target).sum() / union if union else torch.ones(())


def _check_spec(spec, hps: ChairsHParams) -> None:
    stages = len(hps.nkerns)
    shape = tuple(spec.image_shape or (0, 0))
    if any(k not in spec.conditions for k in ("view", "transform")):
        raise SketchtoolError("the chairs generator trains on turntable datasets (views, transforms and masks); "
                              "make one with `sketchtool rasterize DATA.npz -o turn.npz --size 32 --turntable 36`")
    if len(shape) != 2 or min(shape) < 2 ** stages or any(s % 2 ** stages for s in shape):
        raise SketchtoolError(f"the chairs generator with {stages} up-convolutions (hparam nkerns={hps.nkerns}) "
                              f"needs image sides divisible by {2 ** stages}; these images are {shape}")
