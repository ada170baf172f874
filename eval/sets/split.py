"""Deterministic tune/report halves of a question set, balanced within strata.

Defaults are tuned on one half and reported on the other. Each record of a set carries its half in a
`split` field; `assign_splits` is the rule that produced it, so a test can check the file against it.
Records are grouped into strata (answerable or not, crossed with the record's `type`), ordered within a
stratum by the SHA-256 of their id, and dealt alternately to the two halves with one counter running
across the strata: every stratum, and the whole set, splits evenly to within one question.

    python -m eval.sets.split eval/sets/multihop.jsonl --split tune --out /tmp/multihop.tune.jsonl
    python -m eval.sets.split eval/sets/multihop.jsonl --check
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SPLITS = ("tune", "report")


def stratum(record: Mapping[str, Any]) -> tuple[bool, str]:
    return bool(record.get("answerable", True)), str(record.get("type") or "")


def assign_splits(records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The half of every record, by id."""
    strata: dict[tuple[bool, str], list[str]] = defaultdict(list)
    for record in records:
        strata[stratum(record)].append(str(record["id"]))
    out: dict[str, str] = {}
    dealt = 0
    for key in sorted(strata):
        for rid in sorted(strata[key], key=lambda i: hashlib.sha256(i.encode("utf-8")).hexdigest()):
            out[rid] = SPLITS[dealt % 2]
            dealt += 1
    return out


def read_records(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def mismatches(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Ids whose `split` field is not the one `assign_splits` gives."""
    expected = assign_splits(records)
    return [str(r["id"]) for r in records if r.get("split") != expected[str(r["id"])]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.sets.split", description="Write one half (tune or report) of a question set."
    )
    parser.add_argument("questions", help="a question set whose records carry a `split` field")
    parser.add_argument("--split", choices=SPLITS, help="write the questions of this half")
    parser.add_argument("--out", help="file to write the half to (default: standard output)")
    parser.add_argument("--check", action="store_true", help="check every `split` field against the rule")
    args = parser.parse_args(argv)
    records = read_records(args.questions)
    if args.check:
        wrong = mismatches(records)
        if wrong:
            print(f"{len(wrong)} records are in the wrong half: {', '.join(wrong[:10])}", file=sys.stderr)
            return 1
        counts = {s: sum(r.get("split") == s for r in records) for s in SPLITS}
        print(f"{args.questions}: {counts['tune']} tune, {counts['report']} report; every split as assigned")
        if not args.split:
            return 0
    if not args.split:
        parser.error("give --split tune|report (or --check)")
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records if r.get("split") == args.split]
    if args.out:
        Path(args.out).write_text("".join(lines), encoding="utf-8")
        print(f"{len(lines)} {args.split} questions -> {args.out}", file=sys.stderr)
    else:
        sys.stdout.writelines(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
