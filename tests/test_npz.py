"""Dataset files: sketch-rnn compatible on disk, and loading one never executes code from it."""

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sketchtool.dataset import StrokeDataset
from sketchtool.errors import SketchtoolError
from sketchtool.formats.npz import load_dataset, save_dataset, save_drawings

A = np.array([[5, 3, 0], [10, -2, 1], [0, 7, 1]], dtype=np.int16)
B = np.array([[1, 1, 1]], dtype=np.int16)


class _RunsCommand:
    """Unpickling this calls os.system: what a hostile dataset would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _npz_with_members(path: Path, members: dict[str, np.ndarray]) -> None:
    """Write an .npz the way numpy does, bypassing our writer (to plant arbitrary members)."""
    np.savez(path, **members)


def test_only_the_named_splits_are_read(tmp_path: Path):
    """show, eval and score read the splits they use: a bad (or a 2M-drawing) train member is never unpickled."""
    path = tmp_path / "mixed.npz"
    test = np.empty(1, dtype=object)
    test[0] = A
    _npz_with_members(path, {"test": test, "test_labels": np.zeros(1, dtype=np.int64),
                             "class_names": np.array(["cat"])})
    with zipfile.ZipFile(path, "a") as zf:  # a train member that cannot be read at all
        zf.writestr("train.npy", b"\x93NUMPY garbage")
    with pytest.raises(SketchtoolError, match="unreadable dataset"):
        load_dataset(path)
    ds = load_dataset(path, splits=("test",))
    assert ds.counts() == {"train": 0, "valid": 0, "test": 1} and ds.class_names == ["cat"]
    np.testing.assert_array_equal(ds.splits["test"][0], A)
    assert ds.labels_of("test").tolist() == [0]


def test_hostile_pickle_is_refused_and_never_runs(tmp_path: Path):
    marker = tmp_path / "pwned"
    payload = np.empty(2, dtype=object)
    payload[0], payload[1] = A, _RunsCommand(marker)
    path = tmp_path / "evil.npz"
    _npz_with_members(path, {"train": payload, "valid": np.empty(0, dtype=object), "test": np.empty(0, dtype=object)})
    with pytest.raises(SketchtoolError, match=r"evil\.npz: unsafe or corrupt dataset.*refusing to load posix\.system"):
        load_dataset(path)
    assert not marker.exists()


def _train_and_hostile(marker: Path, hostile_member: str) -> dict[str, np.ndarray]:
    """A one-drawing train split beside an object array whose pickle would run a command (creating `marker`)."""
    ok, evil = np.empty(1, dtype=object), np.empty(1, dtype=object)
    ok[0], evil[0] = A, _RunsCommand(marker)
    return {"train": ok, hostile_member: evil}


def test_hostile_pickle_in_an_extra_member_is_refused_too(tmp_path: Path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    _npz_with_members(path, _train_and_hostile(marker, "class_names"))
    with pytest.raises(SketchtoolError, match="unsafe"):
        load_dataset(path)
    assert not marker.exists()


def test_real_sheep_dataset_loads(sheep_path):
    ds = load_dataset(sheep_path)
    assert ds.counts() == {"train": 7400, "valid": 300, "test": 300}
    first = ds.splits["train"][0]
    assert first.ndim == 2 and first.shape[1] == 3 and first.dtype == np.int16
    assert set(np.unique(first[:, 2])) <= {0, 1}


def test_saved_files_load_with_plain_numpy_the_way_sketch_rnn_does(tmp_path: Path):
    path = tmp_path / "mine.npz"
    ds = StrokeDataset(splits={"train": [A, B], "valid": [B], "test": [A]}, class_names=["cat", "dog"],
                       labels={"train": np.array([0, 1]), "valid": np.array([1]), "test": np.array([0])},
                       settings={"epsilon": 2.0})
    save_dataset(path, ds)
    data = np.load(path, encoding="latin1", allow_pickle=True)  # sketch_rnn_train.load_dataset's call
    assert data["train"].dtype == object and len(data["train"]) == 2
    np.testing.assert_array_equal(data["train"][0], A)
    assert data["train"][1].dtype == np.int16
    back = load_dataset(path)
    assert back.class_names == ["cat", "dog"] and back.settings == {"epsilon": 2.0}
    np.testing.assert_array_equal(back.labels_of("train"), [0, 1])


def test_equal_length_drawings_stay_a_list_of_drawings(tmp_path: Path):
    path = tmp_path / "same.npz"
    save_drawings(path, [A, A + 1])
    data = np.load(path, allow_pickle=True)
    assert data["train"].shape == (2,) and data["train"][1].shape == (3, 3)


def test_float_quickdraw_style_arrays_load(tmp_path: Path):
    path = tmp_path / "quickdraw.npz"
    members = {}
    for split, drawings in {"train": [A.astype(np.float64), B.astype(np.float32)], "valid": [A * 1.5], "test": []}.items():
        arr = np.empty(len(drawings), dtype=object)
        for i, d in enumerate(drawings):
            arr[i] = d
        members[split] = arr
    _npz_with_members(path, members)
    ds = load_dataset(path)
    assert ds.splits["train"][0].dtype == np.float64
    np.testing.assert_allclose(ds.splits["valid"][0], A * 1.5)


def test_uniform_length_block_array_loads(tmp_path: Path):
    path = tmp_path / "block.npz"
    _npz_with_members(path, {"train": np.stack([A, A]), "valid": np.zeros((0, 3, 3)), "test": np.zeros((0, 3, 3))})
    assert len(load_dataset(path).splits["train"]) == 2


def test_equal_length_drawings_saved_as_an_object_array_load(tmp_path: Path):
    """`np.array(drawings, dtype=object)`, the usual way to save sketch-rnn splits, makes an (N, n, 3) object block
    when every drawing has n points: it was refused as "train[0] is not an (n, 3) numeric stroke-3 array"."""
    path = tmp_path / "equal.npz"
    _npz_with_members(path, {"train": np.array([A, A + 1], dtype=object), "valid": np.array([A], dtype=object),
                             "test": np.array([], dtype=object)})
    ds = load_dataset(path)
    np.testing.assert_array_equal(ds.splits["train"][1], A + 1)
    assert ds.splits["train"][1].dtype == np.int16 and len(ds.splits["valid"]) == 1  # was int64


def test_truncated_zip_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "cut.npz"
    save_drawings(path, [A, B] * 50)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SketchtoolError, match=r"cut\.npz: unreadable dataset"):
        load_dataset(path)


def test_non_zip_and_missing_files_are_clear_errors(tmp_path: Path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(SketchtoolError, match="unreadable dataset"):
        load_dataset(text)
    with pytest.raises(SketchtoolError, match="no such dataset file"):
        load_dataset(tmp_path / "absent.npz")


def test_npz_without_splits_points_to_build_dataset(tmp_path: Path):
    path = tmp_path / "weights.npz"
    np.savez(path, w=np.zeros(3))
    with pytest.raises(SketchtoolError, match="build-dataset"):
        load_dataset(path)


@pytest.mark.parametrize("bad", [np.zeros((4, 2)), np.array([[np.nan, 0, 1]]), np.array([["a", "b", "c"]]),
                                 np.array([[1, None, 0]], dtype=object), np.array([["a", 1, 0]], dtype=object)])
def test_malformed_drawings_are_rejected(tmp_path: Path, bad):
    path = tmp_path / "bad.npz"
    arr = np.empty(1, dtype=object)
    arr[0] = bad
    _npz_with_members(path, {"train": arr})
    with pytest.raises(SketchtoolError, match=r"invalid dataset: train\[0\]"):
        load_dataset(path)


def test_labels_that_do_not_match_the_drawings_are_rejected(tmp_path: Path):
    path = tmp_path / "labels.npz"
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = A, B
    _npz_with_members(path, {"train": arr, "train_labels": np.array([0, 5]), "class_names": np.array(["a", "b"])})
    with pytest.raises(SketchtoolError, match="labels of split 'train'"):
        load_dataset(path)


@pytest.mark.parametrize("labels", [np.zeros((2, 2), int), np.array(["x", "y"]), np.array([0.0, 1.0])])
def test_labels_of_the_wrong_shape_or_type_are_rejected(tmp_path: Path, labels):
    """A 2-D or text label array passed the checks and failed later, inside `info`, as an internal error."""
    path = tmp_path / "labels.npz"
    _npz_with_members(path, {"train": np.ones((2, 4, 3)), "train_labels": labels, "class_names": np.array(["a", "b"])})
    with pytest.raises(SketchtoolError, match="labels of split 'train'"):
        load_dataset(path)


def test_a_single_value_split_and_a_settings_record_that_is_not_a_mapping(tmp_path: Path):
    _npz_with_members(tmp_path / "scalar.npz", {"train": np.array(5.0)})
    with pytest.raises(SketchtoolError, match="train is a single value"):
        load_dataset(tmp_path / "scalar.npz")
    _npz_with_members(tmp_path / "list.npz", {"train": np.ones((2, 4, 3)), "build_settings": np.array("[1, 2]")})
    assert load_dataset(tmp_path / "list.npz").settings == {}


def test_member_claiming_a_huge_size_is_refused_without_unpacking(tmp_path: Path, monkeypatch):
    import sketchtool.formats.npz as npz

    path = tmp_path / "big.npz"
    save_drawings(path, [A] * 100)
    monkeypatch.setattr(npz, "MAX_TOTAL_BYTES", 64)  # the real limit is 4 GiB; same code path
    with pytest.raises(SketchtoolError, match="members unpack to .* more than the 64 allowed"):
        load_dataset(path)


def test_pickle_protocol_globals_outside_numpy_are_refused(tmp_path: Path):
    # a raw pickle member that asks for builtins.eval: the unpickler must refuse before calling anything
    path = tmp_path / "raw.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    body = b"cbuiltins\neval\n(S'1+1'\ntR."  # protocol-0 pickle of eval("1+1")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("train.npy", header.getvalue() + body)
    with pytest.raises(SketchtoolError, match="refusing to load builtins.eval"):
        load_dataset(path)


# --- protocol-2 pickles: from Python 3, array bytes travel as _codecs.encode(str, 'latin1'); Python 2 wrote a str


def _unicode(text: str) -> bytes:
    data = text.encode("utf-8")
    return b"X" + len(data).to_bytes(4, "little") + data  # BINUNICODE


def _int(value: int) -> bytes:
    return b"K" + bytes([value]) if 0 <= value < 256 else b"J" + value.to_bytes(4, "little", signed=True)


def _codecs_encode(raw, encoding: str | None = "latin1") -> bytes:
    """`_codecs.encode(u'...', encoding)` as pickle protocol 2 spells Python 3 bytes; raw=int passes a non-str;
    encoding None: a Python 2 str instead (BINSTRING), as in aaron_sheep.npz."""
    if encoding is None:
        return b"T" + len(raw).to_bytes(4, "little") + raw
    argument = _int(raw) if isinstance(raw, int) else _unicode(raw.decode("latin1"))
    return b"c_codecs\nencode\n" + argument + _unicode(encoding) + b"\x86R"  # GLOBAL, args, TUPLE2, REDUCE


def _dtype(descr: str, order: str, flags: int) -> bytes:
    return (b"cnumpy\ndtype\n" + _unicode(descr) + b"\x89\x88\x87R"  # dtype(descr, False, True)
            + b"(" + _int(3) + _unicode(order) + b"NNN" + _int(-1) + _int(-1) + _int(flags) + b"tb")


def _reconstructed(shape: tuple, dtype: bytes, data: bytes, encoding: str | None = "latin1") -> bytes:
    """_reconstruct(ndarray, (0,), b'b') then BUILD with (1, shape, dtype, False, data), as ndarray.__reduce__."""
    shape_bytes = b"(" + b"".join(_int(n) for n in shape) + b"t"
    typecode = _codecs_encode(b"b", None if encoding is None else "latin1")
    return (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + _int(0) + b"\x85" + typecode + b"\x87R"
            + b"(" + _int(1) + shape_bytes + dtype + b"\x89" + data + b"tb")


def protocol2_member(drawings: list[np.ndarray], encoding: str | None = "latin1", raw=None) -> bytes:
    """A train.npy member holding an object array of float64 drawings, opcode for opcode what
    `pickle.dump(array, f, protocol=2)` writes on Python 3 (less the memo opcodes), as numpy used to save object
    arrays; `encoding=None`: what Python 2 wrote."""
    items = b"".join(_reconstructed(d.shape, _dtype("f8", "<", 0),
                                    _codecs_encode(d.astype("<f8").tobytes() if raw is None else raw, encoding),
                                    encoding)
                     for d in drawings)
    outer = _reconstructed((len(drawings),), _dtype("O8", "|", 63), b"](" + items + b"e", encoding)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (len(drawings),)})
    return header.getvalue() + b"\x80\x02" + outer + b"."


@pytest.mark.parametrize("encoding", ["latin1", None], ids=["python3 _codecs.encode", "python2 str"])
def test_protocol_2_float_pickles_load(tmp_path: Path, encoding):
    drawings = [A * 0.25, np.array([[0.5, -1.75, 1.0]])]
    path = tmp_path / "kanji.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("train.npy", protocol2_member(drawings, encoding=encoding))
    assert (b"_codecs\nencode" in zipfile.ZipFile(path).read("train.npy")) == (encoding is not None)
    np.testing.assert_array_equal(np.load(path, allow_pickle=True, encoding="latin1")["train"][0], A * 0.25)
    ds = load_dataset(path)
    assert [d.dtype for d in ds.splits["train"]] == [np.float64, np.float64]
    for got, want in zip(ds.splits["train"], drawings):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("encoding, raw, refused", [("utf-8", None, "str, 'utf-8'"), ("rot13", None, "str, 'rot13'"),
                                                    ("latin1", 7, "int, 'latin1'")])
def test_codecs_encode_is_admitted_only_as_str_latin1(tmp_path: Path, encoding, raw, refused):
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("train.npy", protocol2_member([A * 0.5], encoding=encoding, raw=raw))
    with pytest.raises(SketchtoolError, match=f"unsafe or corrupt dataset .*_codecs.encode on {refused}"):
        load_dataset(path)


# --- zip bombs and memory


def write_zero_bomb(path: Path, members: dict[str, int]) -> None:
    """An npz whose float64 members are `members[name]` bytes of zeros, streamed: never held in memory."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, nbytes in members.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array_header_2_0(f, {"descr": "<f8", "fortran_order": False,
                                                         "shape": (nbytes // 24, 3)})
                chunk = bytes(1 << 20)
                for _ in range(nbytes >> 20):
                    f.write(chunk)


def test_zip_bomb_is_refused_from_the_directory_before_unpacking(tmp_path: Path):
    path = tmp_path / "bomb.npz"
    write_zero_bomb(path, {"train": 64 << 20, "valid": 64 << 20})
    assert path.stat().st_size < 1 << 20
    with pytest.raises(SketchtoolError, match=r"bomb\.npz: unreadable dataset \(member train.npy: \d+ compressed "
                                              r"bytes would unpack to 67108992 .*likely zip bomb"):
        load_dataset(path)


def test_small_highly_compressible_files_still_load(tmp_path: Path):
    path = tmp_path / "same.npz"
    save_drawings(path, [B] * 20000)  # one drawing repeated: compresses far beyond MAX_RATIO, but is small
    info = zipfile.ZipFile(path).getinfo("train.npy")
    assert info.file_size > 100 * info.compress_size
    assert len(load_dataset(path).splits["train"]) == 20000


def test_members_nobody_reads_are_never_unpacked(tmp_path: Path):
    marker = tmp_path / "pwned"
    path = tmp_path / "extra.npz"
    _npz_with_members(path, _train_and_hostile(marker, "notes"))
    write_zero_bomb(tmp_path / "bomb.npz", {"weights": 64 << 20})
    with zipfile.ZipFile(path, "a") as zf, zipfile.ZipFile(tmp_path / "bomb.npz") as bomb:
        zf.writestr(bomb.getinfo("weights.npy"), b"")  # a directory entry claiming 64 MiB
    ds = load_dataset(path)
    np.testing.assert_array_equal(ds.splits["train"][0], A)
    assert not marker.exists()


def test_plain_members_are_read_into_their_final_buffer(tmp_path: Path):
    import tracemalloc

    path = tmp_path / "block.npz"
    block = np.zeros((1000, 1400, 3))  # 33.6 MB float64, stored uncompressed
    np.savez(path, train=block)
    del block
    tracemalloc.start()
    try:
        ds = load_dataset(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(ds.splits["train"]) == 1000
    assert peak < 1.25 * 1000 * 1400 * 3 * 8  # the array itself plus small temporaries: no second copy


def test_offsets_that_overflow_float_statistics_are_refused(tmp_path: Path):
    path = tmp_path / "huge.npz"
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = A.astype(np.float64), np.array([[1e308, 0.0, 0.0], [1e308, 1.0, 1.0]])
    _npz_with_members(path, {"train": arr})
    with pytest.raises(SketchtoolError, match=r"huge\.npz: invalid dataset: train\[1\] holds offsets beyond 1e\+09"):
        load_dataset(path)


@pytest.mark.parametrize("dtype, value, refused", [(np.int16, -32768, False), (np.uint16, 65535, False),
                                                   (np.int32, 2_000_000_000, True), (np.int64, -2**62, True)])
def test_only_integer_types_that_can_exceed_the_offset_limit_are_checked(tmp_path: Path, dtype, value, refused):
    """int16 (QuickDraw's type) cannot pass MAX_OFFSET, so its drawings skip the per-drawing check that took most of
    the load time of a large set; wider types are still read value by value."""
    path = tmp_path / "extreme.npz"
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = A.astype(dtype), np.array([[value, 0, 0], [1, 1, 1]], dtype=dtype)
    _npz_with_members(path, {"train": arr})
    if refused:
        with pytest.raises(SketchtoolError, match=r"train\[1\] holds offsets beyond 1e\+09"):
            load_dataset(path)
    else:
        assert load_dataset(path).splits["train"][1][0, 0] == value


@pytest.mark.parametrize("block", [np.arange(2 * 4 * 3, dtype=np.int16).reshape(2, 4, 3) % 2,
                                   np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 4, 3) % 3),
                                   (np.arange(24).reshape(2, 4, 3) % 2).astype(">i2")])
