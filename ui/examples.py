"""The corpus's own example questions: a `.rag-examples.txt` file in the indexed folder.

Without one, examples are drafted from the passages once the model is loaded (rag/examples.py, via
ui/readiness.py); a question made up from a title ("What does “LICENSE” say?") is never offered.
"""

from __future__ import annotations

from pathlib import Path

from index.types import Manifest

# A hidden file, so indexing the folder never treats it as a document: one question per line.
EXAMPLES_FILE = ".rag-examples.txt"


def example_questions(manifest: Manifest | None, limit: int = 4) -> list[str]:
    """The questions listed in the indexed folder's examples file; [] without an index or a file."""
    if manifest is None or not manifest.source:
        return []
    source = Path(manifest.source)
    folder = source if source.is_dir() else source.parent
    return _from_file(folder / EXAMPLES_FILE)[:limit]


def _from_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
