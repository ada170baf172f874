"""`AnswerSettings`: every default of answering in one place; the UI, evaluation and CLI embed it.

A field left `None` in `with_overrides` keeps its value, so a front end passes what the user chose
and nothing else. `from_env()` reads the RAG_* variables (index/env.py lists them all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from index import env
from rag.llm.registry import BACKENDS, DEFAULT_BACKEND

if TYPE_CHECKING:
    from rag.llm.base import LLMBackend

# Prompt processing is most of a CPU model's time to first token (about 90 prompt tokens/s
# for the 1.5B model on 2 cores), so the model sees the best few passages, each cut to the
# sentences around the question's words: on news dev, 3 windows of 60 tokens held a gold
# answer for 21 of 21 questions in a third of the tokens of 6 whole chunks (docs/evaluation.md).
TOP_K = 3
SOURCE_TOKENS = 60
ANSWER_TOKENS = 160
# Calibrated on SQuAD2 dev (1,494 questions) and news dev (docs/evaluation.md): below 0.30 the
# retrieved passages are off-topic (0.8% of SQuAD2's unanswerable questions, 0.3% of its
# answerable ones); above it, retrieval scores cannot tell them apart (AUC 0.62), so the
# model's reading and the support check decide.
MIN_EVIDENCE = 0.30
REWRITES = ("llm", "keywords")
# "checked": evidence windows, the refusal gate and the citation check; "plain": the baseline of
# rag/plain.py (top chunks whole, one instruction, no checks) that every checked step must beat.
PIPELINES = ("checked", "plain")
MAX_TOP_K = 50
# What the checked pipeline shows of the top chunks: "windows" (SOURCE_TOKENS around the query's words)
# or "sentences" (chosen by meaning and words across the chunks up to what the backend reads within
# FIRST_TOKEN_BUDGET; rag/sources.py). "windows" stays the default until a tuning run says otherwise.
EVIDENCE = ("windows", "sentences")
# Seconds from the model call to its first token that the "sentences" evidence is sized to, at the
# backend's measured prompt speed (rag/prompt_speed.py). The target is a first-token p50 of at most 2.5 s
# on news for the local model; retrieval and choosing sentences come before the call, and the measured
# p50 sat 0.04-0.11 s above the budget (news tune 2.0 -> 2.11 s, SQuAD2 2.0 -> 2.04, 2.4 -> 2.40,
# multi-hop 2.4 -> 2.46; docs/evaluation.md).
FIRST_TOKEN_BUDGET = 2.0
# "brief": one or two cited sentences; "direct": the short answer first, then its support (rag/prompting.py).
ANSWER_STYLES = ("brief", "direct")


def _retrievers() -> tuple[str, ...]:
    from rag.retrieval import RETRIEVERS

    return tuple(RETRIEVERS)


def _default_retriever() -> str:
    from rag.retrieval import DEFAULT_RETRIEVER

    return DEFAULT_RETRIEVER


@dataclass(frozen=True)
class AnswerSettings:
    """How a question is answered. `model` '' means the backend's own default model;
    `retrieval` holds `RetrievalSettings` overrides (fusion, candidates, paths, ...)."""

    backend: str = DEFAULT_BACKEND
    model: str = ""
    retriever: str = field(default_factory=_default_retriever)
    top_k: int = TOP_K
    answer_tokens: int = ANSWER_TOKENS
    temperature: float = 0.0
    source_tokens: int | None = SOURCE_TOKENS
    min_evidence: float = MIN_EVIDENCE
    support_threshold: float | None = None
    rewrite: str = "keywords"
    rerank: bool = False
    pipeline: str = "checked"
    evidence: str = "windows"
    first_token_budget: float = FIRST_TOKEN_BUDGET
    prompt_tokens_per_second: float | None = None  # None: measured from the backend's own answers
    answer_style: str = "brief"
    log_questions: bool = True  # a line per answer in INDEX/logs/questions.jsonl (rag/question_log.py)
    retrieval: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        from rag.retrieval import RetrievalSettings

        object.__setattr__(self, "retrieval", MappingProxyType(dict(self.retrieval)))
        RetrievalSettings().with_overrides(self.retrieval)  # names and values checked now, not at the first question
        for name, ok, rule in self._rules():
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} is invalid: it must be {rule}")

    def _rules(self) -> list[tuple[str, bool, str]]:
        """(field, whether its value is valid, what a valid value is) for every checked field."""
        return [
            ("backend", self.backend in BACKENDS, f"one of {', '.join(sorted(BACKENDS))}"),
            ("retriever", self.retriever in _retrievers(), f"one of {', '.join(_retrievers())}"),
            ("top_k", _int_in(self.top_k, 1, MAX_TOP_K), f"an integer from 1 to {MAX_TOP_K}"),
            ("answer_tokens", _int_in(self.answer_tokens, 16, 8192), "an integer from 16 to 8192"),
            ("temperature", _number_in(self.temperature, 0.0, 2.0), "a number from 0 (greedy) to 2"),
            ("source_tokens", self.source_tokens is None or _int_in(self.source_tokens, 8, 8192), "None or 8-8192"),
            ("min_evidence", _number_in(self.min_evidence, 0.0, 1.0), "a number from 0 to 1"),
            ("support_threshold", self.support_threshold is None or _number_in(self.support_threshold, 0, 1), "0-1"),
            ("rewrite", self.rewrite in REWRITES, f"one of {', '.join(REWRITES)}"),
            ("rerank", isinstance(self.rerank, bool), "True or False"),
            ("pipeline", self.pipeline in PIPELINES, f"one of {', '.join(PIPELINES)}"),
            ("evidence", self.evidence in EVIDENCE, f"one of {', '.join(EVIDENCE)}"),
            ("first_token_budget", _number_in(self.first_token_budget, 0.1, 600.0), "0.1-600 seconds"),
            ("prompt_tokens_per_second", _rate_ok(self.prompt_tokens_per_second), "None (measured) or 1-1e7 tokens/s"),
            ("answer_style", self.answer_style in ANSWER_STYLES, f"one of {', '.join(ANSWER_STYLES)}"),
            ("log_questions", isinstance(self.log_questions, bool), "True or False"),
        ]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AnswerSettings:
        """Defaults, with RAG_BACKEND, RAG_MODEL, RAG_RETRIEVER, RAG_TOP_K and RAG_QUESTION_LOG applied where set."""
        top_k = env.get("RAG_TOP_K", environ=environ)
        if top_k and not top_k.isdigit():
            raise ValueError(f"RAG_TOP_K={top_k!r} is invalid: it must be a whole number such as 3")
        return cls().with_overrides(
            backend=env.get("RAG_BACKEND", environ=environ) or None,
            model=env.get("RAG_MODEL", environ=environ) or None,
            retriever=env.get("RAG_RETRIEVER", environ=environ) or None,
            top_k=int(top_k) if top_k else None,
            log_questions=_switch("RAG_QUESTION_LOG", env.get("RAG_QUESTION_LOG", environ=environ)),
        )

    def with_overrides(self, **overrides: Any) -> AnswerSettings:
        """A copy with the given values; `None` keeps the current one. Unknown names raise `TypeError`."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"Unknown answer setting(s) {', '.join(unknown)}. Valid: {', '.join(sorted(names))}")
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **given) if given else self

    def make_backend(self) -> LLMBackend:
        """The backend these settings name, loaded once per process (`rag.llm.get_backend` caches it)."""
        from rag.llm import get_backend

        return get_backend(self.backend, **({"model": self.model} if self.model else {}))

    def retrieval_options(self) -> dict[str, Any]:
        """Constructor options of the retriever: the overrides, plus the re-ranker when asked for."""
        options = dict(self.retrieval)
        if self.rerank:
            from rag.rerank import get_reranker, rerank_status

            status = rerank_status()
            if not status.available:
                raise ValueError(f"Re-ranking is {status.reason}")
            options.update(reranker=get_reranker("cross-encoder", model_path=status.model_path), rerank=True)
        return options

    def to_json(self) -> dict[str, Any]:
        return {f.name: dict(self.retrieval) if f.name == "retrieval" else getattr(self, f.name) for f in fields(self)}


def _switch(name: str, value: str) -> bool | None:
    """An on/off variable: None when unset, so the default stands."""
    word = value.strip().lower()
    if not word:
        return None
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={value!r} is invalid: it must be 1 (on) or 0 (off)")


def _rate_ok(value: Any) -> bool:
    return value is None or _number_in(value, 1.0, 1e7)


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number_in(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
