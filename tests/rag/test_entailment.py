"""Alignment signals of the citation check: each kind of contradiction caught, paraphrases kept."""

from __future__ import annotations

import pytest

from index.types import Chunk
from rag.citations import CitationChecker
from rag.entailment import mismatches
from rag.types import Hit

NEWS = (
    "The Alaska summit was a highly predictable failure. During the immediate build-up to the talks, Russian "
    "forces seized 10km of territory around Pokrovsk. Ukraine responded by firing drones on Russian oil giant "
    "Rosneft's Syzran refinery in Samara. Yuriy Shchygol, a Ukrainian Brigadier General, vowed to continue drone "
    "strikes. Trump met Putin on Friday, August 15, 2025. In 1815, Wellington defeated Napoleon at Waterloo. "
    "Failed connections no longer remain in the pool. Kyiv was not invited to the summit."
)


def chunk(text: str = NEWS, title: str = "Putin will be laughing", path: str = "news/000.txt") -> Chunk:
    return Chunk("c1", path, path, title, text, 0, len(text))


@pytest.mark.parametrize(
    ("claim", "signal"),
    [
        ("Ukraine seized 10km of territory around Pokrovsk.", "name"),  # an entity of the passage, misplaced
        ("Russian forces seized 25km of territory around Pokrovsk.", "number"),
        ("Russian forces seized 10 miles of territory around Pokrovsk.", "unit"),
        ("Russian forces never seized 10km of territory around Pokrovsk.", "negation"),
        ("Failed connections still remain in the pool.", "negation"),
        ("Kyiv was invited to the summit.", "negation"),
        ("Trump met Putin on Friday, August 15, 2023.", "number"),
        ("Trump met Putin on Friday, September 15, 2025.", "name"),
        ("In 1815, Napoleon defeated Wellington at Waterloo.", "role"),
        ("In 1815, Wellington was defeated by Napoleon at Waterloo.", "role"),
        ("Drone strikes will continue, Zelenskiy vowed.", "name"),  # a speaker the passage never names
        ("Putin, a Ukrainian Brigadier General, vowed to continue drone strikes.", "name"),  # another speaker
    ],
)
def test_each_kind_of_contradiction_is_caught(claim: str, signal: str) -> None:
    found = mismatches(claim, chunk())
    assert signal in {m.signal for m in found}, found


@pytest.mark.parametrize(
    "claim",
    [
        "Russian forces seized 10km of territory around Pokrovsk.",
        "Russian forces seized 10 kilometres of territory around Pokrovsk.",
        "10km of territory was seized by Russian forces around Pokrovsk.",
        "Around Pokrovsk, Russian forces seized 10km of territory.",
        "Wellington defeated Napoleon at Waterloo in 1815.",
        "Napoleon was defeated by Wellington at Waterloo.",
        "The Alaska summit was a highly predictable failure, and Trump met Putin on Friday, August 15, 2025.",
        "Failed connections no longer remain in the pool.",
        "Kyiv was not invited to the summit.",
        "Yuriy Shchygol vowed to continue drone strikes.",
        "Ukraine fired drones at a refinery of Rosneft in Samara.",
    ],
)
def test_paraphrases_and_restatements_are_kept(claim: str) -> None:
    assert mismatches(claim, chunk()) == ()


def test_the_document_a_sentence_names_must_be_the_one_cited() -> None:
    text = "Failed connections no longer remain in the pool. Idle connections close after a minute."
    cited = chunk(text, title="httpcore2 2.17.0", path="httpcore2-2.17.0.dist-info/METADATA")
    assert mismatches("In httpcore2 2.17.0, failed connections no longer remain in the pool.", cited) == ()
    wrong = mismatches("In httpcore 1.0.9, failed connections no longer remain in the pool.", cited)
    assert {m.signal for m in wrong} == {"number"}


def test_a_name_added_from_elsewhere_in_the_passage_is_no_substitution() -> None:
    # The claim joins two facts the passage states in two places; no name of the evidence is replaced.
    assert mismatches("Rosneft's Syzran refinery in Samara was hit by drones from Ukraine.", chunk()) == ()


def test_checker_modes() -> None:
    hit = Hit(chunk=chunk(), score=1.0, rank=1)
    claim = "Ukraine seized 10km of territory around Pokrovsk [1]."
    assert CitationChecker(mode="overlap").check(claim, [hit]).supported_sentences == 1
    flagged = CitationChecker(mode="aligned").check(claim, [hit]).unsupported_sentences
    assert flagged == ("Ukraine seized 10km of territory around Pokrovsk.",)
    with pytest.raises(ValueError, match="mode='strict'"):
        CitationChecker(mode="strict")


def test_a_contradicted_sentence_moves_to_a_chunk_that_supports_it() -> None:
    other = Chunk("c2", "e.txt", "e.txt", "Other", "Ukraine seized 10km of territory around Pokrovsk.", 0, 49)
    hits = [Hit(chunk=chunk(), score=1.0, rank=1), Hit(chunk=other, score=0.9, rank=2)]
    checked = CitationChecker(mode="aligned").check("Ukraine seized 10km of territory around Pokrovsk [1].", hits)
    [citation] = checked.citations
    assert (citation.marker, citation.reattributed) == (2, True)
