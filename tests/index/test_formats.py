"""Word, PowerPoint, EPUB and CSV files, and files without an extension, each generated here and indexed by
the real build (hash embedder); broken ones are skipped with a reason; a run that indexes nothing writes no
version. Scanned PDFs (OCR) are in test_ocr.py."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.build import NothingToIndex, build_index
from index.chunking import ChunkerSettings
from index.cli import main as index_main
from index.documents import SUPPORTED_SUFFIXES, load_file
from index.embedding import HashEmbedder
from index.formats import READERS
from index.store import IndexStore, current_version, read_manifest
from index.types import IndexReport, Manifest

SETTINGS = ChunkerSettings(64, 8)


def build(src: Path, tmp_path: Path) -> IndexReport:
    return build_index(src, tmp_path / "idx", embedder=HashEmbedder(64), settings=SETTINGS)


def indexed(tmp_path: Path) -> dict[str, str]:
    """doc id -> its chunks' text, as the built index holds them."""
    texts: dict[str, str] = {}
    for chunk in IndexStore.open(tmp_path / "idx").chunks:
        texts[chunk.doc_id] = texts.get(chunk.doc_id, "") + "\n" + chunk.text
    return texts


def manifest(tmp_path: Path) -> Manifest:
    found = read_manifest(tmp_path / "idx")
    assert found is not None
    return found


def folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    return src


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Harbour Operations Manual", level=1)
    document.add_paragraph("The harbour master inspects every mooring line on Mondays.")
    document.add_heading("Ferry timetable", level=2)
    table = document.add_table(rows=2, cols=3)
    for row, values in zip(table.rows, (("Route", "Day", "Departs"), ("Skye", "Tuesday", "07:40"))):
        for cell, value in zip(row.cells, values):
            cell.text = value
    document.add_paragraph("Storm warnings close the slipway.")
    document.save(str(path))


def make_pptx(path: Path) -> None:
    from pptx import Presentation

    deck = Presentation()
    filler = "The board discussed it at length, with figures from each office, and agreed to revisit it next quarter."
    slides = (("Quarterly review", "Revenue grew in every region."), ("Risks", "Copper prices doubled in March."))
    for title, body in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = f"{body} {filler}"
    deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = "Next steps"
    deck.slides[2].notes_slide.notes_text_frame.text = "Mention the new warehouse in Gdansk."
    deck.save(str(path))


def make_epub(path: Path) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("lighthouse-1")
    book.set_title("The Lighthouse Logbook")
    book.set_language("en")
    one = epub.EpubHtml(title="Arrival", file_name="one.xhtml", lang="en")
    one.content = "<h1>Arrival</h1><p>The keeper arrived on the island in a gale.</p>"
    two = epub.EpubHtml(title="Winter", file_name="two.xhtml", lang="en")
    two.content = "<h1>Winter</h1><p>In winter the lamp burned paraffin all night.</p><script>x()</script>"
    for item in (two, one, epub.EpubNcx(), epub.EpubNav()):  # added out of order: the spine decides
        book.add_item(item)
    book.toc = (one, two)
    book.spine = ["nav", one, two]
    epub.write_epub(str(path), book)


def test_every_reader_is_a_supported_suffix() -> None:
    assert set(READERS) - {""} <= set(SUPPORTED_SUFFIXES)
    assert {".docx", ".pptx", ".epub", ".csv", ".pdf"} <= set(READERS)


def test_docx_paragraphs_headings_and_tables_are_indexed(tmp_path: Path) -> None:
    make_docx(folder(tmp_path) / "manual.docx")
    report = build(tmp_path / "src", tmp_path)
    assert report.documents == 1 and not report.skipped
    text = indexed(tmp_path)["manual.docx"]
    for expected in ("mooring line on Mondays", "Ferry timetable", "Skye | Tuesday | 07:40", "slipway"):
        assert expected in text
    assert manifest(tmp_path).documents["manual.docx"].title == "Harbour Operations Manual"


def test_pptx_has_one_page_a_slide_and_cites_slides(tmp_path: Path) -> None:
    from rag.prompting import source_label
    from rag.types import Hit

    make_pptx(folder(tmp_path) / "review.pptx")
    [doc] = load_file(tmp_path / "src" / "review.pptx", tmp_path / "src").documents
    assert [doc.page_at(doc.text.index(s)) for s in ("Revenue", "Copper", "Gdansk")] == [1, 2, 3]
    assert doc.title == "Quarterly review"
    report = build(tmp_path / "src", tmp_path)
    assert report.documents == 1 and not report.skipped
    [copper] = [c for c in IndexStore.open(tmp_path / "idx").chunks if "Copper prices doubled" in c.text]
    assert copper.page == 2 and copper.page_label == "slide 2"
    assert source_label(1, Hit(copper, 1.0, 1)) == "[1] (slide 2):"


def test_epub_chapters_in_spine_order(tmp_path: Path) -> None:
    make_epub(folder(tmp_path) / "book.epub")
    report = build(tmp_path / "src", tmp_path)
    assert report.documents == 1 and not report.skipped
    text = indexed(tmp_path)["book.epub"]
    assert text.index("arrived on the island") < text.index("paraffin all night")
    assert "x()" not in text
    assert manifest(tmp_path).documents["book.epub"].title == "The Lighthouse Logbook"


