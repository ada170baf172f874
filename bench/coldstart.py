"""Cold start: time to first token of `rag ask` as a fresh process, as a new user meets it.

Each run is a new `python -m cli ask` on the reference corpus with the default models, its standard
output a pseudo-terminal so the answer streams as it would on screen: the first byte it prints is
the first token. Three ways, interleaved run by run so load on the machine hits them alike:

- one after the other: the language model loaded first, then the index and the embedder (the order
  and the sum of `rag ask` before issue 22), through a launcher that loads the model before `cli.main`;
- side by side: `rag ask` as it is, the model loading on its own thread (rag/loading.py);
- `rag ask --server`: the question sent to a `rag serve` started once and warmed up beforehand.

A second measurement times the loading alone (READY), the same two ways, without the prompt evaluation
and generation that load on a shared CPU stretches most. "Cold" is a fresh process; the operating
system's page cache is left as it is (warm after the first run): dropping it would disturb everything
else on the machine. `make bench` (or `python -m bench coldstart`) measures it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import ROOT, SHARED, WORK
from index.build import build_index
from index.embedding import DEFAULT_EMBEDDER

NEWS = SHARED / "corpus" / "news"
QUESTIONS = SHARED / "eval" / "news_dev.jsonl"
REPEATS = 3
WARM_UP = "Which topics do these columns cover?"
# The model first, then `rag ask` as usual: the registry hands the loaded model to the Assistant at once.
ONE_AFTER_THE_OTHER = """
import sys
from index.runtime import configure_process
configure_process(serving=True)
from rag.llm import get_backend
get_backend()
from cli import main
sys.exit(main(sys.argv[1:]))
"""
# The loading alone, in a fresh process: from the script's first line until the model could start on the
# first question (its passages retrieved, the model loaded). `serial` loads the model first, as before.
READY = """
import json, sys, time
t = [time.perf_counter()]
from index.runtime import configure_process
configure_process(serving=True)
import cli
from rag.answer import Assistant
t.append(time.perf_counter())
if sys.argv[1] == "serial":
    from rag.llm import get_backend
    get_backend()
    t.append(time.perf_counter())
assistant = Assistant(sys.argv[2], log_questions=False)
t.append(time.perf_counter())
assistant.retriever.retrieve(sys.argv[3], 10)
t.append(time.perf_counter())
assistant.wait_for_model()
t.append(time.perf_counter())
print(json.dumps([b - a for a, b in zip(t, t[1:])]))
"""
STEPS = ("import the command", "load the language model", "open the index and embedder", "retrieve", "wait")


@dataclass(frozen=True)
class Run:
    first: float  # seconds from starting the process to its first byte on the terminal
    total: float  # to its exit


def run() -> str:
    index = WORK / f"news-{DEFAULT_EMBEDDER}"
    build_index(NEWS, index, embedder=DEFAULT_EMBEDDER)
    questions = _questions(REPEATS)
    ways: dict[str, list[Run]] = {"serial": [], "concurrent": []}
    ready: dict[str, list[list[float]]] = {"serial": [], "concurrent": []}
    for question in questions:  # each way in turn, so the machine's load falls on both alike
        ask = ["ask", question, "--index", str(index), "--no-log"]
        ways["serial"].append(_timed(["-c", ONE_AFTER_THE_OTHER, *ask]))
        ways["concurrent"].append(_timed(["-m", "cli", *ask]))
        for way in ready:
            ready[way].append(_ready(way, index, question))
    with _server(index) as url:
        _timed(["-m", "cli", "ask", WARM_UP, "--server", url])
        ways["server"] = [_timed(["-m", "cli", "ask", q, "--server", url]) for q in questions]
    return _report(ways, ready, len(questions))


def _questions(n: int) -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.read_text("utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("answerable") and not r.get("history")][:n]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAG_SERVER", "RAG_BACKEND", "RAG_MODEL", "RAG_API_KEY")}
    return {**env, "PYTHONPATH": str(ROOT), "RAG_QUESTION_LOG": "0", "HF_HUB_OFFLINE": "1"}


def _timed(args: list[str]) -> Run:
    """One fresh `python ARGS` with a pseudo-terminal for its output: when its first byte came, and its end."""
    leader, follower = pty.openpty()
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=_env(), stdout=follower, stderr=errors)
        os.close(follower)
        first = 0.0
        with contextlib.suppress(OSError):  # EIO: the child closed the terminal
            while select.select([leader], [], [], 900)[0] and os.read(leader, 4096):
                first = first or time.perf_counter()
        code = proc.wait()
        total = time.perf_counter() - started
        os.close(leader)
        if code != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(args[:3])} ... exited {code}: {errors.read().decode()[-2000:]}")
    return Run(first - started if first else total, total)


def _ready(way: str, index: Path, question: str) -> list[float]:
    """The seconds of each step of READY in a fresh process."""
    command = [sys.executable, "-c", READY, way, str(index), question]
    done = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {way} load exited {done.returncode}: {done.stderr[-2000:]}")
    return [float(x) for x in json.loads(done.stdout.strip().splitlines()[-1])]


@contextlib.contextmanager
def _server(index: Path) -> Iterator[str]:
    """`rag serve` on a free loopback port, loaded; its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "cli", "serve", "--index", str(index), "--port", str(port)]
    proc = subprocess.Popen(command, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"rag serve did not start (exit code {proc.poll()})")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def _report(ways: dict[str, list[Run]], ready: dict[str, list[list[float]]], n: int) -> str:
    labels = {
        "serial": "`rag ask`, the models loaded one after the other (before)",
        "concurrent": "`rag ask`, the model loading beside the index and embedder (now)",
        "server": "`rag ask --server` to a warm `rag serve`",
    }
    rows = [
        f"| {labels[way]} | {_spread([sum(r) for r in ready[way]]) if way in ready else '–'} "
        f"| {_spread([r.first for r in runs])} | {_spread([r.total for r in runs])} |"
        for way, runs in ways.items()
    ]
    steps = ", ".join(
        f"{name} {statistics.median(r[i] for r in ready['serial']):.1f} s" for i, name in enumerate(STEPS[:4])
    )
    serial, side_by_side = (statistics.median(sum(r) for r in ready[way]) for way in ("serial", "concurrent"))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(
        [
            "## Cold start of `rag ask` (reference corpus)",
            "",
            f"A fresh process per question ({n} answerable news_dev questions; every way in turn for each "
            "question, so the machine's load falls on all alike), default embedder and model. *Ready* is the "
            "loading alone: from a script's first line until the model could start on the question (the "
            "command imported, index, embedder and model loaded, passages retrieved). *First token* and "
            "*total* are `rag ask` as a user runs it, its output a pseudo-terminal so the answer streams: to "
            "its first printed byte and to its exit, from starting Python. Seconds, median (lowest-highest). "
            "The page cache is warm (a fresh process, not a rebooted machine); after a reboot the model's "
            f"1.1 GB is read from disk as well. Load average at the end: {load} on {os.cpu_count()} cores: "
            "prompt evaluation and generation slow down with other work on the CPU, so first token and "
            "total carry it.",
            "",
            "| way | ready | first token | total |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"One after the other, the loading steps took (medians): {steps}; ready in {serial:.1f} s. "
            f"Side by side: ready in {side_by_side:.1f} s.",
        ]
    )
