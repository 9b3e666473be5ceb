"""Image datasets: the pickle-free .npz, building from stroke datasets and image folders, image writers,
the MNIST recipe, and the `rasterize` / `info` / `show` commands on real files."""

from __future__ import annotations

import importlib.util
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import ROOT
from sketchtool.cli import cli
from sketchtool.dataset import StrokeDataset
from sketchtool.errors import SketchtoolError
from sketchtool.formats import OutputOptions, write_frames, write_images
from sketchtool.formats.npz import save_dataset
from sketchtool.image_build import MAX_PIXELS, images_from_folder, images_from_strokes, load_line_drawing
from sketchtool.images import (ImageDataset, dataset_kind, describe_image_dataset, load_any_dataset,
                               load_image_dataset, save_image_dataset, with_random_valid)
from sketchtool.raster import RasterOptions, rasterize_batch
from sketchtool.strokes import polylines_to_stroke3


def _small_dataset() -> ImageDataset:
    rng = np.random.default_rng(0)
    return ImageDataset(splits={"train": rng.integers(0, 256, (5, 6, 7), dtype=np.uint8),
                                "test": rng.integers(0, 256, (2, 6, 7), dtype=np.uint8)},
                        labels={"train": np.array([0, 1, 1, 0, 1]), "test": np.array([1, 0])},
                        class_names=["cat", "dog"], meta={"source": "unit test", "line_width": 1.5})


def _square(side: float) -> np.ndarray:
    return polylines_to_stroke3([np.array([[0, 0], [side, 0], [side, side], [0, side], [0, 0]], float)])


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height pixels: Pillow's bomb check fires before any pixel is inflated."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def test_save_and_load_round_trip_without_pickles(tmp_path):
    ds = _small_dataset()
    save_image_dataset(tmp_path / "d.npz", ds)
    back = load_image_dataset(tmp_path / "d.npz")
    for split in ("train", "valid", "test"):
        assert np.array_equal(back.splits[split], ds.splits[split]) and back.splits[split].dtype == np.uint8
        assert np.array_equal(back.labels[split], ds.labels_of(split)) and back.labels[split].dtype == np.int64
    assert back.splits["valid"].shape == (0, 6, 7)
    assert back.class_names == ["cat", "dog"] and back.image_shape == (6, 7)
    assert back.meta["kind"] == "images" and back.meta["image_shape"] == [6, 7] and back.meta["line_width"] == 1.5
    with np.load(tmp_path / "d.npz", allow_pickle=False) as raw:  # any numpy reads it, no pickle needed
        assert json.loads(str(raw["meta"]))["kind"] == "images"
        assert json.loads(str(raw["class_names"])) == ["cat", "dog"]
    assert back.images("train").dtype == np.float32 and back.images("train").max() <= 1.0


def test_a_pickled_member_is_refused_unread(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, meta=np.array(json.dumps({"kind": "images"})), train=np.array([object()], dtype=object))
    with pytest.raises(SketchtoolError, match="pickled objects") as info:
        load_image_dataset(path)
    assert info.value.reason == "unsafe"


def test_oversized_members_are_refused_before_inflating(tmp_path, monkeypatch):
    import sketchtool.images as images

    save_image_dataset(tmp_path / "d.npz", _small_dataset())
    monkeypatch.setattr(images, "MAX_TOTAL_BYTES", 100)
    with pytest.raises(SketchtoolError, match="more than"):
        load_image_dataset(tmp_path / "d.npz")


@pytest.mark.parametrize("change, phrase", [
    (lambda ds: ds.labels.update(train=np.array([0, 1])), "labels"),
    (lambda ds: ds.labels.update(test=np.array([0, 2])), "labels"),
    (lambda ds: ds.splits.update(test=np.zeros((2, 5, 5), np.uint8)), "shapes"),
])
def test_inconsistent_datasets_are_refused(tmp_path, change, phrase):
    ds = _small_dataset()
    change(ds)
    with pytest.raises(SketchtoolError, match=phrase):
        save_image_dataset(tmp_path / "d.npz", ds)
    assert not (tmp_path / "d.npz").exists()


