"""The judge: a small CNN that recognises which collection a drawing comes from, and whose penultimate layer is the
feature space `sketchtool score` measures distances in (the role Inception plays for FID on photographs).

Drawings reach it through THE rasteriser (28 x 28, the MNIST framing: a 20-pixel box centred in 28); images are
resized to 28 x 28. The shipped weights (`sketchtool/pretrained/judge.pt`) are trained by `examples/judge/`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from sketchtool.errors import SketchtoolError
from sketchtool.raster import RasterOptions

__all__ = ["SIDE", "RASTER", "FEATURES", "JudgeNet", "Judge", "TrainOptions", "prepare", "train_judge",
           "save_judge", "load_judge", "DEFAULT_JUDGE", "FORMAT"]

SIDE = 28
# padding 3 + half of a 2-pixel line leaves the 20-pixel box MNIST centres its digits in
RASTER = RasterOptions(size=(SIDE, SIDE), line_width=2.0, padding=3.0, antialias="fast")
_BOX = 20  # the side of the box drawings and images are fitted into
_INK = 0.1  # an image's pixels above this are ink when its bounding box is found
FEATURES = 64  # width of the feature layer the Fréchet distance and precision/recall use
FORMAT = "sketchtool-judge"
DEFAULT_JUDGE = Path(__file__).resolve().parent / "pretrained" / "judge.pt"


class JudgeNet(nn.Module):
    """Four 3x3 convolutions (28 -> 14 -> 7 -> 4 pixels) with batch norm, a 64-wide feature layer, a classifier."""

    def __init__(self, num_classes: int):
        super().__init__()
        chans = (1, 16, 32, 64, 64)
        layers = []
        for i, (c_in, c_out) in enumerate(zip(chans, chans[1:])):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU()]
        self.conv = nn.Sequential(*layers)
        self.feature = nn.Linear(64 * 4 * 4, FEATURES)
        self.classify = nn.Linear(FEATURES, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 1, 28, 28) -> (features (B, 64) before their ReLU, logits (B, C))."""
        h = self.conv(x).flatten(1)  # (B, 1024)
        f = self.feature(h)  # (B, 64)
        return f, self.classify(F.relu(f))


@dataclass
class Judge:
    """A loaded judge: `classes` name what it calls drawings ("sheep", "digit 3", ...); a class's collection is its
    first word, which recognition compares."""

    net: JudgeNet
    classes: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def collections(self) -> list[str]:
        return list(dict.fromkeys(c.split()[0] for c in self.classes))

    def collection_of(self, index: int) -> str:
        return self.classes[int(index)].split()[0]

    @torch.no_grad()
    def features(self, items, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """Drawings or images (see `prepare`) -> (features (N, 64) float64, predicted class (N,) int64)."""
        x = prepare(items)
        feats, classes = [], []
        for start in range(0, len(x), batch_size):
            f, logits = self.net(x[start:start + batch_size])
            feats.append(f.double())
            classes.append(logits.argmax(1))
        if not feats:
            return np.zeros((0, FEATURES)), np.zeros(0, dtype=np.int64)
        return torch.cat(feats).numpy(), torch.cat(classes).numpy()

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "classes": self.classes, "test_accuracy": self.metrics.get("test_accuracy")}


def prepare(items) -> torch.Tensor:
    """Stroke-3 drawings (a list of (n, 3) arrays, rasterised by `sketchtool.raster` with `RASTER`) or images
    ((N, H, W) floats in [0, 1] or uint8, 1.0/255 = ink; each cropped to its ink and fitted into the same
    20-pixel box, resized by area or bilinearly)
    -> (N, 1, 28, 28) float32."""
    if isinstance(items, np.ndarray) and items.ndim == 3:
        x = torch.from_numpy(np.ascontiguousarray(items)).float()
        if items.dtype == np.uint8:
            x = x / 255
        return torch.stack([_frame(image) for image in x.clamp(0, 1)])[:, None]  # (N, 1, 28, 28)
    from sketchtool.raster import rasterize_batch

    return torch.from_numpy(rasterize_batch(list(items), RASTER))[:, None]  # (N, 1, 28, 28)


