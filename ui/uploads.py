"""Uploaded files: type and size checks, names that stay inside the upload folder, incremental indexing."""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.build import add_root
from index.documents import SUPPORTED_SUFFIXES
from index.embedding import Embedder
from index.types import IndexReport

UPLOADS_FOLDER = "uploads"  # inside the index folder, mirrored as an extra root (ids "uploads/NAME")
DEFAULT_MAX_UPLOAD_BYTES = 20_000_000
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_MAX_NAME = 120

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Rejected:
    name: str
    reason: str


@dataclass(frozen=True)
class UploadResult:
    saved: tuple[str, ...]
    rejected: tuple[Rejected, ...]
    report: IndexReport | None = None


def uploads_dir(index_dir: str | Path) -> Path:
    return Path(index_dir) / UPLOADS_FOLDER


def safe_name(name: str) -> str:
    """A plain file name: no folders, no leading dots, only letters, digits and `._ -`; '' if nothing is left."""
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if dot and len(base) > _MAX_NAME:
        base = stem[: _MAX_NAME - len(suffix) - 1] + "." + suffix
    return base[:_MAX_NAME]


def check_upload(path: Path, name: str, max_bytes: int) -> str:
    """Why this file cannot be uploaded ('' if it can)."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return f"type '{suffix or 'none'}' is not supported; upload one of: {', '.join(SUPPORTED_SUFFIXES)}"
    size = path.stat().st_size
    if size == 0:
        return "the file is empty"
    if size > max_bytes:
        return f"the file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB upload limit"
    return ""


def save_uploads(files: Sequence[tuple[Path, str]], folder: Path, max_bytes: int) -> UploadResult:
    """Copy each (temporary path, original name) into `folder` under a safe name; report the rest."""
    folder.mkdir(parents=True, exist_ok=True)
    saved: list[str] = []
    rejected: list[Rejected] = []
    for path, original in files:
        name = safe_name(original)
        target = (folder / name).resolve() if name else None
        if target is None or target.parent != folder.resolve():
            rejected.append(Rejected(original, "the file name has no usable characters; rename it"))
            continue
        reason = check_upload(path, name, max_bytes)
        if reason:
            rejected.append(Rejected(original, reason))
            continue
        shutil.copyfile(path, target)
        saved.append(name)
    return UploadResult(tuple(saved), tuple(rejected))


def upload_and_index(
    files: Sequence[tuple[Path, str]],
    index_dir: str | Path,
    *,
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> UploadResult:
    """Save the files into the index's uploads folder and index them (only what changed is embedded)."""
    folder = uploads_dir(index_dir)
    result = save_uploads(files, folder, max_bytes)
    if not result.saved:
        return result
    report = add_root(index_dir, folder, embedder=embedder, progress=progress)
    return UploadResult(result.saved, result.rejected, report)
