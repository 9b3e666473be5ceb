"""The model interface every `sketchtool train` / sampling model implements, and hparam parsing.

A model is a `torch.nn.Module` registered by name (see `sketchtool.models`), built from an `HParams`
dataclass whose field names follow the reference implementation, so configs carry across.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import torch

from sketchtool.errors import SketchtoolError

__all__ = ["ProgressFn", "SketchModel", "hparams_from_dict", "parse_hparams"]

ProgressFn = Callable[[int, int], None]  # (done, total)


class SketchModel(torch.nn.Module):
    """Base class: `loss(batch)` for training, `encode` and batched `sample` for the sampling commands.

    Subclasses set `name`, `HParams` (a dataclass with defaults) and `output_kind` ("strokes" or "image"),
    and take `(hps, num_classes)` in their constructor.
    """

    name: ClassVar[str] = ""
    output_kind: ClassVar[str] = "strokes"
    HParams: ClassVar[type] = object

    def __init__(self, hps: Any, num_classes: int = 1):
        super().__init__()
        self.hps = hps
        self.num_classes = int(num_classes)

    @property
    def conditional(self) -> bool:
        """True when the model has an encoder (so encode / reconstruct / interpolate work)."""
        return bool(getattr(self.hps, "conditional", False))

    def forward(self, batch, **kwargs) -> dict[str, torch.Tensor]:  # so DistributedDataParallel can wrap the model
        return self.loss(batch, **kwargs)

    def loss(self, batch, **kwargs) -> dict[str, torch.Tensor]:
        """{"loss": scalar to minimise, plus named terms}; uses `self.training` for train/eval behaviour."""
        raise NotImplementedError

    def encode(self, strokes5: torch.Tensor, lengths: torch.Tensor, *, generator: torch.Generator | None = None,
               deterministic: bool = True) -> torch.Tensor:
        raise SketchtoolError(f"model {self.name!r} has no encoder; train it with conditional=True")

    def sample(self, n: int, **kwargs) -> list[np.ndarray]:
        """n normalised stroke-3 drawings, all advanced together. `sketchtool.sampling` passes temperature,
        greedy, z, labels, prefix, max_len, generator, on_progress and precision ("auto" or "float32": whether
        large batches may use the hardware's native bfloat16); see `SketchRNN.sample`."""
        raise NotImplementedError

    def hparams_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.hps)


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Convert a string (or JSON value) to the type of the field's default; a clear error otherwise."""
    kind = type(default)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    text = str(value).strip()
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            as_float = float(text)
            if as_float != int(as_float):
                raise ValueError
            return int(as_float)
        if kind is float:
            return float(text)
        if kind is list:
            return json.loads(text) if text.startswith("[") else [text]
        return text
    except ValueError:
        raise SketchtoolError(f"hparam {name}={value!r}: expected {kind.__name__}") from None


def hparams_from_dict(cls: type, values: Mapping[str, Any], base: Any = None) -> Any:
    """Build an `HParams` dataclass from `values` over `base` (or the defaults); unknown names are an error."""
    current = dataclasses.asdict(base) if base is not None else dataclasses.asdict(cls())
    fields = {f.name for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key not in fields:
            near = ", ".join(sorted(fields))
            raise SketchtoolError(f"unknown hparam {key!r}; known names: {near}")
        current[key] = _coerce(key, value, current[key])
    hps = cls(**current)
    check = getattr(hps, "validate", None)
    if check is not None:
        check()
    return hps


def parse_hparams(text: str) -> dict[str, str]:
    """'a=1,b=2' -> {'a': '1', 'b': '2'} (magenta's `--hparams` syntax); values are typed later."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise SketchtoolError(f"--hparams: {part!r} is not name=value (example: dec_model=layer_norm,z_size=64)")
        out[key.strip()] = value.strip()
    return out
