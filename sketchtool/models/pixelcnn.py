"""Gated PixelCNN: van den Oord et al., "Conditional Image Generation with PixelCNN Decoders" (2016, arXiv
1606.05328), sections 2.1-2.3. There is no official code; this follows the paper's figure 2.

Parts in the paper's order: a vertical stack (an unmasked (p+1) x k conv over the rows above and the current row,
with top padding) and a horizontal stack (a 1 x (p+1) conv over the pixels to the left; the first layer excludes the
current pixel), so the receptive field has no blind spot; the vertical stack feeds the horizontal one through a 1x1
conv after a one-row down-shift, never the other way; gated activations tanh(W_f * x + V_f^T h) . sigmoid(W_g * x +
V_g^T h) in both stacks, with h a class one-hot (`conditional`) and/or an embedding vector (`h_size`); a residual
connection in the horizontal stack only. Output: a sigmoid per pixel for binary images ("bernoulli") or a softmax over
`levels` grey levels ("softmax", the paper's 256-way softmax for 8-bit data).

Deliberate deviations: one colour channel (our images are grey), so no R/G/B masking; the paper's skip connections to
the output are left out (the residual horizontal stack alone learns MNIST here); a first layer of kernel
`first_kernel_size` as in PixelCNN (2016a), then `kernel_size`, by default 5 (reimplementations mostly use 3): a few
3 x 3 layers see too few rows above (`rows_seen`) to keep a digit one digit, and 8 layers of 5 x 5 see 18 rows for
less CPU than the 12 layers of 3 x 3 that would see 15 (docs/BENCHMARKS.md). Sampling runs the stacks incrementally:
each finished row adds one row to every vertical layer, each pixel one column to every horizontal layer, so sampling
an image costs about one forward pass instead of H x W (`sample_naive` keeps the full-recompute sampler for
comparison).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sketchtool.errors import SketchtoolError
from sketchtool.models.base import Condition, ImageSamples, SketchModel, check_ranges

__all__ = ["GatedPixelCNN", "GatedPixelCNNHParams", "MaskedPixelCNN"]

OUTPUTS = ("bernoulli", "softmax")


@dataclass
class GatedPixelCNNHParams:
    """Names as in the paper where it names them (layers, filters, kernel n x n, h); the rest as the trainer's."""

    n_layers: int = 8  # gated layers (the paper's MNIST/CIFAR models: 15-20)
    n_filters: int = 32  # feature maps per stack (the paper: 128-384)
    kernel_size: int = 5  # n of the n x n receptive field of gated layers 2..n_layers (odd); 5: sees 18 rows up
    first_kernel_size: int = 7  # of the first layer, as PixelCNN's 7x7 mask-A layer (odd)
    conditional: bool = True  # class conditioning (one-hot h) when the data has classes
    h_size: int = 0  # size of an embedding vector h given with each image (Condition.z / batch.h); 0: none
    output: str = "bernoulli"  # bernoulli: sigmoid per pixel (binary images); softmax: over `levels` grey levels
    levels: int = 256  # grey levels of the softmax output
    batch_size: int = 64
    learning_rate: float = 1e-3
    grad_clip: float = 1.0
    binarize: str = "stochastic"  # how training images are binarised (bernoulli output; softmax reads grey)

    def validate(self) -> None:
        if self.n_layers < 1 or self.n_filters < 1:
            raise SketchtoolError("n_layers and n_filters must be at least 1")
        for name in ("kernel_size", "first_kernel_size"):
            k = getattr(self, name)
            if k < 1 or k % 2 == 0:
                raise SketchtoolError(f"hparam {name}={k}: must be an odd number >= 1")
        if self.output not in OUTPUTS:
            raise SketchtoolError(f"hparam output={self.output!r}: use one of {', '.join(OUTPUTS)}")
        if self.output == "softmax" and not 2 <= self.levels <= 256:
            raise SketchtoolError(f"hparam levels={self.levels}: must be 2 to 256")
        if self.h_size < 0:
            raise SketchtoolError(f"hparam h_size={self.h_size}: must be >= 0")
        check_ranges(self, positive=("learning_rate", "grad_clip"))


