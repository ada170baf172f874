"""Loaders for BEIR-layout data sets: queries (.jsonl or .tsv), qrels TSV with a header."""

from __future__ import annotations

import json
from pathlib import Path


class DataError(ValueError):
    """A malformed data file; the message names the file and line."""


def _lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"No file at {path}; give the path of an existing BEIR data file.")
    with open(path, encoding="utf-8-sig") as fh:
        return [(n, line.rstrip("\n")) for n, line in enumerate(fh, start=1) if line.strip()]


def _json_record(path: Path, lineno: int, line: str, required: tuple[str, ...]) -> dict[str, object]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict) or any(key not in record for key in required):
        raise DataError(f"{path}:{lineno}: expected a JSON object with {', '.join(required)}")
    return record


def load_queries(path: str | Path) -> dict[str, str]:
    """Query text by id, from `{"_id", "text"}` lines (.jsonl) or a `query-id<TAB>text` TSV with a header."""
    p = Path(path)
    queries: dict[str, str] = {}
    if p.suffix.lower() == ".tsv":
        for lineno, line in _lines(p)[1:]:
            parts = line.split("\t")
            if len(parts) < 2:
                raise DataError(f"{p}:{lineno}: expected 'query-id<TAB>text'")
            queries[parts[0]] = parts[1]
        return queries
    for lineno, line in _lines(p):
        record = _json_record(p, lineno, line, ("_id", "text"))
        queries[str(record["_id"])] = str(record["text"])
    return queries


def load_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Graded relevance by query id then document id, from `query-id corpus-id score` TSV with a header."""
    p = Path(path)
    rows = _lines(p)
    if rows and rows[0][1].split("\t")[-1].strip().lstrip("-").isdigit():
        raise DataError(f"{p}:1: expected a header line 'query-id<TAB>corpus-id<TAB>score' first")
    qrels: dict[str, dict[str, int]] = {}
    for lineno, line in rows[1:]:
        parts = line.split("\t")
        if len(parts) != 3:
            raise DataError(f"{p}:{lineno}: expected 'query-id<TAB>corpus-id<TAB>score', got {len(parts)} fields")
        try:
            score = int(parts[2])
        except ValueError:
            raise DataError(f"{p}:{lineno}: score '{parts[2]}' is not an integer") from None
        qrels.setdefault(parts[0], {})[parts[1]] = score
    return qrels
