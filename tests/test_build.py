"""build_dataset / prepare.svg_to_stroke3: SVG files become normalised int16 stroke-3 drawings, deduplicated and split."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from sketchtool.build import (
    BuildOptions,
    build_dataset,
    discover_svgs,
    parse_split,
    split_order,
    split_sizes,
)
from sketchtool.errors import SketchtoolError
from sketchtool.prepare import read_normalized_svg, svg_to_stroke3
from sketchtool.strokes import stroke3_to_polylines

KANJIVG = Path(__file__).parent / "fixtures" / "svg" / "kanjivg"

# a corner from (10,10) over (60,10) to (60,60), then a zero-length <line> at (80,80): bounds 70 wide
CORNER_AND_DOT = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
<path d="M10 10 L60 10 L60 60" stroke="black" fill="none"/>
<line x1="80" y1="80" x2="80" y2="80" stroke="black" stroke-linecap="round"/></svg>"""


def svg(body: str, view: str = "0 0 100 100") -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{view}">{body}</svg>'


def line(x1, y1, x2, y2) -> str:
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="black"/>'


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def zigzag(teeth: int) -> str:
    points = " ".join(f"{i * 100 / teeth:.3f},{0 if i % 2 else 100}" for i in range(teeth + 1))
    return svg(f'<polyline points="{points}" stroke="black" fill="none"/>')


def distinct_drawings(folder: Path, n: int, prefix: str = "d", start: int = 0) -> list[Path]:
    """n drawings that differ after normalisation (a corner whose second leg grows)."""
    return [write(folder, f"{prefix}{i:03d}.svg", svg(line(0, 0, 100, 0) + line(100, 0, 100, 5 + start + i)))
            for i in range(n)]


def test_svg_to_stroke3_normalises_to_the_size_box_and_keeps_the_dot(tmp_path):
    s3 = svg_to_stroke3(write(tmp_path, "c.svg", CORNER_AND_DOT))
    # scale 256/70: 50 units -> 182.86 -> 183; the dot sits at the far corner (256, 256)
    np.testing.assert_array_equal(s3, [[0, 0, 0], [183, 0, 0], [0, 183, 1], [73, 73, 1]])
    assert s3.dtype == np.int16


def test_transform_maps_the_normalised_drawing_back_to_svg_units(tmp_path):
    result = read_normalized_svg(write(tmp_path, "c.svg", CORNER_AND_DOT))
    assert result.origin == (10.0, 10.0) and result.scale == pytest.approx(256 / 70)
    assert result.viewbox == (0, 0, 100, 100) and result.width is None
    back = result.to_source(stroke3_to_polylines(result.stroke3))
    np.testing.assert_allclose(back[0], [[10, 10], [60, 10], [60, 60]], atol=0.5 / result.scale)
    np.testing.assert_allclose(back[1], [[80, 80]], atol=0.5 / result.scale)


def test_keep_units_keeps_svg_user_units(tmp_path):
    s3 = svg_to_stroke3(write(tmp_path, "c.svg", CORNER_AND_DOT), keep_units=True)
    np.testing.assert_array_equal(s3, [[0, 0, 0], [50, 0, 0], [0, 50, 1], [20, 20, 1]])


def test_document_order_is_stroke_order(tmp_path):
    # the bottom stroke comes first in the file, so it must come first in the drawing
    s3 = svg_to_stroke3(write(tmp_path, "o.svg", svg(line(0, 100, 100, 100) + line(0, 0, 100, 0))))
    first, second = stroke3_to_polylines(s3)
    assert first[0, 1] == 256 and second[0, 1] == 0


def test_epsilon_simplifies_and_zero_keeps_every_flattened_point(tmp_path):
    path = write(tmp_path, "circle.svg", svg('<circle cx="50" cy="50" r="40" stroke="black" fill="none"/>'))
    coarse, fine, exact = (len(svg_to_stroke3(path, epsilon=e)) for e in (8.0, 2.0, 0.0))
    assert 4 <= coarse < fine < exact


