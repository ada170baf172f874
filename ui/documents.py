"""The chat's "Search only in" picker and its list of indexed documents, both kept to the index's
current version: an upload, or a `rag index` run elsewhere, shows within seconds in every open tab."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from rag.documents import IndexedDocument
from ui.engine import Engine

POLL_S = 5.0  # how often an open page checks for a new index version (a link read when there is none)
MAX_CHOICES = 1000  # a longer picker helps nobody; globs ('guide/*') can still be typed into it
MAX_LISTED = 300
_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class IndexedFile:
    """A file of the index as the picker offers it: one document, or a corpus file's many records."""

    path: str
    title: str
    documents: int
    chunks: int

    @property
    def label(self) -> str:
        if self.documents > 1:
            return f"{self.path} ({self.documents} records)"
        stem = self.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        return self.path if not self.title or self.title == stem else f"{self.title} — {self.path}"


def by_file(documents: Sequence[IndexedDocument]) -> list[IndexedFile]:
    """The documents grouped by the file they were read from, by path."""
    groups: dict[str, list[IndexedDocument]] = {}
    for doc in documents:
        groups.setdefault(doc.path, []).append(doc)
    return [
        IndexedFile(path, docs[0].title if len(docs) == 1 else "", len(docs), sum(d.chunks for d in docs))
        for path, docs in sorted(groups.items())
    ]


def picker_choices(files: Sequence[IndexedFile]) -> list[tuple[str, str]]:
    """(label, value) pairs; the value is the file's path, which `ask(documents=...)` resolves."""
    return [(f.label, f.path) for f in files[:MAX_CHOICES]]


def documents_html(files: Sequence[IndexedFile], version: str) -> str:
    if not files:
        return '<div class="docs-empty">No documents indexed yet: upload some below.</div>'
    documents = sum(f.documents for f in files)
    rows = []
    for f in files[:MAX_LISTED]:
        title = f'<span class="doc-title">{html.escape(f.title)}</span> ' if f.title and f.title != f.label else ""
        count = f"{f.documents} records, " if f.documents > 1 else ""
        rows.append(
            f'<li>{title}<code class="doc-path">{html.escape(f.path)}</code> '
            f'<span class="doc-meta">{count}{f.chunks} passage{"s" if f.chunks != 1 else ""}</span></li>'
        )
    more = f"<li class='doc-more'>… and {len(files) - MAX_LISTED} more files</li>" if len(files) > MAX_LISTED else ""
    head = f"{documents} document{'s' if documents != 1 else ''} in {len(files)} file{'s' if len(files) != 1 else ''}"
    return (
        f'<div class="docs-head">{head} <span class="doc-meta">(index version {html.escape(version)})</span></div>'
        f'<ul class="doc-list">{"".join(rows)}{more}</ul>'
    )


def document_picker() -> gr.Dropdown:
    return gr.Dropdown(
        choices=[],
        value=[],
        multiselect=True,
        allow_custom_value=True,
        label="Search only in",
        info="empty: all documents. Pick files, or type a glob such as guide/*.md",
        elem_id="doc-filter",
    )


def document_list() -> gr.HTML:
    with gr.Accordion("Indexed documents", open=True, elem_id="documents"):
        return gr.HTML(documents_html([], ""), elem_id="document-list", padding=True)


@dataclass(frozen=True)
class Refresher:
    """Re-renders the picker and the list when the index's version differs from the one this tab shows."""

    engine: Engine
    picker: gr.Dropdown
    listing: gr.HTML
    shown: gr.State  # the version this tab shows ("" until the page loads)

    def refresh(self, shown: str, selected: Sequence[str] | None) -> tuple[Any, Any, Any]:
        now = self.engine.version()
        if now and now == shown:
            return gr.skip(), gr.skip(), gr.skip()
        files = by_file(self.engine.documents())
        paths = {f.path for f in files}
        # A pick that is gone would make every question an error; a typed glob stays for the user to see.
        kept = [s for s in selected or [] if s in paths or any(c in s for c in _GLOB_CHARS)]
        picker = gr.Dropdown(choices=picker_choices(files), value=kept)
        return picker, documents_html(files, now), now

    def after(self, event: Any) -> None:
        """Refresh once `event` (an upload, the page's load) is done."""
        event.then(self.refresh, [self.shown, self.picker], self.outputs, api_visibility="private")

    @property
    def outputs(self) -> list[Any]:
        return [self.picker, self.listing, self.shown]


def keep_current(app: gr.Blocks, engine: Engine, picker: gr.Dropdown, listing: gr.HTML) -> Refresher:
    """Fill the picker and the list as a page opens, then poll for a new version every POLL_S seconds."""
    refresher = Refresher(engine, picker, listing, gr.State(""))
    inputs = [refresher.shown, picker]
    timer = gr.Timer(POLL_S)
    timer.tick(refresher.refresh, inputs, refresher.outputs, api_visibility="private", show_progress="hidden")
    app.load(refresher.refresh, inputs, refresher.outputs, api_name="documents", show_progress="hidden")
    return refresher
