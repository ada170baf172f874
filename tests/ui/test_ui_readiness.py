"""A chat that is ready when it opens: the model loads as the chat starts, the page says so until it is
ready, a question asked meanwhile waits for it, and example questions drafted from the corpus appear.

The model's load is held by a gate the test opens, so "loading" is seen for certain; the model is scripted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import HashEmbedder
from rag.examples import SYSTEM as EXAMPLE_PROMPT
from rag.llm.base import LLMUnavailable, Message
from rag.llm.scripted import ScriptedBackend
from tests.conftest import free_port
from ui.app import AppConfig, build_app, launch
from ui.engine import Engine
from ui.examples import EXAMPLES_FILE
from ui.readiness import LOADING, WAITING, Readiness

FILLER = (
    "Observers counted each step with care and wrote down every detail they saw, so that readers "
    "in other towns could follow the whole story from the start to the end of the season."
)
DOCS = {
    "zebra.txt": f"Zebra census\n\nThe zebra census counted exactly 412 zebras in the reserve in March. {FILLER}",
    "bridge.txt": f"Harbour bridge\n\nThe Okavango harbour bridge opened in May after four years of work. {FILLER}",
}
ZEBRA_Q = "How many zebras did the zebra census count?"
BRIDGE_Q = "When did the Okavango harbour bridge open after four years of work?"  # longer than 60 characters
ANSWER = "The zebra census counted exactly 412 zebras in the reserve [1]."
CHROMIUM = Path("/usr/bin/chromium")


def model(messages: Sequence[Message]) -> str:
    """Drafts a question about the passage it is shown, and answers questions from the zebra passage."""
    if messages[0].content == EXAMPLE_PROMPT:
        return ZEBRA_Q if "zebra" in messages[-1].content else BRIDGE_Q
    return ANSWER


@pytest.fixture()
def index_dir(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name, text in DOCS.items():
        (src / name).write_text(text, encoding="utf-8")
    build_index(src, tmp_path / "idx", embedder=HashEmbedder(64), settings=ChunkerSettings(200, 8))
    return tmp_path / "idx"


class Gated:
    """An engine whose model load waits until `open()`: what a 16-second load looks like to the page."""

    def __init__(self, index_dir: Path, monkeypatch: pytest.MonkeyPatch, backend: Any = None) -> None:
        self.backend = backend or ScriptedBackend(model, name="scripted")
        self.engine = Engine(index_dir, backend=self.backend)
        self._gate = threading.Event()
        load = self.engine.warm_up

        def warm_up() -> Any:
            assert self._gate.wait(60), "the test never opened the gate"
            return load()

        monkeypatch.setattr(self.engine, "warm_up", warm_up)

    def open(self) -> None:
        self._gate.set()


def test_status_says_loading_until_the_model_is_loaded_then_examples_are_drafted(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated = Gated(index_dir, monkeypatch)
    ready = Readiness(gated.engine).start()
    assert ready.state == "loading" and ready.status_markdown() == LOADING and not ready.settled
    gated.open()
    assert ready.wait(30)
    assert "Ready: model `scripted` loaded" in ready.status_markdown()
    assert sorted(ready.examples) == sorted([ZEBRA_Q, BRIDGE_Q])


def test_a_failed_load_reads_as_a_sentence_and_offers_no_examples(index_dir: Path) -> None:
    engine = Engine(index_dir, backend=ScriptedBackend(model, name="scripted"))

    def broken() -> None:
        raise LLMUnavailable("llama.cpp could not load model.gguf. Is it a complete GGUF file?")

    engine.warm_up = broken  # type: ignore[method-assign]
    ready = Readiness(engine).start()
    assert ready.wait(30) and ready.state == "failed" and ready.examples == []
    status = ready.status_markdown()
    assert "could not be loaded" in status and "Is it a complete GGUF file?" in status and "Traceback" not in status


def test_the_corpus_examples_file_comes_first_and_nothing_is_drafted(index_dir: Path) -> None:
    (index_dir.parent / "src" / EXAMPLES_FILE).write_text("What did the census count?\n", encoding="utf-8")
    backend = ScriptedBackend(model, name="scripted")
    engine = Engine(index_dir, backend=backend)
    from ui.examples import example_questions

    ready = Readiness(engine, example_questions(engine.manifest())).start()
    assert ready.examples == ["What did the census count?"] and ready.wait(30)
    assert ready.examples == ["What did the census count?"] and backend.calls == []


@pytest.fixture()
def served(index_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Gated, str]]:
    gated = Gated(index_dir, monkeypatch)
    app = build_app(gated.engine, AppConfig(index_dir=index_dir, feedback_path=tmp_path / "feedback.jsonl"))
    try:
        yield gated, str(launch(app, port=free_port(), block=False))
    finally:
        gated.open()
        app.close()


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return str(content)


@pytest.mark.integration
def test_served_chat_answers_a_question_asked_while_loading_and_then_shows_examples(
    served: tuple[Gated, str],
) -> None:
    from gradio_client import Client

    gated, url = served
    chat = Client(url, verbose=False)
    status, examples, _ = chat.predict(api_name="/status")
    assert status == LOADING and "samples" not in examples
    job = chat.submit("How many zebras did the census count?", "scripted", "", 3, "hybrid", False, api_name="/ask")
    for _ in range(600):  # the first thing the page shows, while the model is still loading
        if job.outputs():
            break
        time.sleep(0.1)
    gated.open()
    messages = job.result(timeout=60)[0]
    shown = [text_of(out[0][-1]) for out in job.outputs()]
    assert shown[0] == WAITING, "the question waits for the model, saying so"
    assert "412" in text_of(messages[-1]) and 'class="cite"' in text_of(messages[-1])
    assert sum(WAITING in text_of(m) for m in messages) == 0, "the waiting note is replaced by the answer"
    for _ in range(100):
        status, examples, timer = chat.predict(api_name="/status")
        if not timer["active"]:
            break
    assert status.startswith("✓ Ready") and sorted(s[0] for s in examples["samples"]) == sorted([ZEBRA_Q, BRIDGE_Q])


@pytest.mark.integration
def test_page_shows_loading_then_ready_and_clickable_examples_in_chromium(served: tuple[Gated, str]) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install it with `apt-get install -y chromium chromium-driver`")
    from playwright.sync_api import sync_playwright

    gated, url = served
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        page.wait_for_selector("#model-status :text('Loading the model')")
        assert not page.locator("#examples").is_visible()
        gated.open()
        page.wait_for_selector("#model-status :text('Ready: model')")
        page.wait_for_selector(f"#examples :text('{ZEBRA_Q}')")
        assert BRIDGE_Q in page.inner_text("#examples"), "each example is shown whole"
        page.locator(f"#examples :text('{ZEBRA_Q}')").click()
        page.wait_for_function(
            "q => document.querySelector('#question textarea').value === q", arg=ZEBRA_Q
        )
        browser.close()
