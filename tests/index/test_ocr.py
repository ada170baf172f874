"""Scanned PDFs: pages rendered from text here (PIL, a TrueType font) hold only an image; Tesseract reads them,
the page is marked as OCR text, and without Tesseract such pages are skipped with the way to install it."""

from __future__ import annotations

import glob
import io
from pathlib import Path
from typing import Any

import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.documents import load_file
from index.embedding import HashEmbedder
from index.pdf import tesseract_available
from index.store import IndexStore, read_manifest
from index.types import Manifest
from tests.index.test_documents import make_pdf

FERRY = ["Ferry notice", "Ferries to Skye resume on Tuesday", "after the storm damaged the pier."]
LAMP = ["Lighthouse log", "The keeper lit the lamp at dusk", "and trimmed the wick at midnight."]
INSTALL = "apt-get install tesseract-ocr tesseract-ocr-eng"


def font_path() -> str:
    for name in ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "FreeSans.ttf"):
        found = glob.glob(f"/usr/share/fonts/**/{name}", recursive=True)
        if found:
            return found[0]
    pytest.skip("no TrueType font (DejaVu, Liberation or FreeSans) under /usr/share/fonts to render a scan with")


def need_tesseract() -> None:
    if not tesseract_available():
        pytest.skip(f"Tesseract is not installed ({INSTALL}; and pytesseract from PyPI)")


def scan(pages: list[list[str]]) -> bytes:
    """A PDF whose pages are images of the given lines: no text layer, as a scanner makes it."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_path(), 40)
    images = []
    for lines in pages:
        image = Image.new("L", (1500, 120 + 70 * len(lines)), "white")
        draw = ImageDraw.Draw(image)
        for n, line in enumerate(lines):
            draw.text((60, 60 + 70 * n), line, font=font, fill="black")
        images.append(image)
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=150, save_all=True, append_images=images[1:])
    return out.getvalue()


def text_then_scan() -> bytes:
    """Page 1 has a text layer, page 2 is a scanned image."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for data in (make_pdf(["Harbour report for the winter season."]), scan([FERRY])):
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def build(src: Path, tmp_path: Path, embedder: Any = None) -> Any:
    emb = embedder or HashEmbedder(64)
    return build_index(src, tmp_path / "idx", embedder=emb, settings=ChunkerSettings(64, 8))


def manifest(tmp_path: Path) -> Manifest:
    found = read_manifest(tmp_path / "idx")
    assert found is not None
    return found


def test_scanned_pages_are_ocred_and_marked(tmp_path: Path) -> None:
    need_tesseract()
    src = tmp_path / "src"
    src.mkdir()
    (src / "scan.pdf").write_bytes(scan([LAMP, FERRY]))
    report = build(src, tmp_path)
    assert report.documents == 1 and not report.skipped
    assert "scan.pdf pages 1-2: OCR text (Tesseract read a scanned image)" in report.warnings
    assert manifest(tmp_path).documents["scan.pdf"].ocr_pages == (1, 2)
    indexed = "\n".join(c.text for c in IndexStore.open(tmp_path / "idx").chunks)
    assert "lit the lamp at dusk" in indexed and "Skye resume on Tuesday" in indexed
    [doc] = load_file(src / "scan.pdf", src).documents
    assert [doc.page_at(doc.text.index(s)) for s in ("lamp at dusk", "Skye")] == [1, 2]


def test_only_pages_without_a_text_layer_are_ocred(tmp_path: Path) -> None:
    need_tesseract()
    path = tmp_path / "mixed.pdf"
    path.write_bytes(text_then_scan())
    result = load_file(path, tmp_path)
    [doc] = result.documents
    assert doc.ocr_pages == (2,) and result.notes == ["mixed.pdf page 2: OCR text (Tesseract read a scanned image)"]
    assert doc.page_at(doc.text.index("Harbour report")) == 1 and doc.page_at(doc.text.index("Skye")) == 2


def test_without_tesseract_scanned_pages_are_skipped_saying_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "scan.pdf").write_bytes(scan([FERRY]))
    (src / "mixed.pdf").write_bytes(text_then_scan())
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))  # no `tesseract` to find
    report = build(src, tmp_path)
    reasons = {s.path: s.reason for s in report.skipped}
    needs = f"OCR needs Tesseract, which is not installed ({INSTALL})"
    assert reasons == {
        "mixed.pdf page 2": f"scanned image with no text layer; {needs}",
        "scan.pdf": f"PDF has no text layer (its pages are scanned images); {needs}",
    }
    chunks = list(IndexStore.open(tmp_path / "idx").chunks)
    assert [c.doc_id for c in chunks] == ["mixed.pdf"] and "Harbour report" in chunks[0].text
    assert manifest(tmp_path).documents["mixed.pdf"].ocr_pages == ()


@pytest.mark.slow
def test_a_question_is_answered_from_a_scanned_page(tmp_path: Path, minilm: Any) -> None:
    from rag.retrieval import get_retriever

    need_tesseract()
    src = tmp_path / "src"
    src.mkdir()
    (src / "notice.pdf").write_bytes(scan([LAMP, FERRY]))
    (src / "trains.txt").write_text("Rail\n\nThe sleeper train to Inverness leaves London at nine.", "utf-8")
    (src / "bridge.md").write_text("# Bridge\n\nThe Skye bridge toll was abolished in 2004.", "utf-8")
    build(src, tmp_path, embedder=minilm)
    store = IndexStore.open(tmp_path / "idx")
    try:
        hits = get_retriever("hybrid", store, embedder=minilm).retrieve("When do the ferries to Skye run again?", 3)
    finally:
        store.close()
    top = hits[0].chunk
    assert top.path == "notice.pdf" and "Ferries to Skye resume on Tuesday" in top.text
