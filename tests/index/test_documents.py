from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.documents import SUPPORTED_SUFFIXES, html_to_text, iter_files, load_file


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one text line per page (no PDF writer needed)."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write(tmp: Path, name: str, data: bytes | str) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_txt_and_markdown_titles(tmp_path: Path) -> None:
    txt = write(tmp_path, "a.txt", "First line title\n\nBody text here.")
    md = write(tmp_path, "notes/b.md", "Intro words\n\n# Real Heading\n\nMore.")
    [doc] = load_file(txt, tmp_path).documents
    assert (doc.id, doc.title) == ("a.txt", "First line title")
    [doc] = load_file(md, tmp_path).documents
    assert (doc.id, doc.title) == ("notes/b.md", "Real Heading")


def test_html_drops_markup_and_keeps_title(tmp_path: Path) -> None:
    page = (
        "<html><head><title>My  Page</title><style>p{color:red}</style></head>"
        "<body><script>alert('x')</script><h1>Header</h1><p>One &amp; two.</p><div>Three</div></body></html>"
    )
    [doc] = load_file(write(tmp_path, "p.html", page), tmp_path).documents
    assert doc.title == "My Page"
    assert doc.text == "Header\n\nOne & two.\n\nThree"
    assert html_to_text("<p>a</p><p>b</p>")[1] == "a\n\nb"


def test_pdf_keeps_pages(tmp_path: Path) -> None:
    path = write(tmp_path, "d.pdf", make_pdf(["Alpha page one.", "Beta page two."]))
    [doc] = load_file(path, tmp_path).documents
    assert "Alpha page one." in doc.text and "Beta page two." in doc.text
    assert doc.page_at(doc.text.index("Alpha")) == 1
    assert doc.page_at(doc.text.index("Beta")) == 2


def test_beir_jsonl_each_line_a_document_and_bad_lines_reported(tmp_path: Path) -> None:
    lines = [
        json.dumps({"_id": "d1", "title": "T1", "text": "first"}),
        "{not json",
        json.dumps({"_id": "d2", "title": "", "text": "second"}),
        json.dumps({"id": "x", "text": "no _id"}),
        json.dumps({"_id": "d1", "title": "dup", "text": "again"}),
    ]
    result = load_file(write(tmp_path, "c.jsonl", "\n".join(lines)), tmp_path)
    assert [d.id for d in result.documents] == ["c.jsonl#d1", "c.jsonl#d2"]
    assert result.documents[0].record_id == "d1"
    assert [s.path for s in result.skipped] == ["c.jsonl:2", "c.jsonl:4", "c.jsonl:5"]


def test_encodings_are_detected(tmp_path: Path) -> None:
    latin = "Café crème brûlée, naïve façade. Ça coûte très cher à Zürich." * 3
    [doc] = load_file(write(tmp_path, "l.txt", latin.encode("cp1252")), tmp_path).documents
    assert doc.text == latin
    [doc] = load_file(write(tmp_path, "u.txt", "héllo wörld".encode("utf-16")), tmp_path).documents
    assert doc.text == "héllo wörld"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("bin.txt", b"\x00\x01\x02binary\x00", "binary"),
        ("image.png", b"\x89PNG\r\n", "unsupported file type"),
        ("broken.pdf", b"%PDF-1.4 garbage", "broken PDF"),
        ("blank.md", b"   \n\n  ", "no text"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    result = load_file(write(tmp_path, name, data), tmp_path)
    assert result.documents == []
    [skip] = result.skipped
    assert skip.path == name and reason in skip.reason


def test_iter_files_skips_hidden(tmp_path: Path) -> None:
    write(tmp_path, ".git/config", "x")
    write(tmp_path, ".hidden.txt", "x")
    write(tmp_path, "sub/ok.txt", "x")
    assert [p.name for p in iter_files(tmp_path)] == ["ok.txt"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), suffix=st.sampled_from(SUPPORTED_SUFFIXES))
def test_arbitrary_bytes_never_crash_the_loader(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = write(tmp_path, f"fuzz{suffix}", data)
    result = load_file(path, tmp_path)
    assert result.documents or result.skipped
    for doc in result.documents:
        assert doc.text.strip()
    for skip in result.skipped:
        assert skip.reason and "\n" not in skip.reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=2000))
def test_corrupted_pdf_bytes_never_crash(tmp_path: Path, data: bytes) -> None:
    good = make_pdf(["Hello world page."])
    cut = len(data) % len(good)
    path = write(tmp_path, "x.pdf", good[:cut] + data + good[cut + len(data) :])
    result = load_file(path, tmp_path)
    assert result.documents or result.skipped
