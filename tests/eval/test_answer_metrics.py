"""SQuAD answer metrics against hand-computed cases (the official normalisation and scoring)."""

from __future__ import annotations

import pytest

from eval.answer_metrics import contains_answer, exact_match, f1_score, normalize_answer, strip_markers


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("The Eiffel Tower", "eiffel tower"),  # case and the article "the"
        ("a cat, an owl and the dog!", "cat owl and dog"),  # every article, punctuation
        ("  Rollo\n\tthe   Walker ", "rollo walker"),  # white space folded
        ("U.S.A.", "usa"),  # punctuation removed inside words
        ("Theory of another", "theory of another"),  # articles only as whole words
        ("10-km", "10km"),
    ],
)
def test_normalize_answer_follows_the_official_rules(raw: str, normalized: str) -> None:
    assert normalize_answer(raw) == normalized


def test_exact_match_takes_any_gold_after_normalisation() -> None:
    assert exact_match("the Syzran refinery.", ["Syzran refinery", "Syzran"]) == 1.0
    assert exact_match("Syzran oil refinery", ["Syzran refinery", "Syzran"]) == 0.0


def test_f1_against_the_best_of_several_golds() -> None:
    # pred tokens: [syzran, oil, refinery]; gold 1 [syzran, refinery]: common 2, P 2/3, R 1 -> F1 0.8
    # gold 2 [rosnefts, syzran, refinery, in, samara]: common 2, P 2/3, R 2/5 -> F1 0.5
    golds = ["Syzran refinery", "Rosneft's Syzran refinery in Samara"]
    assert f1_score("the Syzran oil refinery", golds) == pytest.approx(0.8)
    assert f1_score("the Syzran oil refinery", golds[1:]) == pytest.approx(0.5)
    assert f1_score("Moscow", golds) == 0.0


def test_f1_counts_repeated_tokens_once_per_occurrence() -> None:
    # pred [paris, paris, france], gold [paris]: common min(2,1)=1; P 1/3, R 1 -> 0.5
    assert f1_score("Paris Paris France", ["Paris"]) == pytest.approx(0.5)


def test_unanswerable_gold_rewards_only_an_empty_prediction() -> None:
    assert exact_match("", []) == 1.0 and f1_score("", []) == 1.0 and contains_answer("", []) == 1.0
    assert exact_match("Rollo", []) == 0.0 and f1_score("Rollo", []) == 0.0 and contains_answer("Rollo", []) == 0.0
    # Golds that normalise to nothing count as no answer, as in the official script.
    assert exact_match("", ["the", "."]) == 1.0
    # An answerable question answered with nothing scores 0.
    assert f1_score("", ["Rollo"]) == 0.0 and exact_match("", ["Rollo"]) == 0.0


def test_contains_is_token_aligned() -> None:
    assert contains_answer("It was written by Samuel Ramani [1].", ["Samuel Ramani"]) == 1.0
    assert contains_answer("The year was 2023.", ["2023"]) == 1.0
    assert contains_answer("In 20234 it happened.", ["2023"]) == 0.0
    assert contains_answer("Ramani wrote it.", ["Samuel Ramani"]) == 0.0


def test_citation_markers_are_not_answer_tokens() -> None:
    assert strip_markers("Rollo [1] led them [2, 3].") == "Rollo led them."
    assert exact_match(strip_markers("Rollo [1]"), ["Rollo"]) == 1.0
