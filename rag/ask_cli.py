"""`rag ask "question"`: print the answer once, then each cited source with its passage."""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
import unicodedata
from typing import TextIO

from index import env
from index.types import Chunk
from rag.types import Answer, AnswerStream, Citation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", help="the question to answer")
    parser.add_argument("--index", default=env.index_dir(), help="index folder (default: %(default)s; $RAG_INDEX)")
    parser.add_argument("--backend", default=None, help="LLM backend name (default: $RAG_BACKEND, else llama-cpp)")
    parser.add_argument(
        "--model", default=None, help="model for the backend: catalogue name, GGUF path, or server model"
    )
    parser.add_argument("--top-k", type=int, default=None, help="passages to retrieve")
    parser.add_argument("--history", action="append", default=[], help="an earlier question of the conversation")
    parser.add_argument(
        "--doc",
        action="append",
        default=[],
        metavar="PATTERN",
        help="search only this document: a path relative to the indexed folder, or a glob ('guide/*.md'); repeatable",
    )
    parser.add_argument(
        "--no-stream", action="store_true", help="print the answer only when checked (always so when piped)"
    )
    parser.add_argument("--no-log", action="store_true", help="do not add this question to INDEX/logs/questions.jsonl")
    parser.add_argument(
        "--server",
        default=None,
        help="ask a running `rag serve` at this URL instead of loading anything ($RAG_SERVER; '' asks here)",
    )


