"""Fixtures for the LLM layer: loopback HTTP stubs, fake model distributions, a real llama.cpp server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from llm_stubs import Reply, StubServer, free_port


@pytest.fixture(autouse=True)
def _no_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings from the developer's shell must not leak into the tests."""
    for var in ("OPENAI_API_KEY", "RAG_OPENAI_BASE_URL", "RAG_OPENAI_MODEL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def stub() -> Iterator[Callable[..., StubServer]]:
    """`stub(Reply(...), ...)` starts an HTTP server on 127.0.0.1 and returns it; all stop at teardown."""
    servers: list[ThreadingHTTPServer] = []

    def start(*replies: Reply) -> StubServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        state = StubServer(f"http://127.0.0.1:{server.server_address[1]}/v1", list(replies))
        server.state = state  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        state: StubServer = self.server.state  # type: ignore[attr-defined]
        reply = state.next_reply(dict(self.headers), json.loads(raw or b"{}"))
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:  # the test output stays quiet
        pass


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A base URL whose server accepts connections (kernel backlog) but never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/v1"


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` with SmolLM2 on a free loopback port; its /v1 base URL."""
    from rag.llm.catalogue import resolve_model

    model = resolve_model("smollm2-135m")
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--n_threads", "2", "--n_ctx", "2048", "--seed", "0"]
    with log_path.open("wb") as log:
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(proc, base_url, log_path, deadline=time.monotonic() + 120)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, log_path: Path, *, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"llama_cpp.server not ready within 120s:\n{log_path.read_text()[-3000:]}")
