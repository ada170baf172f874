"""The contradiction benchmark: its generator on hand-made passages, and its runner on a toy checker."""

from __future__ import annotations

import random

import pytest

from eval.claim_faults import (
    change_number,
    flip_negation,
    give_to_other_speaker,
    move_date,
    replace_entity,
    speakers_of,
    swap_roles,
)
from eval.claim_support import Context, combine, paraphrase, shorten
from eval.claim_words import mid_sentence_names
from eval.claims import CONTRADICTED, SUPPORTED, ClaimPair, Passage, eligible_sentences, generate, split_groups
from eval.claims_bench import checker_judge, measure, render, wilson
from rag.citations import CitationChecker

NEWS = (
    "Speaking in Alaska, Donald Trump praised the talks. During the build-up to the talks, Russian forces seized "
    "10km of territory around Pokrovsk. Ukraine fired drones at the Syzran refinery in Samara. "
    "Yuriy Shchygol said that strikes would go on until Russia ended the war. Putin met Trump on Friday, "
    "August 15, 2025. Kyiv did not attend the summit. The Alaska summit was a predictable failure."
)
HISTORY = (
    "In 1066, William defeated Harold at Hastings. The Normans conquered England in the following years. "
    "Harold said that the English would fight. Stigand crowned William in London. "
    "The Normans came from Normandy, a region in France, and they spoke French."
)


def ctx(text: str, following: str = "") -> Context:
    known = mid_sentence_names(text)
    names = ("Donald Trump", "Pokrovsk", "Samara", "Syzran", "Yuriy Shchygol", "Putin", "Kyiv", "Stigand", "London")
    return Context(text, known, names, (*speakers_of(text, known), "Putin"), following)


RNG = random.Random(3)


def test_supported_edits_keep_the_words_of_the_sentence() -> None:
    c = ctx(NEWS)
    sentence = "During the build-up to the talks, Russian forces seized 10km of territory around Pokrovsk."
    assert shorten(sentence, c, random.Random(0)) == "Russian forces seized 10km of territory around Pokrovsk."
    passive = paraphrase("Russian forces seized 10km of territory around Pokrovsk.", c, random.Random(0))
    assert passive == "10km of territory was seized by Russian forces around Pokrovsk."
    fronted = paraphrase("In 1066, William defeated Harold at Hastings.", ctx(HISTORY), random.Random(0))
    assert fronted == "William defeated Harold at Hastings in 1066."
    joined = combine("Kyiv did not attend the summit.", ctx(NEWS, "The Alaska summit was a predictable failure."), RNG)
    assert joined == "Kyiv did not attend the summit, and the Alaska summit was a predictable failure."


@pytest.mark.parametrize(
    ("edit", "sentence", "expected"),
    [
        (swap_roles, "In 1066, William defeated Harold at Hastings.", "In 1066, Harold defeated William at Hastings."),
        (flip_negation, "Kyiv did not attend the summit.", "Kyiv did attend the summit."),
        (flip_negation, "The summit was a predictable failure.", "The summit was not a predictable failure."),
        (move_date, "The Normans conquered England in 1066.", None),  # checked below: another year
        (replace_entity, "Ukraine fired drones at the Syzran refinery in Samara.", None),
        (give_to_other_speaker, "Yuriy Shchygol said that strikes would go on.", None),
    ],
)
def test_contradicting_edits(edit: object, sentence: str, expected: str | None) -> None:
    assert callable(edit)
    made = edit(sentence, ctx(NEWS + " " + HISTORY), random.Random(1))
    assert made is not None and made != sentence
    if expected is not None:
        assert made == expected
    if edit is give_to_other_speaker:
        assert made.endswith(" said that strikes would go on.") and not made.startswith("Yuriy")


def test_numbers_dates_and_names_change_to_values_the_passage_lacks() -> None:
    c = ctx(NEWS)
    number = change_number("Russian forces seized 10km of territory around Pokrovsk.", c, random.Random(2))
    assert number is not None and "10km" not in number
    date = move_date("Putin met Trump on Friday, August 15, 2025.", c, random.Random(0))
    assert date is not None and date != "Putin met Trump on Friday, August 15, 2025."
    entity = replace_entity("Ukraine fired drones at the Syzran refinery in Samara.", c, random.Random(0))
    assert entity is not None and entity.split()[-1].strip(".") in {"Pokrovsk", "Kyiv", "Putin", "London", "Stigand"}


