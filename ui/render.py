"""Answers and sources as chat markdown and panel HTML: [n] markers become chips that open their passage."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.types import Answer, Citation, Hit

_MARKER = re.compile(r"\[(\d+)\]")
CLOSEST_SHOWN = 3


@dataclass(frozen=True)
class Selection:
    """The passage the user clicked: marker `marker` of turn `turn` (both as shown in the page)."""

    turn: int
    marker: int

    @classmethod
    def parse(cls, key: str) -> Selection | None:
        """`"turn:marker"`, optionally followed by `:anything` (the page adds a nonce so a re-click counts)."""
        parts = key.strip().split(":")
        if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        return cls(int(parts[0]), int(parts[1]))


def anchor(turn: int, marker: int) -> str:
    return f"src-{turn}-{marker}"


def chip(turn: int, marker: int) -> str:
    return (
        f'<a class="cite" href="#{anchor(turn, marker)}" data-turn="{turn}" data-marker="{marker}" '
        f'title="Show source {marker}">{marker}</a>'
    )


def with_chips(text: str, turn: int, markers: set[int]) -> str:
    """Answer text, HTML-escaped, with each valid [n] as a clickable chip (other brackets are left as text)."""

    def replace(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return chip(turn, n) if n in markers else match.group(0)

    return _MARKER.sub(replace, html.escape(text, quote=False))


def answer_markdown(answer: Answer, turn: int) -> str:
    """The chat message for a finished answer."""
    if answer.refused:
        return (
            f"**Not answered from the documents.** {html.escape(answer.text, quote=False)}\n\n"
            f"<small>Why: {html.escape(answer.refusal_reason or 'no supporting passage')}. "
            "The closest passages are in the sources panel.</small>"
        )
    markers = {c.marker for c in answer.citations}
    lines = [with_chips(answer.text, turn, markers)]
    if answer.unsupported_sentences:
        lines.append(
            "<small>Not supported by any passage, so shown without a citation: "
            + "; ".join(f"“{html.escape(s)}”" for s in answer.unsupported_sentences)
            + "</small>"
        )
    titles = [f"{chip(turn, m)} {html.escape(_title(answer.sources[m - 1]))}" for m in sorted(markers)]
    if titles:
        lines.append("<small>Sources: " + " · ".join(titles) + "</small>")
    return "\n\n".join(lines)


def error_markdown(message: str) -> str:
    return f"**Could not answer.** {html.escape(message, quote=False)}"


def sources_html(answer: Answer | None, turn: int, selected: int | None = None) -> str:
    """The sources panel: the cited passages (or, for a refusal, the closest ones) of one turn."""
    if answer is None:
        return '<div class="sources-empty">Cited passages appear here. Click a numbered chip to open one.</div>'
    by_marker: dict[int, list[Citation]] = {}
    for c in answer.citations:
        by_marker.setdefault(c.marker, []).append(c)
    if answer.refused or not by_marker:
        head = '<div class="sources-head">Not answered. Closest passages (not cited):</div>'
        cards = [_card(turn, i, h, [], False) for i, h in enumerate(answer.sources[:CLOSEST_SHOWN], start=1)]
        return head + "".join(cards)
    head = f'<div class="sources-head">Sources for “{html.escape(_short(answer.question))}”</div>'
    cards = [
        _card(turn, m, answer.sources[m - 1], cites, m == selected)
        for m, cites in sorted(by_marker.items())
        if 1 <= m <= len(answer.sources)
    ]
    return head + "".join(cards)


def _card(turn: int, marker: int, hit: Hit, cites: Sequence[Citation], selected: bool) -> str:
    chunk = hit.chunk
    where = chunk.page_label or f"characters {chunk.start:,}–{chunk.end:,}"
    if cites:
        score = f'<span class="support">support {max(c.support for c in cites):.2f}</span>'
    else:
        score = f'<span class="support">retrieval score {hit.score:.2f}</span>'
    supports = "".join(f'<div class="supports">supports: “{html.escape(c.sentence)}”</div>' for c in cites)
    classes = "src-card selected" if selected else "src-card"
    return (
        f'<div class="{classes}" id="{anchor(turn, marker)}" data-marker="{marker}">'
        f'<div class="src-title"><span class="src-num">{marker}</span> {html.escape(_title(hit))}</div>'
        f'<div class="src-meta">{html.escape(chunk.path)} · {where} · {score}</div>'
        f'<div class="src-passage">{highlight(chunk.text, chunk.start, cites)}</div>{supports}</div>'
    )


def highlight(text: str, offset: int, cites: Sequence[Citation]) -> str:
    """`text` (which starts at document offset `offset`) escaped, with each citation's evidence in <mark>."""
    spans = sorted(
        {(max(0, c.evidence_start - offset), min(len(text), c.evidence_end - offset)) for c in cites},
    )
    out, cursor = [], 0
    for start, end in spans:
        if end <= start or start < cursor:
            continue  # empty, or overlapping one already marked
        out.append(html.escape(text[cursor:start]))
        out.append(f'<mark class="evidence">{html.escape(text[start:end])}</mark>')
        cursor = end
    out.append(html.escape(text[cursor:]))
    return "".join(out)


def _title(hit: Hit) -> str:
    return hit.chunk.title or hit.chunk.path


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
