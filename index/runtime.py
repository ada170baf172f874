"""Process-wide switches, made by the program's entry points and never by a library call.

Two settings belong to the whole process, not to one call: the OpenBLAS kernel (read once, when
the library loads) and how many threads torch and FAISS use (perf-notes.md measured both). A
library call that flipped them would change them under every other caller in the process, so no
library function does (opening an index, `retrieve()`, `ask()`); the composition roots, the
programs' entry points, call `configure_process` instead:

- `cli.main` (the `rag` command), before any subcommand runs: `serving` per subcommand (`ask` and
  `chat` serve queries; `index` and `eval` start with batch work);
- `index.cli.main` and `eval.cli.main` (`python -m index`, `python -m eval`);
- the chat's startup, `ui.cli.run` (`rag chat` and `python -m ui`), before any model loads;
- the evaluations once their index is built: `eval.run_cli.run_run` (the runner's entry) and
  `rag eval retrieval` (`eval.cli`);
- `bench`: batch before each section, serving once a section starts timing queries, and the
  `bench.scale serve` child process.

Code using `index`/`rag` as a library gets the libraries' own defaults unless it calls
`configure_process` itself, as early as it can.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

OMP_THREADS = "OMP_NUM_THREADS"
SERVING_THREADS = 1


@dataclass
class _Mode:
    serving: bool = False
    # While serving, what batch mode had, to put back: OMP_NUM_THREADS, and the loaded libraries' counts.
    omp_threads: str | None = None
    threads: dict[str, int] = field(default_factory=dict)


_MODE = _Mode()


def openblas_hint() -> None:
    """Name OpenBLAS's AVX-512 kernel on AVX-512 CPUs it misdetects (a 5-8x slower fallback,
    perf-notes.md). Only there: forced on a CPU without AVX-512 it is an illegal instruction.
    An OPENBLAS_CORETYPE already set (the Makefile sets it) is kept."""
    if "OPENBLAS_CORETYPE" in os.environ:
        return
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return
    if "avx512f" in flags.split() and "avx512bw" in flags.split():
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"


def serving() -> bool:
    """Whether the last `configure_process` call chose serving (one thread a query)."""
    return _MODE.serving


def configure_process(*, serving: bool) -> None:
    """Make this process's process-wide choices; entry points call it first, before faiss or torch load.

    - OpenBLAS kernel (`openblas_hint`): OPENBLAS_CORETYPE=SkylakeX on AVX-512 CPUs, unless already
      set. FAISS's bundled OpenBLAS reads it once, when `import faiss` loads it, so a call after
      that changes nothing for FAISS.
    - `serving=True`, a process answering queries as they come (`rag ask`, `rag chat`, the timed
      part of an evaluation or benchmark): torch and FAISS run each query on one thread. On a shared
      2-core machine a second thread per query makes it many times slower when the other core is
      busy (perf-notes.md). It sets OMP_NUM_THREADS=1, which torch and FAISS's OpenMP read when they
      load (for every thread, gradio's workers included), and sets the counts of those already
      loaded: torch's for the whole process, FAISS's for the calling thread only (OpenMP keeps the
      count per thread), so call it from the thread that runs the queries, before it starts workers.
      Everything else the process does then runs on one thread too, e.g. indexing a file uploaded to
      the chat; llama.cpp is not affected (it is given its own thread count).
    - `serving=False`, batch work (`rag index`, building an index to evaluate, benchmarks' builds):
      all cores, the libraries' defaults. After serving it puts back OMP_NUM_THREADS and the counts
      serving replaced, FAISS's again for the calling thread only (a library first loaded while
      serving gets the earlier OMP_NUM_THREADS, else every CPU).

    Calling it again with the same choice changes nothing.
    """
    openblas_hint()
    if serving:
        if not _MODE.serving:
            _MODE.omp_threads = os.environ.get(OMP_THREADS)
            _MODE.threads = {name: get() for name, (get, _) in _loaded().items()}
        os.environ[OMP_THREADS] = str(SERVING_THREADS)
        for _, put in _loaded().values():
            put(SERVING_THREADS)
    elif _MODE.serving:
        before = _MODE.omp_threads
        if before is None:
            os.environ.pop(OMP_THREADS, None)
        else:
            os.environ[OMP_THREADS] = before
        default = int(before) if before and before.isdigit() else os.cpu_count() or 1
        for name, (_, put) in _loaded().items():
            put(_MODE.threads.get(name, default))
        _MODE.omp_threads, _MODE.threads = None, {}
    _MODE.serving = serving


def _loaded() -> dict[str, tuple[Callable[[], int], Callable[[int], None]]]:
    """Thread-count getters and setters of the libraries this process has imported (none is imported here)."""
    found: dict[str, tuple[Callable[[], int], Callable[[int], None]]] = {}
    torch, faiss = sys.modules.get("torch"), sys.modules.get("faiss")
    if torch is not None:
        found["torch"] = (torch.get_num_threads, torch.set_num_threads)
    if faiss is not None:
        found["faiss"] = (faiss.omp_get_max_threads, faiss.omp_set_num_threads)
    return found
