"""Making image datasets: a stroke-3 dataset through the rasteriser (plainly, or as a turntable: every drawing at
K in-plane angles with random transforms, for the chairs generator), or a folder of PNG/JPG line drawings (grey,
polarity detected, fitted with aspect kept, labels by folder)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
import warnings
from pathlib import Path
from typing import BinaryIO, Callable, Sequence

import numpy as np

from sketchtool.dataset import SPLITS, StrokeDataset
from sketchtool.errors import SketchtoolError
from sketchtool.fileio import check_regular_file
from sketchtool.images import ImageDataset
from sketchtool.raster import RasterOptions, rasterize_batch

__all__ = ["Fitted", "decode_grey", "fit_picture", "images_from_folder", "images_from_strokes", "ink_of",
           "load_image_resized", "load_line_drawing", "read_grey", "turntable_from_strokes", "IMAGE_SUFFIXES",
           "MAX_PIXELS", "TRANSFORM_NAMES", "TRANSFORM_NEUTRAL"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
INK_THRESHOLD = 26 / 255  # fainter pixels (paper texture, JPEG noise) do not count when finding the drawing
MAX_PLAIN_SHRINK = 0.5  # line art scaled down less than 2x is fitted as it is; more, and its lines are kept strong
MAX_PIXELS = 50_000_000   # larger pictures are refused before decoding (Pillow's own bomb limit is higher)
# a turntable's transform vector: scale of the drawing, shift in half-canvas units, stroke width as a multiple of
# --line-width, brightness of the ink; neutral values and the uniform ranges drawn per image
TRANSFORM_NAMES = ("scale", "shift_x", "shift_y", "width", "brightness")
TRANSFORM_NEUTRAL = (1.0, 0.0, 0.0, 1.0, 1.0)
TRANSFORM_RANGES = ((0.7, 1.0), (-0.15, 0.15), (-0.15, 0.15), (0.7, 1.5), (0.6, 1.0))
_TURNTABLE_BOX = 1.2  # the canvas shows [-1.2, 1.2]^2: a unit-radius drawing scaled <= 1 and shifted <= 0.15 fits
_MASK_COVERAGE = 0.5  # a pixel is in the stroke mask when the stroke covers at least half of it


def images_from_strokes(dataset: StrokeDataset, options: RasterOptions, *, limit: int | None = None,
                        source: str = "", on_progress: Callable[[int, int], None] | None = None) -> ImageDataset:
    """Rasterise every drawing (the first `limit` of each split) into its split, keeping labels and class names."""
    splits, labels = {}, {}
    total = sum(len(dataset.splits[name][:limit]) for name in SPLITS)
    done = 0
    for name in SPLITS:
        drawings = dataset.splits[name][:limit]
        progress = (lambda k, _n, offset=done: on_progress(offset + k, total)) if on_progress else None
        splits[name] = rasterize_batch(drawings, options, dtype=np.uint8, on_progress=progress)
        done += len(drawings)
        labels[name] = dataset.labels_of(name)[:len(drawings)]
    meta = {"source": source, "source_kind": "strokes", "line_width": options.line_width,
            "padding": options.padding, "antialias": options.antialias, "limit": limit,
            "source_settings": dataset.settings}
    return ImageDataset(splits=splits, labels=labels, class_names=list(dataset.class_names), meta=meta)


def turntable_from_strokes(dataset: StrokeDataset, options: RasterOptions, views: int, *, limit: int | None = None,
                           seed: int = 0, source: str = "",
                           on_progress: Callable[[int, int], None] | None = None) -> ImageDataset:
    """Every drawing (the first `limit`, train split first) is one identity, drawn at `views` angles
    k * 360 / views degrees (clockwise on the image) about its centre, each with a random transform
    (`TRANSFORM_RANGES`, seeded). The angle decides the split for every identity alike: k = 1 mod 4 -> test,
    k = 3 mod 8 -> valid, the rest train, so valid and test hold angles never seen in training. Extras:
    "view" (N, 2) float32 [sin, cos], "transform" (N, 5) float32 (`TRANSFORM_NAMES`), "angle" (N,) float32
    degrees, "mask" (N, H, W) uint8 0/1 stroke mask; labels are the identities."""
    from sketchtool.strokes import stroke3_to_polylines

    if not 4 <= views <= 360:
        raise SketchtoolError(f"--turntable {views}: give 4 to 360 views (valid and test need unseen angles)")
    drawings = [d for name in SPLITS for d in dataset.splits[name]][:limit]
    shapes = [_unit_polylines(stroke3_to_polylines(np.asarray(d, dtype=np.float64))) for d in drawings]
    kept = [i for i, p in enumerate(shapes) if p]
    if not kept:
        raise SketchtoolError(f"{source or 'dataset'}: no drawing with ink to turn; nothing written")
    rng = np.random.default_rng(seed)
    lo, hi = np.array(TRANSFORM_RANGES).T
    items: dict[str, list] = {k: [] for k in ("image", "mask", "label", "view", "transform", "angle", "split")}
    total, done = len(kept) * views, 0
    for identity, index in enumerate(kept):
        for k in range(views):
            angle = 360.0 * k / views
            transform = lo + (hi - lo) * rng.random(len(lo))
            coverage = _turn(shapes[index], angle, transform, options)
            items["image"].append(np.round(coverage * transform[4] * 255).astype(np.uint8))
            items["mask"].append((coverage >= _MASK_COVERAGE).astype(np.uint8))
            theta = np.radians(angle)
            items["view"].append((np.sin(theta), np.cos(theta)))
            items["transform"].append(transform)
            items["angle"].append(angle)
            items["label"].append(identity)
            items["split"].append("test" if k % 4 == 1 else "valid" if k % 8 == 3 else "train")
            done += 1
            if on_progress:
                on_progress(done, total)
    split = np.array(items["split"])
    arrays = {"image": np.stack(items["image"]), "mask": np.stack(items["mask"]),
              "label": np.array(items["label"], dtype=np.int64),
              "view": np.array(items["view"], dtype=np.float32), "transform": np.array(items["transform"], np.float32),
              "angle": np.array(items["angle"], dtype=np.float32)}
    parts = {name: {k: a[split == name] for k, a in arrays.items()} for name in SPLITS}
    classes = dataset.class_names
    names = [f"{classes[0] if len(classes) == 1 else 'drawing'}-{i}" for i in range(len(kept))]
    meta = {"source": source, "source_kind": "turntable", "line_width": options.line_width,
            "padding": options.padding, "antialias": options.antialias, "limit": limit, "seed": seed,
            "source_settings": dataset.settings, "conditions": ["view", "transform"],
            "turntable": {"views": views, "transform_names": list(TRANSFORM_NAMES),
                          "transform_neutral": list(TRANSFORM_NEUTRAL),
                          "transform_ranges": [list(r) for r in TRANSFORM_RANGES],
                          "splits": "angle index k: k % 4 == 1 test, k % 8 == 3 valid, else train"}}
    return ImageDataset(splits={n: p["image"] for n, p in parts.items()},
                        labels={n: p["label"] for n, p in parts.items()}, class_names=names, meta=meta,
                        extras={x: {n: p[x] for n, p in parts.items()} for x in ("view", "transform", "angle", "mask")})


def _unit_polylines(polylines: list[np.ndarray]) -> list[np.ndarray]:
    """Centred on the bounding box and scaled so the farthest point is at radius 1 (any rotation then fits)."""
    points = np.concatenate(polylines) if polylines else np.zeros((0, 2))
    if not len(points) or not np.isfinite(points).all():
        return []
    centre = (points.min(0) + points.max(0)) / 2
    radius = np.linalg.norm(points - centre, axis=1).max()
    if radius == 0:
        return []
    return [(p - centre) / radius for p in polylines]


def _turn(polylines: list[np.ndarray], angle: float, transform: np.ndarray, options: RasterOptions) -> np.ndarray:
    """Coverage (H, W) float32 of the unit drawing rotated by `angle` degrees, then scaled, shifted, stroked."""
    from dataclasses import replace

    theta = np.radians(angle)
    rotation = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])  # y down: clockwise
    scale, shift, width = transform[0], transform[1:3], transform[3]
    moved = [scale * p @ rotation + shift for p in polylines]
    box = _TURNTABLE_BOX
    return rasterize_batch([moved], replace(options, line_width=options.line_width * width,
                                            view=(-box, -box, box, box)))[0]


def images_from_folder(folder: str | os.PathLike, *, size: int, padding: float, split: Sequence[float | int],
                       seed: int = 0, limit: int | None = None, line_width: float | None = None,
                       on_progress: Callable[[int, int], None] | None = None,
                       on_warning: Callable[[str], None] | None = None) -> ImageDataset:
    """Every PNG/JPG under `folder` (sorted, recursive) as one image; files directly in a sub-folder take its
    name as their class when there are two or more such folders. A seeded shuffle, stratified by class, splits
    them as `sketchtool.build.split_sizes` does (`on_warning` hears what it says, e.g. counts that leave pictures out);
    `limit` keeps the first files only; `line_width` keeps the lines of pictures scaled down more than 2x that many
    pixels wide at full ink (`fit_picture`; None: as box scaling leaves them). An unreadable file is an error."""
    from sketchtool.build import split_order, split_sizes

    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())[:limit]
    if not files:
        raise SketchtoolError(f"{folder}: no .png, .jpg or .jpeg files found")
    images = np.zeros((len(files), size, size), dtype=np.uint8)
    for i, path in enumerate(files):
        images[i] = load_line_drawing(path, size=size, padding=padding, line_width=line_width)
        if on_progress:
            on_progress(i + 1, len(files))
    inked = images.any(axis=(1, 2))  # blank paper is no drawing to learn (vectorize and build-dataset refuse it)
    if not inked.any():
        raise SketchtoolError(f"{folder}: no ink in any picture")
    if not inked.all():
        if on_warning:
            on_warning(f"left out {int((~inked).sum())} blank picture(s) with no ink, e.g. "
                       f"{files[int(np.argmin(inked))]}")
        images, files = images[inked], [f for f, keep in zip(files, inked) if keep]

    def class_of(path: Path) -> str:  # pictures directly in `folder` take its own name, not "."
        within = path.parent.relative_to(folder)
        return within.as_posix() if within.parts else Path(os.path.abspath(folder)).name

    classes = sorted({class_of(p) for p in files})
    class_names = classes if len(classes) > 1 else []
    labels = np.array([classes.index(class_of(p)) if class_names else 0 for p in files], dtype=np.int64)
    (n_train, n_valid, n_test), warning = split_sizes(len(files), split)
    if warning and on_warning:
        on_warning(warning.replace("usable drawings", "pictures"))
    order = split_order(labels, seed)
    parts = dict(zip(("valid", "test", "train"), np.split(order, np.cumsum([n_valid, n_test]))))
    parts["train"] = parts["train"][:n_train]
    meta = {"source": str(folder), "source_kind": "image folder", "padding": padding, "line_width": line_width,
            "split": list(split), "seed": seed, "limit": limit}
    return ImageDataset(splits={k: images[np.sort(v)] for k, v in parts.items()},
                        labels={k: labels[np.sort(v)] for k, v in parts.items()}, class_names=class_names, meta=meta)


def load_line_drawing(path: str | os.PathLike, *, size: int, padding: float,
                      line_width: float | None = None) -> np.ndarray:
    """One PNG/JPG -> uint8 (size, size), 255 = ink: transparency flattened onto white, grey, inverted when the
    background is light (the median pixel is the background in a line drawing), the ink's bounding box scaled
    with its aspect kept to size - 2 * padding and centred (`line_width`: as `fit_picture`). Refuses what
    `read_grey` refuses."""
    return _fit_image(_read_ink(path, invert=True), size, padding, line_width)


def load_image_resized(path: str | os.PathLike, shape: tuple[int, int], *, invert: bool = True) -> np.ndarray:
    """One PNG/JPG -> uint8 `shape` (H, W), read as `load_line_drawing` reads it (inverted to 255 = ink unless
    `invert` is False) but the whole picture scaled, never cropped: a drawing with a missing part (or a mask) keeps
    its place in the frame."""
    from PIL import Image

    ink = _read_ink(path, invert=invert)
    h, w = shape
    resample = Image.Resampling.BOX if ink.shape[0] >= h and ink.shape[1] >= w else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(ink).resize((w, h), resample), dtype=np.uint8)


def read_grey(path: str | os.PathLike) -> np.ndarray:
    """One PNG/JPG -> float32 (H, W) grey in [0, 1] as it shows on white paper: transparency flattened onto white,
    palette and colour to grey, 16-bit and float greys scaled (never clipped). Refuses non-images, pictures over
    MAX_PIXELS (read from the header, before decoding) and Pillow's decompression bombs with one clear line."""
    path = Path(path)
    check_regular_file(path)
    return decode_grey(path, name=str(path))


