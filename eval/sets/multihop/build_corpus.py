"""Write the corpus of `eval/sets/multihop.jsonl`: every SQuAD 2.0 article in ../shared, one .txt file each.

    python -m eval.sets.multihop.build_corpus DIR [--shared ../shared]

Each file is `<Title_with_underscores>.txt`: the article title, a blank line, then every paragraph of the
article in its original order, separated by blank lines, verbatim. All 16 articles are written, not only
the passages the questions cite, so each question's two passages sit among some 640 others from the same
and neighbouring topics (retrieval is not trivial). The data stays in ../shared; only this folder is written.
The source file's SHA-256 is checked; a different file is reported, and refused unless --allow-mismatch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

SOURCE = Path("data") / "squad2" / "passages.jsonl"
SOURCE_SHA256 = "9ab87a708939cdb9fcabe3c7b2f7fd1f823e825bd9d0f8b564e3129ca94efa6a"
# Title -> number of paragraphs, in the order of the source file.
ARTICLES: dict[str, int] = {
    "Normans": 39,
    "Computational complexity theory": 48,
    "Huguenot": 44,
    "Steam engine": 46,
    "1973 oil crisis": 24,
    "European Union law": 40,
    "Packet switching": 23,
    "Harvard University": 30,
    "Yuan dynasty": 47,
    "Immune system": 49,
    "Scottish Parliament": 39,
    "Islamism": 39,
    "Imperialism": 39,
    "Warsaw": 49,
    "French and Indian War": 46,
    "Force": 44,
}


class CorpusError(RuntimeError):
    """The shared data is missing or not the data the question set was written on."""


def default_shared() -> Path:
    """$RAG_SHARED, else ../shared beside the project root (as the tests find it)."""
    env = os.environ.get("RAG_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared"


def article_file(title: str) -> str:
    return title.replace(" ", "_") + ".txt"


def read_articles(shared: Path, *, allow_mismatch: bool = False) -> dict[str, list[dict[str, str]]]:
    """Paragraph records (`_id`, `text`) of every article, by title, in file order."""
    source = shared / SOURCE
    if not source.is_file():
        raise CorpusError(f"SQuAD 2.0 passages not found at {source}; give --shared (the folder holding data/)")
    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SOURCE_SHA256 and not allow_mismatch:
        raise CorpusError(
            f"{source} differs from the file the questions were written on "
            f"(sha256 {digest}, expected {SOURCE_SHA256}); rerun with --allow-mismatch to build anyway"
        )
    articles: dict[str, list[dict[str, str]]] = {title: [] for title in ARTICLES}
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            if record["title"] in articles:
                articles[record["title"]].append({"_id": str(record["_id"]), "text": str(record["text"])})
    wrong = {t: len(p) for t, p in articles.items() if len(p) != ARTICLES[t]}
    if wrong and not allow_mismatch:
        raise CorpusError(f"{source}: unexpected paragraph counts {wrong} (expected {ARTICLES})")
    return articles


def document_text(title: str, paragraphs: Sequence[dict[str, str]]) -> str:
    return title + "\n\n" + "\n\n".join(p["text"] for p in paragraphs) + "\n"


def build(out: Path, shared: Path | None = None, *, allow_mismatch: bool = False) -> list[Path]:
    """Write one file per article into `out` (created if needed); the paths written."""
    articles = read_articles(shared or default_shared(), allow_mismatch=allow_mismatch)
    names = {article_file(t) for t in articles}
    out.mkdir(parents=True, exist_ok=True)
    strangers = sorted(p.name for p in out.iterdir() if p.name not in names)
    if strangers:
        raise CorpusError(f"{out} holds other files ({', '.join(strangers[:5])}); give an empty or new folder")
    written = []
    for title, paragraphs in articles.items():
        path = out / article_file(title)
        path.write_text(document_text(title, paragraphs), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.sets.multihop.build_corpus",
        description="Write the SQuAD 2.0 articles the multi-hop questions are asked over, one .txt file each.",
    )
    parser.add_argument("out", help="folder to write the documents to (new or empty)")
    parser.add_argument(
        "--shared", help="the shared data folder holding data/squad2 (default: $RAG_SHARED or ../shared)"
    )
    parser.add_argument("--allow-mismatch", action="store_true", help="build even if the source file differs")
    args = parser.parse_args(argv)
    try:
        written = build(Path(args.out), Path(args.shared) if args.shared else None, allow_mismatch=args.allow_mismatch)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = sum(p.stat().st_size for p in written)
    print(f"{len(written)} articles, {sum(ARTICLES.values())} paragraphs, {total:,} bytes -> {args.out}")
    print(f"index them with: rag index {args.out} --index INDEX_DIR")
    return 0


if __name__ == "__main__":
    sys.exit(main())
