"""The chat's "Search only in" picker and "Indexed documents" list: they show the index's current version
(an upload, or a `rag index` run elsewhere, appears without reloading the page) and the picker narrows
what an answer draws on. Real MiniLM index, scripted model; the browser test drives Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

import ui.documents
from index.build import build_index
from index.chunking import ChunkerSettings
from rag.documents import IndexedDocument
from rag.llm.scripted import ScriptedBackend
from tests.conftest import SMALL_DOCS, free_port
from ui.app import AppConfig, build_app, launch
from ui.documents import Refresher, by_file, documents_html, picker_choices
from ui.engine import Engine
from ui.uploads import upload_and_index

CHROMIUM = Path("/usr/bin/chromium")
ANSWER = "Taiwan burned fossil fuels for 87 percent of its energy supply this year [1]."
SETTINGS = ChunkerSettings(64, 8)


@pytest.fixture()
def corpus(tmp_path: Path, minilm: Any) -> tuple[Path, Path]:
    src = tmp_path / "src"
    src.mkdir()
    for name, text in SMALL_DOCS.items():
        (src / name).write_text(text, encoding="utf-8")
    build_index(src, tmp_path / "idx", embedder=minilm, settings=SETTINGS)
    return src, tmp_path / "idx"


def engine(index: Path) -> Engine:
    return Engine(index, backend=ScriptedBackend(ANSWER, name="scripted"))


def test_files_group_records_and_render_escaped_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [
        IndexedDocument("corpus.jsonl#1", "corpus.jsonl", "One", 1),
        IndexedDocument("corpus.jsonl#2", "corpus.jsonl", "Two", 2),
        IndexedDocument("a/<b>.md", "a/<b>.md", "Bold <b>", 1),
        IndexedDocument("notes.txt", "notes.txt", "notes", 4),
    ]
    files = by_file(docs)
    assert [(f.path, f.documents, f.chunks) for f in files] == [
        ("a/<b>.md", 1, 1),
        ("corpus.jsonl", 2, 3),
        ("notes.txt", 1, 4),
    ]
    assert picker_choices(files) == [
        ("Bold <b> — a/<b>.md", "a/<b>.md"),
        ("corpus.jsonl (2 records)", "corpus.jsonl"),
        ("notes.txt", "notes.txt"),
    ]
    shown = documents_html(files, "v0007")
    assert "4 documents in 3 files" in shown and "v0007" in shown and "Bold &lt;b&gt;" in shown and "<b>" not in shown
    assert "2 records, 3 passages" in shown and "4 passages" in shown
    monkeypatch.setattr(ui.documents, "MAX_LISTED", 1)
    assert "… and 2 more files" in documents_html(files, "v1")
    assert "No documents indexed yet" in documents_html([], "")


def test_the_picker_and_list_follow_uploads_and_rebuilds(
    corpus: tuple[Path, Path], tmp_path: Path, minilm: Any
) -> None:
    src, index = corpus
    chat = engine(index)
    with gr.Blocks():
        refresher = Refresher(chat, gr.Dropdown(multiselect=True), gr.HTML(), gr.State(""))
    picker, listing, version = refresher.refresh("", [])
    assert version == "v0001" and [v for _, v in picker.choices] == ["alaska.txt", "pokrovsk.txt", "taiwan.txt"]
    assert "3 documents in 3 files" in listing
    assert refresher.refresh(version, ["taiwan.txt"]) == (gr.skip(), gr.skip(), gr.skip())  # nothing changed

    note = tmp_path / "zebra.txt"
    note.write_text("Zebra census\n\nThe census counted 412 zebras.", encoding="utf-8")
    upload_and_index([(note, "zebra.txt")], index)
    chat.reload()
    picker, listing, version = refresher.refresh(version, ["taiwan.txt", "alaska*"])
    assert (
        version == "v0002" and "uploads/zebra.txt" in [v for _, v in picker.choices] and "uploads/zebra.txt" in listing
    )
    assert picker.value == ["taiwan.txt", "alaska*"]

    (src / "taiwan.txt").unlink()  # rebuilt elsewhere: the engine is not told, the version link says it
    build_index(src, index, embedder=minilm, settings=SETTINGS)
    picker, listing, version = refresher.refresh(version, ["taiwan.txt", "alaska*"])
    assert version == "v0003" and "taiwan.txt" not in listing
    assert picker.value == ["alaska*"]  # a pick that is gone is dropped; a typed glob stays


@pytest.mark.integration
def test_ask_through_the_api_with_documents_picked(corpus: tuple[Path, Path], serve: Any) -> None:
    from gradio_client import Client

    _, index = corpus
    chat = Client(serve(engine(index)), verbose=False)
    question = "What happened this year?"
    panel = chat.predict(question, "scripted", "", 6, "hybrid", False, ["taiwan.txt"], api_name="/ask")[1]
    assert "taiwan.txt" in panel and "pokrovsk.txt" not in panel and "alaska.txt" not in panel
    messages = chat.predict(question, "scripted", "", 6, "hybrid", False, ["kyiv.txt"], api_name="/ask")[0]
    said = str(messages[-1]["content"])
    assert "'kyiv.txt' matches no indexed document" in said and "alaska.txt" in said


@pytest.fixture()
def page(corpus: tuple[Path, Path], tmp_path: Path) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install it with `apt-get install -y chromium chromium-driver`")
    from playwright.sync_api import sync_playwright

    _, index = corpus
    app = build_app(engine(index), AppConfig(index_dir=index, feedback_path=tmp_path / "feedback.jsonl"))
    url = launch(app, port=free_port(), block=False)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.set_default_timeout(60_000)
            tab.goto(url)
            yield tab
            browser.close()
    finally:
        app.close()


@pytest.mark.integration
def test_pick_a_document_in_chromium_and_see_a_rebuild_listed(
    page: Any, corpus: tuple[Path, Path], minilm: Any
) -> None:
    src, index = corpus
    page.wait_for_selector("#document-list :text('taiwan.txt')")
    assert "3 documents in 3 files" in page.inner_text("#document-list")
    page.click("#doc-filter input")
    page.get_by_role("option", name="Energy — taiwan.txt").click()
    page.fill("#question textarea", "What happened this year?")
    page.press("#question textarea", "Enter")
    page.locator("#sources .src-card").first.wait_for()
    sources = page.inner_text("#sources")
    assert "taiwan.txt" in sources and "pokrovsk.txt" not in sources and "alaska.txt" not in sources

    (src / "harbour.txt").write_text("Harbour bridge\n\nThe harbour bridge opened in May.", encoding="utf-8")
    build_index(src, index, embedder=minilm, settings=SETTINGS)  # `rag index` elsewhere, the page untouched
    page.wait_for_selector("#document-list :text('harbour.txt')", timeout=3 * ui.documents.POLL_S * 1000)
    assert "v0002" in page.inner_text("#document-list")
    page.click("#doc-filter input")
    assert page.get_by_role("option", name="Harbour bridge — harbour.txt").is_visible()
