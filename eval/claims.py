"""The contradiction benchmark's generator: (claim, passage, label) pairs from corpus sentences.

Pure and deterministic: passages in, pairs out, the same for the same seed. Every chosen
sentence yields one claim its passage supports and one it contradicts, each of the kind seen
least so far among those that apply, so rare kinds (swapped actors, speakers) are made
wherever they can be. Sibling documents (near-duplicates: versions of one text) add a pair of
their own: a shared sentence cited from document B, the claim naming B (supported) or its
sibling A (not supported by that citation). Reading the data: eval/claims_data.py.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from eval.claim_faults import (
    change_number,
    flip_negation,
    give_to_other_speaker,
    move_date,
    replace_entity,
    speakers_of,
    swap_roles,
)
from eval.claim_support import Context, combine, paraphrase, shorten, verbatim
from eval.claim_words import lower_first, mid_sentence_names, name_spans, span_text, words
from rag.text import sentence_spans

Edit = Callable[[str, Context, random.Random], "str | None"]

SUPPORTED: dict[str, Edit] = {
    "verbatim": verbatim,
    "shortened": shorten,
    "paraphrased": paraphrase,
    "combined": combine,
}
CONTRADICTED: dict[str, Edit] = {
    "swapped": swap_roles,
    "number": change_number,
    "negation": flip_negation,
    "date": move_date,
    "entity": replace_entity,
    "speaker": give_to_other_speaker,
}
# How a sentence names the document it comes from, as an answer would.
NAMING = ("In {name}, {s}", "According to the {name} documentation, {s}", "The {name} description says that {s}")
HALVES = ("tune", "report")
# Section headings of structured abstracts, which open their first sentence.
_HEADING = re.compile(
    r"^(?:(?:BACKGROUND|METHODS?|RESULTS?|CONCLUSIONS?|OBJECTIVES?|DESIGN|SETTING|PARTICIPANTS|SUBJECTS|MAIN"
    r"|OUTCOMES?|MEASURES?|INTERVENTIONS?|PURPOSE|AIMS?|FINDINGS|INTERPRETATION|CONTEXT|IMPORTANCE|EXPOSURES?"
    r"|MEASUREMENTS|PATIENTS|METHODOLOGY|AND|INTRODUCTION|SIGNIFICANCE|RATIONALE|SUMMARY)[:\s]+)+(?=[A-Z0-9])"
)
_ABBREVIATION = re.compile(r"(\b[A-Za-z]|\b(?:St|Dr|Mr|Mrs|Ms|Jr|Sr|No|Fig|vs|al|e\.g|i\.e|ca|approx))\.$")
# One family of siblings (two versions of a changelog share 120 sentences) must not outweigh the rest.
SIBLING_SENTENCES_PER_GROUP = 60


@dataclass(frozen=True)
class Passage:
    """One chunk of a document, as retrieval would return it."""

    source: str  # news, squad2, scifact, siblings
    doc_id: str
    group: str  # documents that must stay in one half (a SQuAD article, a family of siblings)
    title: str
    path: str
    text: str
    name: str = ""  # how a user names the document ("httpcore 1.0.9"); siblings only


@dataclass(frozen=True)
class ClaimPair:
    id: str
    claim: str
    label: str  # "supported" or "contradicted"
    kind: str
    source: str
    doc_id: str
    group: str
    half: str  # "tune" or "report": split by group, so no document is in both
    title: str
    path: str
    passage: str
    sentence: str  # the passage sentence the claim was made from

    @property
    def contradicted(self) -> bool:
        return self.label == "contradicted"


def eligible_sentences(text: str) -> list[str]:
    """Sentences that make a claim: 6-45 words, mostly words, ending like a sentence."""
    found, after_abbreviation = [], False
    for start, end in sentence_spans(text):
        s = _HEADING.sub("", " ".join(text[start:end].split()))
        if after_abbreviation:  # "St. | Lawrence and Mississippi watersheds, ...": no sentence's start
            after_abbreviation = bool(_ABBREVIATION.search(s))
            continue
        after_abbreviation = bool(_ABBREVIATION.search(s))
        ws = s.split()
        wordy = sum(w.strip(".,;:()\"'“”’").isalpha() for w in ws) >= 0.7 * len(ws)
        # after_abbreviation: "Nixon named William E." lost its end to the splitter
        if 6 <= len(ws) <= 45 and wordy and s[-1] in ".!?\"”" and not after_abbreviation and s[0] not in "|#`>":
            found.append(s)
    return found


def generate(
    passages: Sequence[Passage],
    siblings: Sequence[Passage] = (),
    *,
    seed: int = 0,
    per_passage: Callable[[Passage], int] | None = None,
) -> list[ClaimPair]:
    """Pairs from `passages` (one sentence each unless `per_passage` says more) and `siblings`."""
    rng = random.Random(seed)
    halves = split_groups([*passages, *siblings])
    counts: Counter[str] = Counter()
    groups = _group_texts(passages)
    made: list[tuple[Passage, str, str, str, str]] = []
    for passage in passages:
        known, speakers = groups[passage.group]
        for _ in range(per_passage(passage) if per_passage else 1):
            made.extend(_pairs_from(passage, known, speakers, counts, rng, made))
    made.extend(_sibling_pairs(siblings, rng))
    return [
        ClaimPair(f"{p.source}-{n:05d}", claim, label, kind, p.source, p.doc_id, p.group, halves[p.group],
                  p.title, p.path, p.text, sentence)
        for n, (p, claim, label, kind, sentence) in enumerate(made)
    ]  # fmt: skip


def _group_texts(passages: Iterable[Passage]) -> dict[str, tuple[frozenset[str], tuple[str, ...]]]:
    texts: dict[str, list[str]] = defaultdict(list)
    for p in passages:
        texts[p.group].append(p.text)
    out = {}
    for group, parts in texts.items():
        known = mid_sentence_names(" ".join(parts))
        out[group] = (known, speakers_of(" ".join(parts), known))
    return out


def _pairs_from(
    passage: Passage,
    known: frozenset[str],
    speakers: tuple[str, ...],
    counts: Counter[str],
    rng: random.Random,
    made: Sequence[tuple[Passage, str, str, str, str]],
) -> list[tuple[Passage, str, str, str, str]]:
    """One supported and one contradicted claim from a sentence not used yet, rarest kinds first."""
    used = {m[4] for m in made[-40:] if m[0] is passage}
    sentences = [s for s in eligible_sentences(passage.text) if s not in used]
    if not sentences:
        return []
    names = tuple(dict.fromkeys(_names(passage.text, known)))
    every = [" ".join(passage.text[a:b].split()) for a, b in sentence_spans(passage.text)]
    following = {s: nxt for s, nxt in pairwise(every) if s in sentences and nxt in sentences}
    options: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for s in sentences:
        ctx = Context(passage.text, known, names, speakers, following.get(s, ""))
        for kind, edit in CONTRADICTED.items():
            claim = edit(s, ctx, random.Random(f"{rng.random()}"))
            if claim and claim != s:
                options[kind].append((s, claim))
    if not options:
        return []
    kind = min(sorted(options), key=lambda k: (counts[k], rng.random()))
    sentence, contradiction = rng.choice(options[kind])
    ctx = Context(passage.text, known, names, speakers, following.get(sentence, ""))
    supported = [(k, c) for k, edit in SUPPORTED.items() if (c := edit(sentence, ctx, rng))]
    support_kind, claim = min(supported, key=lambda kc: (counts[kc[0]], rng.random()))
    counts.update([kind, support_kind])
    return [
        (passage, claim, "supported", support_kind, sentence),
        (passage, contradiction, "contradicted", kind, sentence),
    ]


def _names(text: str, known: frozenset[str]) -> list[str]:
    found: list[str] = []
    for start, end in sentence_spans(text):
        ws = words(text[start:end])
        found.extend(span_text(ws, span) for span in name_spans(ws, known))
    return found


def _sibling_pairs(siblings: Sequence[Passage], rng: random.Random) -> list[tuple[Passage, str, str, str, str]]:
    """For a sentence two sibling documents share: the claim naming the cited document's sibling
    (kind "sibling", not supported as cited) and the same claim naming the cited one (kind "named")."""
    where: dict[str, dict[str, Passage]] = defaultdict(dict)
    for p in siblings:
        for s in eligible_sentences(p.text):
            where[f"{p.group}\n{s}"].setdefault(p.doc_id, p)
    shared: dict[str, list[str]] = defaultdict(list)
    for key in sorted(where):
        if len({p.name for p in where[key].values()}) >= 2:
            shared[key.split("\n", 1)[0]].append(key)
    made = []
    for group in sorted(shared):
        keys = shared[group]
        for key in sorted(rng.sample(keys, min(len(keys), SIBLING_SENTENCES_PER_GROUP))):
            holders = sorted(where[key].values(), key=lambda p: p.doc_id)
            made.extend(_named_pairs(holders, key.split("\n", 1)[1], rng))
    return made


def _named_pairs(holders: list[Passage], sentence: str, rng: random.Random) -> list[tuple[Passage, str, str, str, str]]:
    """Both directions of up to two sibling pairs: each document cited while its sibling is named."""
    ordered = [(a, b) for a in holders for b in holders if a.name != b.name]
    body = " ".join(w.text for w in lower_first(words(sentence.lstrip("-* ")), frozenset()))
    made = []
    for cited, named in rng.sample(ordered, min(2, len(ordered))):
        template = rng.choice(NAMING)
        made.append((cited, template.format(name=cited.name, s=body), "supported", "named", sentence))
        made.append((cited, template.format(name=named.name, s=body), "contradicted", "sibling", sentence))
    return made


def split_groups(passages: Iterable[Passage]) -> dict[str, str]:
    """Each source's groups shared out between the halves, biggest first to the half with fewer
    passages so far (the report half on a tie), so both halves hold about as many of each source."""
    sizes: dict[str, Counter[str]] = defaultdict(Counter)
    for p in passages:
        sizes[p.source][p.group] += 1
    halves = {}
    for groups in sizes.values():
        load = dict.fromkeys(HALVES, 0)
        for group in sorted(groups, key=lambda g: (-groups[g], hashlib.sha1(g.encode("utf-8")).hexdigest())):
            half = min(reversed(HALVES), key=lambda h: load[h])
            halves[group] = half
            load[half] += groups[group]
    return halves
