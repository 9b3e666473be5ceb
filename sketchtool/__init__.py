"""sketchtool: teach a model your own line drawings and get new ones back as clean vectors.

The public API is plain functions over stroke arrays, the ones the CLI calls (docs/python.md):
`import sketchtool as st; model, info = st.load_model("sheep"); st.generate(model, info, 8, st.SampleOptions())`.
They are imported on first use, so importing this package imports neither torch nor any other heavy library.
"""

from __future__ import annotations

import importlib

from sketchtool.errors import SketchtoolError

__version__ = "0.1.0"

_API = {  # public name -> the module that owns it (training is `sketchtool.train`'s: a function named like its
    # module cannot live here, since importing the module rebinds the name)
    **dict.fromkeys(["polylines_to_stroke3", "stroke3_to_polylines"], "sketchtool.strokes"),
    **dict.fromkeys(["read_drawings", "write_drawings", "write_images", "OutputOptions"], "sketchtool.formats"),
    **dict.fromkeys(["load_dataset", "save_dataset"], "sketchtool.formats.npz"),
    "StrokeDataset": "sketchtool.dataset",
    **dict.fromkeys(["build_dataset", "BuildOptions"], "sketchtool.build"),
    "load_model": "sketchtool.checkpoint",
    **dict.fromkeys(["SampleOptions", "generate", "complete", "interpolate", "analogy", "reconstruct", "encode"],
                    "sketchtool.sampling"),
}

__all__ = ["SketchtoolError", "__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'sketchtool' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