class GatedLayer(nn.Module):
    """One gated layer of both stacks (figure 2). `first`: the horizontal conv sees only pixels strictly left of the
    current one and there is no residual (the input has a different width)."""

    def __init__(self, c_in: int, c: int, k: int, h_dim: int, first: bool):
        super().__init__()
        self.p, self.first, self.c = k // 2, first, c
        self.v_conv = nn.Conv2d(c_in, 2 * c, (self.p + 1, k))  # rows i-p..i, columns j-p..j+p
        self.h_conv = nn.Conv2d(c_in, 2 * c, (1, self.p + 1))  # columns j-p..j (j-p-1..j-1 when first)
        self.v_to_h = nn.Conv2d(2 * c, 2 * c, 1)
        self.h_out = nn.Conv2d(c, c, 1)
        self.v_cond = nn.Linear(h_dim, 2 * c, bias=False) if h_dim else None
        self.h_cond = nn.Linear(h_dim, 2 * c, bias=False) if h_dim else None

    def forward(self, v: torch.Tensor, h: torch.Tensor, cond: torch.Tensor | None):
        p = self.p
        v_pre = self.v_conv(F.pad(v, (p, p, p, 0)))  # (B, 2c, H, W): rows <= i
        if cond is not None:
            v_pre = v_pre + self.v_cond(cond)[:, :, None, None]
        shift = self.p + 1 if self.first else self.p
        h_in = F.pad(h, (shift, 0, 0, 0))[..., :h.shape[-1] + self.p]  # first layer: drop the current pixel
        h_pre = self.h_conv(h_in) + self.v_to_h(F.pad(v_pre, (0, 0, 1, 0))[:, :, :-1])  # down-shift: rows < i only
        if cond is not None:
            h_pre = h_pre + self.h_cond(cond)[:, :, None, None]
        h_new = self.h_out(gate(h_pre))
        return gate(v_pre), h_new if self.first else h + h_new