def test_kind_is_told_from_the_file_and_the_right_loader_runs(tmp_path):
    save_image_dataset(tmp_path / "images.npz", _small_dataset())
    save_dataset(tmp_path / "strokes.npz", StrokeDataset(splits={"train": [_square(3).astype(np.int16)]}))
    assert dataset_kind(tmp_path / "images.npz") == "images"
    assert dataset_kind(tmp_path / "strokes.npz") == "strokes"
    assert isinstance(load_any_dataset(tmp_path / "images.npz"), ImageDataset)
    assert isinstance(load_any_dataset(tmp_path / "strokes.npz"), StrokeDataset)
    with pytest.raises(SketchtoolError, match="not an image dataset"):
        load_image_dataset(tmp_path / "strokes.npz")


def test_describe_counts_classes_and_ink():
    info = describe_image_dataset(_small_dataset())
    assert info["splits"] == {"train": 5, "valid": 0, "test": 2}
    assert info["classes"]["train"] == {"cat": 2, "dog": 3}
    assert info["ink"]["train"]["count"] == 5 and 0 < info["ink"]["train"]["mean"] < 1
    json.dumps(info)


def test_images_from_strokes_keep_splits_labels_and_the_rasteriser_s_pixels():
    drawings = [_square(s) for s in (1, 2, 3, 4)]
    strokes = StrokeDataset(splits={"train": drawings[:3], "test": drawings[3:]}, class_names=["a", "b"],
                            labels={"train": np.array([0, 1, 1]), "test": np.array([1])})
    options = RasterOptions(size=16, line_width=1.0)
    ds = images_from_strokes(strokes, options, limit=2, source="squares.npz")
    assert ds.counts() == {"train": 2, "valid": 0, "test": 1}
    assert list(ds.labels["train"]) == [0, 1] and ds.class_names == ["a", "b"]
    assert np.array_equal(ds.splits["train"], rasterize_batch(drawings[:2], options, dtype=np.uint8))
    assert ds.meta["line_width"] == 1.0 and ds.meta["source"] == "squares.npz"


