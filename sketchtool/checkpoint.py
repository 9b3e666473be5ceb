"""Checkpoints: atomic, self-describing files (model name, hparams, scale factor, classes, metrics) that load
with `torch.load(weights_only=True)`, so opening one never executes code; plus inference-only export."""

from __future__ import annotations

import dataclasses
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write

__all__ = [
    "FORMAT",
    "ModelInfo",
    "build_model",
    "export_model",
    "load_model",
    "read_checkpoint",
    "resolve_checkpoint",
    "save_checkpoint",
]

FORMAT = "sketchtool-checkpoint"
VERSION = 1


@dataclasses.dataclass
class ModelInfo:
    """What a model card or `models` listing needs; `metrics` holds e.g. {"valid": {"L_R": .., "L_KL": ..}}."""

    model: str
    hparams: dict[str, Any]
    scale_factor: float
    class_names: list[str]
    step: int
    dataset: dict[str, Any]
    metrics: dict[str, Any]
    path: str

    @property
    def num_classes(self) -> int:
        return max(1, len(self.class_names))


def save_checkpoint(path: str | os.PathLike, model, *, scale_factor: float, class_names: list[str], step: int,
                    dataset: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
                    training: dict[str, Any] | None = None) -> None:
    """Write atomically. `training` (optimizer, RNG states, options) is what `--resume` needs; an exported
    model leaves it out. Every value is a tensor or a plain Python container, so weights_only loading works."""
    import torch

    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.name,
        "hparams": model.hparams_dict(),
        "num_classes": model.num_classes,
        "scale_factor": float(scale_factor),
        "class_names": list(class_names),
        "step": int(step),
        "dataset": dict(dataset or {}),
        "metrics": dict(metrics or {}),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    if training is not None:
        payload["training"] = training
    with atomic_write(path) as f:
        torch.save(payload, f)


def resolve_checkpoint(ref: str | os.PathLike) -> Path:
    """A run directory -> its best checkpoint (else latest); a file -> itself."""
    path = Path(ref)
    if path.is_dir():
        for name in ("best.pt", "latest.pt"):
            if (path / name).is_file():
                return path / name
        raise SketchtoolError(f"{path}: not a training run (no best.pt or latest.pt); give a run directory or a .pt file")
    if not path.is_file():
        raise SketchtoolError(f"{path}: no such model file or run directory")
    return path


def read_checkpoint(ref: str | os.PathLike, device: str = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict, loaded with weights_only=True; a clear error for anything else."""
    import torch

    path = resolve_checkpoint(ref)
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SketchtoolError(f"{path}: not a readable sketchtool checkpoint ({first[:120]})", reason="corrupt") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SketchtoolError(f"{path}: not a sketchtool checkpoint; train one with `sketchtool train`", reason="corrupt")
    if int(payload.get("version", 0)) > VERSION:
        raise SketchtoolError(f"{path}: checkpoint format {payload['version']} is newer than this sketchtool; upgrade it")
    return payload


def _info(payload: dict[str, Any], path: Path) -> ModelInfo:
    return ModelInfo(
        model=payload["model"],
        hparams=dict(payload["hparams"]),
        scale_factor=float(payload["scale_factor"]),
        class_names=list(payload.get("class_names", [])),
        step=int(payload.get("step", 0)),
        dataset=dict(payload.get("dataset", {})),
        metrics=dict(payload.get("metrics", {})),
        path=str(path),
    )


def build_model(payload: dict[str, Any]):
    """Instantiate the registered model class from a checkpoint dict and load its weights (as float32)."""
    from sketchtool.models import get_model_class
    from sketchtool.models.base import hparams_from_dict

    cls = get_model_class(payload["model"])
    hps = hparams_from_dict(cls.HParams, payload["hparams"])
    model = cls(hps, num_classes=int(payload.get("num_classes", 1)))
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise SketchtoolError(f"checkpoint weights do not fit model {payload['model']!r} ({str(e).splitlines()[0]})",
                              reason="corrupt") from None
    return model


def load_model(ref: str | os.PathLike, device: str = "cpu"):
    """(model in eval mode on `device`, ModelInfo) from a run directory (best, else latest) or a checkpoint file."""
    path = resolve_checkpoint(ref)
    payload = read_checkpoint(path)
    model = build_model(payload).to(device).eval()
    return model, _info(payload, path)


def export_model(src: str | os.PathLike, dst: str | os.PathLike, *, half: bool = True,
                 metrics: dict[str, Any] | None = None) -> ModelInfo:
    """Inference-only copy of a checkpoint (no optimizer or RNG state), fp16 weights when `half`: what
    `sketchtool/pretrained/*.pt` holds. `load_model` reads it back as float32. `metrics` (e.g. {"test": {...}}
    from `sketchtool.train.evaluate`) are added to the stored ones, for model cards and `sketchtool models`."""
    import torch

    path = resolve_checkpoint(src)
    payload = read_checkpoint(path)
    payload.pop("training", None)
    payload["metrics"] = {**payload.get("metrics", {}), **(metrics or {})}
    if half:
        payload["state_dict"] = {k: (v.half() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()}
    with atomic_write(dst) as f:
        torch.save(payload, f)
    return _info(payload, Path(dst))
