"""The data spec: what a model was trained on (kind, classes, units or image shape, conditions, build settings).

It travels from dataset to checkpoint, so sampling, evaluation and the CLI learn everything they need about a
model's inputs and outputs from it, never from one model's hparams. Plain data (numpy-free), JSON-serialisable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from sketchtool.errors import SketchtoolError

__all__ = ["KINDS", "DataSpec"]

KINDS = ("strokes", "images")


@dataclass
class DataSpec:
    """`kind` "strokes": drawings in dataset units are divided by `scale_factor` for the model, and the model takes
    drawings of at most `max_length` points. `kind` "images": (H, W) = `image_shape`, values in [0, 1].
    `conditions` names the extra vectors a model is conditioned on and their sizes (e.g. {"view": 2}); `settings`
    are the dataset's build settings (so an SVG or image given to a trained model is read as its data was).
    `class_counts`: drawings or images of each class in the train split, so samples without a chosen class come
    in the data's proportions (empty in checkpoints made before it was recorded: uniform then)."""

    kind: str = "strokes"
    class_names: list[str] = field(default_factory=list)
    class_counts: list[int] = field(default_factory=list)
    scale_factor: float | None = None
    max_length: int | None = None
    image_shape: tuple[int, int] | None = None
    conditions: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)  # name, path, sha256 of the file trained on

    @property
    def num_classes(self) -> int:
        return max(1, len(self.class_names))

    def validate(self, where: str = "data spec") -> DataSpec:
        """Refuse a spec that would make outputs meaningless (NaN, zero or negative scale; unknown kind)."""
        if self.kind not in KINDS:
            raise SketchtoolError(f"{where}: unknown data kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        counts = self.class_counts
        if counts and (len(counts) != len(self.class_names) or min(counts) < 0 or sum(counts) == 0):
            raise SketchtoolError(f"{where}: its {len(counts)} class counts do not fit its {len(self.class_names)} "
                                  "class names (one count each, none negative, not all 0); the file is corrupt")
        if self.kind == "strokes":
            s = self.scale_factor
            if not isinstance(s, (int, float)) or isinstance(s, bool) or not math.isfinite(s) or s <= 0:
                raise SketchtoolError(f"{where}: scale factor {s!r} is not a positive number; the file is corrupt")
        if self.kind == "images":
            shape = self.image_shape
            if shape is None or len(shape) != 2 or any(int(v) < 1 for v in shape):
                raise SketchtoolError(f"{where}: image shape {shape!r} is not (height, width); the file is corrupt")
        return self

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["image_shape"] = None if self.image_shape is None else list(self.image_shape)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "data spec") -> DataSpec:
        try:
            spec = cls(
                kind=str(values.get("kind", "strokes")),
                class_names=[str(c) for c in values.get("class_names") or []],
                class_counts=[int(c) for c in values.get("class_counts") or []],
                scale_factor=None if values.get("scale_factor") is None else float(values["scale_factor"]),
                max_length=None if values.get("max_length") is None else int(values["max_length"]),
                image_shape=None if values.get("image_shape") is None else tuple(int(v) for v in values["image_shape"]),
                conditions={str(k): int(v) for k, v in (values.get("conditions") or {}).items()},
                settings=dict(values.get("settings") or {}),
                dataset=dict(values.get("dataset") or {}),
            )
        except (TypeError, ValueError, AttributeError) as e:
            raise SketchtoolError(f"{where}: unreadable data spec ({e})") from None
        return spec.validate(where)
