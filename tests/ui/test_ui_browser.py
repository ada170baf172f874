"""End to end in headless Chromium: ask, watch the answer stream in, click a citation, upload a file, ask about it.

Screenshots go to tests/artifacts/ (gitignored), for a person to look at.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from ui.app import AppConfig, build_app, launch
from ui.engine import Engine

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture()
def page(news_index: Path, tmp_path: Path) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install it with `apt-get install -y chromium chromium-driver`")
    from playwright.sync_api import sync_playwright

    index = tmp_path / "idx"
    shutil.copytree(news_index, index, symlinks=True)  # the upload must not change the shared fixture
    engine = Engine(index, backend="llama-cpp")
    app = build_app(engine, AppConfig(index_dir=index, feedback_path=tmp_path / "feedback.jsonl"))
    url = launch(app, port=free_port(), block=False)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.set_default_timeout(240_000)
            tab.goto(url)
            tab.wait_for_selector("#question textarea")
            tab.feedback_path = tmp_path / "feedback.jsonl"
            yield tab
            browser.close()
    finally:
        app.close()


def ask(page: Any, question: str) -> None:
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")


def last_answer(page: Any) -> Any:
    return page.locator("#chat .message.bot, #chat [data-testid='bot']").last


def test_ask_stream_click_citation_upload_and_ask_about_it(page: Any, tmp_path: Path) -> None:
    ask(page, "Which refinery did Ukraine fire drones on before the Alaska talks?")
    page.wait_for_function("() => document.querySelector('#chat')?.innerText.includes('▌')")
    page.screenshot(path=str(ARTIFACTS / "ui-1-streaming.png"))
    chip = page.locator("#chat a.cite").first
    chip.wait_for()
    assert "Syzran" in page.inner_text("#chat")
    page.screenshot(path=str(ARTIFACTS / "ui-2-answer.png"))

    target = chip.get_attribute("href")
    chip.click()
    selected = page.locator(f"#sources .src-card.selected{target}")
    selected.wait_for()
    evidence = selected.locator("mark.evidence").first.inner_text()
    assert "Syzran" in evidence
    page.screenshot(path=str(ARTIFACTS / "ui-3-citation-selected.png"))

    page.get_by_role("button", name="Like").last.click()
    page.wait_for_selector("#feedback-status :text('saved')")
    entry = json.loads(page.feedback_path.read_text(encoding="utf-8").splitlines()[-1])
    assert entry["rating"] == "up" and entry["citations"] and "Syzran" in entry["answer"]

    note = tmp_path / "zebra-census.txt"
    note.write_text(
        "Zebra census\n\nThe Okavango zebra census counted exactly 412 zebras in the reserve in March.\n",
        encoding="utf-8",
    )
    page.click("#uploads button:has-text('Upload documents')")
    page.set_input_files("#upload input[type=file]", str(note))
    page.wait_for_selector("#upload-status :text('Indexed zebra-census.txt')")
    page.screenshot(path=str(ARTIFACTS / "ui-4-uploaded.png"))

    ask(page, "How many zebras did the Okavango zebra census count?")
    page.wait_for_function("() => document.querySelectorAll('#chat a.cite[href^=\"#src-1-\"]').length > 0")
    assert "412" in page.inner_text("#chat").split("Okavango zebra census count?")[-1]
    page.locator("#chat a.cite[href^='#src-1-']").first.click()
    card = page.locator("#sources .src-card.selected")
    card.wait_for()
    assert "uploads/zebra-census.txt" in card.inner_text() and "412" in card.locator("mark.evidence").inner_text()
    page.screenshot(path=str(ARTIFACTS / "ui-5-upload-answered.png"))
