"""A canvas sequence (T, N, H, W) float in [0, 1] as an animated GIF: one grid per time step, looping."""

from __future__ import annotations

import os

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write
from sketchtool.formats.image_grid import check_grid_size, grid_picture

__all__ = ["write_frames"]


def write_frames(frames, path: str | os.PathLike, options=None) -> None:
    """Format-dispatch entry point for `.gif` (see `sketchtool.formats.FRAME_WRITERS`); the frame time is
    `options.extra["frame_ms"]` (100 ms by default) and the last frame holds 10 times as long. Each frame is
    the picture the PNG grid would be (`grid_picture`: --size and --dpi apply), and all frames together stay
    within one PNG's pixel limit."""
    a = np.asarray(frames, dtype=np.float32)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or not a.size:
        raise SketchtoolError(f"frames: expected a non-empty (T, N, H, W) array, got shape {a.shape}")
    extra = getattr(options, "extra", None) or {}
    frame_ms = int(extra.get("frame_ms", 100))
    if frame_ms <= 0:
        raise SketchtoolError(f"frame time {frame_ms} ms: give a positive number")
    check_grid_size(a.shape[1], a.shape[2:], options, path, frames=len(a))
    pages = [grid_picture(f, options, path) for f in a]
    durations = [frame_ms] * (len(pages) - 1) + [frame_ms * 10]
    with atomic_write(path) as f:
        pages[0].save(f, format="GIF", save_all=True, append_images=pages[1:], duration=durations, loop=0)
