"""`rag ask --server URL` against a real `rag serve` subprocess (hash embedder, scripted model): the answer
printed once with its cited passages, a follow-up's history sent along, a refusal, and the errors for a
server that is not there or refuses the key, all without loading a model in the asking process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

import cli
from rag import ask_cli
from rag.prompting import REFUSAL
from rag.remote import RemoteAssistant, api_url
from tests.conftest import ROOT, SMALL_DOCS, free_port

pytestmark = pytest.mark.integration

KEY = "ask-server-key"
QUESTION = "Where did the summit take place?"
ANSWER = "The summit took place in Anchorage, Alaska [1]."
FOLLOW_UP = "When did Putin arrive?"
FOLLOW_UP_ANSWER = "Putin arrived by plane on Friday [1]."
DRAFT = "Nobody could tell who won that cup, it seems."
# `rag serve` itself, through cli.main, with the `scripted` model made to answer by what it is asked (a
# model object cannot be handed to another process); everything else is the command as a user runs it.
SERVER = f"""
import sys
from rag.llm import registry
from rag.llm.scripted import ScriptedBackend

def reply(messages):
    text = messages[-1].content
    if "football" in text:
        return {DRAFT!r}
    return {FOLLOW_UP_ANSWER!r} if "Earlier question: {QUESTION}" in text else {ANSWER!r}

registry.BACKENDS["scripted"] = lambda **options: ScriptedBackend(reply)
from cli import main
sys.exit(main(sys.argv[1:]))
"""
# `rag ask` as a user runs it, then which heavy modules it loaded (none should be).
CLIENT = """
import sys
from cli import main
code = main(sys.argv[1:])
heavy = ("torch", "sentence_transformers", "faiss", "llama_cpp", "bm25s")
print("loaded:", [m for m in heavy if m in sys.modules], file=sys.stderr)
sys.exit(code)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`rag serve` with a key on a free loopback port over the three small passages; yields its base URL."""
    from index.build import build_index
    from index.chunking import ChunkerSettings
    from index.embedding import HashEmbedder

    src = tmp_path_factory.mktemp("docs")
    for name, text in SMALL_DOCS.items():
        (src / name).write_text(text, encoding="utf-8")
    index = tmp_path_factory.mktemp("served") / "idx"
    build_index(src, index, embedder=HashEmbedder(64), settings=ChunkerSettings(64, 8))
    port = free_port()
    env = {**os.environ, "RAG_API_KEY": KEY, "RAG_QUESTION_LOG": "0", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", SERVER, "serve", "--index", str(index), "--port", str(port), "--backend=scripted"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"rag serve exited: {proc.communicate()[0]}"
            assert time.monotonic() < deadline, "rag serve did not start in 120 s"
            try:
                httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def rag_ask(*args: str, key: str | None = KEY) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAG_API_KEY", "RAG_SERVER", "RAG_BACKEND")}
    env.update({"PYTHONPATH": str(ROOT), **({"RAG_API_KEY": key} if key else {})})
    command = [sys.executable, "-c", CLIENT, "ask", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_answer_is_printed_once_with_its_cited_passage_and_nothing_loads(server: str) -> None:
    done = rag_ask(QUESTION, "--server", server)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(ANSWER + "\n\n[1] Alaska summit — alaska.txt, chars "), out
    assert out.count(ANSWER) == 1 and ">>The summit took place in Anchorage, Alaska.<<" in out
    assert "Putin arrived by plane on Friday." in out, "the whole passage is shown, as a local answer shows it"
    assert f"answered by {server}/v1" in out
    assert "loaded: []" in done.stderr


def test_the_history_goes_to_the_server_and_rag_server_names_it(
    server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_SERVER", f"{server}/v1/")
    monkeypatch.setenv("RAG_API_KEY", KEY)
    assert cli.main(["ask", FOLLOW_UP, "--history", QUESTION]) == 0
    assert capsys.readouterr().out.startswith(FOLLOW_UP_ANSWER + "\n\n[1] ")


def test_a_refusal_shows_once_without_the_draft(server: str) -> None:
    done = rag_ask("Who won the football cup in Anchorage?", "--server", server)
    assert done.returncode == 0, done.stderr
    assert "who won that cup" not in done.stdout and done.stdout.count(REFUSAL) == 1
    assert done.stdout.startswith(f"{REFUSAL}\n\n(declined: "), done.stdout


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_draft_as_it_streams_and_keeps_it(server: str) -> None:
    remote = RemoteAssistant(server, api_key=KEY)
    terminal = Terminal()
    answer = ask_cli.show(remote.stream(QUESTION), terminal, via=remote.url)
    remote.close()
    assert answer.citations and answer.citations[0].chunk.path == "alaska.txt" and not answer.refused
    assert answer.timings.first_token > 0 and terminal.getvalue().count(ANSWER) == 1
    assert "\x1b[" not in terminal.getvalue(), "the draft agreed with the checked answer: nothing erased"


def test_an_unreachable_server_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert cli.main(["ask", QUESTION, "--server", url]) == 2
    err = capsys.readouterr().err
    assert f"error: cannot reach a rag serve at {url}/v1" in err and "rag serve --index" in err


@pytest.mark.parametrize(("key", "fix"), [(None, "Set RAG_API_KEY"), ("wrong", "Check RAG_API_KEY")])
def test_a_refused_key_is_one_clear_error(server: str, key: str | None, fix: str) -> None:
    done = rag_ask(QUESTION, "--server", server, key=key)
    assert done.returncode == 2 and done.stdout == ""
    assert "error: " in done.stderr and "(HTTP 401)" in done.stderr and fix in done.stderr, done.stderr


def test_options_a_server_cannot_honour_are_refused_before_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert cli.main(["ask", QUESTION, "--server", url, "--top-k", "5", "--no-log"]) == 2
    err = capsys.readouterr().err
    assert "--top-k, --no-log cannot be sent to a server" in err and "--server ''" in err


@pytest.mark.parametrize(
    ("given", "url"),
    [("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1"), ("https://rag.example/v1/", "https://rag.example/v1")],
)
def test_the_api_root_is_found_from_what_a_user_types(given: str, url: str) -> None:
    assert api_url(given) == url
    with pytest.raises(ValueError, match="not a URL"):
        api_url("127.0.0.1:8000")
