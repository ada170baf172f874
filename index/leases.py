"""Reader leases on index versions: a version a process has open is never deleted under it.

A reader holds a shared `flock` on its version's `manifest.json` for as long as it has the
version open; pruning takes an exclusive lock without waiting and skips a version it cannot
lock, so the next build (or the next prune) removes it once every reader has let go. A
process that dies releases its locks with it, so a crashed chat never pins a version forever.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

LOCK_FILE = "manifest.json"


class VersionLease:
    """A shared lock on one version folder; `release()` (or garbage collection) lets it go."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle: IO[bytes] | None = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops its flock
            self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def __del__(self) -> None:
        self.release()


def acquire(version: Path) -> VersionLease | None:
    """A lease on `version`, or None when it is gone or being deleted (resolve `current` again)."""
    try:
        handle = open(version / LOCK_FILE, "rb")  # noqa: SIM115 - the lease owns the handle until released
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    if not (version / LOCK_FILE).exists():  # deleted between our open and our lock
        handle.close()
        return None
    return VersionLease(handle)


@contextmanager
def unused(version: Path) -> Iterator[bool]:
    """Whether no reader has `version` open; while True, an exclusive lock keeps new readers out,
    so the caller may delete it. A folder without a manifest (a crashed build's) has no readers."""
    try:
        handle = open(version / LOCK_FILE, "rb")  # noqa: SIM115 - held across the caller's deletion
    except (FileNotFoundError, NotADirectoryError):
        yield True
        return
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
