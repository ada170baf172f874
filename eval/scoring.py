"""Per-question metrics: retrieval against gold passages or evidence quotes, answer, citations, refusal.

A metric that does not apply to a question is None (e.g. citation recall of a declined
answer, retrieval of an unanswerable question) and is left out of the means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from eval.answer_metrics import contains_answer, exact_match, f1_score, strip_markers
from eval.metrics import document_ranking, hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k
from eval.questions import Evidence, Question
from index.types import Chunk
from rag.types import Answer, Citation

Scores = Mapping[str, float | None]


def squash(text: str) -> str:
    """White space folded to single spaces: quotes and chunks wrap lines differently."""
    return " ".join(text.split())


def _same_document(chunk: Chunk, doc: str) -> bool:
    return not doc or doc in (chunk.doc_id, chunk.path, chunk.record_id) or chunk.path.endswith("/" + doc)


def quote_in_chunk(evidence: Evidence, chunk: Chunk) -> bool:
    return _same_document(chunk, evidence.doc) and squash(evidence.quote) in squash(chunk.text)


def passage_of(chunk: Chunk, passages: Sequence[str]) -> str | None:
    """The gold passage id this chunk belongs to, if any (a BEIR `_id` or a document id)."""
    for candidate in (chunk.record_id, chunk.doc_id, chunk.path):
        if candidate in passages:
            return candidate
    return None


@dataclass(frozen=True)
class Gold:
    """What counts as relevant for one question: evidence quotes if it has any, else passage ids."""

    evidence: tuple[Evidence, ...]
    passages: tuple[str, ...]

    @classmethod
    def of(cls, question: Question) -> Gold:
        return cls(question.evidence, () if question.evidence else question.passages)

    def __bool__(self) -> bool:
        return bool(self.evidence or self.passages)

    def items(self, chunk: Chunk) -> list[str]:
        """Labels of the gold items this chunk holds: `q0`, `q1`... for quotes, the passage id for passages."""
        if self.evidence:
            return [f"q{i}" for i, ev in enumerate(self.evidence) if quote_in_chunk(ev, chunk)]
        found = passage_of(chunk, self.passages)
        return [found] if found else []

    def relevance(self) -> dict[str, int]:
        if self.evidence:
            return {f"q{i}": 1 for i in range(len(self.evidence))}
        return dict.fromkeys(self.passages, 1)

    def ranking(self, chunks: Iterable[Chunk]) -> list[str]:
        """Ranked labels: each gold item counts once, at the rank of its first chunk.

        Passages rank as documents (a document ranks where its best chunk does); a chunk
        holding no new gold item keeps its own id, so it takes a rank and scores nothing.
        """
        labels: list[str] = []
        credited: set[str] = set()
        for chunk in chunks:
            fresh = [label for label in self.items(chunk) if label not in credited]
            if fresh:
                credited.add(fresh[0])
                labels.append(fresh[0])
            else:
                labels.append(chunk.record_id if self.passages else f"chunk:{chunk.id}")
        return document_ranking(labels) if self.passages else labels


def retrieval_scores(question: Question, ranked: Sequence[Chunk], k: int) -> Scores:
    """hit@k, recall@k, MRR@10 and nDCG@10 of a ranked chunk list (None without gold or answer)."""
    gold = Gold.of(question)
    if not gold or not (question.answerable or question.retrieval_only):
        return dict.fromkeys(("hit@k", "recall@k", "mrr@10", "ndcg@10"))
    ranking, relevance = gold.ranking(ranked), gold.relevance()
    return {
        "hit@k": hit_at_k(ranking, relevance, k),
        "recall@k": recall_at_k(ranking, relevance, k),
        "mrr@10": mrr_at_k(ranking, relevance, 10),
        "ndcg@10": ndcg_at_k(ranking, relevance, 10),
    }


def prediction(answer: Answer) -> str:
    """What the answer metrics score: the text without markers, or "" when declined."""
    return "" if answer.refused else strip_markers(answer.text)


_CLAUSE_END = re.compile(r"[,;:()\u2014]|\s[-\u2013]\s|\.(?:\s|$)")
_SHORT_MAX_WORDS = 12


def short_answer(text: str) -> str:
    """The answer's opening phrase, what a reader takes as the answer: the first clause of the first
    sentence, at most 12 words. "Yuriy Shchygol, a Ukrainian general, vowed ..." -> "Yuriy Shchygol".

    The short-answer scores compare it with the gold, so a direct answer scores and a gold string
    buried in a long answer (which `contains` credits) does not.
    """
    head = _CLAUSE_END.split(text.strip(), maxsplit=1)[0]
    return " ".join(head.split()[:_SHORT_MAX_WORDS])


def answer_scores(question: Question, answer: Answer) -> Scores:
    """EM, F1 and contains (SQuAD rules) and refusal precision / recall as per-question indicators.

    Refusal precision is the mean of `refusal_precision` over declined questions (1 when the
    question was unanswerable); refusal recall the mean of `refusal_recall` over unanswerable ones.
    """
    golds = () if not question.answerable else question.answers
    scored = not question.answerable or bool(golds)
    text = prediction(answer)
    short = short_answer(text)
    return {
        "em": exact_match(text, golds) if scored else None,
        "f1": f1_score(text, golds) if scored else None,
        "contains": contains_answer(text, golds) if scored else None,
        "short_em": exact_match(short, golds) if scored else None,
        "short_f1": f1_score(short, golds) if scored else None,
        "false_refusal": float(answer.refused) if question.answerable else None,
        "refusal_precision": float(not question.answerable) if answer.refused else None,
        "refusal_recall": float(answer.refused) if not question.answerable else None,
    }


def citation_correct(citation: Citation, gold: Gold) -> bool | None:
    return bool(gold.items(citation.chunk)) if gold else None


def sentence_count(answer: Answer) -> int:
    return len({c.sentence for c in answer.citations}) + len(answer.unsupported_sentences)


def citation_scores(question: Question, answer: Answer) -> Scores:
    """Citation precision and recall against the gold, and the share of sentences flagged unsupported."""
    if answer.refused:
        return {"citation_precision": None, "citation_recall": None, "unsupported": None}
    sentences = sentence_count(answer)
    unsupported = len(answer.unsupported_sentences) / sentences if sentences else None
    gold = Gold.of(question)
    if not gold or not question.answerable:
        return {"citation_precision": None, "citation_recall": None, "unsupported": unsupported}
    cited = list({c.chunk.id: c.chunk for c in answer.citations}.values())
    precision = sum(bool(gold.items(chunk)) for chunk in cited) / len(cited) if cited else None
    found = {label for chunk in cited for label in gold.items(chunk)}
    recall = len(found) / len(gold.relevance())
    return {"citation_precision": precision, "citation_recall": recall, "unsupported": unsupported}


def missing_gold(questions: Sequence[Question], chunks: Sequence[Chunk]) -> list[str]:
    """Gold items found in no chunk of the index: a question set and index that do not match."""
    passages = {c.record_id for c in chunks} | {c.doc_id for c in chunks} | {c.path for c in chunks}
    texts = [(c, squash(c.text)) for c in chunks]
    missing: list[str] = []
    for q in questions:
        gold = Gold.of(q)
        for ev in gold.evidence:
            quote = squash(ev.quote)
            if not any(quote in text and _same_document(c, ev.doc) for c, text in texts):
                missing.append(f"{q.id}: evidence quote {ev.quote[:60]!r} is in no chunk")
        missing.extend(f"{q.id}: passage {p!r} is not in the index" for p in gold.passages if p not in passages)
    return missing
