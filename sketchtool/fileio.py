"""Atomic file writing: a crash or a full disk never leaves a half-written output behind; and the errors a damaged
archive raises on reading, so every reader turns all of them into one clear message."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import IO, Iterator, Sequence

from sketchtool.errors import SketchtoolError

__all__ = ["DAMAGED_ARCHIVE_ERRORS", "atomic_write", "check_output_path", "check_regular_file"]

# outputs checked free by `check_output_path` without --force (absolute paths): written only if still free
_NEW_FILES: set[str] = set()

# what zipfile (under numpy's and torch's readers) raises for a truncated or damaged .npz/.pt, besides ValueError:
# a bad header (struct.error), a bad deflate stream (zlib.error), a version or method it cannot read
# (NotImplementedError), a cut-off member (EOFError) or a seek past the end (OSError)
DAMAGED_ARCHIVE_ERRORS = (zipfile.BadZipFile, struct.error, zlib.error, NotImplementedError, EOFError, OSError)


def check_output_path(out: str | os.PathLike, *, inputs: Sequence[str | os.PathLike] = (), force: bool = False) -> Path:
    """Refuse to write over an input file or over a file in an input folder (a run directory's checkpoint, say),
    even with `force`; over any other existing file unless `force`."""
    out = Path(out)
    for src in inputs:
        try:
            if not (Path(src).exists() and out.exists()):
                continue
            if os.path.samefile(src, out):
                raise SketchtoolError(f"{out}: output would overwrite an input; choose another path")
            if Path(src).is_dir() and Path(os.path.realpath(src)) in Path(os.path.realpath(out)).parents:
                raise SketchtoolError(f"{out}: output would overwrite a file in the input folder {src}; "
                                      "choose another path")
        except OSError:
            continue
    if out.exists() and not force:
        raise SketchtoolError(f"{out} already exists; pass --force to overwrite it")
    if force:
        _NEW_FILES.discard(_key(out))
    else:
        _NEW_FILES.add(_key(out))  # atomic_write will not replace a file that appears there meanwhile
    if out.exists() and out.is_dir():
        raise SketchtoolError(f"{out} is a directory; give a file name")
    if not out.parent.exists():
        raise SketchtoolError(f"{out.parent}: folder does not exist; create it first")
    if not out.parent.is_dir():
        raise SketchtoolError(f"{out.parent}: not a folder; give an output path in a folder")
    return out


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Write to a temporary file beside `path`, then rename it over `path` in one step. A full disk (or quota) is
    one clear error, and whatever `path` held before stays as it was."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{_short(path.name)}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _write_error(path, e) from None
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(fd, 0o666 & ~umask)  # mkstemp makes files owner-only; outputs get the usual permissions
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _commit(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in _FULL:
            raise _write_error(path, e) from None
        raise


def _short(name: str, limit: int = 200) -> str:
    """A file name cut to `limit` bytes for the temporary file's: the 14 bytes it adds made names of 242 to 255
    bytes, which the file system takes, impossible to write."""
    return name.encode()[:limit].decode(errors="ignore")


def _key(path: Path) -> str:
    return os.path.abspath(path)


def _commit(tmp: str, path: Path) -> None:
    """Rename the finished temporary file to `path`. An output `check_output_path` found free (no --force) is
    linked into place instead, which fails if a file appeared there while the command ran (a user's file, another
    run's output): it used to be replaced without a word."""
    if _key(path) not in _NEW_FILES:
        os.replace(tmp, path)
        return
    appeared = SketchtoolError(f"{path} appeared while this ran, so it was left as it is; pass --force to overwrite "
                               "it, or choose another path")
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise appeared from None
    except OSError:  # a file system without hard links: check, then rename
        if path.exists():
            raise appeared from None
        os.replace(tmp, path)
    else:
        os.unlink(tmp)
    _NEW_FILES.discard(_key(path))


def check_regular_file(path: str | os.PathLike, name: str | None = None) -> None:
    """Refuse a pipe, socket or device under an input's name: opening a FIFO waits for a writer that never comes.
    A missing path is left to the caller's own open."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode):
        raise SketchtoolError(f"{name or path}: not a regular file (a folder, pipe or device); give a file",
                              reason="unreadable")


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _write_error(path: Path, error: OSError) -> SketchtoolError:
    if error.errno in _FULL:
        return SketchtoolError(f"{path}: no space left on the device (or over quota) while writing; free some space "
                               "and retry; any previous version of the file is unchanged")
    return SketchtoolError(f"{path}: cannot write here ({error.strerror or error})")
