"""Checkpoints: atomic, self-describing files (model name, hparams, data spec, metrics, every optimiser) that load
with `torch.load(weights_only=True)`, so opening one never executes code; plus inference-only export.

Format 2 stores the `DataSpec`; format 1 files (scale factor and classes at the top level, Sketch-RNN only) still
load, as the same spec, and give the same drawings.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

from sketchtool.dataspec import DataSpec
from sketchtool.errors import SketchtoolError
from sketchtool.fileio import DAMAGED_ARCHIVE_ERRORS, atomic_write
from sketchtool.pretrained import EMBEDDED, resolve_model

__all__ = [
    "FORMAT",
    "VERSION",
    "ModelInfo",
    "average_checkpoints",
    "build_model",
    "export_model",
    "load_model",
    "load_weights",
    "read_checkpoint",
    "resolve_checkpoint",
    "save_checkpoint",
]

FORMAT = "sketchtool-checkpoint"
VERSION = 2


@dataclasses.dataclass
class ModelInfo:
    """What a model card, a listing or a sampling command needs; `metrics` holds e.g. {"valid": {"loss": ..}}."""

    model: str
    hparams: dict[str, Any]
    spec: DataSpec
    step: int
    metrics: dict[str, Any]
    path: str

    @property
    def scale_factor(self) -> float | None:
        return self.spec.scale_factor

    @property
    def class_names(self) -> list[str]:
        return self.spec.class_names

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    @property
    def dataset(self) -> dict[str, Any]:
        """The training data's name, path and fingerprint, with its build settings under "settings"."""
        return {**self.spec.dataset, "settings": self.spec.settings}


def save_checkpoint(path: str | os.PathLike, model, *, step: int, metrics: dict[str, Any] | None = None,
                    training: dict[str, Any] | None = None) -> None:
    """Write atomically (serialised in memory first, so a full disk is one clear error and the previous file
    stays). `training` (optimisers, RNG states) is what `--resume` needs; an exported model leaves it out.
    Every value is a tensor or a plain Python container, so weights_only loading works."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.name,
        "hparams": model.hparams_dict(),
        "spec": model.spec.to_dict(),
        "step": int(step),
        "metrics": dict(metrics or {}),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    if training is not None:
        payload["training"] = training
    _write(path, payload)


def _write(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_write(path) as f:
        f.write(buffer.getbuffer())


def resolve_checkpoint(ref: str | os.PathLike) -> Path:
    """A run directory -> its best checkpoint (else latest); a file -> itself; an embedded model's name ("sheep")
    -> its file, unless a run or checkpoint of that name exists (as `--model` resolves it)."""
    path = resolve_model(ref, "model") if str(ref) in EMBEDDED else Path(ref)
    if path.is_dir():
        for name in ("best.pt", "latest.pt"):
            if (path / name).is_file():
                return path / name
        raise SketchtoolError(f"{path}: not a training run (no best.pt or latest.pt); give a run directory or a .pt file")
    if not path.is_file():
        raise SketchtoolError(f"{path}: no such model file or run directory")
    return path


def read_checkpoint(ref: str | os.PathLike, device: str = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict, loaded with weights_only=True and checked; one clear error for anything else."""
    import torch

    path = resolve_checkpoint(ref)
    _refuse_dataset(path)
    _refuse_non_torch(path)
    try:
        with warnings.catch_warnings():  # torch warns about legacy (non-zip) pickles; we refuse them ourselves
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, ValueError, AttributeError, TypeError, KeyError, IndexError,
            MemoryError, OverflowError, *DAMAGED_ARCHIVE_ERRORS) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SketchtoolError(f"{path}: not a readable sketchtool checkpoint ({first[:120]})", reason="corrupt") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SketchtoolError(f"{path}: not a sketchtool checkpoint; train one with `sketchtool train`", reason="corrupt")
    _check_payload(payload, path)
    return payload