def gate(a: torch.Tensor) -> torch.Tensor:
    """tanh(first half) * sigmoid(second half) along the channel axis (equation 2)."""
    f, g = a.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedPixelCNN(SketchModel):
    """p(x) = prod_i p(x_i | x_<i, h) in raster order; `loss` is the exact NLL in nats per image."""

    name: ClassVar[str] = "gated-pixelcnn"
    HParams: ClassVar[type] = GatedPixelCNNHParams
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "reference": {},  # learns on CPU in minutes
        "paper": {"n_layers": 15, "n_filters": 128},  # closer to the paper's size; wants a GPU
    }
    input_kind: ClassVar[str] = "images"
    output_kind: ClassVar[str] = "images"
    capabilities: ClassVar[frozenset[str]] = frozenset({"generate", "complete"})

    def __init__(self, hps: GatedPixelCNNHParams, spec=None):
        super().__init__(hps, spec)
        if self.spec.image_shape is None:
            raise SketchtoolError("gated-pixelcnn needs an image dataset (its data spec has no image shape)")
        self.use_classes = bool(hps.conditional) and self.num_classes > 1
        self.h_dim = (self.num_classes if self.use_classes else 0) + hps.h_size
        self.out_channels = 1 if hps.output == "bernoulli" else hps.levels
        c = hps.n_filters
        self.layers = nn.ModuleList(
            GatedLayer(1 if i == 0 else c, c, hps.first_kernel_size if i == 0 else hps.kernel_size, self.h_dim, i == 0)
            for i in range(hps.n_layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 1), nn.ReLU(), nn.Conv2d(c, self.out_channels, 1))

    @property
    def rows_seen(self) -> int:
        """How many rows above a pixel its logit sees: the vertical stacks' reach (the p of every layer) plus the
        one-row shift. A digit needs most of its height in view to stay one digit (6 x 3x3 layers see 9 rows,
        8 x 5x5 layers 18)."""
        return sum(layer.p for layer in self.layers) + 1

    def describe(self) -> str:
        h = self.hps
        return (f"gated PixelCNN, {h.n_layers} layers x {h.n_filters} filters, sees {self.rows_seen} rows above, "
                f"{h.output}" + (", class-conditional" if self.use_classes else ""))

    @classmethod
    def batch_source(cls, hps, spec, dataset, split, *, train, seed):
        if hps.output == "softmax":  # grey levels are the data: never binarise
            from sketchtool.batching import default_batch_source

            return default_batch_source(spec, dataset, split, batch_size=hps.batch_size, binarize="none", seed=seed)
        return super().batch_source(hps, spec, dataset, split, train=train, seed=seed)

    def clip_gradients(self) -> None:
        if self.hps.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.parameters(), self.hps.grad_clip)

    # --- the model ----------------------------------------------------------------------------------------------
    def conditioning(self, labels: torch.Tensor | None, h: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """The vector h of equation 4: [one-hot class, embedding] (B, h_dim), or None for an unconditional model."""
        parts = []
        if self.use_classes:
            if labels is None:
                raise SketchtoolError("this gated-pixelcnn is class-conditional: give a class label per image")
            parts.append(F.one_hot(labels.long(), self.num_classes))
        if self.hps.h_size:
            if h is None or h.shape != (n, self.hps.h_size):
                raise SketchtoolError(f"this gated-pixelcnn is conditioned on an embedding vector of size "
                                      f"{self.hps.h_size}: give one per image")
            parts.append(h)
        weight = self.head[-1].weight
        return torch.cat([t.to(weight) for t in parts], dim=1) if parts else None

    def to_input(self, x: torch.Tensor) -> torch.Tensor:
        """Targets (B, H, W) (0/1 or level indices) -> the network's input scale [0, 1]."""
        x = x.to(self.head[-1].weight.dtype)
        return x if self.hps.output == "bernoulli" else x / (self.hps.levels - 1)

    def logits(self, x: torch.Tensor, labels: torch.Tensor | None = None, h: torch.Tensor | None = None):
        """x: (B, H, W) targets -> logits (B, H, W) for bernoulli, (B, levels, H, W) for softmax."""
        cond = self.conditioning(labels, h, len(x))
        v = hz = self.to_input(x)[:, None]  # (B, 1, H, W)
        for layer in self.layers:
            v, hz = layer(v, hz, cond)
        out = self.head(hz)  # (B, out_channels, H, W)
        return out[:, 0] if self.hps.output == "bernoulli" else out

    def targets(self, images: torch.Tensor) -> torch.Tensor:
        """Batch images (B, 1, H, W) in [0, 1] -> targets (B, H, W): 0/1 (binarised by the batch source; > 0.5 for
        safety) or level indices."""
        x = images[:, 0]
        if self.hps.output == "bernoulli":
            return (x > 0.5).float()
        return torch.round(x * (self.hps.levels - 1)).long()

    def nll(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """Exact negative log-likelihood in nats per image (B,)."""
        if self.hps.output == "bernoulli":
            return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2))
        return F.cross_entropy(logits, x, reduction="none").sum((1, 2))

    def loss(self, batch, step: int | None = None) -> dict[str, torch.Tensor]:
        x = self.targets(batch.images)
        nll = self.nll(x, self.logits(x, batch.labels, getattr(batch, "h", None))).mean()
        dims = x.shape[1] * x.shape[2]
        return {"loss": nll, "nll_nats": nll, "bits_per_dim": nll / (dims * math.log(2))}

    # --- sampling -------------------------------------------------------------------------------------------------
    def sample(self, n, *, generator=None, temperature=1.0, greedy=False, condition=None, on_progress=None,
               precision="auto", frames=False):
        """n images (raster order, one pixel at a time; given pixels of `condition.image`/`mask` are kept)."""
        _, _, cond, given, mask, u = self._sampling_inputs(n, generator, condition)
        with torch.no_grad():
            x = self._scan(cond, given, mask, u, temperature, greedy, on_progress)
        return ImageSamples(self._to_unit(x))

    def sample_naive(self, n, *, generator=None, temperature=1.0, greedy=False, condition=None):
        """The same samples as `sample` (same uniforms), each pixel from a full forward pass: H x W passes."""
        labels, h, _, given, mask, u = self._sampling_inputs(n, generator, condition)
        H, W = self.spec.image_shape
        x = given.clone()
        with torch.no_grad():
            for i in range(H):
                for j in range(W):
                    logits = self.logits(x, labels, h)
                    pixel = logits[..., i, j]
                    value = self._draw(pixel if self.hps.output == "bernoulli" else logits[:, :, i, j],
                                       u[:, i, j], temperature, greedy)
                    x[:, i, j] = torch.where(mask[:, i, j], given[:, i, j], value)
        return ImageSamples(self._to_unit(x))

    def _sampling_inputs(self, n, generator, condition):
        """(labels, h, cond (n, h_dim) | None, given targets (n, H, W), mask (n, H, W) bool, uniforms (n, H, W));
        a class-conditional model without labels draws a random class per image."""
        condition = condition or Condition()
        device = self.head[-1].weight.device
        gen_device = generator.device if generator is not None else torch.device("cpu")
        H, W = self.spec.image_shape
        labels = condition.labels
        if self.use_classes and labels is None:
            labels = torch.randint(self.num_classes, (n,), generator=generator, device=gen_device)
        labels = None if labels is None else labels.to(device)
        h = condition.vectors.get("h", condition.z)
        h = None if h is None else torch.as_tensor(h).to(device)
        cond = self.conditioning(labels, h, n)
        if condition.image is not None:
            if tuple(condition.image.shape) != (n, H, W) or condition.mask is None:
                raise SketchtoolError(f"the image to complete must be {W}x{H} (the model's size) with a mask")
            given = self.targets(condition.image.to(device)[:, None])
            mask = condition.mask.to(device).bool()
        else:
            given = torch.zeros(n, H, W, device=device, dtype=torch.float32 if self.hps.output == "bernoulli"
                                else torch.int64)
            mask = torch.zeros(n, H, W, dtype=torch.bool, device=device)
        u = torch.rand(n, H, W, generator=generator, device=gen_device).to(device)  # one uniform per pixel
        return labels, h, cond, given, mask, u

    def _draw(self, logits: torch.Tensor, u: torch.Tensor, temperature: float, greedy: bool) -> torch.Tensor:
        """One pixel per image from its logits ((n,) sigmoid or (n, levels) softmax), by inverting the CDF at u."""
        if self.hps.output == "bernoulli":
            if greedy:
                return (logits > 0).float()
            return (u < torch.sigmoid(logits / temperature)).float()
        if greedy:
            return logits.argmax(1)
        cdf = torch.softmax(logits / temperature, dim=1).cumsum(1)  # (n, levels)
        return (cdf < u[:, None]).sum(1).clamp(max=self.hps.levels - 1)

    def _to_unit(self, x: torch.Tensor) -> np.ndarray:
        x = x.float() if self.hps.output == "bernoulli" else x.float() / (self.hps.levels - 1)
        return x.cpu().numpy().astype(np.float32)

    def _scan(self, cond, given, mask, u, temperature, greedy, on_progress) -> torch.Tensor:
        """Incremental raster scan. Caches, per layer: the vertical stack's gated output over every finished row
        (zero-padded as the convolutions pad), its pre-activation of the row above (all the horizontal stack needs
        of it), and the horizontal stack's outputs left of the current pixel."""
        n, H, W = given.shape
        c, layers = self.hps.n_filters, self.layers
        x = given.clone()
        dev, dtype = x.device, self.head[-1].weight.dtype
        # vertical inputs per layer, top- and side-padded: v_in[l] (n, C_l, H + p_l, W + 2 p_l)
        v_in = [torch.zeros(n, 1 if i == 0 else c, H + m.p, W + 2 * m.p, device=dev, dtype=dtype) for i, m in enumerate(layers)]
        v_above = [torch.zeros(n, 2 * c, W, device=dev, dtype=dtype) for _ in layers]  # pre-activation of row i-1 (row -1: 0)
        v_bias = [None if cond is None else m.v_cond(cond) for m in layers]  # (n, 2c)
        h_bias = [None if cond is None else m.h_cond(cond) for m in layers]
        # per-layer 2-D weights of the 1 x (p+1) horizontal conv: (2c, C_in * (p+1))
        h_w = [m.h_conv.weight.flatten(1) for m in layers]
        for i in range(H):
            vh = [m.v_to_h(v_above[l][..., None])[..., 0] for l, m in enumerate(layers)]  # (n, 2c, W)
            h_in = [torch.zeros(n, 1 if l == 0 else c, W + m.p + (1 if m.first else 0), device=dev,
                                dtype=dtype)
                    for l, m in enumerate(layers)]  # left-padded row inputs of each horizontal layer
            for j in range(W):
                pixel = self._pixel(i, j, x, h_in, h_w, vh, h_bias)
                value = self._draw(pixel, u[:, i, j], temperature, greedy)
                x[:, i, j] = torch.where(mask[:, i, j], given[:, i, j], value)
            self._finish_row(i, x, v_in, v_above, v_bias)
            if on_progress is not None:
                on_progress(i + 1, H)
        return x

    def _pixel(self, i, j, x, h_in, h_w, vh, h_bias) -> torch.Tensor:
        """Logits of pixel (i, j) from one new column of every horizontal layer (inputs left of j are cached)."""
        h = None
        for l, m in enumerate(self.layers):
            if l == 0:  # the first layer sees pixel j - 1 at most: write it before reading the window
                if j > 0:
                    h_in[0][:, 0, m.p + j] = self.to_input(x[:, i, j - 1])
                window = h_in[0][:, :, j:j + m.p + 1]  # (n, 1, p+1): columns j-p-1..j-1
            else:
                h_in[l][:, :, m.p + j] = h
                window = h_in[l][:, :, j:j + m.p + 1]  # (n, c, p+1): columns j-p..j
            pre = window.flatten(1) @ h_w[l].T + m.h_conv.bias + vh[l][:, :, j]  # (n, 2c)
            if h_bias[l] is not None:
                pre = pre + h_bias[l]
            out = F.linear(gate(pre), m.h_out.weight[:, :, 0, 0], m.h_out.bias)  # (n, c)
            h = out if m.first else h + out
        logits = self.head(h[:, :, None, None])[:, :, 0, 0]  # (n, out_channels)
        return logits[:, 0] if self.hps.output == "bernoulli" else logits

    def _finish_row(self, i, x, v_in, v_above, v_bias) -> None:
        """Row i of x is final: compute row i of every vertical layer from the p+1 rows ending at i."""
        for l, m in enumerate(self.layers):
            if l == 0:
                v_in[0][:, 0, i + m.p, m.p:m.p + x.shape[2]] = self.to_input(x[:, i])
            slab = v_in[l][:, :, i:i + m.p + 1]  # (n, C_in, p+1, W+2p): rows i-p..i
            pre = m.v_conv(slab)[:, :, 0]  # (n, 2c, W)
            if v_bias[l] is not None:
                pre = pre + v_bias[l][:, :, None]
            v_above[l] = pre
            if l + 1 < len(self.layers):
                nxt = self.layers[l + 1]
                v_in[l + 1][:, :, i + nxt.p, nxt.p:nxt.p + x.shape[2]] = gate(pre)


class MaskedPixelCNN(nn.Module):
    """The original PixelCNN's stack of masked convolutions (mask A, then mask B), one channel: the contrast for the
    blind-spot test (its receptive field misses pixels above-right that the gated stacks see)."""

    def __init__(self, n_layers: int = 4, n_filters: int = 8, kernel_size: int = 3):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(1 if i == 0 else n_filters, n_filters, kernel_size,
                                             padding=kernel_size // 2) for i in range(n_layers))
        self.out = nn.Conv2d(n_filters, 1, 1)
        k = kernel_size
        for i, conv in enumerate(self.convs):
            mask = torch.ones(k, k)
            mask[k // 2, k // 2 + (1 if i else 0):] = 0  # mask A excludes the centre, mask B keeps it
            mask[k // 2 + 1:] = 0
            self.register_buffer(f"mask{i}", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, H, W) -> logits (B, H, W)."""
        y = x[:, None]
        for i, conv in enumerate(self.convs):
            y = F.conv2d(y, conv.weight * getattr(self, f"mask{i}"), conv.bias, padding=conv.padding)
            y = torch.relu(y) if i + 1 < len(self.convs) else y
        return self.out(y)[:, 0]
