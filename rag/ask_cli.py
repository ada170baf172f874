"""`rag ask "question"`: print the answer, then each cited source with its passage."""

from __future__ import annotations

import argparse
import sys
import textwrap

from index import env
from index.types import Chunk
from rag.types import Answer, Citation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", help="the question to answer")
    parser.add_argument("--index", default=env.index_dir(), help="index folder (default: %(default)s; $RAG_INDEX)")
    parser.add_argument("--backend", default=None, help="LLM backend name (default: $RAG_BACKEND, else llama-cpp)")
    parser.add_argument(
        "--model", default=None, help="model for the backend: catalogue name, GGUF path, or server model"
    )
    parser.add_argument("--top-k", type=int, default=None, help="passages to retrieve")
    parser.add_argument("--history", action="append", default=[], help="an earlier question of the conversation")
    parser.add_argument("--no-stream", action="store_true", help="print the answer only when complete")


def run(args: argparse.Namespace) -> int:
    from index.store import IndexStore, StoreError
    from rag.answer import Assistant
    from rag.inputs import check_question, check_top_k, history_turns
    from rag.llm.base import LLMError
    from rag.settings import AnswerSettings

    try:
        # Everything a user can get wrong is checked before a model loads.
        check_question(args.question)
        history_turns(args.history)
        check_top_k(args.top_k)
        settings = AnswerSettings.from_env().with_overrides(backend=args.backend, model=args.model)
        store = IndexStore.open(args.index)
        answer_stream = Assistant(store, settings).stream(args.question, history=args.history, top_k=args.top_k)
        for piece in answer_stream:
            if not args.no_stream:
                print(piece, end="", flush=True)
        answer = answer_stream.answer
    except (StoreError, LLMError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 2
    if not args.no_stream:
        print("\n")
    print(format_answer(answer))
    return 0


def format_answer(answer: Answer) -> str:
    lines = [answer.text, ""]
    shown: list[tuple[int, Chunk, Citation | None]]
    if answer.refused:
        lines.append(f"(declined: {answer.refusal_reason}; closest passages below)")
        shown = [(i + 1, h.chunk, None) for i, h in enumerate(answer.sources[:3])]
    else:
        by_marker = {c.marker: c for c in answer.citations}
        shown = [(m, c.chunk, c) for m, c in sorted(by_marker.items())]
    for marker, chunk, citation in shown:
        where = f"page {chunk.page}" if chunk.page else f"chars {chunk.start}-{chunk.end}"
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
    lines.append(f"retrieve {t.retrieve * 1000:.0f} ms, first token {t.first_token:.2f} s, total {t.total:.2f} s")
    return "\n".join(lines)