def test_too_long_drawings_are_refused_or_resimplified(tmp_path):
    path = write(tmp_path, "zz.svg", zigzag(60))  # 61 sharp corners: RDP cannot drop any at epsilon 2
    with pytest.raises(SketchtoolError, match="more than --max-seq-len 40") as e:
        svg_to_stroke3(path, max_seq_len=40)
    assert e.value.reason == "too-long"
    result = read_normalized_svg(path, max_seq_len=40, adaptive=True)
    assert len(result.stroke3) <= 40 and result.epsilon > 2.0
    dashes = "".join(f'<path d="M{3 * i} 0 L{3 * i} 9" stroke="black"/>' for i in range(30))
    with pytest.raises(SketchtoolError, match="60 points in 30 strokes even simplified .* fewer strokes"):
        read_normalized_svg(write(tmp_path, "dashes.svg", svg(dashes)), max_seq_len=40, adaptive=True)


def test_adaptive_build_reports_which_drawings_were_resimplified(tmp_path):
    write(tmp_path, "zz.svg", zigzag(60))
    distinct_drawings(tmp_path, 1)
    _, report = build_dataset([tmp_path], BuildOptions(workers=1, max_seq_len=40, adaptive=True))
    by_name = {Path(r.path).name: r for r in report.files}
    assert by_name["zz.svg"].reason == "resimplified" and by_name["zz.svg"].epsilon > 2.0
    assert by_name["d000.svg"].reason is None and by_name["d000.svg"].epsilon == 2.0
    assert report.summary()["resimplified"] == 1


def test_coordinates_beyond_int16_are_refused_in_kept_units(tmp_path):
    path = write(tmp_path, "huge.svg", svg(line(0, 0, 50000, 0), view="0 0 50000 100"))
    assert len(svg_to_stroke3(path)) == 2  # fine once normalised
    with pytest.raises(SketchtoolError, match="int16") as e:
        svg_to_stroke3(path, keep_units=True)
    assert e.value.reason == "out-of-range"


def test_bad_svg_is_an_error_with_a_reason(tmp_path):
    with pytest.raises(SketchtoolError) as e:
        svg_to_stroke3(write(tmp_path, "bad.svg", "<svg><path d='M0 0 L"))
    assert e.value.reason == "malformed-xml"


def test_build_skips_bad_files_with_reasons_and_keeps_the_rest(tmp_path):
    distinct_drawings(tmp_path, 3)
    write(tmp_path, "truncated.svg", CORNER_AND_DOT[:60])
    write(tmp_path, "text.svg", "just some notes")
    write(tmp_path, "empty.svg", svg('<rect width="10" height="10" stroke="none" fill="none"/>'))
    write(tmp_path, "long.svg", zigzag(300))
    write(tmp_path, "notes.txt", "not an svg name: never read")
    dataset, report = build_dataset([tmp_path], BuildOptions(workers=1))
    reasons = {Path(r.path).name: r.reason for r in report.files if r.status == "skipped"}
    assert reasons == {"truncated.svg": "malformed-xml", "text.svg": "not-svg", "empty.svg": "empty",
                       "long.svg": "too-long"}
    assert len(report.kept) == 3 and sum(dataset.counts().values()) == 3
    assert report.failures() == 4


def test_identical_drawings_are_deduplicated_before_splitting(tmp_path):
    distinct_drawings(tmp_path, 30)
    # the same corner shifted and scaled normalises to the same drawing, so it is a duplicate too
    write(tmp_path, "zz_copy.svg", svg(line(10, 10, 60, 10) + line(60, 10, 60, 12.5), view="0 0 300 300"))
    dataset, report = build_dataset([tmp_path], BuildOptions(workers=1, split=(0.6, 0.2, 0.2)))
    duplicates = [r for r in report.files if r.reason == "duplicate"]
    assert [(Path(r.path).name, Path(r.duplicate_of).name) for r in duplicates] == [("zz_copy.svg", "d000.svg")]
    seen = [d.tobytes() for name in dataset.splits for d in dataset.splits[name]]
    assert len(seen) == len(set(seen)) == 30


