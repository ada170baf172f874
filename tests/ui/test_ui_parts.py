"""Upload checks, rendering, examples and the command line of the chat: fast, no model."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from index.store import IndexStore, faiss_settings
from index.types import Chunk, DocumentEntry, EmbedderInfo, Manifest
from rag.rerank import rerank_status
from rag.types import Answer, Citation, Hit
from ui.cli import add_arguments, login_from_env
from ui.examples import EXAMPLES_FILE, example_questions
from ui.render import Selection, answer_markdown, highlight, sources_html, with_chips
from ui.uploads import check_upload, safe_name, save_uploads, upload_and_index


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        (".hidden.txt", "hidden.txt"),
        ("rés umé;rm -rf.pdf", "res ume_rm -rf.pdf"),
        ("..", ""),
        ("/", ""),
    ],
)
def test_safe_name_keeps_files_inside_the_folder(given: str, expected: str) -> None:
    assert safe_name(given) == expected


def test_save_uploads_rejects_type_size_empty_and_escaping_names(tmp_path: Path) -> None:
    src = tmp_path / "tmp"
    src.mkdir()
    ok, big, empty, exe = (src / n for n in ("ok.txt", "big.md", "empty.txt", "tool.exe"))
    ok.write_text("fine")
    big.write_text("x" * 200)
    empty.write_text("")
    exe.write_bytes(b"MZ")
    folder = tmp_path / "uploads"
    result = save_uploads(
        [(ok, "../../outside.txt"), (big, "big.md"), (empty, "empty.txt"), (exe, "tool.exe"), (ok, "..")], folder, 100
    )
    assert result.saved == ("outside.txt",) and (folder / "outside.txt").read_text() == "fine"
    assert not (tmp_path / "outside.txt").exists()
    reasons = {r.name: r.reason for r in result.rejected}
    assert "over the 0.0 MB upload limit" in reasons["big.md"]
    assert reasons["empty.txt"] == "the file is empty"
    assert "type '.exe' is not supported" in reasons["tool.exe"] and ".pdf" in reasons["tool.exe"]
    assert "no usable characters" in reasons[".."]
    assert check_upload(ok, "ok.txt", 100) == ""


def test_upload_is_indexed_incrementally_and_answerable(small_index: Path, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Zebra facts\n\nZebras in the reserve number exactly 412 animals.", encoding="utf-8")
    stages: list[str] = []
    result = upload_and_index([(note, "note.txt")], small_index, progress=lambda s, d, t: stages.append(s))
    assert result.report is not None and result.report.added == ("uploads/note.txt",)
    assert result.report.unchanged == 3 and "embed" in stages and "load" in stages
    assert any(c.doc_id == "uploads/note.txt" for c in IndexStore.open(small_index).chunks)


def citation(chunk: Chunk, marker: int, evidence: str, support: float = 0.8) -> Citation:
    start = chunk.start + chunk.text.index(evidence)
    return Citation(marker, chunk, "claim", support, support, support, False, start, start + len(evidence))


CHUNK = Chunk("d#0", "d.txt", "d.txt", "Doc <title>", "First one. The <b>key</b> fact. Last.", 100, 137)


def test_highlight_escapes_and_marks_evidence_at_document_offsets() -> None:
    out = highlight(CHUNK.text, CHUNK.start, [citation(CHUNK, 1, "The <b>key</b> fact.")])
    assert out == 'First one. <mark class="evidence">The &lt;b&gt;key&lt;/b&gt; fact.</mark> Last.'


def test_chips_and_panel_for_an_answer_and_for_a_refusal() -> None:
    hit = Hit(CHUNK, 0.9, 1, {"dense": 0.9})
    c = citation(CHUNK, 1, "The <b>key</b> fact.", 0.77)
    answer = Answer(question="Q?", text="The key fact [1]. See [9].", citations=(c,), sources=(hit,))
    md = answer_markdown(answer, 2)
    assert md.count('href="#src-2-1"') == 2 and "[9]" in md  # a marker with no source stays text
    panel = sources_html(answer, 2, selected=1)
    assert 'class="src-card selected" id="src-2-1"' in panel and "support 0.77" in panel
    assert "Doc &lt;title&gt;" in panel and "characters 100–137" in panel
    refused = Answer(
        question="Q?", text="The documents don't say.", sources=(hit,), refused=True, refusal_reason="no passage"
    )
    assert "Not answered" in answer_markdown(refused, 0) and "Closest passages" in sources_html(refused, 0)
    assert with_chips("a < b [1]", 0, {1}).startswith('a &lt; b <a class="cite"')
    assert Selection.parse("3:2:99") == Selection(3, 2) and Selection.parse("x:1") is None


def test_examples_come_from_the_corpus_file_never_from_titles(tmp_path: Path) -> None:
    documents = {
        "a.txt": DocumentEntry("0" * 64, 1, "Alaska summit"),
        "b.txt": DocumentEntry("1" * 64, 1, "x" * 200),
        "004_83ae.txt": DocumentEntry("2" * 64, 1, "004_83ae"),
    }
    manifest = Manifest(
        source=str(tmp_path), embedder=EmbedderInfo("hash-64", 64), faiss=faiss_settings("flat", 3), documents=documents
    )
    assert example_questions(manifest) == []  # drafted by the model once it is loaded (rag/examples.py)
    (tmp_path / EXAMPLES_FILE).write_text("# comment\nHow do I index a folder?\n\n", encoding="utf-8")
    assert example_questions(manifest) == ["How do I index a folder?"]
    assert example_questions(None) == []


def test_guide_ships_its_example_questions() -> None:
    guide = Path(__file__).resolve().parents[2] / "docs" / "guide"
    questions = example_questions(
        Manifest(source=str(guide), embedder=EmbedderInfo("hash-64", 64), faiss=faiss_settings("flat", 0))
    )
    assert len(questions) >= 3 and all(q.endswith("?") for q in questions)


def test_cli_binds_loopback_never_shares_and_reads_login_from_env() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    assert args.host == "127.0.0.1" and args.share is False
    assert login_from_env({}) is None
    assert login_from_env({"RAG_UI_USER": "ann", "RAG_UI_PASSWORD": "pw"}) == ("ann", "pw")
    with pytest.raises(ValueError, match="Set both RAG_UI_USER and RAG_UI_PASSWORD"):
        login_from_env({"RAG_UI_USER": "ann"})


def test_rag_chat_is_a_subcommand() -> None:
    import ui.cli
    from cli import COMMANDS, build_parser

    assert COMMANDS["chat"].module is ui.cli and COMMANDS["chat"].serving
    args = build_parser().parse_args(["chat", "--index", "x", "--port", "7999"])
    assert (args.command, args.index, args.port, args.host) == ("chat", "x", 7999, "127.0.0.1")


def test_rerank_is_unavailable_with_a_reason_without_a_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RAG_RERANKER", raising=False)
    status = rerank_status()
    assert not status.available and "RAG_RERANKER" in status.reason
    monkeypatch.setenv("RAG_RERANKER", str(tmp_path))
    assert "no config.json" in rerank_status().reason
