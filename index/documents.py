"""Load a folder (or one file) into `Document`s; anything unreadable becomes a `SkippedFile`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from index.sections import locate_headings, markdown_headings
from index.types import Document, Heading, SkippedFile
from index.walk import list_files, read_inside, relative_id

# Read here: plain text, Markdown, HTML and BEIR .jsonl. Read by index.formats: the rest, and files
# without an extension (sniffed: indexed when their content is text).
FORMAT_SUFFIXES = (".pdf", ".docx", ".pptx", ".epub", ".csv")
SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl", *FORMAT_SUFFIXES)
# What a user can wait for: at about 1 KB of text a chunk and 24 chunks/s (docs/benchmarks.md), a
# 25 MB text file is about 25,000 chunks and a quarter of an hour of embedding. --max-file-mb overrides.
DEFAULT_MAX_FILE_MB = 25
DEFAULT_MAX_FILE_BYTES = DEFAULT_MAX_FILE_MB * 1_000_000
_TITLE_MAX_CHARS = 200
_WESTERN = ("cp1252", "latin_1", "iso8859_15")


class LoadError(Exception):
    """A file that cannot become a document; the message is the one-line reason."""


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the build report, e.g. pages read by OCR


def iter_files(root: Path, *, follow_links: bool = False) -> Iterator[Path]:
    """Every regular file under `root` (or `root` itself), sorted, hidden ones left out; see `list_files`."""
    yield from list_files(root, follow_links=follow_links)[0]


def load_file(
    path: Path, root: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES, *, boundary: Path | None = None
) -> LoadResult:
    """Load one file; never raises for bad content, reports it as skipped instead.

    `boundary` is the resolved corpus folder the file must still be inside when read (see `read_inside`).
    """
    rel = relative_id(path, root)
    result = LoadResult()
    suffix = file_type(path)
    try:
        if suffix and suffix not in SUPPORTED_SUFFIXES:
            raise LoadError(f"unsupported file type '{suffix}'")
        size = path.stat().st_size
        if size == 0:
            raise LoadError("empty file")
        if size > max_bytes:
            raise LoadError(f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
        data = read_inside(path, boundary)
        if suffix == ".jsonl":
            return _load_jsonl(data, rel)
        if suffix in FORMAT_SUFFIXES or not suffix:
            from index.formats import read_format  # it imports this module

            return read_format(data, suffix, rel, path.stem if suffix else path.name)
        result.documents.append(_load_single(data, suffix, rel, path.stem))
    except LoadError as exc:
        result.skipped.append(SkippedFile(rel, str(exc)))
    except OSError as exc:
        result.skipped.append(SkippedFile(rel, f"unreadable: {exc.strerror or exc}"))
    return result


def file_type(path: Path) -> str:
    """The lower-case suffix; '' for none, or for a version number (`Apache-2.0`, `GPL-2.1`), which is no type."""
    suffix = path.suffix.lower()
    return "" if suffix[1:].isdigit() else suffix


def _load_single(data: bytes, suffix: str, rel: str, stem: str) -> Document:
    text = normalize_text(decode_bytes(data))
    title = ""
    headings: tuple[Heading, ...] = ()
    if suffix in (".html", ".htm"):
        page = html_page(text)
        title, text, headings = page.title, page.text, locate_headings(page.text, page.headings)
    elif suffix in (".md", ".markdown"):
        match = re.search(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE)
        title = match.group(1) if match else ""
        headings = markdown_headings(text)
    title = title or first_line_title(text) or stem
    if not text.strip():
        raise LoadError("no text content")
    return Document(id=rel, path=rel, title=title, text=text, headings=headings)


def decode_bytes(data: bytes) -> str:
    """UTF-8 first; otherwise the encoding charset-normalizer detects; binaries refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoadError("broken UTF-16 text") from exc
    if b"\x00" in data[:8192]:
        raise LoadError("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        matches = list(from_bytes(data))
        if not matches:
            raise LoadError("binary or undetectable text encoding") from None
        best = matches[0]
        # Single-byte code pages are easily confused; Windows-1252 is by far the most
        # common legacy encoding, so it wins any near tie.
        western = [m for m in matches if m.encoding in _WESTERN and m.chaos <= best.chaos + 0.05]
        text = str(western[0] if western else best)
    if _control_share(text) > 0.05:
        raise LoadError("binary file (mostly control characters)")
    return text


def _control_share(text: str) -> float:
    sample = text[:8192]
    if not sample:
        return 0.0
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    return bad / len(sample)


def normalize_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def first_line_title(text: str) -> str:
    for line in text.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= _TITLE_MAX_CHARS else ""
    return ""


class _HTMLText(HTMLParser):
    _BLOCKS = frozenset(
        [
            "p",
            "div",
            "br",
            "li",
            "ul",
            "ol",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "tr",
            "table",
            "section",
            "article",
            "header",
            "footer",
            "blockquote",
            "pre",
            "hr",
            "dt",
            "dd",
            "nav",
            "aside",
            "main",
            "figure",
            "figcaption",
        ]
    )
    _HIDDEN = frozenset(("script", "style", "noscript", "template", "head"))
    _HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self.headings: list[str] = []
        self._hidden = 0
        self._in_title = False
        self._heading: list[str] | None = None  # the text of the heading being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
            self._heading = [] if tag in self._HEADINGS else self._heading

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")
            if tag in self._HEADINGS and self._heading is not None:
                self.headings.append(" ".join("".join(self._heading).split()))
                self._heading = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif not self._hidden:
            self.parts.append(data)
            if self._heading is not None:
                self._heading.append(data)


@dataclass(frozen=True)
class HtmlPage:
    title: str
    text: str  # visible text, block elements as line breaks, blank runs folded
    headings: tuple[str, ...]  # the <h1>-<h6> texts in order (white space folded)


def html_page(markup: str) -> HtmlPage:
    """The page's title, visible text and heading texts (which `index.sections.locate_headings` places)."""
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    title = " ".join("".join(parser.title_parts).split())
    return HtmlPage(title, text, tuple(h for h in parser.headings if h))


def html_to_text(markup: str) -> tuple[str, str]:
    """(title, visible text) with block elements as line breaks and blank runs folded."""
    page = html_page(markup)
    return page.title, page.text


def _load_jsonl(data: bytes, rel: str) -> LoadResult:
    """BEIR layout: one `{"_id", "title", "text"}` object per line, each a document."""
    result = LoadResult()
    text = decode_bytes(data)
    seen: set[str] = set()
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{rel}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            result.skipped.append(SkippedFile(where, f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(record, dict) or "_id" not in record or "text" not in record:
            expected = 'expected a BEIR record {"_id", "title", "text"}'
            result.skipped.append(SkippedFile(where, expected))
            continue
        rid, body = str(record["_id"]), normalize_text(str(record["text"] or ""))
        title = " ".join(str(record.get("title") or "").split())
        if rid in seen:
            result.skipped.append(SkippedFile(where, f"duplicate _id '{rid}'"))
            continue
        if not body.strip():
            result.skipped.append(SkippedFile(where, f"record '{rid}' has no text"))
            continue
        seen.add(rid)
        result.documents.append(Document(id=f"{rel}#{rid}", path=rel, title=title, text=body))
    if not result.documents and not result.skipped:
        result.skipped.append(SkippedFile(rel, "no records"))
    return result
