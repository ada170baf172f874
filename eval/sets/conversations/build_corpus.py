"""Write the corpus of `eval/sets/conversations.jsonl`: the news corpus and the 16 SQuAD 2.0 articles in one folder.

    python -m eval.sets.conversations.build_corpus DIR [--shared ../shared]

A chat is held over one collection; mixing the two news files with the multi-hop set's articles gives a topic
switch somewhere else to go (a question about Warsaw after one about Alaska) and a follow-up 18 documents to
get lost among. The articles are written by `eval.sets.multihop.build_corpus` (its source check applies); the
news files are copied byte for byte.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from eval.sets.multihop import build_corpus as multihop

NEWS = Path("corpus") / "news"


def build(out: Path, shared: Path | None = None, *, allow_mismatch: bool = False) -> list[Path]:
    """Write every document into `out` (new or empty); the paths written."""
    shared = shared or multihop.default_shared()
    news = sorted((shared / NEWS).glob("*.txt"))
    if not news:
        raise multihop.CorpusError(f"no news articles in {shared / NEWS}; give --shared (the folder holding corpus/)")
    written = multihop.build(out, shared, allow_mismatch=allow_mismatch)
    for path in news:
        written.append(Path(shutil.copyfile(path, out / path.name)))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.sets.conversations.build_corpus",
        description="Write the news articles and the SQuAD 2.0 articles the conversation set is asked over.",
    )
    parser.add_argument("out", help="folder to write the documents to (new or empty)")
    parser.add_argument("--shared", help="the shared data folder holding corpus/news and data/squad2")
    parser.add_argument("--allow-mismatch", action="store_true", help="build even if the SQuAD file differs")
    args = parser.parse_args(argv)
    try:
        written = build(Path(args.out), Path(args.shared) if args.shared else None, allow_mismatch=args.allow_mismatch)
    except multihop.CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(written)} documents, {sum(p.stat().st_size for p in written):,} bytes -> {args.out}")
    print(f"index them with: rag index {args.out} --index INDEX_DIR")
    return 0


if __name__ == "__main__":
    sys.exit(main())