def _frame(image: torch.Tensor) -> torch.Tensor:
    """(H, W) -> (28, 28): the ink's bounding box (pixels above `_INK`) resized with its aspect kept to fill the
    20-pixel box and centred, as the rasteriser fits a drawing (and as MNIST framed its digits)."""
    rows, cols = torch.nonzero(image > _INK, as_tuple=True)
    out = torch.zeros(SIDE, SIDE)
    if not len(rows):
        return out
    crop = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = crop.shape
    scale = _BOX / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    mode = "area" if scale < 1 else "bilinear"
    resized = F.interpolate(crop[None, None], size=size, mode=mode,
                            **({} if mode == "area" else {"align_corners": False}))[0, 0]
    top, left = (SIDE - size[0]) // 2, (SIDE - size[1]) // 2
    out[top:top + size[0], left:left + size[1]] = resized.clamp(0, 1)
    return out


@dataclass(frozen=True)
class TrainOptions:
    """The recipe: Adam, class-balanced batches, each image shifted by up to `shift` pixels."""

    steps: int = 3000
    batch_size: int = 128
    learning_rate: float = 2e-3
    shift: int = 2
    seed: int = 0


def train_judge(images: torch.Tensor, labels: np.ndarray, num_classes: int, options: TrainOptions = TrainOptions(),
                on_progress: Callable[[int, float], None] | None = None) -> JudgeNet:
    """Train a JudgeNet on images (N, 1, 28, 28) float and labels (N,) int; every class is drawn equally often, so
    a large collection does not drown a small one. Deterministic for `options.seed` on one thread."""
    generator = torch.Generator().manual_seed(options.seed)
    torch_labels = torch.as_tensor(labels, dtype=torch.long)
    counts = torch.bincount(torch_labels, minlength=num_classes).clamp(min=1).double()
    weights = 1.0 / counts[torch_labels]
    with torch.random.fork_rng():
        torch.manual_seed(options.seed)  # initial weights
        net = JudgeNet(num_classes)
    optimizer = torch.optim.Adam(net.parameters(), lr=options.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, options.steps)
    net.train()
    for step in range(options.steps):
        index = torch.multinomial(weights, options.batch_size, replacement=True, generator=generator)
        x = _shift(images[index], options.shift, generator)  # (B, 1, 28, 28)
        loss = F.cross_entropy(net(x)[1], torch_labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if on_progress is not None:
            on_progress(step + 1, loss.item())
    return net.eval()


def _shift(x: torch.Tensor, most: int, generator: torch.Generator) -> torch.Tensor:
    """Each image moved by a random whole number of pixels in [-most, most] on each axis (zeros come in)."""
    if most == 0:
        return x
    padded = F.pad(x, (most, most, most, most))
    dy, dx = torch.randint(0, 2 * most + 1, (2, len(x)), generator=generator)
    rows = (dy[:, None] + torch.arange(SIDE)[None, :])  # (B, 28)
    cols = (dx[:, None] + torch.arange(SIDE)[None, :])  # (B, 28)
    b = torch.arange(len(x))[:, None, None]
    return padded[b, 0, rows[:, :, None], cols[:, None, :]][:, None]  # (B, 1, 28, 28)


def save_judge(path: str | os.PathLike, net: JudgeNet, classes: Sequence[str], metrics: dict[str, Any]) -> None:
    """Write atomically a file of tensors and plain containers (loadable with weights_only=True), in half
    precision: the judge ships inside the package, and fp16 weights change its features by < 1e-3."""
    import io

    from sketchtool.fileio import atomic_write

    payload = {"format": FORMAT, "version": 1, "classes": list(classes), "metrics": dict(metrics),
               "raster": {"size": list(RASTER.size), "line_width": RASTER.line_width, "padding": RASTER.padding},
               "state_dict": {k: v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()
                              for k, v in net.state_dict().items()}}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_write(path) as f:
        f.write(buffer.getbuffer())


def load_judge(path: str | os.PathLike | None = None) -> Judge:
    """The shipped judge (or the file at `path`), loaded with weights_only=True, in float32 and eval mode."""
    path = Path(path) if path is not None else DEFAULT_JUDGE
    if not path.is_file():
        raise SketchtoolError(f"{path}: no judge weights; train them with examples/judge/ (see docs/score.md)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a torn or foreign file: one line, never its code
        raise SketchtoolError(f"{path}: not a judge file ({type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SketchtoolError(f"{path}: not a judge file (format {payload.get('format') if isinstance(payload, dict) else None!r})")
    net = JudgeNet(len(payload["classes"]))
    try:
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()})
    except (RuntimeError, KeyError) as e:
        raise SketchtoolError(f"{path}: judge weights do not fit the network ({str(e).splitlines()[0]})") from None
    return Judge(net=net.eval(), classes=list(payload["classes"]), metrics=dict(payload.get("metrics", {})),
                 path=str(path))
