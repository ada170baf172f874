"""The plain baseline: the retriever's top chunks, whole, under one instruction, no checks.

Every step of the checked pipeline (evidence windows, the refusal gate, the citation check) has to
beat this in the same run (`rag eval run --pipeline plain`, and the `answering` section of `make bench`).
It is what most RAG tutorials ship, so it is also what users compare the tool with.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence

from rag.clock import Clock
from rag.llm.base import LLMBackend, Message
from rag.repetition import LoopGuard, guarded
from rag.settings import AnswerSettings
from rag.text import DECLINE
from rag.types import Answer, Hit, Usage

INSTRUCTION = (
    "Answer the question using only the context below. "
    "If the context does not contain the answer, say \"I don't know\"."
)
_DONT_KNOW = re.compile(r"\bI (?:do not|don['’]t) know\b", re.I)


def plain_messages(question: str, hits: Sequence[Hit], history: Sequence[str] = ()) -> list[Message]:
    context = "\n\n".join(hit.chunk.text.strip() for hit in hits)
    earlier = "".join(f"Earlier question: {q}\n" for q in history)
    user = f"Context:\n{context}\n\n{earlier}Question: {question}"
    return [Message("system", INSTRUCTION), Message("user", user)]


def declined(text: str) -> bool:
    """The plain prompt's way of declining: "I don't know", or the same phrasings the checked pipeline reads."""
    return not text.strip() or bool(_DONT_KNOW.search(text) or DECLINE.search(text))


def plain_items(
    question: str,
    history: Sequence[str],
    query: str,
    found: Sequence[Hit],
    k: int,
    backend: LLMBackend,
    call: AnswerSettings,
    clock: Clock,
) -> Iterator[str | Answer]:
    """Text pieces as the model writes them, then the unchecked `Answer` (no citations; refused when it declined)."""
    hits = tuple(found[:k])
    messages = plain_messages(question, hits, history)
    # The baseline ends a loop as the checked pipeline does, so the two are timed alike (rag/repetition.py).
    guard = LoopGuard()
    deltas = backend.complete(messages, max_tokens=call.answer_tokens, temperature=call.temperature)
    for piece in guarded(deltas, guard):
        clock.first = clock.first or time.perf_counter()
        yield piece
    clock.generated = time.perf_counter()
    text = guard.text.strip()
    prompt_tokens = sum(backend.count_tokens(m.content) for m in messages)
    refused = declined(text)
    yield Answer(
        question=question,
        text=text,
        sources=hits,
        refused=refused,
        timings=clock.timings(),
        usage=Usage(prompt_tokens, backend.count_tokens(text) if text else 0),
        query=query,
        raw_text=text,
        refusal_reason="the model said it does not know" if refused else "",
        hits=tuple(found),
        looped=guard.looped,
    )
