"""Per-question retrieval, citation and refusal metrics, and their totals, against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from eval.questions import Evidence, Question
from eval.records import QuestionRecord
from eval.scoring import answer_scores, citation_scores, missing_gold, retrieval_scores
from eval.summary import summarize, summarize_metric
from index.types import Chunk
from rag.types import Answer, Citation, Hit


def chunk(cid: str, doc: str, text: str) -> Chunk:
    return Chunk(id=cid, doc_id=doc, path=doc.split("#")[0], title="", text=text, start=0, end=len(text))


C1 = chunk("c1", "a.txt", "Putin arrived\nin Anchorage on   Friday.")
C2 = chunk("c2", "b.txt", "Russian forces seized 10km of territory around Pokrovsk.")
C3 = chunk("c3", "a.txt", "Trump met Putin at the base. Russian forces seized 10km")
C4 = chunk("c4", "c.txt", "Nothing of interest.")
P1 = chunk("p1", "passages.jsonl#a00_p000", "The Normans gave their name to Normandy.")
P2 = chunk("p2", "passages.jsonl#a00_p001", "Rollo led the Norse.")
P2B = chunk("p2b", "passages.jsonl#a00_p001", "Rollo swore fealty.")


def test_evidence_quotes_are_found_with_white_space_folded() -> None:
    q = Question("q", "Where did Putin arrive?", ("Anchorage",), evidence=(Evidence("Putin arrived in  Anchorage"),))
    # Ranking [C4, C1]: the gold quote (white space differs) is at rank 2.
    scores = retrieval_scores(q, [C4, C1], k=1)
    assert scores == {"hit@k": 0.0, "recall@k": 0.0, "mrr@10": 0.5, "ndcg@10": pytest.approx(1 / math.log2(3))}
    assert retrieval_scores(q, [C4, C1], k=2)["hit@k"] == 1.0


def test_two_quotes_each_count_once_and_doc_narrows_the_match() -> None:
    q = Question(
        "q",
        "?",
        ("x",),
        evidence=(Evidence("seized 10km", doc="b.txt"), Evidence("Trump met Putin")),
    )
    # C3 holds "seized 10km" but in a.txt, so it only counts for the second quote.
    # Ranking labels: C3 -> q1 (rank 1), C4 -> none, C2 -> q0 (rank 3).
    scores = retrieval_scores(q, [C3, C4, C2], k=2)
    assert scores["hit@k"] == 1.0 and scores["recall@k"] == 0.5 and scores["mrr@10"] == 1.0
    # DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3)
    assert scores["ndcg@10"] == pytest.approx(1.5 / (1 + 1 / math.log2(3)))


def test_gold_passages_rank_as_documents() -> None:
    q = Question("s", "Who led?", ("Rollo",), passages=("a00_p001",))
    # P2 and P2B are one document: [P1, P2, P2B] ranks documents [a00_p000, a00_p001].
    scores = retrieval_scores(q, [P1, P2, P2B], k=1)
    assert scores == {"hit@k": 0.0, "recall@k": 0.0, "mrr@10": 0.5, "ndcg@10": pytest.approx(1 / math.log2(3))}


def test_unanswerable_questions_have_no_retrieval_gold() -> None:
    q = Question("u", "?", answerable=False, passages=("a00_p000",))
    assert set(retrieval_scores(q, [P1], k=1).values()) == {None}


def citation(marker: int, c: Chunk, sentence: str) -> Citation:
    return Citation(marker, c, sentence, 0.9, 0.9, 0.9, False, c.start, c.end)


def answer(
    text: str, cites: tuple[Citation, ...] = (), unsupported: tuple[str, ...] = (), refused: bool = False
) -> Answer:
    sources = tuple(Hit(c, 1.0, i) for i, c in enumerate((C1, C2, C3, C4), start=1))
    return Answer(
        question="?", text=text, citations=cites, sources=sources, refused=refused, unsupported_sentences=unsupported
    )


def test_citation_precision_recall_and_unsupported_share() -> None:
    q = Question("q", "?", ("10km",), evidence=(Evidence("seized 10km", doc="b.txt"), Evidence("Trump met Putin")))
    a = answer(
        "They seized 10km [2]. Trump met Putin [3]. He left [4]. It rained.",
        cites=(
            citation(2, C2, "They seized 10km [2]."),
            citation(3, C3, "Trump met Putin [3]."),
            citation(4, C4, "He left [4]."),
            citation(2, C2, "They seized 10km [2]."),  # the same chunk cited twice counts once
        ),
        unsupported=("It rained.",),
    )
    # Cited chunks C2 (gold q0), C3 (gold q1), C4 (no gold): precision 2/3; both quotes cited: recall 1.
    # Sentences: 3 supported + 1 unsupported: share 1/4.
    assert citation_scores(q, a) == {
        "citation_precision": pytest.approx(2 / 3),
        "citation_recall": 1.0,
        "unsupported": 0.25,
    }
    only_c4 = answer("He left [4].", cites=(citation(4, C4, "He left [4]."),))
    assert citation_scores(q, only_c4) == {"citation_precision": 0.0, "citation_recall": 0.0, "unsupported": 0.0}
    declined = answer("The documents don't say.", refused=True)
    assert set(citation_scores(q, declined).values()) == {None}


def test_refusal_indicators_and_answer_scores() -> None:
    answerable = Question("a", "?", ("10km",))
    unanswerable = Question("u", "?", answerable=False)
    declined = answer("The documents don't say.", refused=True)
    replied = answer("Russian forces seized 10km [2].")
    assert answer_scores(unanswerable, declined) == {
        "em": 1.0,
        "f1": 1.0,
        "contains": 1.0,
        "short_em": 1.0,
        "short_f1": 1.0,
        "false_refusal": None,
        "refusal_precision": 1.0,
        "refusal_recall": 1.0,
    }
    assert answer_scores(unanswerable, replied) == {
        "em": 0.0,
        "f1": 0.0,
        "contains": 0.0,
        "short_em": 0.0,
        "short_f1": 0.0,
        "false_refusal": None,
        "refusal_precision": None,
        "refusal_recall": 0.0,
    }
    assert answer_scores(answerable, declined) == {
        "em": 0.0,
        "f1": 0.0,
        "contains": 0.0,
        "short_em": 0.0,
        "short_f1": 0.0,
        "false_refusal": 1.0,
        "refusal_precision": 0.0,
        "refusal_recall": None,
    }
    scores = answer_scores(answerable, replied)
    # pred tokens [russian, forces, seized, 10km] vs [10km]: P 1/4, R 1 -> F1 0.4
    assert scores["em"] == 0.0 and scores["f1"] == pytest.approx(0.4) and scores["contains"] == 1.0
    assert scores["false_refusal"] == 0.0


@pytest.mark.parametrize(
    ("text", "gold", "short_em", "short_f1"),
    [
        ("Yuriy Shchygol, a Ukrainian general, vowed to continue [1].", "Yuriy Shchygol", 1.0, 1.0),
        ("A 15-second video [2]. It ended her career.", "15-second video", 1.0, 1.0),
        # contains credits a gold buried late in a long answer; the short scores do not
        ("The report, which was published on Friday, says 10km [1].", "10km", 0.0, 0.0),
        ("In Anchorage, Alaska [1].", "Anchorage, Alaska", 0.0, 0.5),  # [in, anchorage] vs [anchorage, alaska]
    ],
)
def test_short_answer_scores_read_the_opening_phrase(text: str, gold: str, short_em: float, short_f1: object) -> None:
    scores = answer_scores(Question("q", "?", (gold,)), answer(text))
    assert scores["short_em"] == short_em and scores["short_f1"] == short_f1
    assert scores["contains"] == 1.0


def record(qid: str, history: tuple[str, ...] = (), **metrics: float | None) -> QuestionRecord:
    return QuestionRecord(qid, "?", history, True, (), "", False, bool(metrics.get("contains")), metrics)


def test_refusal_precision_and_recall_in_total() -> None:
    # 4 unanswerable (3 declined), 6 answerable (1 declined): precision 3/4, recall 3/4.
    records = [record(f"u{i}", refusal_recall=float(i < 3), refusal_precision=1.0 if i < 3 else None) for i in range(4)]
    records += [record(f"a{i}", refusal_precision=0.0 if i == 0 else None) for i in range(6)]
    assert summarize_metric(records, "refusal_precision").mean == pytest.approx(0.75)
    assert summarize_metric(records, "refusal_recall").mean == pytest.approx(0.75)


def test_summary_means_skip_missing_values_and_split_multi_turn() -> None:
    records = [record("a", f1=1.0, contains=1.0), record("b", f1=0.0, contains=0.0), record("c", f1=None)]
    records.append(record("d", ("earlier?",), f1=0.5, contains=1.0))
    summary = summarize(records, k=5)
    assert [g.name for g in summary.groups] == ["all", "single-turn", "multi-turn"]
    f1 = summary.group("all").metric("f1")
    assert f1.mean == pytest.approx(0.5) and f1.n == 3
    assert f1.low is not None and f1.high is not None and 0.0 <= f1.low <= 0.5 <= f1.high <= 1.0
    assert summary.group("single-turn").metric("f1").mean == pytest.approx(0.5)
    assert summary.group("multi-turn").metric("f1").n == 1
    assert summary.group("all").correct == pytest.approx(0.5)
    constant = summarize_metric([record(str(i), f1=0.7) for i in range(5)], "f1")
    assert (constant.mean, constant.low, constant.high) == pytest.approx((0.7, 0.7, 0.7))
    assert summarize_metric(records, "em").mean is None


def test_gold_missing_from_the_index_is_reported() -> None:
    qs = [
        Question("q1", "?", ("x",), evidence=(Evidence("Putin arrived in Anchorage"),)),
        Question("q2", "?", ("x",), evidence=(Evidence("not anywhere"),)),
        Question("q3", "?", ("x",), passages=("a00_p009",)),
    ]
    assert missing_gold(qs, [C1, P1]) == [
        "q2: evidence quote 'not anywhere' is in no chunk",
        "q3: passage 'a00_p009' is not in the index",
    ]