def test_split_is_deterministic_for_a_seed_and_disjoint(tmp_path):
    distinct_drawings(tmp_path, 40)

    def split_of(seed):
        _, report = build_dataset([tmp_path], BuildOptions(workers=1, seed=seed, split=(0.5, 0.25, 0.25)))
        return {r.path: r.split for r in report.files}

    first = split_of(1)
    assert split_of(1) == first
    assert split_of(2) != first
    assert sorted(first.values()).count("valid") == 10 and sorted(first.values()).count("test") == 10


def test_split_counts_leave_the_rest_out_and_say_so(tmp_path):
    distinct_drawings(tmp_path, 12)
    dataset, report = build_dataset([tmp_path], BuildOptions(workers=1, split=(5, 2, 1)))
    assert dataset.counts() == {"train": 5, "valid": 2, "test": 1}
    assert sum(r.reason == "split-full" for r in report.files) == 4
    assert report.failures() == 0 and "leave 4" in report.warnings[0]


def test_a_single_file_goes_to_train_with_a_warning(tmp_path):
    dataset, report = build_dataset([write(tmp_path, "one.svg", CORNER_AND_DOT)], BuildOptions(workers=1))
    assert dataset.counts() == {"train": 1, "valid": 0, "test": 0}
    assert "all went to train" in report.warnings[0]


def test_folder_labels_become_classes(tmp_path):
    distinct_drawings(tmp_path / "cats", 4, "c")
    distinct_drawings(tmp_path / "dogs" / "big", 3, "d", start=50)
    write(tmp_path / "dogs" / "big", "wide.svg", svg(line(0, 0, 100, 0) + line(100, 0, 0, 50)))
    dataset, report = build_dataset([tmp_path], BuildOptions(workers=1, labels="folder", split=(1.0, 0.0, 0.0)))
    assert dataset.class_names == ["big", "cats"]
    assert sorted(dataset.labels_of("train").tolist()) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert {r.label for r in report.files} == {"big", "cats"}


def test_two_folders_of_one_name_make_one_class_and_the_build_says_so(tmp_path):
    """cats/big and dogs/big were merged into the class "big" without a word."""
    distinct_drawings(tmp_path / "cats" / "big", 2, "c")
    distinct_drawings(tmp_path / "dogs" / "big", 2, "d", start=50)
    distinct_drawings(tmp_path / "dogs" / "small", 2, "s", start=100)
    dataset, report = build_dataset([tmp_path], BuildOptions(workers=1, labels="folder", split=(1.0, 0.0, 0.0)))
    assert dataset.class_names == ["big", "small"]
    merged = [w for w in report.warnings if "gathers" in w]
    assert merged == [f"class 'big' gathers the drawings of 2 folders of that name ({tmp_path / 'cats' / 'big'}, "
                      f"{tmp_path / 'dogs' / 'big'}); rename the folders to keep them apart"]
    _, plain = build_dataset([tmp_path / "dogs"], BuildOptions(workers=1, labels="folder", split=(1.0, 0.0, 0.0)))
    assert not [w for w in plain.warnings if "gathers" in w]


def test_held_out_splits_take_every_class_in_proportion(tmp_path):
    """A plain shuffle left a class of 20 out of valid in about a third of seeds, and put half of a class of 2
    there; the split is now stratified, and a build without classes shuffles as before."""
    distinct_drawings(tmp_path / "many", 60, "m")
    distinct_drawings(tmp_path / "some", 20, "s", start=100)
    distinct_drawings(tmp_path / "two", 2, "t", start=200)
    for seed in range(5):
        dataset, _ = build_dataset([tmp_path], BuildOptions(workers=1, labels="folder", seed=seed))
        assert dataset.counts() == {"train": 74, "valid": 4, "test": 4}
        for split in ("valid", "test"):
            assert sorted(dataset.labels_of(split).tolist()) == [0, 0, 0, 1]  # 5% of 60, 5% of 20, none of 2
    assert list(split_order([""] * 30, 7)) == list(np.random.default_rng(7).permutation(30))