def _draw(path: Path, box: tuple[int, int, int, int], size=(100, 60), ink="black", paper="white", mode="RGB"):
    from PIL import Image, ImageDraw

    image = Image.new(mode, size, paper)
    ImageDraw.Draw(image).rectangle(box, outline=ink, width=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def test_polarity_is_detected_and_the_ink_is_fitted_with_aspect_kept(tmp_path):
    _draw(tmp_path / "dark_on_light.png", (20, 10, 80, 40))
    _draw(tmp_path / "light_on_dark.png", (20, 10, 80, 40), ink="white", paper="black")
    _draw(tmp_path / "transparent.png", (20, 10, 80, 40), ink=(0, 0, 0, 255), paper=(0, 0, 0, 0), mode="RGBA")
    _draw(tmp_path / "16-bit.png", (20, 10, 80, 40), ink=1000, paper=65535, mode="I;16")  # dark grey, not white
    a, b, c, d = (load_line_drawing(tmp_path / n, size=32, padding=2)
                  for n in ("dark_on_light.png", "light_on_dark.png", "transparent.png", "16-bit.png"))
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert np.abs(a.astype(int) - d).max() <= 4
    assert a[0, 0] == 0 and a.max() == 255  # ink is 255 on a dark background
    rows, cols = np.flatnonzero(a.max(axis=1) > 0), np.flatnonzero(a.max(axis=0) > 0)
    assert cols[-1] - cols[0] + 1 == 28  # the 61-pixel-wide box fills 32 - 2 * 2
    assert rows[-1] - rows[0] + 1 == 15  # 31 px at the same scale: 14.2 rows, the partly inked ones counted


def test_folder_labels_by_sub_folder_and_a_seeded_split(tmp_path):
    for i in range(4):
        _draw(tmp_path / "src" / "circles" / f"{i}.png", (10 + i, 10, 60, 50))
        _draw(tmp_path / "src" / "boxes" / f"{i}.jpg", (5, 5 + i, 90, 30))
    ds = images_from_folder(tmp_path / "src", size=16, padding=1, split=(6, 1, 1), seed=3)
    assert ds.counts() == {"train": 6, "valid": 1, "test": 1} and ds.class_names == ["boxes", "circles"]
    assert sorted(np.concatenate(list(ds.labels.values())).tolist()) == [0] * 4 + [1] * 4
    again = images_from_folder(tmp_path / "src", size=16, padding=1, split=(6, 1, 1), seed=3)
    assert all(np.array_equal(ds.splits[k], again.splits[k]) for k in ds.splits)
    assert ds.meta["source_kind"] == "image folder"


def test_a_folder_leaves_blank_pictures_out_and_names_its_own_pictures_class(tmp_path):
    """Blank paper went in as empty training images; pictures directly in the folder made a class named "."."""
    from PIL import Image

    for i in range(2):
        _draw(tmp_path / "src" / "circles" / f"{i}.png", (10 + i, 10, 60, 50))
        _draw(tmp_path / "src" / f"{i}.png", (5, 5 + i, 90, 30))
    Image.new("L", (50, 50), 255).save(tmp_path / "src" / "circles" / "white.png")
    Image.new("L", (50, 50), 0).save(tmp_path / "src" / "black.png")
    warnings = []
    ds = images_from_folder(tmp_path / "src", size=16, padding=1, split=(4, 0, 0), on_warning=warnings.append)
    assert ds.counts()["train"] == 4 and ds.splits["train"].any(axis=(1, 2)).all()
    assert ds.class_names == ["circles", "src"]
    assert warnings == [f"left out 2 blank picture(s) with no ink, e.g. {tmp_path / 'src' / 'black.png'}"]
    for picture in (tmp_path / "src").rglob("*.png"):
        if picture.name[0].isdigit():
            picture.unlink()
    with pytest.raises(SketchtoolError, match="no ink in any picture"):
        images_from_folder(tmp_path / "src", size=16, padding=1, split=(1, 0, 0))


def test_decompression_bombs_and_broken_files_are_clear_errors(tmp_path):
    _png_header_only(tmp_path / "bomb.png", 30000, 30000)
    with pytest.raises(SketchtoolError, match="decompression-bomb limit") as info:
        load_line_drawing(tmp_path / "bomb.png", size=16, padding=1)
    assert info.value.reason == "unsafe"
    _png_header_only(tmp_path / "just_over.png", 10000, MAX_PIXELS // 10000 + 1)  # refused from its header
    with pytest.raises(SketchtoolError, match="more than 50,000,000; scale it down"):
        load_line_drawing(tmp_path / "just_over.png", size=16, padding=1)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(SketchtoolError, match="unreadable image"):
        load_line_drawing(tmp_path / "broken.png", size=16, padding=1)


def test_pixels_beyond_a_byte_and_empty_images_are_refused(tmp_path):
    """int16 pixels of 300 wrapped round to 44 without a word, and 0x0 images gave NaN statistics."""
    meta = np.array(json.dumps({"kind": "images"}))
    np.savez(tmp_path / "wide.npz", train=np.full((2, 4, 4), 300, np.int16), meta=meta)
    with pytest.raises(SketchtoolError, match="pixel values outside 0-255"):
        load_image_dataset(tmp_path / "wide.npz")
    np.savez(tmp_path / "empty.npz", train=np.zeros((2, 0, 0), np.uint8), meta=meta)
    with pytest.raises(SketchtoolError, match="at least 1x1 pixels"):
        load_image_dataset(tmp_path / "empty.npz")
    np.savez(tmp_path / "fine.npz", train=np.full((2, 4, 4), 255, np.int16), meta=meta)
    assert load_image_dataset(tmp_path / "fine.npz").splits["train"].max() == 255


def test_huge_images_are_refused_from_the_member_header(tmp_path):
    """A 12000x12000 image per split packs into a small file yet unpacks to gigabytes as float batches."""
    meta = np.array(json.dumps({"kind": "images"}))
    np.savez_compressed(tmp_path / "huge.npz", train=np.zeros((1, 12000, 12000), np.uint8), meta=meta)
    with pytest.raises(SketchtoolError, match="12000x12000 images, more than 16,777,216 pixels") as info:
        load_image_dataset(tmp_path / "huge.npz")
    assert info.value.reason == "corrupt"
    np.savez(tmp_path / "empty_huge.npz", train=np.zeros((0, 100000, 100000), np.uint8), meta=meta)
    with pytest.raises(SketchtoolError, match="more than 16,777,216 pixels"):
        load_image_dataset(tmp_path / "empty_huge.npz")
    with pytest.raises(SketchtoolError, match="the dataset holds 4096x4097 images"):
        save_image_dataset(tmp_path / "unloadable.npz", ImageDataset(splits={"train": np.zeros((0, 4097, 4096))}))
    assert not (tmp_path / "unloadable.npz").exists()
    np.savez(tmp_path / "at_cap.npz", train=np.zeros((0, 4096, 4096), np.uint8), meta=meta)
    assert load_image_dataset(tmp_path / "at_cap.npz").image_shape == (4096, 4096)


@pytest.mark.parametrize("image_shape", ["ab", [-1, 5], [3], [2.5, 4], [True, 4], [100000, 100000]])
def test_a_bad_image_shape_in_meta_of_a_dataset_without_splits_is_refused(tmp_path, image_shape):
    np.savez(tmp_path / "d.npz", meta=np.array(json.dumps({"kind": "images", "image_shape": image_shape})))
    with pytest.raises(SketchtoolError, match="meta image_shape") as info:
        load_image_dataset(tmp_path / "d.npz")
    assert info.value.reason == "corrupt"


def test_a_good_image_shape_in_meta_gives_empty_splits_of_that_shape(tmp_path):
    np.savez(tmp_path / "d.npz", meta=np.array(json.dumps({"kind": "images", "image_shape": [6, 7]})))
    ds = load_image_dataset(tmp_path / "d.npz")
    assert ds.image_shape == (6, 7) and ds.counts() == {"train": 0, "valid": 0, "test": 0}


def test_extras_that_are_single_values_or_differ_in_row_shape_are_refused(tmp_path):
    meta = np.array(json.dumps({"kind": "images", "extras": ["view"]}))
    images = np.zeros((3, 4, 4), np.uint8)
    np.savez(tmp_path / "scalar.npz", train=images, meta=meta, **{"train.view": np.float32(1.0)})
    with pytest.raises(SketchtoolError, match="extra 'view' of split 'train' is not finite numbers"):
        load_image_dataset(tmp_path / "scalar.npz")
    np.savez(tmp_path / "rows.npz", train=images, test=images[:2], meta=meta,
             **{"train.view": np.zeros((3, 2)), "test.view": np.zeros((2, 3))})
    with pytest.raises(SketchtoolError, match="extra 'view' has rows of different shapes across splits") as info:
        load_image_dataset(tmp_path / "rows.npz")
    assert info.value.reason == "corrupt"


def test_png_grid_shows_each_image_dark_on_white(tmp_path):
    from PIL import Image

    images = np.zeros((3, 4, 5), dtype=np.float32)
    images[1, 2, 3] = 1.0
    write_images(tmp_path / "g.png", images, OutputOptions(cols=2, cell=10))  # cell 10 px: scale 2
    page = np.asarray(Image.open(tmp_path / "g.png"))
    assert page.shape == (2 * 8 + 1, 2 * 10 + 1)
    assert page.min() == 0 and (page == 0).sum() == 4  # one ink pixel, enlarged 2x2
    assert page[4, 10 + 1 + 6] == 0 and page[0, 0] == 255


@pytest.mark.parametrize("n, shape, fields", [(1, (8, 8), {}), (7, (6, 9), {"cols": 3}), (100, (28, 28), {}),
                                               (5, (16, 16), {"png_width": 333}), (12, (5, 7), {"dpi": 250.0})])
def test_grid_size_is_the_size_of_the_picture_before_any_image_exists(n, shape, fields):
    from sketchtool.formats.image_grid import grid_picture, grid_size

    options = OutputOptions(**fields)
    assert grid_size(n, shape, options) == grid_picture(np.zeros((n, *shape)), options, "x.png").size


def test_png_grid_takes_size_and_dpi_as_drawing_pngs_do(tmp_path):
    """--size and --dpi reached drawings' PNGs only; an image grid ignored them without a word."""
    from PIL import Image

    images = np.zeros((3, 4, 5), dtype=np.float32)
    images[1, 2, 3] = 1.0
    write_images(tmp_path / "w.png", images, OutputOptions(cols=2, cell=10, png_width=84))  # 21 px wide, x4
    page = np.asarray(Image.open(tmp_path / "w.png"))
    assert page.shape == (68, 84) and (page == 0).sum() == 4 * 4 * 4  # the ink pixel, still sharp
    write_images(tmp_path / "d.png", images, OutputOptions(cols=2, cell=10, dpi=48))  # half of 96
    assert Image.open(tmp_path / "d.png").size == (10, 8)  # 21 x 17, halved and rounded
    with pytest.raises(SketchtoolError, match="too large"):
        write_images(tmp_path / "huge.png", images, OutputOptions(cols=2, cell=10, png_width=32_000))
    assert not (tmp_path / "huge.png").exists()


def test_images_npz_and_gif_frames_round_trip(tmp_path):
    from PIL import Image, ImageSequence

    images = np.linspace(0, 1, 2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    write_images(tmp_path / "i.npz", images)
    back = load_image_dataset(tmp_path / "i.npz")
    assert np.array_equal(back.splits["train"], np.round(images * 255).astype(np.uint8))
    frames = np.stack([images * t for t in (0.0, 0.5, 1.0)])  # (T=3, N=2, 3, 3)
    write_frames(tmp_path / "f.gif", frames, OutputOptions(extra={"frame_ms": 50}))
    with Image.open(tmp_path / "f.gif") as gif:
        pages = [np.asarray(p.convert("L")) for p in ImageSequence.Iterator(gif)]
    assert len(pages) == 3 and pages[0].min() == 255 and pages[2].min() == 0
    with pytest.raises(SketchtoolError, match="unknown output format"):
        write_images(tmp_path / "i.svg", images)
    with pytest.raises(SketchtoolError, match="NaN"):
        write_images(tmp_path / "n.png", np.full((1, 2, 2), np.nan))


def _mnist_module():
    spec = importlib.util.spec_from_file_location("make_mnist", ROOT / "examples" / "mnist" / "make_mnist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mnist_recipe_makes_a_fixed_split_and_binarised_test_set(tmp_path):
    make_mnist = _mnist_module()
    package = tmp_path / "package"
    (package / "src" / "digits").mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "mnist", "version": "1.1.0"}))
    rng = np.random.default_rng(0)
    for digit in range(10):  # 10 fake digits per class in the package's JSON layout
        values = np.round(rng.random((10, 784)) * (rng.random((10, 784)) < 0.2), 3)
        (package / "src" / "digits" / f"{digit}.json").write_text(json.dumps({"data": values.ravel().tolist()}))
    ds = make_mnist.build_mnist(package)
    assert ds.counts() == {"train": 80, "valid": 0, "test": 20} and ds.image_shape == (28, 28)
    assert set(np.unique(ds.splits["test"])) <= {0, 255} and len(np.unique(ds.splits["train"])) > 2
    assert np.array_equal(make_mnist.build_mnist(package).splits["test"], ds.splits["test"])  # fixed seeds
    assert ds.class_names == [str(d) for d in range(10)] and ds.meta["test"]["binarised"]
    assert make_mnist.main([str(package), "-o", str(tmp_path / "m.npz")]) == 0
    held = make_mnist.build_mnist(package, valid=30)  # a random subset of train, not the first (all 0s)
    assert held.counts() == {"train": 50, "valid": 30, "test": 20}
    assert len(set(held.labels["valid"].tolist())) > 5
    pooled = np.concatenate([held.splits["train"], held.splits["valid"]])
    assert sorted(map(bytes, pooled)) == sorted(map(bytes, ds.splits["train"]))  # the same digits, split
    assert np.array_equal(held.splits["test"], ds.splits["test"])
    assert make_mnist.main([str(package), "-o", str(tmp_path / "v.npz"), "--valid", "80"]) == 1  # nothing left
    no_valid = CliRunner().invoke(cli, ["train", str(tmp_path / "m.npz"), "-o", str(tmp_path / "run"),
                                        "--model", "gated-pixelcnn", "--steps", "1"])
    assert no_valid.exit_code == 1 and "make_mnist.py --valid 1000" in no_valid.output  # the remedy for images
    assert not (tmp_path / "run").exists()
    (package / "package.json").write_text(json.dumps({"version": "1.0.0"}))
    with pytest.raises(SketchtoolError, match="1.1.0"):
        make_mnist.build_mnist(package)


def test_a_random_valid_split_keeps_images_labels_and_extras_together():
    images = np.arange(20, dtype=np.uint8)[:, None, None].repeat(4, 1).repeat(4, 2)  # image k is all k
    ds = ImageDataset(splits={"train": images}, labels={"train": np.arange(20) % 5}, class_names=list("abcde"),
                      extras={"view": {"train": np.arange(20.0)[:, None]}})
    held = with_random_valid(ds, 6, seed=3)
    assert held.counts() == {"train": 14, "valid": 6, "test": 0}
    assert held.splits["valid"][:, 0, 0].tolist() != list(range(6))  # random, not the first six
    for split in ("train", "valid"):
        ids = held.splits[split][:, 0, 0]
        assert (np.diff(ids.astype(int)) > 0).all()  # the train order is kept
        assert np.array_equal(held.labels_of(split), ids % 5)
        assert np.array_equal(held.extras["view"][split][:, 0], ids)
    assert np.array_equal(with_random_valid(ds, 6, seed=3).splits["valid"], held.splits["valid"])


def test_sklearn_digits_fixture_is_a_loadable_image_dataset(digits_npz):
    ds = load_any_dataset(digits_npz)
    assert isinstance(ds, ImageDataset) and ds.image_shape == (8, 8) and ds.num_classes == 10
    assert ds.counts() == {"train": 1437, "valid": 180, "test": 180}
    assert set(np.unique(ds.labels["train"])) == set(range(10))


def test_rasterize_info_and_show_on_real_sheep(sheep_path, tmp_path):
    from PIL import Image

    out = tmp_path / "sheep32.npz"
    result = CliRunner().invoke(cli, ["rasterize", str(sheep_path), "-o", str(out), "--size", "32", "--limit", "50",
                                      "--line-width", "1"])
    assert result.exit_code == 0, result.output
    assert "train 50, valid 50, test 50 images of 32x32" in result.output
    ds = load_image_dataset(out)
    assert ds.meta["source"] == "aaron_sheep.npz" and ds.meta["line_width"] == 1.0
    info = CliRunner().invoke(cli, ["info", str(out)])
    assert info.exit_code == 0 and "images of 32x32" in info.output and "ink per image" in info.output
    show = CliRunner().invoke(cli, ["show", str(out), "-o", str(tmp_path / "p.png"), "--n", "9", "--size", "200"])
    assert show.exit_code == 0 and Image.open(tmp_path / "p.png").size[0] == 200
    again = CliRunner().invoke(cli, ["rasterize", str(out), "-o", str(tmp_path / "again.npz")])
    assert again.exit_code != 0 and "already an image dataset" in again.output
    wrong_size = CliRunner().invoke(cli, ["eval", "vectorizer", "--dataset", str(out)])  # was an internal error
    assert wrong_size.exit_code == 1 and "holds 32x32 images; the model reads 28x28" in wrong_size.output
    as_strokes = CliRunner().invoke(cli, ["plot", f"{out}:test", "-o", str(tmp_path / "p.gcode")])
    assert as_strokes.exit_code == 1 and "an image dataset; this reads drawings" in as_strokes.output


def test_rasterize_on_a_folder_and_without_torch(tmp_path):
    for i in range(3):
        _draw(tmp_path / "src" / f"{i}.png", (10, 10, 50 + 10 * i, 50))
    out = tmp_path / "f.npz"
    code = ("import sys\nfrom sketchtool.cli import cli\n"
            f"cli(['rasterize', {str(tmp_path / 'src')!r}, '-o', {str(out)!r}, '--size', '16', '--split', '1,1,1'],"
            " standalone_mode=False)\nprint('torch' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip().splitlines()[-1] == "False"
    assert load_image_dataset(out).counts() == {"train": 1, "valid": 1, "test": 1}


def test_rasterize_says_what_a_split_leaves_out_and_refuses_options_that_cannot_apply(sheep_path, tmp_path):
    """Counts that left pictures out dropped them without a word; --split on a stroke dataset did nothing."""
    for i in range(4):
        _draw(tmp_path / "src" / f"{i}.png", (10, 10, 50 + 10 * i, 50))
    result = CliRunner().invoke(cli, ["rasterize", str(tmp_path / "src"), "-o", str(tmp_path / "f.npz"), "--size",
                                      "16", "--split", "0,0,1"])
    assert result.exit_code == 0 and "Warning: --split counts leave 3 pictures out" in result.output
    for source, args, message in [(sheep_path, ["--split", "1,1,1"], "--split is for a folder of pictures"),
                                  (sheep_path, ["--seed", "3"], "--seed is for a folder's shuffle"),
                                  (tmp_path / "src", ["--turntable", "4"], "--turntable is for a stroke-3 dataset"),
                                  (tmp_path / "src", ["--antialias", "none"], "--antialias is for a stroke-3 dataset"),
                                  (tmp_path / "src" / "0.png", [], "one picture; rasterize reads a folder")]:
        result = CliRunner().invoke(cli, ["rasterize", str(source), "-o", str(tmp_path / "x.npz"), *args])
        assert result.exit_code == 1 and message in result.output, result.output
    assert not (tmp_path / "x.npz").exists()


def test_rasterize_keeps_a_large_scans_thin_lines_strong_when_given_a_line_width(tmp_path):
    """A 2.5 px line of a 1,200 px scan box-scales to a faint grey at 28 px, as the picture has it; with
    --line-width it comes out at full ink, and the width is recorded."""
    from PIL import Image

    from sketchtool.raster import rasterize

    ink = rasterize(np.array([[100, 100], [1100, 1100], [1100, 100]], float), size=(1200, 1200),
                    view=(0, 0, 1200, 1200), padding=0, line_width=2.5)
    (tmp_path / "src").mkdir()
    Image.fromarray(np.round(255 - ink * 255).astype(np.uint8)).save(tmp_path / "src" / "scan.png")
    peaks = {}
    for name, args in (("plain", []), ("strong", ["--line-width", "1.5"])):
        out = tmp_path / f"{name}.npz"
        result = CliRunner().invoke(cli, ["rasterize", str(tmp_path / "src"), "-o", str(out), "--size", "28",
                                          "--split", "1,0,0", *args])
        assert result.exit_code == 0, result.output
        data = load_image_dataset(out)
        peaks[name] = int(data.splits["train"][0].max())
        assert data.meta["line_width"] == (1.5 if args else None)
    assert peaks["plain"] < 64 and peaks["strong"] == 255, peaks


def test_show_of_an_image_dataset_to_npz_keeps_the_classes(digits_npz, tmp_path):
    out = tmp_path / "threes.npz"
    result = CliRunner().invoke(cli, ["show", str(digits_npz), "-o", str(out), "--class", "3", "--n", "4"])
    assert result.exit_code == 0, result.output
    shown, source = load_image_dataset(out), load_image_dataset(digits_npz)
    assert shown.class_names == source.class_names and list(shown.labels_of("train")) == [3] * 4
    threes = source.splits["train"][source.labels_of("train") == 3]
    assert all(any((image == t).all() for t in threes) for image in shown.splits["train"])
    from PIL import Image

    grid = tmp_path / "threes.png"
    result = CliRunner().invoke(cli, ["show", str(digits_npz), "-o", str(grid), "--n", "4", "--dpi", "192"])
    assert result.exit_code == 0, result.output
    with Image.open(grid) as image:
        assert image.info["dpi"] == pytest.approx((192, 192), abs=0.03)  # the resolution asked for is recorded


def test_an_image_dataset_zip_bomb_is_refused_before_inflating(tmp_path):
    """Stroke datasets refused a member unpacking to 100x its size; image datasets did not (2 MB -> 2 GB)."""
    from sketchtool.images import ImageDataset, save_image_dataset

    path = tmp_path / "bomb.npz"
    save_image_dataset(path, ImageDataset(splits={"train": np.zeros((5000, 64, 64), dtype=np.uint8)}))
    assert path.stat().st_size < 200_000  # 20 MB of blank pictures
    with pytest.raises(SketchtoolError, match="more than 100x\\); refusing a likely zip bomb"):
        load_image_dataset(path)
