"""The models a `sketchtool serve` page may use: the embedded ones and the runs found under the folder given at
start-up, each loaded once and shared by every request. A request names a model by its id, never by a path."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sketchtool.errors import SketchtoolError

__all__ = ["MAX_RUNS", "ServedModel", "Catalog", "load_catalog"]

MAX_RUNS = 64  # runs listed from --runs: a page with more is unreadable, and each one is loaded into memory
RUN_FILES = ("best.pt", "latest.pt")


@dataclass
class ServedModel:
    """One loaded model: `id` is what the page sends back ("sheep", "runs/mine"), `model` and `info` are what
    `sketchtool.checkpoint.load_model` returns."""

    id: str
    label: str
    source: str  # "embedded" or "run"
    model: Any
    info: Any

    def describe(self) -> dict[str, Any]:
        """What the page needs to offer the right panels and controls: kinds, capabilities, classes and, for a model
        that draws random latents, its default z temperature (null otherwise)."""
        return {"id": self.id, "label": self.label, "source": self.source,
                "input": self.model.input_kind, "output": self.model.output_kind,
                "capabilities": sorted(c for c in self.model.capabilities if self.can(c)),
                "classes": list(self.info.class_names),
                "image_shape": list(self.info.spec.image_shape or []) or None,
                "z_temperature": self.model.default_z_temperature}

    @property
    def draws(self) -> bool:
        """Whether the page can draw with it (the model menu lists only these; a vectorizer reads pictures)."""
        return any(self.can(c) for c in ("generate", "complete", "encode"))

    def can(self, capability: str) -> bool:
        """The model's capability as the page can use it: /api/generate sends no conditions, so a model that needs
        them (a chairs generator's identity and view) does not generate here."""
        return self.model.can(capability) and not (capability == "generate" and self.info.spec.conditions)


@dataclass
class Catalog:
    """Models by id, in the order the page lists them (the default first); `skipped` holds one line per run
    that could not be loaded (shown at start-up, never fatal)."""

    models: dict[str, ServedModel] = field(default_factory=dict)
    default: str | None = None
    skipped: list[str] = field(default_factory=list)

    def get(self, model_id: Any) -> ServedModel:
        if not isinstance(model_id, str) or model_id not in self.models:
            raise KeyError(model_id)
        return self.models[model_id]

    def can(self, capability: str) -> bool:
        """Whether any served model has `capability` (the page shows a panel only then)."""
        return any(m.can(capability) for m in self.models.values())


def load_catalog(default: str | None = None, runs: str | os.PathLike | None = None, *, device: str = "cpu",
                 on_skip: Callable[[str], None] | None = None) -> Catalog:
    """Load the embedded models, the model given as `default` (an embedded name, run directory or checkpoint,
    as `--model` takes it) and every run directly under `runs` (a folder holding best.pt or latest.pt, at most
    MAX_RUNS); a run that does not load is skipped with its reason. The default model must load."""
    from sketchtool.checkpoint import load_model
    from sketchtool.pretrained import DEFAULT_MODEL, EMBEDDED, embedded_models, resolve_model

    catalog = Catalog()
    wanted = default or DEFAULT_MODEL
    if wanted in EMBEDDED or not Path(wanted).exists():
        resolve_model(wanted)  # an unknown name or missing embedded model: its one-line error
    else:
        path = Path(wanted)
        model, info = load_model(resolve_model(path), device=device)
        model_id = f"model/{path.name or path.resolve().name}"
        catalog.models[model_id] = ServedModel(model_id, f"{path.name} (--model)", "run", model, info)
        catalog.default = model_id
    for embedded in embedded_models():  # the vectorizer too: the page's picture panel gives it pictures
        try:
            model, info = load_model(embedded.path, device=device)
        except SketchtoolError as e:
            _skip(catalog, f"embedded model {embedded.name}: {e}", on_skip)
            continue
        catalog.models[embedded.name] = ServedModel(embedded.name, f"{embedded.name} (embedded)", "embedded",
                                                    model, info)
    if catalog.default is None:
        if wanted not in catalog.models or not catalog.models[wanted].draws:  # the vectorizer, or one not loaded
            raise SketchtoolError(f"--model {wanted}: the page cannot draw with it; give a model that draws, "
                                  "e.g. sheep or kanji")
        catalog.default = wanted
    served = Path(wanted).resolve() if catalog.default.startswith("model/") else None
    for run in _run_dirs(runs, catalog, on_skip):
        if served in (run.resolve(), *(run.resolve() / name for name in RUN_FILES)):
            continue  # --model named it: listed once
        model_id = f"runs/{run.name}"
        try:
            model, info = load_model(run, device=device)
        except SketchtoolError as e:
            _skip(catalog, str(e), on_skip)
            continue
        catalog.models[model_id] = ServedModel(model_id, f"{run.name} (run)", "run", model, info)
    return catalog


def _run_dirs(runs, catalog: Catalog, on_skip) -> list[Path]:
    if runs is None:
        return []
    root = Path(runs)
    if not root.is_dir():
        raise SketchtoolError(f"--runs {root}: no such folder")
    found = [p for p in sorted(root.iterdir()) if p.is_dir() and any((p / f).is_file() for f in RUN_FILES)]
    if (root / "best.pt").is_file() or (root / "latest.pt").is_file():
        found.insert(0, root)  # --runs pointed at one run
    if len(found) > MAX_RUNS:
        _skip(catalog, f"--runs {root}: {len(found)} runs, listing the first {MAX_RUNS}", on_skip)
    return found[:MAX_RUNS]


def _skip(catalog: Catalog, line: str, on_skip) -> None:
    catalog.skipped.append(line)
    if on_skip is not None:
        on_skip(line)
