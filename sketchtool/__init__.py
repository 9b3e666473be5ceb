"""sketchtool: teach a model your own line drawings and get new ones back as clean vectors.

The public API is plain functions over stroke arrays (see `sketchtool.strokes`); importing
this package imports neither torch nor any other heavy library.
"""

from sketchtool.errors import SketchtoolError

__all__ = ["SketchtoolError", "__version__"]
__version__ = "0.1.0"
