"""Indexing on a Ray cluster (`rag index PATH --engine ray`): the heavy steps of `build_index` as Ray work.

- Reading: Ray Data tasks load and chunk the files the build must read (`index.planning.read_file`, the
  local build's own code); the driver lists the corpus (its link and boundary rules are the local build's)
  and assembles the results in listing order, so chunk ids, order and texts are the local build's.
- Embedding: the texts the driver's embedding cache lacks, longest first, go through `map_batches` with an
  actor pool of `workers` actors, each loading the embedder once; every batch that comes back is cached at
  once, so a killed driver's rerun embeds only what was still in flight. Ray restarts a killed actor and
  retries its batch; vectors are keyed by text digest, so a batch delivered twice adds nothing twice.
- Shards: `workers` Ray tasks each turn a contiguous range of rows into a FAISS part and BM25 term
  statistics; the driver merges them (index/shards.py) and writes the version as a local build does.

Workers import this project, so every node needs it installed (`pip install -e '.[scale]'`), and they read
the corpus by its path, so the corpus must be at the same path on every node (a shared file system).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
import os
import secrets
import socket
import sys
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

import numpy as np

from index.chunking import Chunker, ChunkerSettings
from index.embedding import Embedder, EncodeMissing, Vectors, get_embedder
from index.planning import FileRead, PendingFile, Reader, read_file
from index.shards import build_shard, empty_index, merge_shards, shard_bounds
from index.store import StoreError, VersionParts
from index.types import Chunk, FaissSettings

INSTALL = "pip install -e '.[scale]'"
# Ray replaces 127.0.0.1 and localhost by the machine's network address; another loopback address it
# keeps, so a Ray this process starts itself is reachable from this machine only.
LOOPBACK = "127.0.0.2"
# Rows per actor call: big enough to amortize a call (~0.1 s), small enough that a killed actor loses
# about five seconds of one worker's embedding and that progress moves.
EMBED_ROWS = 128
READ_BLOCKS = 256  # at most this many read tasks; each reads its share of the files in listing order
CONNECT_SECONDS = 10.0


class ClusterError(StoreError):
    """The Ray cluster cannot be reached or cannot run the work; the message says what to do."""


def ray_missing() -> str | None:
    """Why `--engine ray` cannot run here (Ray or Ray Data absent), or None. Imports nothing."""
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("pyarrow") is None:
        return f"--engine ray needs Ray (with Ray Data), which is not installed. Install it: {INSTALL}"
    return None


class RayEngine:
    """Runs a build's reading, embedding and FAISS/BM25 building on Ray (see the module's docstring).

    `address`: a running cluster (`auto`, or HOST:PORT of its head); None starts a private Ray on this
    machine with `workers` CPUs, on a loopback address, without dashboard. `workers`: actors embedding at
    once (default: the cluster's CPUs); each takes one CPU. `embedder`: how workers load the embedder
    (a registry name or a model folder on every node); None uses the build's embedder's name.
    Use it as a context manager: a Ray it started is stopped at the end.
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        embedder: str | None = None,
        *,
        embed_rows: int = EMBED_ROWS,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers={workers}: give 1 or more")
        self.address, self.embedder, self.embed_rows = address, embedder, embed_rows
        self._wanted = workers
        self._started = False

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._started:
            _ray().shutdown()
            self._started = False

    @property
    def workers(self) -> int:
        """Actors and shards: the number asked for, at most the cluster's CPUs (more would wait forever)."""
        cpus = int(self._connect().cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise ClusterError(f"The Ray cluster at {self.address or 'this machine'} has no CPU to run work on.")
        return min(self._wanted or cpus, cpus)

    def _connect(self) -> Any:
        """Ray, joined to the cluster: this process's existing connection, or a new one (then closed by close())."""
        if not (self._started or ("ray" in sys.modules and _ray().is_initialized())):
            self._init()
        ray = _ray()
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # one line a dataset, on the command's output
        return ray

    def _init(self) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        quiet: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        if self.address:
            _check_reachable(self.address)
            ray = _ray()
            try:
                ray.init(address=self.address, **quiet)
            except ConnectionError as exc:
                raise ClusterError(f"Could not join the Ray cluster at {self.address}: {exc}") from None
        else:
            # Ray 2.60 protects a new local Ray with a token it saves in ~/.ray; a random one in the environment
            # (inherited by the processes it starts) protects it as well and leaves nothing behind.
            os.environ.setdefault("RAY_AUTH_MODE", "token")
            os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
            cpus = self._wanted or os.cpu_count() or 1
            ray = _ray()  # imported after the settings above, which it reads once
            ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address=LOOPBACK, **quiet)
        self._started = True

    def reader(self, embedder: Embedder, settings: ChunkerSettings, max_file_bytes: int) -> Reader:
        spec = self.embedder or embedder.name

        def read(pending: Sequence[PendingFile]) -> list[FileRead]:
            if not pending:
                return []
            ray = self._connect()
            items = [{"file": file} for file in pending]
            ds = ray.data.from_items(items, override_num_blocks=min(len(pending), READ_BLOCKS))
            kwargs = {"spec": spec, "settings": settings, "max_file_bytes": max_file_bytes}
            ds = ds.map_batches(_read_files, batch_size=None, fn_kwargs=kwargs, num_cpus=1, batch_format="numpy")
            got: dict[int, FileRead] = {}
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                got.update((r.position, r) for r in batch["read"])
            lost = [f.path for f in pending if f.position not in got]
            if lost:
                raise ClusterError(f"{len(lost)} files came back unread from the cluster, e.g. {lost[0]}")
            return [got[f.position] for f in pending]

        return read

    def encoder(self, embedder: Embedder) -> EncodeMissing:
        spec = self.embedder or embedder.name

        def encode(pairs: Sequence[tuple[str, str]]) -> Iterator[tuple[Sequence[str], Vectors]]:
            if not pairs:
                return
            ray = self._connect()
            rows = [{"key": key, "text": text} for key, text in pairs]  # longest first, as locally
            blocks = math.ceil(len(rows) / self.embed_rows)
            ds = ray.data.from_items(rows, override_num_blocks=blocks)
            ds = ds.map_batches(
                _Embed,
                batch_size=self.embed_rows,
                compute=ray.data.ActorPoolStrategy(size=min(self.workers, blocks)),
                num_cpus=1,
                batch_format="numpy",
                fn_constructor_kwargs={"spec": spec, "name": embedder.name, "dim": embedder.dim},
            )
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                yield [str(k) for k in batch["key"]], np.asarray(batch["vector"], dtype=np.float32)

        return encode

    def parts(self, chunks: Sequence[Chunk], vectors: Vectors, faiss: FaissSettings) -> VersionParts:
        ray = self._connect()
        empty = empty_index(vectors, faiss)  # IVF's quantizer trained here, once, and sent to every shard
        empty_ref = ray.put(empty)
        task = ray.remote(num_cpus=1, max_retries=3)(build_shard)
        texts = [c.indexed_text for c in chunks]
        refs = [task.remote(a, texts[a:b], vectors[a:b], empty_ref) for a, b in shard_bounds(len(texts), self.workers)]
        return merge_shards(ray.get(refs), empty, vectors, faiss)


def _ray() -> Any:
    """Ray, imported on first use (the CLI checks `ray_missing()` before anything loads)."""
    import ray

    return ray


def _check_reachable(address: str) -> None:
    """Fail in seconds, not after ray.init's minutes of retries, when nothing listens at HOST:PORT."""
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS):
            pass
    except (OSError, ValueError) as exc:
        raise ClusterError(
            f"No Ray cluster answers at {address} ({exc}). Start one (`ray start --head`) and give its "
            "address as HOST:PORT, or leave out --ray-address to run Ray on this machine."
        ) from None