def test_edits_decline_where_their_cue_is_missing() -> None:
    c = ctx(NEWS)
    assert swap_roles("The weather was fine all week.", c, RNG) is None
    assert give_to_other_speaker("The weather was fine all week.", c, RNG) is None
    assert move_date("The weather was fine all week.", c, RNG) is None
    assert change_number("The weather was fine all week.", c, RNG) is None
    # symmetric verbs: "Putin met Trump" says what "Trump met Putin" says
    assert swap_roles("Putin met Trump in Alaska.", c, RNG) is None


def passages() -> list[Passage]:
    return [
        Passage("news", "a.txt", "a.txt", "Summit", "a.txt", NEWS),
        Passage("news", "b.txt", "b.txt", "Hastings", "b.txt", HISTORY),
    ]


def siblings() -> list[Passage]:
    shared = "Failed connections no longer remain in the pool. The pool now closes idle connections after a minute."
    return [
        Passage("siblings", "x1", "family:x", "x 1.0", "x-1.0/METADATA", f"Version one. {shared}", "x 1.0"),
        Passage("siblings", "x2", "family:x", "x 2.0", "x-2.0/METADATA", f"{shared} Version two adds HTTP/3.", "x 2.0"),
    ]


def test_generation_is_deterministic_and_tags_every_pair() -> None:
    first = generate(passages(), siblings(), seed=7, per_passage=lambda p: 4)
    again = generate(passages(), siblings(), seed=7, per_passage=lambda p: 4)
    assert first == again
    assert {p.label for p in first} == {"supported", "contradicted"}
    assert all(p.kind and p.source and p.half in ("tune", "report") for p in first)
    assert {p.kind for p in first if p.source == "siblings"} == {"named", "sibling"}
    sibling = next(p for p in first if p.kind == "sibling")
    assert sibling.title not in sibling.claim and sibling.sentence in sibling.passage


def test_every_kind_is_made_from_hand_made_passages() -> None:
    text = NEWS + " " + HISTORY
    many = [Passage("news", f"d{i}", f"d{i}", "T", f"d{i}", text) for i in range(12)]
    kinds = {p.kind for p in generate(many, siblings(), seed=0, per_passage=lambda p: 3)}
    assert set(CONTRADICTED) | set(SUPPORTED) | {"named", "sibling"} <= kinds


def test_halves_split_by_group_and_balance_sources() -> None:
    parts = [Passage("squad2", f"p{i}", f"article{i % 4}", "T", "p", "x") for i in range(8)]
    halves = split_groups(parts)
    assert set(halves) == {f"article{i}" for i in range(4)}
    assert sorted(halves.values()) == ["report", "report", "tune", "tune"]


def test_eligible_sentences_skip_fragments() -> None:
    text = "Nixon named William E. Simon to the post. Short one. BACKGROUND The trial enrolled 300 adults in Ohio."
    assert eligible_sentences(text) == ["The trial enrolled 300 adults in Ohio."]


def pair(label: str, kind: str, claim: str = "c") -> ClaimPair:
    return ClaimPair("id", claim, label, kind, "s", "d", "g", "report", "T", "p", "passage", "sentence")


def test_runner_counts_flags_and_keeps_by_kind() -> None:
    pairs = [pair("contradicted", "number", "bad")] * 3 + [pair("contradicted", "number")]
    pairs += [pair("supported", "verbatim")] * 4

    def toy(p: ClaimPair) -> bool:
        return p.claim == "bad"

    report = measure(pairs, toy, "toy")
    assert (report.rate("contradicted").n, report.rate("contradicted").right) == (4, 3)
    assert report.rate("contradicted", "number").rate == 0.75
    assert report.rate("supported", "verbatim").rate == 1.0
    assert not report.meets_target
    table = render([report])
    assert "| contradicted (flagged) | number | 4 | 75.0% (30%–95%) |" in table


def test_wilson_interval() -> None:
    low, high = wilson(3, 4)
    assert (round(low, 3), round(high, 3)) == (0.301, 0.954)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0


def test_checker_judge_cites_the_passage_as_hit_one() -> None:
    supported = ClaimPair("1", "Russian forces seized 10km around Pokrovsk.", "supported", "verbatim", "news", "d",
                          "g", "report", "T", "p", NEWS, "")  # fmt: skip
    contradicted = ClaimPair("2", "Russian forces seized 30km around Pokrovsk.", "contradicted", "number", "news",
                             "d", "g", "report", "T", "p", NEWS, "")  # fmt: skip
    judge = checker_judge(CitationChecker(mode="aligned"))
    assert judge(supported) is False
    assert judge(contradicted) is True
    assert checker_judge(CitationChecker(mode="overlap"))(contradicted) is False
