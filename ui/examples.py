"""Example questions for the loaded corpus: its own examples file, else questions about its titles."""

from __future__ import annotations

from pathlib import Path

from index.types import Manifest

# A hidden file, so indexing the folder never treats it as a document: one question per line.
EXAMPLES_FILE = ".rag-examples.txt"
_MAX_TITLE = 90


def example_questions(manifest: Manifest | None, limit: int = 4) -> list[str]:
    """Questions to offer in an empty chat; [] when the index has no documents yet."""
    if manifest is None:
        return []
    source = Path(manifest.source)
    folder = source if source.is_dir() else source.parent
    listed = _from_file(folder / EXAMPLES_FILE)
    if listed:
        return listed[:limit]
    # A title equal to the file name is no title (the loader falls back to it): no question to ask about it.
    titles = [
        d.title.strip()
        for doc_id, d in manifest.documents.items()
        if d.title.strip() not in (Path(doc_id.split("#")[0]).stem, Path(doc_id).name)
    ]
    return [_about(t) for t in dict.fromkeys(t for t in titles if 0 < len(t) <= _MAX_TITLE)][:limit]


def _from_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _about(title: str) -> str:
    return f"What does “{title.rstrip('.')}” say?"
