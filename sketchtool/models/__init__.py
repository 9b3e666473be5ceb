"""The model registry: names -> model classes, imported lazily; third parties add models through the
`sketchtool.models` entry-point group (value "package.module:Class")."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from sketchtool.errors import SketchtoolError

__all__ = ["BUILTIN_MODELS", "available_models", "get_model_class"]

BUILTIN_MODELS: dict[str, str] = {
    "sketch-rnn": "sketchtool.models.sketch_rnn:SketchRNN",
    "draw": "sketchtool.models.draw:DRAW",
    "strokenet-renderer": "sketchtool.models.strokenet:StrokeRenderer",
    "strokenet-agent": "sketchtool.models.strokenet_agent:StrokeAgent",
    "gated-pixelcnn": "sketchtool.models.pixelcnn:GatedPixelCNN",
    "chairs": "sketchtool.models.chairs:Chairs",
    "gran": "sketchtool.models.gran:GRAN",
}


def _registry() -> dict[str, str]:
    found = dict(BUILTIN_MODELS)
    for ep in entry_points(group="sketchtool.models"):
        found.setdefault(ep.name, ep.value)
    return found


def available_models() -> list[str]:
    """Names accepted by `train --model` and stored in checkpoints."""
    return sorted(_registry())


def get_model_class(name: str) -> type:
    """The `SketchModel` subclass registered as `name` (imports torch)."""
    registry = _registry()
    if name not in registry:
        raise SketchtoolError(f"unknown model {name!r}; available: {', '.join(sorted(registry))}")
    module, _, attr = registry[name].partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise SketchtoolError(f"model {name!r} could not be loaded from {registry[name]} ({e})") from None
