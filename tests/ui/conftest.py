"""Fixtures for the chat: a small index built with the hash embedder, and an engine on a scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import HashEmbedder

DOCS = {
    "alaska.txt": "Alaska summit\n\nThe summit took place in Anchorage, Alaska. Putin arrived by plane on Friday.",
    "pokrovsk.txt": "Front line\n\nRussian forces seized 10km of territory around Pokrovsk before the talks.",
    "taiwan.txt": "Energy\n\nTaiwan burned fossil fuels for 87 percent of its energy supply this year.",
}


@pytest.fixture()
def small_index(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name, text in DOCS.items():
        (src / name).write_text(text, encoding="utf-8")
    out = tmp_path / "idx"
    build_index(src, out, embedder=HashEmbedder(64), settings=ChunkerSettings(64, 8))
    return out