def test_a_linked_file_takes_the_folder_it_sits_in_as_its_class(tmp_path):
    """--labels folder named a symbolic link's class after its target's folder: the class "dogs" vanished."""
    distinct_drawings(tmp_path / "store", 2, "s")
    (tmp_path / "lab" / "dogs").mkdir(parents=True)
    for target in sorted((tmp_path / "store").iterdir()):
        (tmp_path / "lab" / "dogs" / target.name).symlink_to(target)
    distinct_drawings(tmp_path / "lab" / "cats", 2, "c", start=50)
    dataset, _ = build_dataset([tmp_path / "lab"], BuildOptions(workers=1, labels="folder", split=(1.0, 0.0, 0.0)))
    assert dataset.class_names == ["cats", "dogs"]
    assert sorted(dataset.labels_of("train").tolist()) == [0, 0, 1, 1]


def test_two_workers_build_the_same_dataset_as_one(tmp_path):
    distinct_drawings(tmp_path, 12)
    write(tmp_path, "bad.svg", "<svg")
    one, report_one = build_dataset([tmp_path], BuildOptions(workers=1))
    two, report_two = build_dataset([tmp_path], BuildOptions(workers=2))
    assert report_one.to_dict() == report_two.to_dict()
    for name in one.splits:
        assert [d.tobytes() for d in one.splits[name]] == [d.tobytes() for d in two.splits[name]]