def run(args: argparse.Namespace) -> int:
    server = env.get("RAG_SERVER") if args.server is None else args.server
    if server.strip():
        return ask_server(args, server)
    from index.store import IndexStore, StoreError
    from rag.answer import Assistant
    from rag.documents import catalog
    from rag.inputs import check_question, check_top_k, history_turns
    from rag.llm.base import LLMError
    from rag.settings import AnswerSettings

    try:
        # Everything a user can get wrong is checked before a model loads.
        check_question(args.question)
        history_turns(args.history)
        check_top_k(args.top_k)
        settings = AnswerSettings.from_env().with_overrides(
            backend=args.backend, model=args.model, log_questions=False if args.no_log else None
        )
        store = IndexStore.open(args.index)
        # A document that is not indexed is named before a model loads.
        documents = catalog(store).resolve(args.doc) if args.doc else None
        answer_stream = Assistant(store, settings).stream(
            args.question, history=args.history, top_k=args.top_k, documents=documents
        )
        show(answer_stream, sys.stdout, stream=not args.no_stream)
    except (StoreError, LLMError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 2
    return 0


# Options that choose how this process answers; a server answers as it was started, so they would be ignored.
_LOCAL_ONLY = {"backend": "--backend", "model": "--model", "top_k": "--top-k", "no_log": "--no-log"}


def ask_server(args: argparse.Namespace, server: str) -> int:
    """`rag ask --server URL`: the question (and `--history`) answered by a running `rag serve`."""
    from rag.inputs import check_question, history_turns
    from rag.llm.base import LLMError
    from rag.remote import RemoteAssistant

    given = [flag for name, flag in _LOCAL_ONLY.items() if getattr(args, name) not in (None, False)]
    given += ["--index"] if args.index != env.index_dir() else []
    try:
        check_question(args.question)
        history_turns(args.history)
        if given:
            raise ValueError(
                f"{', '.join(given)} cannot be sent to a server, which answers from its own index and model "
                "as it was started; drop them, or ask here with --server ''"
            )
        remote = RemoteAssistant(server, api_key=env.get("RAG_API_KEY"))
        try:
            answer_stream = remote.stream(args.question, history=args.history, documents=args.doc)
            show(answer_stream, sys.stdout, stream=not args.no_stream, via=remote.url)
        finally:
            remote.close()
    except (LLMError, ValueError, TypeError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 2
    return 0


def show(answer_stream: AnswerStream, out: TextIO, *, stream: bool = True, via: str = "") -> Answer:
    """Print the answer once, then its sources.

    Only a terminal gets the draft as it is written: there a draft the checks then decline or re-cite
    is erased and replaced in place. Text printed to a pipe or a file cannot be taken back, so a script
    reads the checked answer only. Either way the answer shows once, and a refusal's draft never stays.
    `via` names the server that answered, if one did.
    """
    draft = TerminalDraft(out) if stream and out.isatty() else None
    for piece in answer_stream:
        if draft is not None:
            draft.write(piece)
    answer = answer_stream.answer
    if draft is not None:
        draft.settle(answer.text)
    else:
        out.write(f"{answer.text}\n")
    out.write(f"\n{format_sources(answer, via=via)}\n")
    out.flush()
    return answer


class TerminalDraft:
    """The answer streamed to a terminal as the model writes it, then settled: kept when the checked
    answer says the same, else erased (ANSI: cursor up over the lines it took, clear below) and replaced."""

    def __init__(self, out: TextIO, columns: int | None = None) -> None:
        self.out = out
        self.columns = max(1, columns or shutil.get_terminal_size().columns)
        self.text = ""

    def write(self, piece: str) -> None:
        self.text += piece
        self.out.write(piece)
        self.out.flush()

    def settle(self, final: str) -> None:
        if " ".join(self.text.split()) != " ".join(final.split()):
            self.out.write(self.erase() + final)
        self.out.write("\n")
        self.out.flush()

    def erase(self) -> str:
        """Back to the start of the draft's first line, and everything from there down cleared."""
        rows = self.rows()
        return "\r" + (f"\x1b[{rows}A" if rows else "") + "\x1b[J"

    def rows(self) -> int:
        """Lines the draft runs onto past its first: its line breaks and the terminal's wraps."""
        rows = col = 0
        for ch in self.text:
            if ch == "\n":
                rows, col = rows + 1, 0
                continue
            width = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
            if col + width > self.columns:
                rows, col = rows + 1, 0
            col += width
        return rows


def format_answer(answer: Answer) -> str:
    """The checked answer followed by its sources, as `rag ask` prints them."""
    return f"{answer.text}\n\n{format_sources(answer)}"


def format_sources(answer: Answer, *, via: str = "") -> str:
    """What follows the answer: the cited passages with the supporting sentence marked, or for a
    refusal the closest passages; then unsupported sentences and timings (as this process saw them
    when the server `via` answered: its retrieval is not timed)."""
    lines: list[str] = []
    shown: list[tuple[int, Chunk, Citation | None]]
    if answer.refused:
        lines.append(f"(declined: {answer.refusal_reason}; closest passages below)")
        shown = [(i + 1, h.chunk, None) for i, h in enumerate(answer.sources[:3])]
    else:
        by_marker = {c.marker: c for c in answer.citations}
        shown = [(m, c.chunk, c) for m, c in sorted(by_marker.items())]
    for marker, chunk, citation in shown:
        where = chunk.page_label or f"chars {chunk.start}-{chunk.end}"
        score = f", support {citation.support:.2f}" if citation else ""
        lines.append(f"[{marker}] {chunk.title} — {chunk.path}, {where}{score}")
        passage = chunk.text
        if citation:
            ev = citation.evidence
            passage = passage.replace(ev, f">>{ev}<<", 1)
        lines.extend(textwrap.indent(textwrap.fill(passage, 100), "    ").splitlines())
        lines.append("")
    for sentence in answer.unsupported_sentences:
        lines.append(f"(unsupported by the documents: {sentence})")
    t = answer.timings
    if via:
        lines.append(f"first token {t.first_token:.2f} s, total {t.total:.2f} s, answered by {via}")
    else:
        lines.append(f"retrieve {t.retrieve * 1000:.0f} ms, first token {t.first_token:.2f} s, total {t.total:.2f} s")
    return "\n".join(lines)
