"""PDF files: the text layer page by page, and Tesseract OCR for scanned pages that have none."""

from __future__ import annotations

import io
import logging
import shutil
from collections.abc import Sequence
from typing import Any

from index.documents import LoadError, LoadResult, first_line_title, normalize_text
from index.formats import failure
from index.types import Document, SkippedFile

INSTALL_TESSERACT = "apt-get install tesseract-ocr tesseract-ocr-eng"
NEEDS_TESSERACT = f"OCR needs Tesseract, which is not installed ({INSTALL_TESSERACT})"
# A page image Tesseract has not read in this long is given up on: one bad page must not hold up a corpus.
OCR_TIMEOUT_SECONDS = 120


def tesseract_available() -> bool:
    """Both halves of OCR are here: the `tesseract` program and the pytesseract package that drives it."""
    if shutil.which("tesseract") is None:
        return False
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return True


def read_pdf(data: bytes, rel: str, stem: str) -> LoadResult:
    """One document, `page_starts` marking each page; pages without a text layer are OCRed where possible."""
    reader = _open(data)
    pages, images = _text_layer(reader)
    result = LoadResult()
    scanned = [n for n, text in enumerate(pages) if not text and images[n]]
    can_ocr = bool(scanned) and tesseract_available()
    ocr_pages = _ocr_scanned(pages, images, scanned, rel, result) if can_ocr else []
    text = "\n\n".join(pages)
    if not text.strip():
        if scanned and not can_ocr:
            raise LoadError(f"PDF has no text layer (its pages are scanned images); {NEEDS_TESSERACT}")
        raise LoadError("PDF has no extractable text" + (" (OCR found none either)" if scanned else ""))
    if scanned and not can_ocr:
        reason = f"scanned image with no text layer; {NEEDS_TESSERACT}"
        result.skipped.append(SkippedFile(f"{rel} {_page_list([n + 1 for n in scanned])}", reason))
    starts, offset = [], 0
    for page_text in pages:
        starts.append(offset)
        offset += len(page_text) + 2
    title = _meta_title(reader) or first_line_title(text) or stem
    doc = Document(id=rel, path=rel, title=title, text=text, page_starts=tuple(starts), ocr_pages=tuple(ocr_pages))
    result.documents.append(doc)
    if ocr_pages:
        result.notes.append(f"{rel} {_page_list(ocr_pages)}: OCR text (Tesseract read a scanned image)")
    return result


def _ocr_scanned(
    pages: list[str], images: list[Sequence[Any]], scanned: list[int], rel: str, result: LoadResult
) -> list[int]:
    """OCR the `scanned` pages in place; their 1-based numbers where Tesseract found text."""
    found: list[int] = []
    for n in scanned:
        try:
            pages[n] = normalize_text(_ocr(images[n])).strip()
        except Exception as exc:  # noqa: BLE001 - undecodable image or Tesseract error: this page only
            result.skipped.append(SkippedFile(f"{rel} page {n + 1}", failure("OCR failed", exc)))
            continue
        if pages[n]:
            found.append(n + 1)
    return found


def _open(data: bytes) -> Any:
    from pypdf import PasswordType, PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        # An owner password alone (empty user password) only restricts what a viewer offers; every viewer
        # opens such a file, and so do we. Only a PDF that asks for a password to open is skipped.
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise LoadError("encrypted PDF: needs a password to open")
        len(reader.pages)  # a broken page tree fails here, inside the guard
    except LoadError:
        raise
    except Exception as exc:  # pypdf raises many types for broken files
        raise _pdf_error(exc) from exc
    return reader


def _pdf_error(exc: Exception) -> LoadError:
    from pypdf.errors import DependencyError

    if isinstance(exc, DependencyError):  # AES without a crypto backend (pypdf[crypto] installs one)
        return LoadError("encrypted PDF: AES decryption needs the 'cryptography' package")
    return LoadError(failure("broken PDF", exc))


def _text_layer(reader: Any) -> tuple[list[str], list[Sequence[Any]]]:
    """Each page's text, and for a page with none, the images it shows (a scan is one or a few)."""
    pages: list[str] = []
    images: list[Sequence[Any]] = []
    try:
        for page in reader.pages:
            pages.append(normalize_text(page.extract_text() or "").strip())
            images.append(() if pages[-1] else _page_images(page))
    except Exception as exc:  # pypdf raises many types for broken files; decryption happens here too
        raise _pdf_error(exc) from exc
    return pages, images


def _page_images(page: Any) -> Sequence[Any]:
    try:
        return list(page.images)
    except Exception:  # noqa: BLE001 - an image list pypdf cannot read: the page is treated as blank
        return ()


def _ocr(images: Sequence[Any]) -> str:
    import pytesseract

    texts = [pytesseract.image_to_string(image.image, timeout=OCR_TIMEOUT_SECONDS) for image in images]
    return "\n\n".join(t.strip() for t in texts if t.strip())


def _meta_title(reader: Any) -> str:
    try:
        return str((reader.metadata.title if reader.metadata else None) or "").strip()
    except Exception:  # noqa: BLE001 - a broken info dictionary only costs the title
        return ""


def _page_list(numbers: Sequence[int]) -> str:
    """`page 3` or `pages 1-4, 7`: runs folded so a scanned book gives one line, not hundreds."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    parts = [f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs]
    return f"page{'s' if len(numbers) > 1 else ''} {', '.join(parts)}"
