"""Retrieval at scale: synthetic corpora of 100k and 1M chunks, written through the store's
own writer with precomputed vectors (embedding a million chunks would take hours).

Vectors: 384-dim, normalized, drawn around 1,000 random topic centres with 10 sub-topics
each. Text: 40-120 pseudo-words a chunk from a Zipf-like 50,000-word vocabulary, a fifth
of them from the chunk's topic. Queries: 200 fresh vectors from the same distribution and five
words of a random chunk. Built indexes are cached in .rag/bench/scale-N with the build times
measured when they were built; serving is measured in a fresh process (`python -m bench.scale
serve DIR`) so that open time and memory are its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common import ROOT, WORK
from eval.metrics import percentile
from index.embedding import Embedder, Vectors
from index.runtime import configure_process
from index.store import IndexStore, current_version, faiss_settings, write_version
from index.types import Chunk, Counts, EmbedderInfo, Manifest

SIZES = tuple(int(s) for s in os.environ.get("RAG_SCALE_SIZES", "100000,1000000").split(","))
DIM, TOPICS, VOCAB, QUERIES = 384, 1000, 50_000, 200
# Offsets from a topic centre to its 10 sub-topics, and of a chunk from its sub-topic, before
# normalizing: a query's nearest chunk then has cosine ~0.65 and its 10th ~0.53, as with MiniLM.
SUBTOPIC, NOISE = 0.8, 1.0
NPROBES = (4, 8, 16, 32)
FLAT_TIMED = 20  # exact search is slow at 1M; its median needs few queries
F32 = npt.NDArray[np.float32]


def _vectors(n: int, seed: int) -> tuple[F32, npt.NDArray[np.int64]]:
    """n unit vectors around topic and sub-topic centres (fixed for every seed), and their topics."""
    shared = np.random.default_rng(12345)
    centres = shared.normal(size=(TOPICS, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    subtopics = shared.normal(scale=SUBTOPIC / np.sqrt(DIM), size=(TOPICS, 10, DIM)).astype(np.float32)
    rng = np.random.default_rng(seed)
    topics, subs = rng.integers(0, TOPICS, n), rng.integers(0, 10, n)
    out = np.empty((n, DIM), dtype=np.float32)
    for s in range(0, n, 100_000):  # in blocks: float64 noise for 1M rows would be 3 GB
        e = min(n, s + 100_000)
        noise = rng.normal(scale=NOISE / np.sqrt(DIM), size=(e - s, DIM)).astype(np.float32)
        block = centres[topics[s:e]] + subtopics[topics[s:e], subs[s:e]] + noise
        out[s:e] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out, topics


def _vocabulary() -> list[str]:
    rng = np.random.default_rng(7)
    letters = np.array(list("bcdfghjklmnprstvz")), np.array(list("aeiou"))
    words: dict[str, None] = {}
    while len(words) < VOCAB:  # consonant-vowel syllables: never an English stop word
        syl = int(rng.integers(2, 5))
        words["".join(c + v for c, v in zip(rng.choice(letters[0], syl), rng.choice(letters[1], syl)))] = None
    return list(words)


def _texts(topics: npt.NDArray[np.int64], seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    vocab = _vocabulary()
    weights = 1.0 / np.arange(1, VOCAB + 1) ** 1.07
    lengths = rng.integers(40, 121, len(topics))
    words = rng.choice(VOCAB, int(lengths.sum()), p=weights / weights.sum())
    # A fifth of the words come from the topic's own 100 (rarer) words, as real topics have jargon.
    topical = rng.random(len(words)) < 0.2
    owner = np.repeat(topics, lengths)
    words[topical] = 1000 + (owner[topical] * 37 + rng.integers(0, 100, int(topical.sum()))) % (VOCAB - 1000)
    ends = np.cumsum(lengths)
    return [" ".join(vocab[w] for w in words[e - n : e]) for n, e in zip(lengths, ends)]


def _chunks(n: int) -> tuple[list[Chunk], F32]:
    vectors, topics = _vectors(n, seed=1)
    chunks = []
    for row, text in enumerate(_texts(topics, seed=2)):
        doc = f"synthetic/{row // 4:07d}.txt"  # four chunks a document, as a real corpus has
        chunks.append(Chunk(f"{doc}#{row % 4}", doc, doc, f"Topic {topics[row]}", text, 0, len(text)))
    return chunks, vectors


def build(n: int) -> tuple[Path, dict[str, Any]]:
    """The cached synthetic index of n chunks and the stage times measured when it was built."""
    out = WORK / f"scale-{n}"
    info_path = out / "build.json"
    if current_version(out) and info_path.exists():
        info: dict[str, Any] = json.loads(info_path.read_text())
        if info.get("chunks") == n:
            return out, info
    t0 = time.perf_counter()
    chunks, vectors = _chunks(n)
    generate = time.perf_counter() - t0
    stages: dict[str, float] = {}
    manifest = Manifest(
        source="synthetic",
        embedder=EmbedderInfo("synthetic-384", DIM, 256),
        faiss=faiss_settings("auto", n),
        counts=Counts(files=0, documents=n // 4, chunks=n),
    )
    t0 = time.perf_counter()
    write_version(out, chunks, vectors, manifest, "auto", stage_seconds=stages)
    info = {"chunks": n, "generate_s": generate, "write_s": time.perf_counter() - t0, "stages": stages}
    info["built"] = time.strftime("%Y-%m-%d %H:%M")
    info_path.write_text(json.dumps(info, indent=1))
    return out, info


def _queries(out: Path, n: int) -> Path:
    """Query texts and vectors with their exact top 10, plus exact search timed on one thread."""
    path = out / "queries.npz"
    if path.exists():
        return path
    import faiss

    vectors, _ = _vectors(n, seed=1)
    queries, _ = _vectors(QUERIES, seed=3)
    store = IndexStore.open(out)
    rng = np.random.default_rng(4)
    texts = []
    for row in rng.integers(0, n, QUERIES):
        words = store.chunks[int(row)].text.split()
        texts.append(" ".join(rng.choice(words, 5, replace=False)))
    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    _, truth = flat.search(queries, 10)
    faiss.omp_set_num_threads(1)
    times = []
    for q in queries[:FLAT_TIMED]:
        t0 = time.perf_counter()
        flat.search(q[None, :], 10)
        times.append((time.perf_counter() - t0) * 1000)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    np.savez(path, texts=np.array(texts), vectors=queries, truth=truth, flat_ms=np.array(times))
    return path


class _Given:
    """An embedder double returning the precomputed query vectors (latency without embedding)."""

    def __init__(self, texts: Sequence[str], vectors: F32, name: str) -> None:
        self.name, self.dim, self.max_tokens = name, DIM, 256
        self._by_text = {t: v for t, v in zip(texts, vectors)}

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> Vectors:
        return np.stack([self._by_text[t] for t in texts])


class _Renamed:
    """The default embedder under the synthetic index's embedder name: the real query-embedding cost."""

    def __init__(self, inner: Embedder, name: str) -> None:
        self.name, self.dim, self.max_tokens, self._inner = name, inner.dim, inner.max_tokens, inner

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> Vectors:
        return self._inner.encode(texts, batch_size=batch_size)


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _timed(calls: Sequence[Any], fn: Any) -> tuple[list[float], list[Any]]:
    for call in calls[:3]:
        fn(call)
    times, results = [], []
    for call in calls:
        t0 = time.perf_counter()
        results.append(fn(call))
        times.append((time.perf_counter() - t0) * 1000)
    return times, results


