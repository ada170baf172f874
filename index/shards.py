"""Shards: one worker's part of a version, and the merge of all parts into what a local build writes.

A shard is a contiguous range of the version's rows: their vectors in a FAISS index, and their BM25 term
statistics (each row's term ids under the shard's own vocabulary, and the rows' text digests).

FAISS: one empty index is made once (IVF: the quantizer trained on the sample the local build trains on)
and every shard fills a copy; the copies merge in shard order, flat codes concatenated and IVF inverted
lists appended list by list with global ids. That is FAISS's documented way to build an index bigger than
one machine (faiss/contrib/ondisk.py merges the same lists into on-disk inverted lists, docs/scale.md).
HNSW graphs do not merge, so an HNSW index is built whole from the vectors.

BM25: each shard tokenizes its rows with a fresh tokenizer. Renumbering each shard's vocabulary in shard
order gives exactly the term ids one tokenizer gives reading all rows in order, so document frequencies
and lengths add up to those of the whole corpus and the scores are the local build's.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from index.embedding import Vectors
from index.lexical import LexicalIndex, new_tokenizer, text_keys
from index.store import VersionParts, build_faiss, trained_faiss
from index.types import FaissSettings

Bytes = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Shard:
    start: int  # its first row in the version
    faiss: Bytes  # faiss.serialize_index of its rows (empty for HNSW)
    word_to_stem: Mapping[str, str]  # its tokenizer's vocabulary, as bm25s keeps it
    stem_to_sid: Mapping[str, int]
    word_to_id: Mapping[str, int]
    term_ids: npt.NDArray[np.int64]  # every row's term ids, one after the other
    term_offsets: npt.NDArray[np.int64]  # row i's are term_ids[term_offsets[i] : term_offsets[i + 1]]
    text_keys: npt.NDArray[np.void]

    @property
    def rows(self) -> int:
        return len(self.term_offsets) - 1


def _faiss() -> Any:
    import faiss

    return faiss


def shard_bounds(rows: int, shards: int) -> list[tuple[int, int]]:
    """`shards` contiguous row ranges as even as can be (fewer when there are fewer rows)."""
    count = max(1, min(shards, rows))
    edges = [rows * i // count for i in range(count + 1)]
    return list(itertools.pairwise(edges))


def empty_index(vectors: Vectors, settings: FaissSettings) -> Bytes:
    """The serialized empty index every shard fills (for IVF, trained here, once); empty for HNSW."""
    if settings.kind == "hnsw":
        return np.zeros(0, dtype=np.uint8)
    serialized: Bytes = _faiss().serialize_index(trained_faiss(vectors, settings))
    return serialized


def build_shard(start: int, texts: Sequence[str], vectors: Vectors, empty: Bytes) -> Shard:
    """Rows `start ...` of a version: `vectors` added to a copy of `empty`, and `texts` tokenized."""
    faiss = _faiss()
    blob = empty
    if len(empty):
        index = faiss.deserialize_index(empty)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        blob = faiss.serialize_index(index)
    tokenizer = new_tokenizer()
    ids = tokenizer.tokenize(list(texts), return_as="ids", show_progress=False)
    lengths = np.fromiter((len(r) for r in ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter((t for r in ids for t in r), dtype=np.int64, count=int(lengths.sum()))
    return Shard(
        start=start,
        faiss=blob,
        word_to_stem=dict(tokenizer.word_to_stem),
        stem_to_sid=dict(tokenizer.stem_to_sid),
        word_to_id=dict(tokenizer.word_to_id),
        term_ids=flat,
        term_offsets=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
        text_keys=text_keys(texts),
    )


def merge_shards(shards: Sequence[Shard], empty: Bytes, vectors: Vectors, settings: FaissSettings) -> VersionParts:
    """One FAISS index and one BM25 over all shards' rows, in row order; `vectors` are used only for HNSW."""
    ordered = sorted(shards, key=lambda s: s.start)
    row = 0
    for shard in ordered:
        if shard.start != row:  # a lost or doubled shard would shift every row after it
            raise ValueError(f"shards do not tile the rows: one starts at {shard.start}, expected {row}")
        row += shard.rows
    if row != len(vectors):
        raise ValueError(f"shards hold {row} rows, the version has {len(vectors)}")
    tokenizer, ids = _merge_terms(ordered)
    keys = np.concatenate([s.text_keys for s in ordered]) if ordered else text_keys([])
    lexical = LexicalIndex.from_term_ids(tokenizer, ids, keys)
    return VersionParts(_merge_faiss(ordered, empty, vectors, settings), lexical)


def _merge_faiss(shards: Sequence[Shard], empty: Bytes, vectors: Vectors, settings: FaissSettings) -> Any:
    if settings.kind == "hnsw":
        return build_faiss(vectors, settings)
    faiss = _faiss()
    merged = faiss.deserialize_index(empty)
    for shard in shards:
        # IVF keeps explicit ids, so a shard's are shifted past the rows before it; flat rows are implicit.
        merged.merge_from(faiss.deserialize_index(shard.faiss), merged.ntotal if settings.kind == "ivf" else 0)
    return merged


def _merge_terms(shards: Sequence[Shard]) -> tuple[Any, list[list[int]]]:
    """One tokenizer whose vocabulary is the shards' renumbered in shard order, and every row's term ids in it."""
    tokenizer = new_tokenizer()
    words, stems, word_ids = tokenizer.word_to_stem, tokenizer.stem_to_sid, tokenizer.word_to_id
    ids: list[list[int]] = []
    for shard in shards:
        remap = np.zeros(len(shard.stem_to_sid), dtype=np.int64)
        for stem, sid in sorted(shard.stem_to_sid.items(), key=lambda item: item[1]):
            remap[sid] = stems.setdefault(stem, len(stems))
        for word, stem in shard.word_to_stem.items():
            words.setdefault(word, stem)
        for word, sid in shard.word_to_id.items():
            word_ids.setdefault(word, int(remap[sid]))
        flat = remap[shard.term_ids].tolist()
        offsets = shard.term_offsets.tolist()
        ids.extend(flat[a:b] for a, b in itertools.pairwise(offsets))
    return tokenizer, ids
