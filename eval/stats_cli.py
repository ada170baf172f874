"""`rag stats [--index DIR] [--log FILE]`: usage figures from an index's question log and its rotated files."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from index import env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", default=env.index_dir(), help="index folder (default: %(default)s; $RAG_INDEX)")
    parser.add_argument("--log", help="a question log file (default: INDEX/logs/questions.jsonl); rotated ones too")
    parser.add_argument("--days", type=int, default=14, help="days shown in the per-day table (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def read_lines(files: list[Path]) -> Iterator[str]:
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as fh:
            yield from fh


def run(args: argparse.Namespace) -> int:
    from eval.stats import render, summarize_log
    from rag.question_log import log_files, log_path

    path = Path(args.log) if args.log else log_path(args.index)
    files = log_files(path)
    if not files:
        print(
            f"error: no question log at {path}. Questions are logged there as they are answered "
            "(rag ask, rag chat, rag eval run), unless RAG_QUESTION_LOG=0 or --no-log turned it off; "
            "check --index or --log.",
            file=sys.stderr,
        )
        return 2
    try:
        stats = summarize_log(read_lines(files))
    except OSError as exc:
        print(f"error: cannot read the question log: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"log": [str(f) for f in files], **stats.to_dict()}, indent=2))
    else:
        print(render(stats, str(path), days=args.days))
    return 0