def _refuse_dataset(path: Path) -> None:
    """A dataset given where a model belongs gets told apart from a broken checkpoint (both are zip files)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (ValueError, *DAMAGED_ARCHIVE_ERRORS):
        return
    if names and all(n.endswith(".npy") for n in names):
        raise SketchtoolError(f"{path} is a dataset, not a model; train one with "
                              f"`sketchtool train {path} -o runs/NAME`, then name runs/NAME instead")


def _refuse_non_torch(path: Path) -> None:
    """A file torch.save did not write (a run's run.json, notes) is said to be one, not reported in torch's words
    ("101", or advice on torch 2.6's weights_only default)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return  # torch.load reports it
    if not (head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")):  # a zip archive; a legacy pickle
        raise SketchtoolError(f"{path}: not a readable sketchtool checkpoint (not a file torch.save wrote); give a "
                              "run directory or a .pt file from `sketchtool train`", reason="corrupt")


def _check_payload(payload: dict[str, Any], path: Path) -> None:
    import torch

    version = payload.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SketchtoolError(f"{path}: checkpoint format version {version!r} is not valid; the file is corrupt",
                              reason="corrupt")
    if version > VERSION:
        raise SketchtoolError(f"{path}: checkpoint format {version} is newer than this sketchtool; upgrade it")
    for key, kind in (("model", str), ("hparams", dict), ("state_dict", dict)):
        if not isinstance(payload.get(key), kind):
            raise SketchtoolError(f"{path}: checkpoint has no valid {key!r}; the file is corrupt", reason="corrupt")
    for name, value in payload["state_dict"].items():
        if not isinstance(value, torch.Tensor):
            raise SketchtoolError(f"{path}: weight {name!r} is not a tensor; the file is corrupt", reason="corrupt")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise SketchtoolError(f"{path}: weight {name!r} holds NaN or infinite values (a diverged run); use an "
                                  "earlier checkpoint", reason="corrupt")
    if not isinstance(payload.get("step", 0), int):
        raise SketchtoolError(f"{path}: checkpoint step is not a number; the file is corrupt", reason="corrupt")
    payload["spec"] = spec_of(payload, path).to_dict()


def spec_of(payload: dict[str, Any], path: str | os.PathLike = "checkpoint") -> DataSpec:
    """The data spec of a checkpoint dict; format 1 (Sketch-RNN) files carry its parts at the top level."""
    if "spec" in payload:
        if not isinstance(payload["spec"], dict):
            raise SketchtoolError(f"{path}: checkpoint data spec is not a mapping; the file is corrupt")
        return DataSpec.from_dict(payload["spec"], where=str(path))
    dataset = payload.get("dataset") if isinstance(payload.get("dataset"), dict) else {}
    scale = payload.get("scale_factor")
    if isinstance(scale, (int, float)) and not isinstance(scale, bool) and not math.isfinite(scale):
        scale = None
    max_len = payload["hparams"].get("max_seq_len")
    return DataSpec.from_dict({
        "kind": "strokes", "class_names": payload.get("class_names") or [], "scale_factor": scale,
        "max_length": max_len, "settings": dataset.get("settings") or {},
        "dataset": {k: v for k, v in dataset.items() if k != "settings"},
    }, where=str(path))


def _info(payload: dict[str, Any], path: Path) -> ModelInfo:
    return ModelInfo(
        model=payload["model"],
        hparams=dict(payload["hparams"]),
        spec=spec_of(payload, path),
        step=int(payload.get("step", 0)),
        metrics=dict(payload.get("metrics") or {}),
        path=str(path),
    )


def build_model(payload: dict[str, Any]):
    """Instantiate the registered model class from a checkpoint dict and load its weights (as float32)."""
    from sketchtool.models import get_model_class
    from sketchtool.models.base import hparams_from_dict

    cls = get_model_class(payload["model"])
    hps = hparams_from_dict(cls.HParams, payload["hparams"])
    model = cls.build(hps, spec_of(payload))
    load_weights(model, float32_weights(payload))
    return model


def float32_weights(payload: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's weights as float32 (exported models store fp16)."""
    return {k: (v.float() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()}


def load_weights(model, state: dict[str, Any]) -> None:
    """`load_state_dict` with a one-line error when the weights were saved by another shape of model."""
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as e:
        raise SketchtoolError(f"checkpoint weights do not fit model {model.name!r} "
                              f"({' '.join(str(e).split())[:160]})", reason="corrupt") from None


def load_model(ref: str | os.PathLike, device: str = "cpu"):
    """(model in eval mode on `device`, ModelInfo) from a run directory (best, else latest), a checkpoint file or
    an embedded model's name."""
    path = resolve_checkpoint(ref)
    payload = read_checkpoint(path)
    model = build_model(payload).to(device).eval()
    return model, _info(payload, path)


def average_checkpoints(srcs: list[str | os.PathLike], dst: str | os.PathLike) -> ModelInfo:
    """The element-wise mean of several checkpoints' weights, written as an inference-only checkpoint with the last
    one's model, hparams and step (Polyak averaging, as SWA does with snapshots). Snapshots taken along one run
    sample less erratically averaged than alone (docs/BENCHMARKS.md, issue 12). They must be one model's shape."""
    import torch

    if not srcs:
        raise SketchtoolError("give at least one checkpoint to average")
    payloads = [read_checkpoint(src) for src in srcs]
    last = payloads[-1]

    def shape(payload):
        return payload["model"], payload["hparams"], {k: v.shape for k, v in payload["state_dict"].items()}

    for src, payload in zip(srcs, payloads):
        if shape(payload) != shape(last):
            raise SketchtoolError(f"{src}: not the same model as {srcs[-1]} (model, hparams or weight shapes "
                                  f"differ); average snapshots of one run")
    state = {}
    for key, weight in last["state_dict"].items():
        if weight.is_floating_point():
            mean = torch.stack([p["state_dict"][key].float() for p in payloads]).mean(dim=0)
            state[key] = mean.to(weight.dtype)
        else:
            state[key] = weight
    steps = [int(p["step"]) for p in payloads]
    payload = {k: v for k, v in last.items() if k != "training"}
    payload.update(state_dict=state, metrics={"averaged_steps": steps})
    _write(dst, payload)
    return _info(payload, Path(dst))


def export_model(src: str | os.PathLike, dst: str | os.PathLike, *, half: bool = True,
                 metrics: dict[str, Any] | None = None) -> ModelInfo:
    """Inference-only copy of a checkpoint (no optimiser or RNG state), fp16 weights when `half`: what
    `sketchtool/pretrained/*.pt` holds. `load_model` reads it back as float32. `metrics` (e.g. {"test": {...}}
    from `sketchtool.train.evaluate`) are added to the stored ones, for model cards and `sketchtool models`."""
    path = resolve_checkpoint(src)
    payload = read_checkpoint(path)  # a format-1 file comes back with its spec: written out as format 2
    for legacy in ("training", "scale_factor", "class_names", "num_classes", "dataset"):
        payload.pop(legacy, None)
    payload["version"] = VERSION
    payload["metrics"] = {**payload.get("metrics", {}), **(metrics or {})}
    if half:
        payload["state_dict"] = {k: (v.half() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()}
    _write(dst, payload)
    return _info(payload, Path(dst))
