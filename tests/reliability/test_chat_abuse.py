"""The served chat under abuse (docs/reliability.md): script in documents and answers, `../` upload names,
uploads of server paths, and 20 sessions at once.

Each case runs the real Gradio app on a free loopback port with the scripted backend (the model's words are
the test's to choose, which is what an attacker who planted text in a document aims for); the XSS case runs
in headless Chromium.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import HashEmbedder
from rag.llm.base import Message
from rag.llm.scripted import ScriptedBackend
from tests.conftest import free_port
from ui.app import AppConfig, build_app, launch
from ui.engine import Engine

pytestmark = [pytest.mark.reliability, pytest.mark.integration]
CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_S = 120


def index_of(tmp_path: Path, docs: dict[str, str]) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name, text in docs.items():
        (src / name).write_text(text, encoding="utf-8")
    build_index(src, tmp_path / "idx", embedder=HashEmbedder(64), settings=ChunkerSettings(64, 8))
    return tmp_path / "idx"


def started(engine: Engine, tmp_path: Path) -> tuple[Any, str]:
    app = build_app(engine, AppConfig(index_dir=engine.index_dir, feedback_path=tmp_path / "feedback.jsonl"))
    return app, str(launch(app, port=free_port(), block=False))


def call(url: str, api: str, data: list[Any]) -> list[Any]:
    """One call of a named endpoint through Gradio's REST API, as any HTTP client can make it."""
    with httpx.Client(base_url=url, timeout=TIMEOUT_S) as http:
        event = http.post(f"/gradio_api/call/{api}", json={"data": data})
        event.raise_for_status()
        stream = http.get(f"/gradio_api/call/{api}/{event.json()['event_id']}").text
    kind = re.findall(r"^event: (\w+)", stream, flags=re.M)[-1]
    payload = re.findall(r"^data: (.*)$", stream, flags=re.M)[-1]
    if kind != "complete":
        raise RuntimeError(f"{api} ended with {kind}: {payload}")
    result: list[Any] = json.loads(payload)
    return result


PAYLOAD_TITLE = "<img src=x onerror=\"window.__xss='title'\"> Harbour notice"
PAYLOAD_BODY = (
    "<script>window.__xss='body'</script> The harbour master counted 31 ferries in May. "
    "<a href=\"javascript:window.__xss='link'\">details</a> <svg onload=\"window.__xss='svg'\"></svg>"
)


@pytest.mark.slow
def test_script_in_a_document_its_title_and_the_answer_is_shown_as_text(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install it with `apt-get install -y chromium chromium-driver`")
    from playwright.sync_api import sync_playwright

    idx = index_of(tmp_path, {"notice.txt": f"{PAYLOAD_TITLE}\n\n{PAYLOAD_BODY}"})
    answer = (
        "The harbour master counted 31 ferries in May [1]. <img src=x onerror=\"window.__xss='answer'\"> "
        "[see](javascript:window.__xss='markdown')"
    )
    app, url = started(Engine(idx, backend=ScriptedBackend(answer, name="scripted")), tmp_path)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_S * 1000)
            page.goto(url)
            page.fill("#question textarea", "How many ferries did the harbour master count?")
            page.press("#question textarea", "Enter")
            page.locator("#chat a.cite").first.wait_for()
            page.locator("#chat a.cite").first.click()
            page.locator("#sources .src-card.selected").wait_for()
            for link in page.locator("#chat a").all():  # a user clicking every link the answer shows
                if link.get_attribute("href") and "javascript" in (link.get_attribute("href") or ""):
                    link.click()
            page.wait_for_timeout(500)
            ran = page.evaluate("() => window.__xss ?? null")
            sources, chat = page.inner_text("#sources"), page.inner_text("#chat")
            hostile = page.evaluate(
                "() => document.querySelectorAll('#chat script, #sources script, #chat img[onerror], "
                '#sources img, #sources svg, #sources a[href^="javascript"], #chat a[href^="javascript"]\').length'
            )
            browser.close()
    finally:
        app.close()
    assert ran is None, f"script from a document or an answer ran: window.__xss = {ran!r}"
    assert hostile == 0
    assert "<script>window.__xss='body'</script>" in sources, "the passage is shown, as the text it is"
    assert "<img src=x onerror=" in sources, "the title is shown as text"
    assert "31 ferries" in chat


