"""`rag serve` as a command: where it may listen, what it says when it cannot start, and a real start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import cli
from serve.api_cli import check_exposure, is_loopback
from tests.conftest import ROOT, free_port


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("::", False),
        ("example.org", False),
    ],
)
def test_only_loopback_addresses_count_as_private(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert (check_exposure(host, "") == "") is loopback
    assert check_exposure(host, "a-key") == ""


def test_refuses_a_public_address_without_a_key(
    small_index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RAG_API_KEY", raising=False)
    assert cli.main(["serve", "--index", str(small_index), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0 without an API key" in err and "RAG_API_KEY" in err


def test_a_missing_index_says_how_to_build_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--index", str(tmp_path / "none"), "--backend", "scripted"]) == 2
    assert "rag index" in capsys.readouterr().err


def test_bad_numbers_are_refused_before_anything_loads(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--index", "nowhere", "--max-queue", "0"]) == 2
    assert "--max-queue 0" in capsys.readouterr().err


@pytest.mark.integration
def test_rag_serve_starts_and_checks_the_key(small_index: Path) -> None:
    port = free_port()
    env = {**os.environ, "RAG_API_KEY": "k-123", "RAG_QUESTION_LOG": "0"}
    command = [sys.executable, "-m", "cli", "serve", "--index", str(small_index), "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--backend", "scripted"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "rag serve did not start"
            try:
                r = httpx.get(f"{url}/health", headers={"Authorization": "Bearer k-123"}, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["model"] == "idx" and r.json()["backend"] == "scripted"
        assert httpx.get(f"{url}/health", headers={"Authorization": "Bearer nope"}).status_code == 401
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert f"OpenAI-compatible API on http://127.0.0.1:{port}/v1 (model 'idx'; send RAG_API_KEY" in output
