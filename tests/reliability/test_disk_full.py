"""A full disk ends a build with one clear error, removes the unfinished version and keeps the previous one."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import index.store as store_module
from index.build import build_index
from index.embedding import HashEmbedder
from index.store import DiskFull, IndexStore

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]


def small_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.txt").write_text("The harbour opens at six.\n", encoding="utf-8")
    return folder


def big_corpus(folder: Path, files: int = 40) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        words = " ".join(f"word{i}x{j} {uuid.UUID(int=i * 10_000 + j).hex}" for j in range(3000))
        (folder / f"big{i:02d}.txt").write_text(words + "\n", encoding="utf-8")
    return folder


def leftovers(index: Path) -> list[str]:
    return [p.name for p in index.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("Error in void faiss::write_index: fwrite failed: No space left on device"),
    ],
)
def test_a_write_that_runs_out_of_room_leaves_no_partial_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    src, index = small_corpus(tmp_path / "src"), tmp_path / "idx"
    build_index(src, index, embedder=HashEmbedder(64))
    (src / "b.txt").write_text("The ferry leaves at noon.\n", encoding="utf-8")

    def full(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(store_module, "write_chunks", full)
    with pytest.raises(DiskFull, match=r"is full: this version needs about .* MB .* previous version is unchanged"):
        build_index(src, index, embedder=HashEmbedder(64))
    assert leftovers(index) == []
    assert IndexStore.open(index).version == "v0001" and len(IndexStore.open(index)) == 1


def test_other_write_errors_are_not_called_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src, index = small_corpus(tmp_path / "src"), tmp_path / "idx"

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(store_module, "write_chunks", broken)
    with pytest.raises(OSError, match="Input/output"):
        build_index(src, index, embedder=HashEmbedder(64))
    assert leftovers(index) == []


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs: a real full disk, where root may mount one (CI runs as root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def rag_index(src: Path, index: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli", "index", str(src), "--index", str(index), "--embedder", "hash-64"]
    command.append("--quiet")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def test_rag_index_on_a_full_disk_prints_one_error_and_keeps_the_previous_version(
    tmp_path: Path, tiny_disk: Path
) -> None:
    index = tiny_disk / "idx"
    first = rag_index(small_corpus(tmp_path / "src"), index)
    assert first.returncode == 0, first.stderr
    big_corpus(tmp_path / "src")
    second = rag_index(tmp_path / "src", index)
    errors = [line for line in second.stderr.splitlines() if line.strip()]
    assert second.returncode == 1, second.stderr
    assert len(errors) == 1 and errors[0].startswith("error: The disk holding") and "Traceback" not in second.stderr
    assert "free" in errors[0] and "MB" in errors[0]
    assert leftovers(index) == []
    store = IndexStore.open(index)
    assert store.version == "v0001" and store.chunks[0].text.startswith("The harbour")


def test_a_version_that_cannot_fit_is_refused_before_writing(tmp_path: Path, tiny_disk: Path) -> None:
    """The cache holds the vectors; the new version's files would not fit in what is left."""
    subprocess.run(["mount", "-o", "remount,size=8m", str(tiny_disk)], check=True)
    index, src = tiny_disk / "idx", big_corpus(tmp_path / "src", files=4)
    assert rag_index(src, index).returncode == 0
    free = os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize
    (tiny_disk / "filler").write_bytes(b"\0" * (free - 200_000))
    (src / "new.txt").write_text("One more line about the harbour.\n", encoding="utf-8")
    done = rag_index(src, index)
    assert done.returncode == 1 and done.stderr.startswith("error: The disk holding"), done.stderr
    assert "this version needs about" in done.stderr and leftovers(index) == []
    assert IndexStore.open(index).version == "v0001"