def serve(index_dir: Path) -> dict[str, Any]:
    """Open and query one index in this (fresh) process, serving (see __main__); the numbers as a dict."""
    from index.embedding import DEFAULT_EMBEDDER, get_embedder
    from rag.retrieval import HybridRetriever

    rss0, t0 = _rss_mb(), time.perf_counter()
    store = IndexStore.open(index_dir)
    res: dict[str, Any] = {"open_s": time.perf_counter() - t0, "rss_open_mb": _rss_mb() - rss0}
    q = np.load(index_dir / "queries.npz")
    texts, vectors, truth = [str(t) for t in q["texts"]], q["vectors"], q["truth"]
    res["flat_ms"] = [float(x) for x in q["flat_ms"]]
    res["kind"], res["nprobe"] = store.faiss_kind, store.manifest.faiss.nprobe
    index = store._faiss  # the bench sweeps nprobe on the open index
    for nprobe in NPROBES if store.faiss_kind == "ivf" else (None,):
        if nprobe is not None:
            index.nprobe = nprobe
        times, found = _timed(list(vectors), lambda v: store.search_dense(v, 10)[0].rows)
        recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth.tolist())]))
        res.setdefault("dense", []).append({"nprobe": nprobe, "ms": times, "recall": recall})
    if res["nprobe"] is not None:
        index.nprobe = res["nprobe"]
    res["lexical_ms"], _ = _timed(texts, lambda t: store.search_lexical([t], 100))
    given = HybridRetriever(store, embedder=_Given(texts, vectors, store.embedder_name))
    t0 = time.perf_counter()
    given.retrieve(texts[-1])
    res["hybrid_first_s"] = time.perf_counter() - t0
    res["hybrid_ms"], _ = _timed(texts, given.retrieve)
    res["rss_served_mb"] = _rss_mb() - rss0
    # The default runtime, as `rag chat` embeds a question (one thread).
    default = _Renamed(get_embedder(DEFAULT_EMBEDDER), store.embedder_name)
    res["hybrid_embedded_ms"], _ = _timed(texts, HybridRetriever(store, embedder=default).retrieve)
    res["embed_ms"], _ = _timed(texts, lambda t: _embed_one(default, t))
    return res


def _embed_one(embedder: Embedder, text: str) -> Vectors:
    return embedder.encode([text], batch_size=1)  # on one thread, as the process serves


def _disk(index_dir: Path) -> dict[str, int]:
    version = current_version(index_dir)
    assert version is not None
    sizes = {"vectors": (version / "vectors.faiss").stat().st_size}
    sizes["records"] = sum(p.stat().st_size for p in version.glob("chunks.*"))
    sizes["bm25"] = sum(p.stat().st_size for p in (version / "bm25").iterdir())
    return sizes


def _measure(index_dir: Path) -> dict[str, Any]:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}  # the child sets OpenBLAS's kernel itself
    cmd = [sys.executable, "-m", "bench.scale", "serve", str(index_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _p(values: Sequence[float]) -> str:
    return f"{percentile(values, 0.5):.2f} / {percentile(values, 0.95):.2f}"


def run() -> str:
    from bench.scale_report import real_vectors, report

    results = {}
    for n in SIZES:
        print(f"   {n:,} chunks: build (cached after the first run)", flush=True)
        index_dir, info = build(n)
        _queries(index_dir, n)
        print(f"   {n:,} chunks: serve", flush=True)
        res = results[n] = _measure(index_dir)
        res["disk"], res["build"] = _disk(index_dir), info
        print(f"   hybrid p50 {percentile(res['hybrid_ms'], 0.5):.2f} ms", flush=True)
    return report(results, real_vectors())


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        # One thread a query, as `rag chat` serves; set before faiss and torch load.
        configure_process(serving=True)
        print(json.dumps(serve(Path(sys.argv[2]))))
    else:
        configure_process(serving=False)
        print(run())
