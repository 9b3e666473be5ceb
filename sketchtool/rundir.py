"""A training run's directory: created only for a new run, never over someone's files, and locked by the OS for
the life of the run, so two trainers never write one directory (the refusal names the holder's PID)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sketchtool.errors import SketchtoolError

__all__ = ["LOCK_FILE", "RunLock", "prepare_run_dir", "remove_stale_temporaries"]

LOCK_FILE = ".lock"


class RunLock:
    """An OS lock on RUN_DIR/.lock for the life of a run, so two trainers never write one run directory; the
    holder's PID is written into the file for the refusal message. Released by the OS if the process dies."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock_exclusive(self.fd)
        except OSError:
            holder = _read_pid(self.fd)
            os.close(self.fd)
            self.fd = None
            raise SketchtoolError(f"{self.path.parent} is in use by another training process (PID {holder}); wait "
                                  "for it to finish or stop it, or choose another -o") from None
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock; the file stays (removing it would race a new holder)
            self.fd = None


def _read_pid(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 32).decode(errors="replace").strip() or "unknown"
    except OSError:  # Windows refuses to read a locked region
        return "unknown"


def _lock_exclusive(fd: int) -> None:
    """A non-blocking exclusive lock on an open file; OSError when another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def prepare_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse to start over an existing run or to resume what is not one. A run stopped before its first
    checkpoint (killed in its first steps) holds only what a run writes as it starts: it may start again in place
    (the trainer then drops its metrics.jsonl, under the lock), since there are no weights to lose."""
    if resume:
        if not (run_dir / "latest.pt").is_file():
            hint = ("it stopped before its first checkpoint; start it again without --resume" if _never_saved(run_dir)
                    else "drop --resume to start a new run")
            raise SketchtoolError(f"{run_dir}: nothing to resume (no latest.pt); {hint}")
        return
    in_use = run_dir.exists() and (not run_dir.is_dir() or any(p.name != LOCK_FILE for p in run_dir.iterdir()))
    if in_use and not _never_saved(run_dir):
        raise SketchtoolError(f"{run_dir} already exists; pass --resume to continue it or choose another -o")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SketchtoolError(f"{run_dir}: cannot create the run directory ({e.strerror or e})") from None


def _never_saved(run_dir: Path) -> bool:
    """True for a run directory holding only the files a run writes before its first checkpoint."""
    names = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else set()
    return "run.json" in names and names <= {LOCK_FILE, "run.json", "metrics.jsonl"}


_STALE_TEMPORARY = re.compile(r"^\.(latest\.pt|best\.pt|run\.json|metrics\.jsonl)\.\w{8}\.tmp$")


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete what a trainer killed while saving (kill -9, a power cut) left of its atomic writes: a 20 MB
    `.latest.pt.XXXXXXXX.tmp` stayed for good. Only the lock's holder calls this, so no writer owns them."""
    for path in run_dir.iterdir() if run_dir.is_dir() else ():
        if _STALE_TEMPORARY.match(path.name):
            path.unlink(missing_ok=True)