def decode_grey(source: str | os.PathLike | BinaryIO, *, name: str, max_pixels: int = MAX_PIXELS,
                formats: Sequence[str] | None = None) -> np.ndarray:
    """`read_grey` on an open binary file or a path, its refusals naming `name`: a picture over `max_pixels` (from
    the header, before decoding), a decompression bomb, a file that is no image of `formats` (Pillow's names,
    e.g. ("PNG", "JPEG"); None: any) or a truncated one. The reason is "unsafe" or "corrupt"."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source, formats=formats) as image:
                if image.width * image.height > max_pixels:
                    raise SketchtoolError(f"{name}: {image.width}x{image.height} pixels is more than "
                                          f"{max_pixels:,}; scale it down first", reason="unsafe")
                image.load()
                return _grey(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise SketchtoolError(f"{name}: image is larger than Pillow's decompression-bomb limit of "
                              f"{Image.MAX_IMAGE_PIXELS} pixels; not loaded", reason="unsafe") from None
    except SketchtoolError:
        raise
    except Image.UnidentifiedImageError:  # its text holds the repr of an in-memory file
        kind = " or ".join(formats) if formats else "PNG/JPG"
        raise SketchtoolError(f"{name}: unreadable image (not a {kind} picture)", reason="corrupt") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise SketchtoolError(f"{name}: unreadable image ({' '.join(str(e).split())[:100]})",
                              reason="corrupt") from None


def ink_of(grey: np.ndarray) -> np.ndarray:
    """Grey -> ink (1 = ink): inverted when the background is light (in a line drawing the median pixel is the
    background)."""
    return 1 - grey if np.median(grey) > 0.5 else grey


def _grey(image) -> np.ndarray:
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        return np.clip(values / top, 0, 1).astype(np.float32)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255


def _read_ink(path: str | os.PathLike, *, invert: bool) -> np.ndarray:
    """uint8 (H, W): 255 = ink when `invert` (polarity detected), else the grey as read."""
    grey = read_grey(path)
    return np.round((ink_of(grey) if invert else grey) * 255).astype(np.uint8)


def _fit_image(ink: np.ndarray, size: int, padding: float, line_width: float | None = None) -> np.ndarray:
    """uint8 ink (H, W) cropped to its drawing and fitted into (size, size), as uint8."""
    fitted = fit_picture(ink.astype(np.float32) / 255, size, padding, line_width=line_width)
    return np.round(fitted.canvas * 255).astype(np.uint8)


@dataclass
class Fitted:
    """A picture fitted to a square canvas: `canvas` (S, S) float32 ink in [0, 1]; a canvas pixel coordinate c maps
    to picture coordinate c / scale + origin; `size` = the picture's (width, height)."""

    canvas: np.ndarray
    scale: float
    origin: np.ndarray
    size: tuple[int, int]

    def to_picture(self, canvas_xy: np.ndarray) -> np.ndarray:
        return canvas_xy / self.scale + self.origin



