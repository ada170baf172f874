"""`--engine ray` on a real two-node Ray cluster (1 CPU each, loopback only): the index is the local build's,
a worker killed mid-embedding loses and doubles nothing, a killed driver leaves the previous version current
and its rerun reuses what was embedded, and one edited document is the only one embedded again."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.build import build_index
from index.embedding import HashEmbedder
from index.ray_engine import RayEngine, ray_missing  # import no Ray until used
from index.store import IndexStore
from index.types import IndexReport
from tests.conftest import NEWS, ROOT, SCIFACT, need
from tests.index.ray_cluster import Cluster, local_cluster

# Not imported here: Ray reads its authentication settings when first imported (tests/index/ray_cluster.py).
if ray_missing():
    pytest.skip(ray_missing() or "", allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.integration]
SAMPLE_DOCS, QUERIES = 240, 50  # ~540 chunks with the news (IVF then probes all 13 lists: test_shards.py
# checks merged IVF lists where fewer are probed)
WAIT = 240.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with local_cluster() as running:
        yield running


def scifact_sample(folder: Path, docs: int = SAMPLE_DOCS, n_queries: int = QUERIES) -> dict[str, str]:
    """SCIFACT's first `n_queries` train queries with a relevant abstract, those abstracts and random others up
    to `docs`, written as `folder/scifact.jsonl` in corpus order; returns the queries."""
    from eval.beir import load_qrels, load_queries

    lines = [line for line in (need(SCIFACT) / "corpus.jsonl").read_text("utf-8").splitlines() if line.strip()]
    ids = [str(json.loads(line)["_id"]) for line in lines]
    queries, qrels = load_queries(SCIFACT / "queries_train.jsonl"), load_qrels(SCIFACT / "qrels" / "train.tsv")
    chosen = [q for q in sorted(queries, key=int) if any(g > 0 for g in qrels.get(q, {}).values())][:n_queries]
    keep = {d for q in chosen for d, g in qrels[q].items() if g > 0} & set(ids)
    keep |= set(random.Random(0).sample(sorted(set(ids) - keep), docs - len(keep)))
    (folder / "scifact.jsonl").write_text("".join(f"{ln}\n" for ln, i in zip(lines, ids) if i in keep), "utf-8")
    return {q: queries[q] for q in chosen}


def top10(index: Path, queries: dict[str, str], embedder: Any) -> list[list[str]]:
    from rag.retrieval import get_retriever

    store = IndexStore.open(index)
    try:
        retriever = get_retriever("hybrid", store, embedder=embedder)
        return [[hit.chunk.id for hit in retriever.retrieve(q, 10)] for q in queries.values()]
    finally:
        store.close()


def build_killing_a_worker(cluster: Cluster, src: Path, out: Path, embedder: Any) -> tuple[IndexReport, list[int]]:
    """A Ray build during which one embedding actor is killed with SIGKILL once the first batch is back."""
    done: list[IndexReport | BaseException] = []
    first_batch = threading.Event()

    def progress(stage: str, n: int, total: int) -> None:
        if stage == "embed" and 0 < n < total:
            first_batch.set()

    def run() -> None:
        try:
            with RayEngine(cluster.address, workers=2, embedder="minilm") as engine:
                done.append(build_index(src, out, embedder=embedder, engine=engine, progress=progress))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread, which raises it
            done.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert first_batch.wait(WAIT), "embedding never started"
    killed = cluster.embed_workers()[:1]
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    thread.join(WAIT)
    assert not thread.is_alive(), "the Ray build did not finish after a worker was killed"
    if isinstance(done[0], BaseException):
        raise done[0]
    return done[0], killed


def test_ray_index_is_the_local_index_through_a_killed_worker(cluster: Cluster, tmp_path: Path, minilm: Any) -> None:
    src = tmp_path / "src"
    shutil.copytree(need(NEWS), src)
    queries = scifact_sample(src)
    local = build_index(src, tmp_path / "local", embedder=minilm)

    report, killed = build_killing_a_worker(cluster, src, tmp_path / "ray", minilm)
    assert killed, "no embedding actor was found to kill"
    print(f"killed embedding actor {killed[0]}; {report.chunks} chunks in {report.seconds:.1f} s")
    a, b = IndexStore.open(tmp_path / "local"), IndexStore.open(tmp_path / "ray")
    ids = [c.id for c in b.chunks]
    assert (report.chunks, report.documents) == (local.chunks, local.documents)
    assert len(ids) == len(set(ids)) == b.manifest.counts.chunks == len(b.vectors()), "a chunk twice or lost"
    assert [(c.id, c.text) for c in a.chunks] == [(c.id, c.text) for c in b.chunks]
    assert a.manifest.documents == b.manifest.documents and a.manifest.files == b.manifest.files
    assert float(np.abs(a.vectors() - b.vectors()).max()) < 1e-5
    assert b.faiss_kind == "flat"
    assert top10(tmp_path / "ray", queries, minilm) == top10(tmp_path / "local", queries, minilm)

    # IVF forced: every vector is cached by now, so both builds only train, add and merge.
    build_index(src, tmp_path / "local", embedder=minilm, faiss_kind="ivf")
    with RayEngine(cluster.address, workers=2, embedder="minilm") as engine:
        ivf = build_index(src, tmp_path / "ray", embedder=minilm, faiss_kind="ivf", engine=engine)
    assert ivf.embedded_chunks == 0 and IndexStore.open(tmp_path / "ray").faiss_kind == "ivf"
    want, got = top10(tmp_path / "local", queries, minilm), top10(tmp_path / "ray", queries, minilm)
    recall = sum(len(set(w) & set(g)) for w, g in zip(want, got)) / sum(len(w) for w in want)
    print(f"IVF hybrid recall@10 against the local build: {recall:.3f}")
    assert recall >= 0.99


def test_one_edited_document_is_the_only_one_embedded_again(cluster: Cluster, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    records = [{"_id": str(i), "title": f"Record {i}", "text": f"Record {i} is about topic{i % 7}."} for i in range(40)]
    (src / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    (src / "note.txt").write_text("A note\n\nA note that stays as it is.", "utf-8")
    with RayEngine(cluster.address, workers=2, embedder="hash-64") as engine:
        first = build_index(src, tmp_path / "idx", embedder=HashEmbedder(64), engine=engine)
        records[17]["text"] = "Record 17 now speaks of zebrafish instead."
        (src / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
        again = build_index(src, tmp_path / "idx", embedder=HashEmbedder(64), engine=engine)
    assert first.embedded_chunks == first.chunks == 41
    assert again.updated == ("corpus.jsonl#17",) and not again.added and not again.removed
    assert (again.unchanged, again.embedded_chunks) == (40, 1)
    local = build_index(src, tmp_path / "local", embedder=HashEmbedder(64))
    ids = [c.id for c in IndexStore.open(tmp_path / "idx").chunks]
    assert ids == [c.id for c in IndexStore.open(local.index_dir).chunks]


def cached_vectors(index: Path) -> int:
    db = index / "embeddings-cache" / "cache.sqlite"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT count(*) FROM vectors").fetchone()[0])


def test_a_killed_driver_leaves_the_previous_version_and_its_rerun_reuses_the_cache(
    cluster: Cluster, tmp_path: Path
) -> None:
    src, idx = tmp_path / "src", tmp_path / "idx"
    shutil.copytree(need(NEWS), src)
    cmd = [sys.executable, "-m", "index", str(src), "--index", str(idx), "--engine", "ray", "--quiet",
           "--ray-address", cluster.address, "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, timeout=WAIT)
    previous, first_chunks = IndexStore.open(idx).version, int(first.stdout.split("chunks: ")[1].split()[0])
    scifact_sample(src, docs=120, n_queries=10)  # ~260 chunks: three batches of EMBED_ROWS
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before = cached_vectors(idx)
    deadline = time.monotonic() + WAIT
    while cached_vectors(idx) <= before and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)
    driver.wait(WAIT)
    cached = cached_vectors(idx) - before
    assert cached > 0, "the driver was not killed mid-embedding"
    assert IndexStore.open(idx).version == previous
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=WAIT)
    assert rerun.returncode == 0, rerun.stderr
    reused = int(rerun.stdout.split("reused ")[1].split()[0])
    print(f"killed after {cached} vectors were cached; the rerun reused {reused}")
    assert reused >= cached + first_chunks  # the first version's chunks, and what the killed run embedded
    assert IndexStore.open(idx).version != previous