@pytest.mark.parametrize("compressed", [False, True])
def test_plain_members_load_exactly_in_any_order_and_byte_order(tmp_path: Path, block, compressed):
    path = tmp_path / "plain.npz"
    (np.savez_compressed if compressed else np.savez)(path, train=block, train_labels=np.array([0, 1]),
                                                      class_names=np.array(["a", "b"]))
    ds = load_dataset(path)
    for got, want in zip(ds.splits["train"], block):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == block.dtype
    assert ds.class_names == ["a", "b"] and ds.labels_of("train").tolist() == [0, 1]


def test_a_header_promising_more_than_the_member_holds_is_refused(tmp_path: Path):
    path = tmp_path / "short.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 3)})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("train.npy", header.getvalue() + bytes(48))
    with pytest.raises(SketchtoolError, match="member train.npy is truncated"):
        load_dataset(path)


def test_float_drawings_are_rounded_at_their_points_not_their_offsets(tmp_path):
    """Rounding each offset on its own let the errors add up: sampled drawings saved to .npz drifted by several
    units from the SVG of the same seed."""
    rng = np.random.default_rng(0)
    drawing = np.column_stack([rng.normal(0.4, 3.0, size=(300, 2)), rng.random(300) < 0.1])
    path = tmp_path / "floats.npz"
    save_drawings(path, [drawing])
    saved = load_dataset(path).splits["train"][0]
    assert saved.dtype == np.int16
    assert np.abs(np.cumsum(saved[:, :2], axis=0) - np.cumsum(drawing[:, :2], axis=0)).max() <= 0.5
    assert np.array_equal(saved[:, 2], drawing[:, 2])
    whole = np.array([[3, -2, 0], [5, 7, 1]], dtype=np.int16)  # integers are kept exactly
    save_drawings(path, [whole])
    assert np.array_equal(load_dataset(path).splits["train"][0], whole)


