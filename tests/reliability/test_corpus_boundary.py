"""Symbolic links cannot carry files from outside the corpus folder into the index (docs/reliability.md).

Each case runs a real `build_index` with the hash embedder and looks at the report's skip lines and at the
chunks the index holds. An audit hook records every file opened and every folder listed, so "never read
outside" is checked, not assumed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.documents import iter_files
from index.embedding import HashEmbedder
from index.store import IndexStore
from index.types import IndexReport, SkippedFile
from index.walk import OUTSIDE_CORPUS, list_files

pytestmark = pytest.mark.reliability

SETTINGS = ChunkerSettings(64, 8)
SECRET = "swordfish7781"

_watched: list[Path] = []
_touched: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _watched or event not in ("open", "os.scandir", "os.listdir") or not args:
        return
    path = args[0]
    if isinstance(path, str | bytes | os.PathLike):
        text = os.fsdecode(path)
        if any(text == str(w) or text.startswith(f"{w}{os.sep}") for w in _watched):
            _touched.append(f"{event} {text}")


sys.addaudithook(_audit)


@pytest.fixture()
def outside_touches(tmp_path: Path) -> Iterator[list[str]]:
    """Every open or listing of a path under tmp_path/outside while the test runs."""
    _watched.append(tmp_path / "outside")
    _touched.clear()
    yield _touched
    _watched.clear()


@pytest.fixture()
def layout(tmp_path: Path) -> Path:
    """tmp_path/src: the corpus; tmp_path/outside: a private folder beside it."""
    outside = tmp_path / "outside"
    (outside / "private").mkdir(parents=True)
    (outside / "secret.txt").write_text(f"Secret\n\nThe launch code is {SECRET}.", encoding="utf-8")
    (outside / "private" / "diary.txt").write_text(f"Diary\n\nDear diary, {SECRET} again.", encoding="utf-8")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("Alpha\n\nThe alpha document talks about apples.", encoding="utf-8")
    (src / "sub" / "b.txt").write_text("Beta\n\nThe beta document talks about bananas.", encoding="utf-8")
    return src


def build(src: Path, tmp_path: Path, **kwargs: Any) -> IndexReport:
    return build_index(src, tmp_path / "idx", embedder=HashEmbedder(64), settings=SETTINGS, **kwargs)


def indexed(tmp_path: Path) -> dict[str, str]:
    """doc id -> the text of its chunks."""
    texts: dict[str, str] = {}
    for chunk in IndexStore.open(tmp_path / "idx").chunks:
        texts[chunk.doc_id] = texts.get(chunk.doc_id, "") + chunk.text
    return texts


def skip_reasons(report: IndexReport) -> dict[str, str]:
    return {s.path: s.reason for s in report.skipped}


def test_link_to_a_file_outside_is_skipped_and_never_read(
    layout: Path, tmp_path: Path, outside_touches: list[str]
) -> None:
    (layout / "leak.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (layout / "sub" / "up.txt").symlink_to(Path("..") / ".." / "outside" / "secret.txt")  # relative, via ..
    (layout / "passwd.txt").symlink_to("/etc/passwd")
    report = build(layout, tmp_path)
    reasons = skip_reasons(report)
    assert reasons["leak.txt"] == OUTSIDE_CORPUS == "points outside the corpus folder"
    assert reasons["sub/up.txt"] == OUTSIDE_CORPUS and reasons["passwd.txt"] == OUTSIDE_CORPUS
    texts = indexed(tmp_path)
    assert set(texts) == {"a.txt", "sub/b.txt"}
    assert not any(SECRET in t or "root:" in t for t in texts.values())
    assert outside_touches == []


def test_link_to_a_folder_outside_is_not_descended(layout: Path, tmp_path: Path, outside_touches: list[str]) -> None:
    (layout / "private").symlink_to(tmp_path / "outside" / "private", target_is_directory=True)
    (layout / "etc").symlink_to("/etc", target_is_directory=True)
    report = build(layout, tmp_path)
    assert skip_reasons(report) == {"private": OUTSIDE_CORPUS, "etc": OUTSIDE_CORPUS}
    assert set(indexed(tmp_path)) == {"a.txt", "sub/b.txt"}
    assert outside_touches == []


def test_a_chain_of_links_leaving_the_folder_is_outside(layout: Path, tmp_path: Path) -> None:
    (layout / "hop").symlink_to(tmp_path / "outside", target_is_directory=True)
    (layout / "via-hop.txt").symlink_to(Path("hop") / "secret.txt")  # a link inside to a link that leaves
    report = build(layout, tmp_path)
    assert skip_reasons(report) == {"hop": OUTSIDE_CORPUS, "via-hop.txt": OUTSIDE_CORPUS}
    assert not any(SECRET in t for t in indexed(tmp_path).values())


def test_symlink_loops_get_a_skip_line(layout: Path, tmp_path: Path) -> None:
    (layout / "ping.txt").symlink_to("pong.txt")
    (layout / "pong.txt").symlink_to("ping.txt")
    (layout / "self.txt").symlink_to("self.txt")
    (layout / "sub" / "again").symlink_to("..", target_is_directory=True)  # a folder holding itself
    report = build(layout, tmp_path)
    reasons = skip_reasons(report)
    assert set(reasons) == {"ping.txt", "pong.txt", "self.txt", "sub/again"}
    assert all("symbolic link loop" in r for r in reasons.values()), reasons
    assert set(indexed(tmp_path)) == {"a.txt", "sub/b.txt"}


def test_broken_links_get_a_skip_line(layout: Path, tmp_path: Path) -> None:
    (layout / "gone.txt").symlink_to("missing.txt")
    (layout / "sub" / "gone-dir").symlink_to("nowhere", target_is_directory=True)
    report = build(layout, tmp_path)
    reasons = skip_reasons(report)
    assert set(reasons) == {"gone.txt", "sub/gone-dir"}
    assert all("broken symbolic link" in r for r in reasons.values()), reasons


def test_links_inside_the_folder_index_the_target_once(layout: Path, tmp_path: Path) -> None:
    (layout / "alias.txt").symlink_to("a.txt")
    (layout / "abs-alias.txt").symlink_to(layout / "sub" / "b.txt")  # absolute, still inside
    (layout / "mirror").symlink_to("sub", target_is_directory=True)
    report = build(layout, tmp_path)
    assert set(indexed(tmp_path)) == {"a.txt", "sub/b.txt"}  # under the real paths, no duplicates
    reasons = skip_reasons(report)
    assert set(reasons) == {"alias.txt", "abs-alias.txt", "mirror"}
    assert "a.txt" in reasons["alias.txt"] and "sub/b.txt" in reasons["abs-alias.txt"]
    assert OUTSIDE_CORPUS not in reasons.values()


def test_follow_links_indexes_outside_targets_on_purpose(layout: Path, tmp_path: Path) -> None:
    (layout / "leak.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (layout / "private").symlink_to(tmp_path / "outside" / "private", target_is_directory=True)
    (layout / "twice.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (layout / "ping.txt").symlink_to("pong.txt")
    (layout / "pong.txt").symlink_to("ping.txt")
    (tmp_path / "outside" / "private" / "back").symlink_to(tmp_path / "outside", target_is_directory=True)
    report = build(layout, tmp_path, follow_links=True)
    texts = indexed(tmp_path)
    assert set(texts) == {"a.txt", "sub/b.txt", "leak.txt", "private/diary.txt"}
    assert SECRET in texts["leak.txt"] and SECRET in texts["private/diary.txt"]
    reasons = skip_reasons(report)
    assert "leak.txt" in reasons["twice.txt"]  # the same outside file once
    assert "symbolic link loop" in reasons["ping.txt"]
    assert "private/back" in reasons  # outside/private/back -> outside: a folder holding the link's folder


def test_an_extra_root_is_a_boundary_of_its_own(layout: Path, tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "note.txt").write_text("Note\n\nAn uploaded note about nectarines.", encoding="utf-8")
    (uploads / "corpus-a.txt").symlink_to(layout / "a.txt")  # the main corpus is outside the uploads folder
    report = build(layout, tmp_path, extra_roots=[uploads])
    assert skip_reasons(report) == {"uploads/corpus-a.txt": OUTSIDE_CORPUS}
    assert set(indexed(tmp_path)) == {"a.txt", "sub/b.txt", "uploads/note.txt"}


def test_iter_files_and_list_files_stay_inside(layout: Path, tmp_path: Path, outside_touches: list[str]) -> None:
    (layout / "leak.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (layout / "private").symlink_to(tmp_path / "outside" / "private", target_is_directory=True)
    (layout / ".hidden-leak.txt").symlink_to(tmp_path / "outside" / "secret.txt")  # hidden: silently left out
    assert [p.relative_to(layout).as_posix() for p in iter_files(layout)] == ["a.txt", "sub/b.txt"]
    files, skipped = list_files(layout)
    assert files == [layout / "a.txt", layout / "sub" / "b.txt"]
    assert skipped == [SkippedFile("leak.txt", OUTSIDE_CORPUS), SkippedFile("private", OUTSIDE_CORPUS)]
    _, with_base = list_files(layout, tmp_path)  # ids relative to another base, as for an extra root
    assert [s.path for s in with_base] == ["src/leak.txt", "src/private"]
    assert outside_touches == []
    followed, _ = list_files(layout, follow_links=True)
    assert layout / "leak.txt" in followed and layout / "private" / "diary.txt" in followed


def test_follow_links_is_recorded_and_kept_when_a_folder_is_added(layout: Path, tmp_path: Path) -> None:
    from index.build import add_root

    (layout / "leak.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    build(layout, tmp_path, follow_links=True)
    assert IndexStore.open(tmp_path / "idx").manifest.follow_links
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "note.txt").write_text("Note\n\nAn uploaded note about nectarines.", encoding="utf-8")
    add_root(tmp_path / "idx", uploads, embedder=HashEmbedder(64))  # what a chat upload does
    assert set(indexed(tmp_path)) == {"a.txt", "sub/b.txt", "leak.txt", "uploads/note.txt"}
    build(layout, tmp_path)  # a plain run is the user's choice again: the link outside goes
    assert "leak.txt" not in indexed(tmp_path) and not IndexStore.open(tmp_path / "idx").manifest.follow_links


def test_a_file_swapped_for_a_link_after_the_listing_is_not_read(
    layout: Path, tmp_path: Path, outside_touches: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race a plain `resolve()` check loses: the walk sees a regular file, the read would meet a link."""
    import index.build as build_module

    real_list_files = build_module.list_files

    def list_then_swap(*args: Any, **kwargs: Any) -> Any:
        listed = real_list_files(*args, **kwargs)
        (layout / "a.txt").unlink()
        (layout / "a.txt").symlink_to(tmp_path / "outside" / "secret.txt")
        (layout / "sub").rename(layout / "sub-old")
        (layout / "sub").symlink_to(tmp_path / "outside" / "private", target_is_directory=True)
        return listed

    (tmp_path / "outside" / "private" / "b.txt").write_text(f"Not b\n\n{SECRET}", encoding="utf-8")
    # One file stays as it was: a run that indexes nothing writes no version (index.build.NothingToIndex).
    (layout / "c.txt").write_text("Gamma\n\nThe gamma document stays put.", encoding="utf-8")
    outside_touches.clear()
    monkeypatch.setattr(build_module, "list_files", list_then_swap)
    report = build(layout, tmp_path)
    reasons = skip_reasons(report)
    assert "became a symbolic link" in reasons["a.txt"]
    assert "became a symbolic link" in reasons["sub/b.txt"]
    assert not any(SECRET in t for t in indexed(tmp_path).values())
    assert not [t for t in outside_touches if t.startswith("open")]


def test_one_file_given_alone_is_read(layout: Path, tmp_path: Path) -> None:
    report = build(layout / "a.txt", tmp_path)
    assert report.documents == 1 and set(indexed(tmp_path)) == {"a.txt"}