def test_csv_one_record_a_row_with_sniffed_dialect_and_encoding(tmp_path: Path) -> None:
    src = folder(tmp_path)
    (src / "people.csv").write_bytes("id;name;city\n7;Zoë Müller;Zürich\n9;Åsa Berg;Malmö\n;;\n".encode("cp1252"))
    (src / "plain.csv").write_text('city,note\nOslo,"fjords, and rain"\nBergen,more rain\n', encoding="utf-8")
    report = build(src, tmp_path)
    assert not report.skipped
    texts = indexed(tmp_path)
    assert set(texts) == {"people.csv#7", "people.csv#9", "plain.csv#row-1", "plain.csv#row-2"}
    assert "name: Zoë Müller\ncity: Zürich" in texts["people.csv#7"]
    assert "note: fjords, and rain" in texts["plain.csv#row-1"]
    documents = manifest(tmp_path).documents
    assert documents["people.csv#9"].title == "Åsa Berg" and documents["plain.csv#row-2"].title == "plain row 2"


def test_csv_duplicate_ids_are_skipped_like_jsonl(tmp_path: Path) -> None:
    path = folder(tmp_path) / "dup.csv"
    path.write_text("_id,text\na,first\na,second\nb,third\n", encoding="utf-8")
    result = load_file(path, tmp_path / "src")
    assert [d.id for d in result.documents] == ["dup.csv#a", "dup.csv#b"]
    assert [(s.path, s.reason) for s in result.skipped] == [("dup.csv:3", "duplicate id 'a'")]


def truncated(make: object, path: Path) -> None:
    make(path)  # type: ignore[operator]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("name", "breaker", "reason"),
    [
        ("cut.docx", lambda p: truncated(make_docx, p), "broken Word document: "),
        ("cut.pptx", lambda p: truncated(make_pptx, p), "broken PowerPoint file: "),
        ("cut.epub", lambda p: truncated(make_epub, p), "broken EPUB book: "),
        ("notzip.docx", lambda p: p.write_bytes(b"PK\x03\x04 definitely not a zip"), "broken Word document: "),
        ("wrongzip.pptx", lambda p: zipfile.ZipFile(p, "w").writestr("a.txt", "hi"), "broken PowerPoint file: "),
        ("garbage.csv", lambda p: p.write_bytes(bytes(range(256)) * 8), "binary file"),
        ("header.csv", lambda p: p.write_text("a,b,c\n"), "CSV has no rows under its header"),
    ],
)
def test_broken_files_are_skipped_with_a_reason_and_the_rest_indexed(
    tmp_path: Path, name: str, breaker: object, reason: str
) -> None:
    src = folder(tmp_path)
    breaker(src / name)  # type: ignore[operator]
    (src / "ok.txt").write_text("Fine\n\nThis one is readable.", encoding="utf-8")
    report = build(src, tmp_path)
    assert report.documents == 1
    [skip] = report.skipped
    assert skip.path == name and skip.reason.startswith(reason) and "\n" not in skip.reason, skip
    assert set(indexed(tmp_path)) == {"ok.txt"}


def test_files_without_an_extension_are_sniffed(tmp_path: Path) -> None:
    src = folder(tmp_path)
    (src / "LICENSE").write_text("MIT License\n\nPermission is hereby granted, free of charge.", encoding="utf-8")
    (src / "Apache-2.0").write_text("Apache License\nVersion 2.0, January 2004\n", encoding="utf-8")
    (src / "COPYING").write_bytes("Copyright © 2024 Jürgen Groß\n\nAll rights reserved.\n".encode("cp1252"))
    (src / "tool").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(200))
    (src / "blob").write_bytes(b"\x01\x02\x03 not text \x00\x00 at all")
    (src / "sheet.xyz").write_text("a,b", encoding="utf-8")
    report = build(src, tmp_path)
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons == {
        "tool": "no extension and not text (an ELF executable)",
        "blob": "no extension and not text: binary file (contains NUL bytes)",
        "sheet.xyz": "unsupported file type '.xyz'",
    }
    texts = indexed(tmp_path)
    assert set(texts) == {"LICENSE", "Apache-2.0", "COPYING"}
    assert "Jürgen Groß" in texts["COPYING"] and "hereby granted" in texts["LICENSE"]
    assert manifest(tmp_path).documents["Apache-2.0"].title == "Apache License"


def test_a_run_that_indexes_nothing_fails_and_writes_no_version(tmp_path: Path) -> None:
    src = folder(tmp_path)
    (src / "tool").write_bytes(b"\x7fELF" + bytes(64))
    with pytest.raises(NothingToIndex, match=r"every file was skipped \(tool: no extension and not text"):
        build(src, tmp_path)
    assert current_version(tmp_path / "idx") is None
    assert not [p for p in (tmp_path / "idx").iterdir() if p.name.startswith("v")]


def test_nothing_to_index_keeps_the_previous_version_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, idx = folder(tmp_path), tmp_path / "idx"
    (src / "a.txt").write_text("Alpha\n\nApples and pears.", encoding="utf-8")
    args = [str(src), "--index", str(idx), "--embedder", "hash", "--quiet"]
    assert index_main(args) == 0
    before = current_version(idx)
    assert before is not None
    manifest = (before / "manifest.json").read_bytes()
    (src / "a.txt").unlink()
    (src / "empty.md").write_text("")
    code = index_main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: Nothing to index in") and "empty.md: empty file" in err
    assert f"the index at {idx} is unchanged" in err and "Traceback" not in err
    assert current_version(idx) == before and (before / "manifest.json").read_bytes() == manifest
    assert "apples" in IndexStore.open(idx).chunks[0].text.lower()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=3000), name=st.sampled_from(["LICENSE", "GPL-2.0", "README"]))
def test_arbitrary_bytes_without_an_extension_never_crash(tmp_path: Path, data: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = load_file(path, tmp_path)
    assert len(result.documents) + len(result.skipped) == 1
    for skip in result.skipped:
        assert skip.reason and "\n" not in skip.reason
