"""Disk space: how much room a new index version needs, and whether an error means the disk is full."""

from __future__ import annotations

import errno
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from index.types import Chunk

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# FAISS and SQLite report a full disk in their own words, not with an errno.
_FULL_WORDS = ("no space left on device", "disk is full", "database or disk is full", "disk quota exceeded")


def version_bytes(chunks: Sequence[Chunk], dim: int) -> int:
    """A generous estimate of one version's size: vectors, records (about twice the text, as JSON
    with metadata), offsets and BM25 postings (about 16 bytes a token, 4 characters a token)."""
    text = sum(len(c.text) for c in chunks)
    return len(chunks) * (dim * 4 + 8 + 256) + text * 2 + (text // 4) * 16 + 64_000


def free_bytes(folder: Path) -> int:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
    return shutil.disk_usage(existing).free


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    if isinstance(exc, OSError | RuntimeError | sqlite3.OperationalError):
        return any(words in str(exc).lower() for words in _FULL_WORDS)
    return False


def megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"
