"""Shared fixtures: offline guard, paths to ../shared, real-model fixtures."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RAG_SHARED", ROOT.parent / "shared"))
NEWS = SHARED / "corpus" / "news"
NEWS_DEV = SHARED / "eval" / "news_dev.jsonl"
SCIFACT = SHARED / "data" / "scifact"
SQUAD2 = SHARED / "data" / "squad2"


def need(path: Path) -> Path:
    """Skip, saying why, when the shared data set is absent."""
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (expected ../shared beside the project root)")
    return path


_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if host != "localhost" and (ip is None or not ip.is_loopback):
            raise ConnectionRefusedError(f"tests are offline: connection to {host} blocked")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    yield


@pytest.fixture(autouse=True)
def _batch_threads_after() -> Iterator[None]:
    """A test that ran a serving entry point in-process (`rag ask`, `rag eval run`) switched the whole
    process to one thread a query (index.runtime.configure_process); the next test starts in batch mode."""
    yield
    from index.runtime import configure_process, serving

    if serving():
        configure_process(serving=False)


@pytest.fixture(scope="session")
def minilm() -> Any:
    from index.embedding import get_embedder

    return get_embedder("minilm")


@pytest.fixture(scope="session")
def news_index(tmp_path_factory: pytest.TempPathFactory, minilm: Any) -> Path:
    """The reference corpus indexed with the real embedder, built once per run."""
    from index.build import build_index

    out = tmp_path_factory.mktemp("news-index")
    build_index(need(NEWS), out, embedder=minilm)
    return out


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture()
def serve(tmp_path: Path) -> Iterator[Any]:
    """`serve(engine)` starts the chat on a free loopback port and returns its URL; all close at teardown."""
    from ui.app import AppConfig, build_app, launch

    apps: list[Any] = []

    def start(engine: Any) -> str:
        app = build_app(engine, AppConfig(index_dir=engine.index_dir, feedback_path=tmp_path / "feedback.jsonl"))
        apps.append(app)
        return str(launch(app, port=free_port(), block=False))

    yield start
    for app in apps:
        app.close()


SMALL_DOCS = {
    "alaska.txt": "Alaska summit\n\nThe summit took place in Anchorage, Alaska. Putin arrived by plane on Friday.",
    "pokrovsk.txt": "Front line\n\nRussian forces seized 10km of territory around Pokrovsk before the talks.",
    "taiwan.txt": "Energy\n\nTaiwan burned fossil fuels for 87 percent of its energy supply this year.",
}


@pytest.fixture()
def small_index(tmp_path: Path) -> Path:
    """Three short news passages indexed with the hash embedder: fast, for the chat and reliability tests."""
    from index.build import build_index
    from index.chunking import ChunkerSettings
    from index.embedding import HashEmbedder

    src = tmp_path / "src"
    src.mkdir()
    for name, text in SMALL_DOCS.items():
        (src / name).write_text(text, encoding="utf-8")
    out = tmp_path / "idx"
    build_index(src, out, embedder=HashEmbedder(64), settings=ChunkerSettings(64, 8))
    return out
