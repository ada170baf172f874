"""The embedding progress counts cached and new chunks against the same total, so it ends at 100%."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import build_index
from index.embedding import HashEmbedder

pytestmark = pytest.mark.reliability


def test_embed_progress_reaches_the_total_when_most_chunks_are_cached(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        (src / f"d{i}.txt").write_text(f"Document {i} talks about harbour number {i} and its ferries.\n", "utf-8")
    (src / "twin.txt").write_text("Document 0 talks about harbour number 0 and its ferries.\n", "utf-8")
    build_index(src, tmp_path / "idx", embedder=HashEmbedder(64))
    (src / "new.txt").write_text("A new note about the lighthouse keeper.\n", "utf-8")
    seen: list[tuple[int, int]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "embed":
            seen.append((done, total))

    # --rebuild re-reads everything: every chunk but the new one comes from the embedding cache.
    report = build_index(src, tmp_path / "idx", embedder=HashEmbedder(64), rebuild=True, progress=progress)
    assert report.embedded_chunks == 1 and report.cached_chunks == report.chunks - 1
    assert seen and seen[-1] == (report.chunks, report.chunks)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