def test_a_drawing_repeated_by_reference_is_counted_and_refused(tmp_path):
    """A 12 KB file of 2 million pickle back-references to one 240-point drawing reached 2.9 GB before failing."""
    drawing = np.tile(np.array([[1, 1, 0], [1, 1, 1]], dtype=np.int16), (120, 1))
    many = np.empty(2_000_000, dtype=object)
    many[:] = [drawing] * len(many)
    path = tmp_path / "memo.npz"
    np.savez_compressed(path, train=many)
    assert path.stat().st_size < 100_000
    with pytest.raises(SketchtoolError, match="train holds more than 268,435,456 points"):
        load_dataset(path)
    few = np.empty(1000, dtype=object)  # repeats within the budget load, checked once
    few[:] = [drawing] * len(few)
    np.savez_compressed(path, train=few)
    assert len(load_dataset(path).splits["train"]) == 1000


def test_a_huge_block_of_empty_drawings_is_refused_from_its_header(tmp_path):
    path = tmp_path / "zero.npz"  # 466 bytes on disk: 30 million empty drawings, 2.8 GB of views
    np.savez_compressed(path, train=np.empty((30_000_000, 0, 3), dtype=np.int16))
    with pytest.raises(SketchtoolError, match="train holds 30,000,000 drawings, more than the 4,000,000 allowed"):
        load_dataset(path)



@pytest.mark.parametrize("dataset, message", [
    (StrokeDataset(splits={"train": [np.zeros((6, 2))]}), r"train\[0\] is not an \(n, 3\) stroke-3 array"),
    (StrokeDataset(splits={"train": [[np.zeros((3, 2)), np.zeros((4, 2))]]}), r"polylines\? polylines_to_stroke3"),
    (StrokeDataset(splits={"train": [np.zeros((2, 3))], "validation": [np.zeros((2, 3))]}),
     "unknown split 'validation'"),
    (StrokeDataset(splits={"train": [np.zeros((2, 3))] * 3}, class_names=["a", "b"], labels={"train": [0, 1]}),
     "labels of split 'train' must be one class index"),
    (StrokeDataset(splits={"train": [np.zeros((2, 3))]}, class_names=["a", "b"], labels={"train": [2]}), "0 to 1"),
])
def test_save_dataset_refuses_what_load_dataset_could_not_read_back(tmp_path: Path, dataset, message):
    """Were written without a word: a file load_dataset then called invalid, a split dropped, labels read as 0."""
    with pytest.raises(SketchtoolError, match=message):
        save_dataset(tmp_path / "d.npz", dataset)
    assert not (tmp_path / "d.npz").exists()