def test_progress_reports_every_file(tmp_path):
    distinct_drawings(tmp_path, 3)
    calls = []
    build_dataset([tmp_path], BuildOptions(workers=1), on_progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_report_lists_every_file_with_the_audit_fields(tmp_path):
    distinct_drawings(tmp_path, 2)
    write(tmp_path, "bad.svg", "<svg")
    _, report = build_dataset([tmp_path], BuildOptions(workers=1))
    data = json.loads(json.dumps(report.to_dict()))
    assert [Path(f["path"]).name for f in data["files"]] == ["bad.svg", "d000.svg", "d001.svg"]
    for f in data["files"]:
        assert {"path", "status", "reason", "strokes", "points"} <= f.keys()
    assert data["files"][1]["status"] == "kept" and data["files"][1]["strokes"] == 2
    assert data["files"][1]["points"] == 4  # two 2-point <line> strokes
    assert data["summary"]["kept"] == 2


def test_settings_record_how_the_dataset_was_built(tmp_path):
    distinct_drawings(tmp_path, 2)
    dataset, _ = build_dataset([tmp_path], BuildOptions(workers=1, epsilon=1.5, split=(8, 1, 1)))
    assert dataset.settings["epsilon"] == 1.5 and dataset.settings["split"] == [8, 1, 1]
    assert dataset.settings["files"] == 2 and "workers" not in dataset.settings


def test_discovery_walks_folders_globs_and_files_once_each(tmp_path):
    a = write(tmp_path / "x", "a.svg", CORNER_AND_DOT)
    b = write(tmp_path / "x" / "y", "b.SVGZ", "")
    write(tmp_path / "x", "c.png", "")
    found = discover_svgs([tmp_path / "x", str(tmp_path / "**" / "*.svg"), a])
    assert found == [a, b]
    with pytest.raises(SketchtoolError, match="no such file or folder"):
        discover_svgs([tmp_path / "absent"])
    with pytest.raises(SketchtoolError, match="matches no"):
        discover_svgs([str(tmp_path / "*.nothing")])


@pytest.mark.parametrize("text, expected", [
    ("0.9,0.05,0.05", (0.9, 0.05, 0.05)),
    ("90%,5%,5%", (0.9, 0.05, 0.05)),
    ("10000/600/500", (10000, 600, 500)),
])
def test_parse_split_reads_ratios_and_counts(text, expected):
    assert parse_split(text) == pytest.approx(expected)
    assert type(parse_split(text)[0]) is type(expected[0])


@pytest.mark.parametrize("text", ["0.9,0.1", "a,b,c", "-1,1,1", "0,0,0"])
def test_parse_split_refuses_nonsense(text):
    with pytest.raises(SketchtoolError, match="--split"):
        parse_split(text)


def test_split_sizes():
    assert split_sizes(100, (0.9, 0.05, 0.05)) == ((90, 5, 5), None)
    assert split_sizes(10, (0.9, 0.05, 0.05))[0] == (10, 0, 0)
    assert split_sizes(10, (8, 1, 1)) == ((8, 1, 1), None)
    sizes, warning = split_sizes(5, (8, 2, 2))
    assert sizes == (1, 2, 2) and "only 5" in warning


def test_kanjivg_strokes_follow_the_files_path_elements(tmp_path):
    files = sorted(KANJIVG.glob("*.svg"))
    dataset, report = build_dataset(files, BuildOptions(workers=1, split=(1.0, 0.0, 0.0)))
    for record in report.files:
        text = Path(record.path).read_text(encoding="utf-8")
        assert record.status == "kept"
        assert record.strokes == len(re.findall(r"<path ", text))  # one stroke per <path>, none lost or merged
    assert report.text_elements == sum(Path(r.path).read_text(encoding="utf-8").count("<text") for r in report.files)


def test_unresolved_use_is_a_per_file_warning_and_the_rest_is_kept(tmp_path):
    distinct_drawings(tmp_path, 2)
    write(tmp_path, "outside.svg", svg(line(0, 0, 50, 50) + '<use href="http://example.com/a.svg#x"/>'
                                       + '<use href="#nowhere"/>'))
    write(tmp_path, "only_outside.svg", svg('<use href="file:///etc/passwd#x"/>'))
    dataset, report = build_dataset([tmp_path], BuildOptions(workers=1))
    data = json.loads(json.dumps(report.to_dict()))
    by_name = {Path(f["path"]).name: f for f in data["files"]}
    assert by_name["outside.svg"]["status"] == "kept" and by_name["outside.svg"]["points"] == 2
    assert by_name["outside.svg"]["warnings"] == [
        "<use> of 'http://example.com/a.svg#x' not drawn: not an element of this file",
        "<use> of '#nowhere' not drawn: not an element of this file"]
    assert by_name["only_outside.svg"]["status"] == "skipped" and by_name["only_outside.svg"]["reason"] == "empty"
    assert by_name["d000.svg"]["warnings"] == []
    assert data["summary"]["files_with_warnings"] == 1 and sum(dataset.counts().values()) == 3


def test_warnings_survive_parallel_workers(tmp_path):
    distinct_drawings(tmp_path, 12)
    write(tmp_path, "outside.svg", svg(line(0, 0, 50, 50) + '<use href="other.svg#x"/>'))
    _, one = build_dataset([tmp_path], BuildOptions(workers=1))
    _, two = build_dataset([tmp_path], BuildOptions(workers=2))
    assert [r.warnings for r in one.files] == [r.warnings for r in two.files]
    assert one.summary()["files_with_warnings"] == 1


# --- pictures (issue 13: build-dataset through the vectorizer) ----------------------------------------------------
def _picture(path: Path, lines: list[tuple[tuple[int, int], tuple[int, int]]], size=(120, 90)) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("L", size, 255)  # dark ink on white paper, as a scan
    draw = ImageDraw.Draw(image)
    for a, b in lines:
        draw.line([a, b], fill=0, width=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def test_pictures_become_single_line_strokes(tmp_path):
    pytest.importorskip("skimage", reason="the skeleton tracer needs scikit-image (pip install -e '.[test]')")
    _picture(tmp_path / "scans" / "bar.png", [((10, 45), (110, 45))])
    _picture(tmp_path / "scans" / "vee.jpg", [((10, 10), (60, 80)), ((60, 80), (110, 10))])
    options = BuildOptions(workers=1, split=(1.0, 0.0, 0.0), pictures="skeleton")
    dataset, report = build_dataset([tmp_path / "scans"], options)
    assert [r.status for r in report.files] == ["kept", "kept"]
    bar, vee = (dataset.splits["train"][i] for i in np.argsort([r.path for r in report.kept]))
    # a 3-pixel-wide bar is one pen line (not the two outlines a tracer would give), its length the drawing's size
    [line] = stroke3_to_polylines(bar)
    assert np.ptp(line[:, 0]) == pytest.approx(256, abs=8) and np.ptp(line[:, 1]) <= 6
    [path] = stroke3_to_polylines(vee)  # the V's two strokes meet at its tip: one polyline through it
    assert len(path) >= 3 and path[:, 1].max() - path[:, 1].min() == pytest.approx(256 * 70 / 100, abs=12)


def test_pictures_through_the_refined_agent_keep_their_shape_and_say_how(tmp_path):
    # vees of three sizes (the agent is sensitive to where a line falls within a pixel, so one vee is luck)
    errors = []
    for width in (100, 110, 125):
        height = round(width * 0.7)
        _picture(tmp_path / str(width) / "vee.png", [((10, 10), (10 + width // 2, 10 + height)),
                                                     ((10 + width // 2, 10 + height), (10 + width, 10))],
                 size=(width + 20, height + 20))
        options = BuildOptions(workers=1, split=(1.0, 0.0, 0.0), pictures="agent", refine=20)
        dataset, _ = build_dataset([tmp_path / str(width)], options)
        [vee] = dataset.splits["train"]
        points = np.concatenate(stroke3_to_polylines(vee))
        assert np.ptp(points[:, 0]) == pytest.approx(256, abs=8)
        errors.append(np.ptp(points[:, 1]) / np.ptp(points[:, 0]) - (height + 3) / (width + 3))
    assert np.mean(np.abs(errors)) < 0.04, errors  # unrefined strokes: 0.07
    assert dataset.settings["pictures"] == "agent" and dataset.settings["refine"] == 20


def test_pictures_through_the_agent_take_its_stroke_count(tmp_path):
    """vectorize had --strokes and build-dataset had not: a folder of kanji scans could not ask for 4."""
    _picture(tmp_path / "scans" / "vee.png", [((10, 10), (60, 80)), ((60, 80), (110, 10))])
    drawn = {}
    for strokes in (1, 6):
        dataset, _ = build_dataset([tmp_path / "scans"], BuildOptions(workers=1, split=(1.0, 0.0, 0.0),
                                                                     pictures="agent", strokes=strokes))
        assert dataset.settings["strokes"] == strokes
        drawn[strokes] = len(stroke3_to_polylines(dataset.splits["train"][0]))
    assert drawn[1] < drawn[6], drawn
    with pytest.raises(SketchtoolError, match="--strokes is for the agent"):
        BuildOptions(pictures="skeleton", strokes=2).validate()


def test_blank_pictures_are_skipped_as_empty_with_the_reason(tmp_path):
    from PIL import Image

    _picture(tmp_path / "scans" / "bar.png", [((10, 45), (110, 45))])
    Image.new("L", (60, 40), 255).save(tmp_path / "scans" / "white.png")
    Image.new("RGB", (60, 40), "black").save(tmp_path / "scans" / "black.png")
    _, report = build_dataset([tmp_path / "scans"], BuildOptions(workers=1, split=(1.0, 0.0, 0.0),
                                                                  pictures="skeleton"))
    assert {Path(r.path).name: r.reason for r in report.files if r.status == "skipped"} == {"white.png": "empty",
                                                                                             "black.png": "empty"}


def test_pictures_are_read_from_folders_only_when_asked(tmp_path):
    a = write(tmp_path / "mixed", "a.svg", CORNER_AND_DOT)
    _picture(tmp_path / "mixed" / "a-preview.png", [((10, 45), (110, 45))])
    dataset, report = build_dataset([tmp_path / "mixed"], BuildOptions(workers=1, split=(1.0, 0.0, 0.0)))
    assert [r.path for r in report.files] == [str(a)]  # a folder's preview PNGs never sneak in beside its SVGs
    _picture(tmp_path / "scans" / "b.png", [((10, 45), (110, 45))])
    with pytest.raises(SketchtoolError, match="pass --pictures"):
        build_dataset([tmp_path / "scans"], BuildOptions(workers=1))
    with pytest.raises(SketchtoolError, match="--vectorizer is the agent"):
        build_dataset([tmp_path / "scans"], BuildOptions(workers=1, vectorizer="runs/agent"))
    with pytest.raises(SketchtoolError, match="^--vectorizer runs/agent: no such run directory"):
        build_dataset([tmp_path / "scans"], BuildOptions(workers=1, pictures="agent", vectorizer="runs/agent"))


def test_bad_pictures_are_skipped_with_a_reason(tmp_path):
    pytest.importorskip("skimage", reason="the skeleton tracer needs scikit-image (pip install -e '.[test]')")
    _picture(tmp_path / "scans" / "good.png", [((10, 45), (110, 45))])
    (tmp_path / "scans" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    _picture(tmp_path / "scans" / "blank.png", [])
    _, report = build_dataset([tmp_path / "scans"], BuildOptions(workers=1, split=(1.0, 0.0, 0.0), pictures="skeleton"))
    reasons = {Path(r.path).name: (r.status, r.reason) for r in report.files}
    assert reasons["good.png"] == ("kept", None) and reasons["broken.png"] == ("skipped", "corrupt")
    assert reasons["blank.png"][0] == "skipped"


def _split_order_class_by_class(classes, seed):
    """split_order as it was written first, one pass over every item per class (15 s for 1M files of 345 classes)."""
    classes = np.asarray(classes)
    order = np.random.default_rng(seed).permutation(len(classes))
    if len(np.unique(classes)) < 2:
        return order
    place = np.empty(len(classes))
    for c in np.unique(classes):
        members = order[classes[order] == c]
        place[members] = (np.arange(len(members)) + 0.5) / len(members)
    return order[np.argsort(place[order], kind="stable")]


@pytest.mark.parametrize("count, classes", [(0, 3), (1, 1), (7, 3), (500, 1), (5000, 345), (20_000, 40)])
def test_split_order_ranks_every_class_at_once_with_the_same_order(count, classes):
    rng = np.random.default_rng(count)
    labels = [f"class {i}" for i in rng.integers(0, classes, count)]
    for seed in (0, 7):
        np.testing.assert_array_equal(split_order(labels, seed), _split_order_class_by_class(labels, seed))


def test_one_folder_may_come_alone_and_the_options_default(tmp_path):
    """build_dataset("my_svgs") read each character as a source ("m: no such file or folder")."""
    distinct_drawings(tmp_path / "my_svgs", 6)
    expected, _ = build_dataset([tmp_path / "my_svgs"], BuildOptions(workers=1))
    for alone in (str(tmp_path / "my_svgs"), tmp_path / "my_svgs"):
        dataset, report = build_dataset(alone, BuildOptions(workers=1))
        assert len(report.kept) == 6
        assert all(np.array_equal(a, b) for k in dataset.splits for a, b in zip(dataset.splits[k], expected.splits[k]))
    assert len(build_dataset(tmp_path / "my_svgs")[1].kept) == 6
