"""Images (N, H, W) float in [0, 1] as a PNG grid (dark ink on white, pixels enlarged without smoothing)
or as an image-dataset `.npz`."""

from __future__ import annotations

import math
import os

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write

__all__ = ["image_grid", "grid_scale", "grid_size", "check_grid_size", "grid_picture", "write_png_grid",
           "write_images_npz", "check_images"]


def check_images(images) -> np.ndarray:
    """(N, H, W) or (H, W) float -> float32 (N, H, W) clipped to [0, 1]; a clear error for anything else."""
    a = np.asarray(images, dtype=np.float32)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or not a.size:
        raise SketchtoolError(f"images: expected a non-empty (N, H, W) array, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise SketchtoolError("images hold NaN or infinite values")
    return np.clip(a, 0.0, 1.0)


def image_grid(images, cols: int | None = None, scale: int = 1, gap: int = 1) -> np.ndarray:
    """uint8 (rows * (H*scale + gap) - gap, ...) page, 255 = white paper, 0 = full ink, in row-major order."""
    a = check_images(images)
    n, h, w = a.shape
    cols, rows = _layout(n, cols)
    cell_h, cell_w = h * scale + gap, w * scale + gap
    page = np.full((rows * cell_h - gap, cols * cell_w - gap), 255, dtype=np.uint8)
    tiles = np.round((1.0 - a) * 255).astype(np.uint8).repeat(scale, axis=1).repeat(scale, axis=2)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        page[r * cell_h:r * cell_h + h * scale, c * cell_w:c * cell_w + w * scale] = tile
    return page


def grid_scale(options, width: int) -> int:
    """Whole-pixel enlargement that brings a cell near `options.cell` pixels (128 by default)."""
    return max(1, round(float(getattr(options, "cell", 128.0)) / max(1, width)))


def grid_size(n: int, shape: tuple[int, int], options) -> tuple[int, int]:
    """(width, height) in pixels of the picture `grid_picture` makes of n (H, W) images: known before they exist."""
    h, w = shape
    cols, rows = _layout(n, getattr(options, "cols", None))
    scale = grid_scale(options, w)
    page_w, page_h = cols * (w * scale + 1) - 1, rows * (h * scale + 1) - 1  # image_grid's gap of 1
    width_px, dpi = getattr(options, "png_width", None), getattr(options, "dpi", 96.0)
    factor = width_px / page_w if width_px else dpi / 96
    return max(1, round(page_w * factor)), max(1, round(page_h * factor))


def check_grid_size(n: int, shape: tuple[int, int], options, path, frames: int = 1) -> tuple[int, int]:
    """`grid_size`, once a grid (or `frames` of them, a GIF) too large to write is refused: before anything is
    drawn or sampled."""
    from sketchtool.formats.png import MAX_PIXELS, check_png_size

    width, height = grid_size(n, shape, options)
    check_png_size(width, height, path, remedy="use a smaller --size or --dpi")
    if frames * width * height > MAX_PIXELS:
        raise SketchtoolError(f"{path}: {frames} frames of {width:,} x {height:,} px are too many pixels "
                              f"(at most {MAX_PIXELS // 10**6:,} million in all); use a smaller --size or --dpi")
    return width, height


def write_png_grid(images, path: str | os.PathLike, options=None) -> None:
    """Format-dispatch entry point for `.png` (see `sketchtool.formats.IMAGE_WRITERS`)."""
    page = grid_picture(images, options, path)
    dpi = getattr(options, "dpi", 96.0)
    with atomic_write(path) as f:
        page.save(f, format="PNG", **({} if getattr(options, "png_width", None) else {"dpi": (dpi, dpi)}))


def grid_picture(images, options, path):
    """The grid as a greyscale PIL image at its output size: cells near `options.cell` pixels, then `--size`
    (`png_width`) or `--dpi` / 96 applied without smoothing, as drawings' PNGs take them; `path` names the
    file in the size-limit error. The PNG grid and each frame of the GIF are the same picture."""
    from PIL import Image

    a = check_images(images)
    width, height = check_grid_size(len(a), a.shape[1:], options, path)
    page = Image.fromarray(image_grid(a, cols=getattr(options, "cols", None), scale=grid_scale(options, a.shape[2])),
                           mode="L")
    return page if (width, height) == page.size else page.resize((width, height), Image.Resampling.NEAREST)


def _layout(n: int, cols: int | None) -> tuple[int, int]:
    """(cols, rows) of a grid of n cells: `cols` as asked (at most n), else near square."""
    cols = max(1, min(n, cols or math.ceil(math.sqrt(n))))
    return cols, math.ceil(n / cols)


def write_images_npz(images, path: str | os.PathLike, options=None) -> None:
    """Format-dispatch entry point for `.npz`: the images as the train split of an image dataset, with their
    classes if given."""
    from sketchtool.images import ImageDataset, save_image_dataset

    a = check_images(images)
    uint8 = np.round(a * 255).astype(np.uint8)
    labelled = options is not None and options.labelled
    save_image_dataset(path, ImageDataset(splits={"train": uint8}, meta={"source": "written images"},
                                          labels={"train": np.asarray(options.labels)} if labelled else {},
                                          class_names=list(options.class_names) if labelled else []))
