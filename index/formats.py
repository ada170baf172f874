"""Word, PowerPoint, EPUB and CSV files, PDFs, and files without an extension, read into `Document`s.

`READERS` maps a suffix ('' for a file without one) to its reader; `index.documents.load_file` dispatches
here. Every reader turns a broken file into a `LoadError` with a one-line reason, never another exception.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from index.documents import HtmlPage, LoadError, LoadResult, decode_bytes, first_line_title, html_page, normalize_text
from index.sections import locate_headings
from index.types import Document, Heading, SkippedFile

Reader = Callable[[bytes, str, str], LoadResult]  # (file bytes, document id, file name without suffix)

# python-pptx stamps this on every deck it creates; it names no deck in particular.
_PPTX_DEFAULT_TITLE = "PowerPoint Presentation"
_CSV_SAMPLE_CHARS = 16_384
_CSV_ID_COLUMNS = ("_id", "id")
_CSV_TITLE_COLUMNS = ("title", "name")
# Signatures of common binaries, so a file without an extension is refused with what it is.
_MAGIC = (
    (b"\x7fELF", "an ELF executable"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"SQLite format 3\x00", "an SQLite database"),
)


def read_format(data: bytes, suffix: str, rel: str, stem: str) -> LoadResult:
    return READERS[suffix](data, rel, stem)


def failure(what: str, exc: BaseException) -> str:
    """`WHAT: Type: message` on one line, short enough for a summary."""
    return f"{what}: {type(exc).__name__}: {' '.join(str(exc).split())}"[:200]


@contextmanager
def _broken(kind: str) -> Iterator[None]:
    try:
        yield
    except LoadError:
        raise
    except Exception as exc:  # the readers raise many types for damaged files
        raise LoadError(failure(f"broken {kind}", exc)) from exc


def _single(
    rel: str, title: str, text: str, what: str, page_starts: tuple[int, ...] = (), headings: tuple[Heading, ...] = ()
) -> LoadResult:
    if not text.strip():
        raise LoadError(f"{what} has no text")
    title = " ".join(title.split())
    return LoadResult([Document(rel, rel, title, text, page_starts, headings=headings)])


def read_docx(data: bytes, rel: str, stem: str) -> LoadResult:
    """Paragraphs and tables in document order, a table row a line with its cells joined by ' | '."""
    import docx
    from docx.table import Table

    blocks: list[str] = []
    headings: list[str] = []
    with _broken("Word document"):
        document = docx.Document(io.BytesIO(data))
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                blocks.append(_table_text(item.rows))
                continue
            text = normalize_text(item.text).strip()
            style = item.style.name if item.style is not None else ""
            if text and style and style.startswith(("Heading", "Title")):
                headings.append(text)
            blocks.append(text)
        meta_title = document.core_properties.title or ""
    text = "\n\n".join(b for b in blocks if b)
    title = meta_title.strip() or (headings[0] if headings else "") or first_line_title(text) or stem
    return _single(rel, title, text, "Word document", headings=locate_headings(text, headings))


def _table_text(rows: Any) -> str:
    lines = []
    for row in rows:
        cells: list[str] = []
        for cell in row.cells:
            value = " ".join(cell.text.split())
            # A merged cell comes back once for each grid column it spans: keep it once.
            if value and (not cells or cells[-1] != value):
                cells.append(value)
        if cells:
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def read_pptx(data: bytes, rel: str, stem: str) -> LoadResult:
    """One page a slide (so a citation says "slide 4"): its text boxes, tables and speaker notes."""
    from pptx import Presentation

    with _broken("PowerPoint file"):
        deck = Presentation(io.BytesIO(data))
        slides = [_slide_text(slide) for slide in deck.slides]
        titles = [s.shapes.title.text_frame.text.strip() for s in deck.slides if s.shapes.title is not None]
        meta_title = deck.core_properties.title or ""
    starts, offset = [], 0
    for slide_text in slides:
        starts.append(offset)
        offset += len(slide_text) + 2
    text = "\n\n".join(slides)
    meta_title = "" if meta_title.strip() == _PPTX_DEFAULT_TITLE else meta_title.strip()
    title = meta_title or next((t for t in titles if t), "") or first_line_title(text) or stem
    return _single(rel, title, text, "presentation", tuple(starts), locate_headings(text, titles))


def _slide_text(slide: Any) -> str:
    parts = list(_shape_texts(slide.shapes))
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        notes = _frame_text(slide.notes_slide.notes_text_frame)
        if notes:
            parts.append(f"Notes: {notes}")
    # A blank line after each shape: the chunker keeps a text box or table together where it can.
    return "\n\n".join(p for p in parts if p).strip()


def _shape_texts(shapes: Any) -> Iterator[str]:
    for shape in shapes:
        if getattr(shape, "shapes", None) is not None:  # a group: its members in order
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            yield _table_text(shape.table.rows)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield _frame_text(shape.text_frame)


def _frame_text(frame: Any) -> str:
    # python-pptx gives a soft line break (Shift+Enter) as a vertical tab.
    return normalize_text(frame.text.replace("\v", "\n")).strip()


def read_epub(data: bytes, rel: str, stem: str) -> LoadResult:
    """The chapters in reading (spine) order, their markup removed."""
    import ebooklib
    from ebooklib import epub

    chapters: list[HtmlPage] = []
    with _broken("EPUB book"):
        book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
        for idref, _linear in book.spine:
            item = book.get_item_with_id(idref)
            if item is not None and item.get_type() == ebooklib.ITEM_DOCUMENT:
                chapters.append(_chapter(item.get_content()))
        titles = book.get_metadata("DC", "title")
    text = "\n\n".join(c.text for c in chapters if c.text)
    if chapters and not text.strip():
        raise LoadError("EPUB book has no readable text (DRM-protected or image-only?)")
    meta_title = str(titles[0][0]) if titles and titles[0] else ""
    headings = locate_headings(text, [h for c in chapters for h in c.headings])
    return _single(rel, meta_title.strip() or first_line_title(text) or stem, text, "EPUB book", headings=headings)


def _chapter(content: bytes) -> HtmlPage:
    try:
        return html_page(normalize_text(decode_bytes(content)))
    except LoadError:  # an undecodable (e.g. encrypted) chapter: the others may still read
        return HtmlPage("", "", ())


def read_csv(data: bytes, rel: str, stem: str) -> LoadResult:
    """One document a row under the header row, as `name: value` lines, like one BEIR `.jsonl` line.

    An `_id`/`id` column names the records (`table.csv#<id>`), otherwise the row number does
    (`table.csv#row-3`); a `title`/`name` column gives their titles. The dialect is sniffed.
    """
    text = normalize_text(decode_bytes(data))
    reader = csv.reader(io.StringIO(text), _dialect(text))
    try:
        table = _Table(rel, stem, [" ".join(h.split()) for h in next(reader, [])])
        for n, row in enumerate(reader, start=1):
            table.add(n, row, reader.line_num)
    except csv.Error as exc:
        raise LoadError(f"broken CSV at line {reader.line_num}: {exc}"[:200]) from exc
    if not table.result.documents and not table.result.skipped:
        raise LoadError("CSV has no rows under its header" if table.header else "CSV has no rows")
    return table.result


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    sample = text[:_CSV_SAMPLE_CHARS]
    if len(text) > _CSV_SAMPLE_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only: a cut row misleads the sniffer
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:  # one column, or no delimiter in common: plain comma-separated
        return csv.excel


@dataclass
class _Table:
    """The records of one CSV file as its rows are read."""

    rel: str
    stem: str
    header: list[str]
    result: LoadResult = field(default_factory=LoadResult)
    seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        lowered = [h.lower() for h in self.header]
        self.id_col = next((lowered.index(c) for c in _CSV_ID_COLUMNS if c in lowered), None)
        self.title_col = next((lowered.index(c) for c in _CSV_TITLE_COLUMNS if c in lowered), None)

    def add(self, n: int, row: list[str], line: int) -> None:
        cells = [" ".join(c.split()) for c in row]
        if not any(cells):
            return
        body = "\n".join(f"{self._name(i)}: {value}" for i, value in enumerate(cells) if value)
        rid = self._cell(cells, self.id_col) or f"row-{n}"
        if rid in self.seen:
            self.result.skipped.append(SkippedFile(f"{self.rel}:{line}", f"duplicate id '{rid}'"))
            return
        self.seen.add(rid)
        title = self._cell(cells, self.title_col) or f"{self.stem} row {n}"
        self.result.documents.append(Document(f"{self.rel}#{rid}", self.rel, title, body))

    def _name(self, col: int) -> str:
        return self.header[col] if col < len(self.header) and self.header[col] else f"column {col + 1}"

    @staticmethod
    def _cell(cells: list[str], col: int | None) -> str:
        return cells[col] if col is not None and col < len(cells) else ""


def read_untyped(data: bytes, rel: str, name: str) -> LoadResult:
    """A file without an extension (LICENSE, README, COPYING): indexed as text if its content is text."""
    if data.startswith(b"%PDF-"):
        return read_pdf(data, rel, name)
    kind = next((what for magic, what in _MAGIC if data.startswith(magic)), None)
    if kind:
        raise LoadError(f"no extension and not text ({kind})")
    try:
        text = normalize_text(decode_bytes(data))
    except LoadError as exc:
        raise LoadError(f"no extension and not text: {exc}") from None
    if _unprintable_share(text) > 0.05:
        raise LoadError("no extension and not text: binary file (mostly unprintable characters)")
    return _single(rel, first_line_title(text) or name, text, "file")


def _unprintable_share(text: str) -> float:
    """Share of control, private-use and unassigned characters: what a binary decoded as a code page shows."""
    sample = text[:8192]
    if not sample:
        return 0.0
    bad = sum(1 for ch in sample if ch not in "\n\r\t\f" and unicodedata.category(ch)[0] == "C")
    return bad / len(sample)


def read_pdf(data: bytes, rel: str, stem: str) -> LoadResult:
    from index.pdf import read_pdf as read  # pypdf and OCR load only when a PDF turns up

    return read(data, rel, stem)


READERS: dict[str, Reader] = {
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".pptx": read_pptx,
    ".epub": read_epub,
    ".csv": read_csv,
    "": read_untyped,
}