def test_upload_names_with_dot_dot_stay_in_the_upload_folder(tmp_path: Path) -> None:
    idx = index_of(tmp_path, {"a.txt": "Alpha\n\nThe alpha document talks about apples."})
    app, url = started(Engine(idx, backend=ScriptedBackend("", name="scripted")), tmp_path)
    try:
        names = ["../../../escape-a.txt", "..\\..\\escape-b.txt", "/tmp/escape-c.txt", "....//escape-d.txt"]
        with httpx.Client(base_url=url, timeout=TIMEOUT_S) as http:
            body = b"Escape note\n\nA note whose name tries to climb out of the upload folder, about quinces."
            sent = http.post("/gradio_api/upload", files=[("files", (name, body, "text/plain")) for name in names])
        sent.raise_for_status()
        server_paths: list[str] = sent.json()
        status = call(url, "upload", [[{"path": p, "meta": {"_type": "gradio.FileData"}} for p in server_paths]])
    finally:
        app.close()
    uploads = idx / "uploads"
    saved = sorted(p.name for p in uploads.iterdir())
    assert saved and all(name.startswith("escape-") for name in saved), saved
    assert all(Path(p).resolve().is_relative_to(Path(p).resolve().parents[1]) for p in server_paths)
    for root in (tmp_path, idx.parent.parent, Path("/tmp")):
        leaked = [str(p) for p in root.glob("escape-*.txt")]
        assert leaked == [], f"an upload name left its folder: {leaked}"
    assert "Indexed" in str(status)


def test_the_upload_endpoint_refuses_a_path_on_the_server(tmp_path: Path) -> None:
    """An API caller naming a server file (not one it uploaded) must not get it indexed."""
    idx = index_of(tmp_path, {"a.txt": "Alpha\n\nThe alpha document talks about apples."})
    secret = tmp_path / "secret.txt"
    secret.write_text("Secret\n\nThe vault code is swordfish7781.", encoding="utf-8")
    app, url = started(Engine(idx, backend=ScriptedBackend("", name="scripted")), tmp_path)
    try:
        for path in (str(secret), "/etc/passwd"):
            with pytest.raises(RuntimeError, match="error"):
                call(url, "upload", [[{"path": path, "meta": {"_type": "gradio.FileData"}}]])
    finally:
        app.close()
    uploads = idx / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


NAMES = [f"{a}{b}" for a in ("zor", "qua", "mel", "tiv", "bex") for b in ("vik", "lum", "dra", "pen")]


def harbour_reply(messages: Sequence[Message]) -> str:
    """Quote the passage about the harbour the question names, with its marker: an answer per session."""
    prompt = messages[-1].content
    question = prompt.rsplit("Question:", 1)[-1]
    name = next(n for n in NAMES if n in question.lower())
    for block in re.split(r"^(?=\[\d+\])", prompt.split("Question:")[0], flags=re.M):
        sentence = re.search(rf"The harbour of {name}[^.]*\.", block, flags=re.I)
        if sentence:
            return f"{sentence.group(0)[:-1]} [{block[1 : block.index(']')]}]."
    return "I don't know."


def test_twenty_sessions_at_once_cross_nothing(tmp_path: Path) -> None:
    from gradio_client import Client

    docs = {
        f"{name}.txt": f"Harbour {n}\n\nThe harbour of {n} keeps {i + 11} ferries and {i + 3} tugs."
        for i, name in enumerate(NAMES)
        for n in [name.title()]
    }
    idx = index_of(tmp_path, docs)
    app, url = started(Engine(idx, backend=ScriptedBackend(harbour_reply, name="scripted")), tmp_path)

    def session(i: int) -> tuple[int, list[str], str]:
        client = Client(url, verbose=False)
        name = NAMES[i].title()
        client.predict(f"How many ferries does {name} keep?", "scripted", "", 6, "hybrid", False, api_name="/ask")
        messages, panel = client.predict(
            f"And how many tugs does {name} keep?", "scripted", "", 6, "hybrid", False, api_name="/ask"
        )[:2]
        return i, [text_of(m) for m in messages], str(panel)

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(session, range(20), timeout=TIMEOUT_S * 3))
    finally:
        app.close()
    for i, messages, panel in results:
        own, others = NAMES[i].title(), [n.title() for j, n in enumerate(NAMES) if j != i]
        assert len(messages) == 4, f"session {i} sees {len(messages)} messages"
        assert own in messages[0] and own in messages[2] and f"{i + 11} ferries" in messages[1]
        assert not any(other in " ".join(messages) for other in others), f"session {i} saw another's turn"
        assert f"{NAMES[i]}.txt" in panel


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return str(content)
