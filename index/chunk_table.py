"""Chunk records on disk, read one at a time: opening a million-chunk index parses none.

chunks.jsonl holds one JSON object a line (the `Chunk` fields, UTF-8); chunks.offsets.npy
is a uint64 array with the byte offset where line i starts, then the file's size. Both are
plain: `sed -n`/`jq` read the first, `numpy.load` the second.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import overload

import numpy as np

from index.types import Chunk

_decode = json.JSONDecoder().decode
RECORDS = "chunks.jsonl"
OFFSETS = "chunks.offsets.npy"


def write_chunks(folder: Path, chunks: Sequence[Chunk]) -> None:
    """Write the records and the offsets of their lines into `folder`."""
    offsets = np.empty(len(chunks) + 1, dtype=np.uint64)
    position = 0
    with open(folder / RECORDS, "wb") as fh:
        for row, chunk in enumerate(chunks):
            offsets[row] = position
            line = (json.dumps(asdict(chunk), ensure_ascii=False) + "\n").encode("utf-8")
            fh.write(line)
            position += len(line)
    offsets[len(chunks)] = position
    np.save(folder / OFFSETS, offsets)


def read_chunks(path: Path) -> list[Chunk]:
    """Every record of a chunks.jsonl, parsed (for rebuilding an index, not for serving)."""
    with open(path, encoding="utf-8") as fh:
        return [Chunk(**json.loads(line)) for line in fh if line.strip()]


class ChunkTableError(ValueError):
    pass


class ChunkTable(Sequence[Chunk]):
    """Row i's `Chunk`, parsed from its own line only when asked for.

    `parsed` counts the records decoded so far (tests check that opening decodes none).
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / RECORDS
        # Read whole (8 bytes a row): indexing a memmap costs more per lookup than the read.
        self._offsets = np.load(folder / OFFSETS)
        size = self.path.stat().st_size
        if self._offsets.ndim != 1 or len(self._offsets) < 1 or int(self._offsets[-1]) != size:
            raise ChunkTableError(f"{folder / OFFSETS} does not match {self.path} ({size} bytes)")
        self._map: mmap.mmap | bytes = b""
        if size:
            with open(self.path, "rb") as fh:  # the map keeps its own handle
                self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self.parsed = 0

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, row: int) -> Chunk: ...

    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...

    def __getitem__(self, row: int | slice) -> Chunk | list[Chunk]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        n = len(self)
        i = int(row) + n if int(row) < 0 else int(row)
        if not 0 <= i < n:
            raise IndexError(f"chunk row {row} out of range for {n} chunks")
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        self.parsed += 1
        return Chunk(**_decode(self._map[start:end].decode("utf-8")))

    def __iter__(self) -> Iterator[Chunk]:
        # Sequential reads are faster through the file than row by row through the map.
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                self.parsed += 1
                yield Chunk(**json.loads(line))