@functools.lru_cache(maxsize=4)
def _chunker(spec: str, settings: ChunkerSettings) -> Chunker:
    """One per worker process: the embedder's tokenizer bounds chunk sizes, as in the local build."""
    embedder = get_embedder(spec)
    return Chunker(settings, limit_counter=embedder.count_tokens, limit=embedder.max_tokens)


def _read_files(
    batch: dict[str, np.ndarray], *, spec: str, settings: ChunkerSettings, max_file_bytes: int
) -> dict[str, np.ndarray]:
    """A Ray Data task: load and chunk a block of pending files."""
    chunker = _chunker(spec, settings)
    reads = [read_file(file, chunker, max_file_bytes) for file in batch["file"]]
    out = np.empty(len(reads), dtype=object)
    out[:] = reads
    return {"read": out}


class _Embed:
    """A Ray Data actor: loads the embedder once, then embeds batch after batch."""

    def __init__(self, spec: str, name: str, dim: int) -> None:
        self.embedder = get_embedder(spec)
        if (self.embedder.name, self.embedder.dim) != (name, dim):
            raise ValueError(
                f"Workers loaded embedder '{self.embedder.name}' (dim {self.embedder.dim}) for '{spec}', but the "
                f"build uses '{name}' (dim {dim}); give --embedder as a name or folder every node can load."
            )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.encode([str(t) for t in batch["text"]])
        return {"key": batch["key"], "vector": vectors}