def fit_picture(ink: np.ndarray, size: int, padding: float = 2.0, *, line_width: float | None = None) -> Fitted:
    """Crop `ink` (H, W) to its drawing and fit it into a (size, size) canvas with its aspect kept and centred.
    `line_width` (line art scaled down more than 2x): lines are kept that many canvas pixels wide at full ink
    (`_line_width`), so that a large scan's hairlines do not fade to a grey no tracer sees (a 2.5 px line of a
    1,200 px scan is 0.05 grey at 28 px)."""
    from PIL import Image

    h, w = ink.shape
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    if not len(rows):
        return Fitted(np.zeros((size, size), np.float32), 1.0, np.zeros(2), (w, h))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    ch, cw = crop.shape
    room = size - 2 * padding
    if room < 1:
        raise SketchtoolError(f"padding {padding:g} leaves no room in a {size}x{size} canvas")
    k = room / max(ch, cw)
    gain = 1.0
    if line_width is not None and k <= MAX_PLAIN_SHRINK:
        # a w px line box-scales to coverage w k; scaling spreads a speck of dust over its whole area and a line
        # only across its width, so strengthening the lines leaves dust faint
        inked = crop > INK_THRESHOLD
        gain = max(1.0, line_width / (_line_width(crop, inked) * k))
        if gain > 1:
            crop = np.where(inked, crop, 0)  # paper texture and JPEG noise are not lines to strengthen
    # the same scale k on both axes: each side rounds up to whole canvas pixels, and the source region grows to
    # match (zeros around the crop). Rounding each side to its own size instead stretched the short side: a
    # 1,000 x 3 px line became 112 x 1, and the strokes came back at half their length.
    new_w, new_h = max(1, math.ceil(cw * k - 1e-9)), max(1, math.ceil(ch * k - 1e-9))
    grow_x, grow_y = (new_w / k - cw) / 2, (new_h / k - ch) / 2
    margin = math.ceil(max(grow_x, grow_y))
    source = np.pad(crop.astype(np.float32), margin)
    box = (margin - grow_x, margin - grow_y, margin + cw + grow_x, margin + ch + grow_y)
    resample = Image.Resampling.BOX if k < 1 else Image.Resampling.BILINEAR
    scaled = np.asarray(Image.fromarray(source, mode="F").resize((new_w, new_h), resample, box=box)) * gain
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas = np.zeros((size, size), np.float32)
    canvas[top:top + new_h, left:left + new_w] = np.clip(scaled, 0, 1)
    origin = np.array([cols[0] - grow_x - left / k, rows[0] - grow_y - top / k])
    return Fitted(canvas, k, origin, (w, h))


def _line_width(ink: np.ndarray, inked: np.ndarray) -> float:
    """The pen width of line art, in pixels (at least 1): its ink (summed, so anti-aliased edges count as the
    part of a pixel they cover) over half the outline of the pixels above INK_THRESHOLD, exact for a long line.
    Measured also without the pixels that have fewer than 5 inked in their 3 x 3 neighbourhood (dust and JPEG
    specks, whose outlines would make every line look thin); the larger of the two, as a 1 px line has only 3.
    `inked` is `ink > INK_THRESHOLD`."""
    padded = np.pad(inked, 1).astype(np.uint8)
    h, w = inked.shape
    near = sum(padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1))

    def ink_over_half_outline(mask: np.ndarray) -> float:
        edged = np.pad(mask, 1)  # the crop's own border is outline too: a straight line fills its crop's width
        outline = np.count_nonzero(edged[1:] != edged[:-1]) + np.count_nonzero(edged[:, 1:] != edged[:, :-1])
        return 2 * float(ink[mask].sum()) / max(outline, 1)

    return max(1.0, ink_over_half_outline(inked), ink_over_half_outline(inked & (near >= 5)))
