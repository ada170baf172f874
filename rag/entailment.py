"""Does a passage say what a sentence claims, or something close to it in other words? Cheap
alignment signals between a claim and its best evidence in a chunk.

Word overlap and embeddings score "Ukraine seized 10km around Pokrovsk" as well supported by
"Russian forces seized 10km around Pokrovsk": the same words, another meaning. These checks
look at what overlap cannot see, each a mismatch that vetoes the support:
- numbers (with units, versions and years) the evidence does not hold, or holds in another unit;
- a negation on one side only;
- a name (capitalised word, acronym, month) the chunk, its title and its path never mention, or
  that replaces the evidence sentence's own where the rest of the claim restates that sentence;
- roles: the words before and after a shared verb trade places ("A defeated B" / "B defeated A"),
  passive voice taken into account.
The cited document's title and path count as evidence for names and versions, so a sentence
naming the version it cites is kept and one naming a sibling version is not. Measured on the
contradiction benchmark (`rag eval claims`, docs/evaluation.md).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from index.types import Chunk
from rag.text import STOPWORDS, content_terms, sentence_spans, strip_markers

_TOKEN = re.compile(r"[^\W_]+(?:[.,'’/–-][^\W_]+)*%?|[,;:()\"“”—–]|[.!?](?=[\s\"”')]|$)", re.UNICODE)
_NUMBER = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)*)(st|nd|rd|th|s)?(%|[a-zA-Z]+)?$")
_NUMBER_WORDS = dict(
    zip(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred".split(),
        [*range(21), 30, 40, 50, 60, 70, 80, 90, 100],
    )
)
_UNITS = {
    "%": "%", "percent": "%", "pct": "%", "km": "km", "kilometre": "km", "kilometres": "km", "kilometer": "km",
    "kilometers": "km", "mile": "mi", "miles": "mi", "m": "m", "metre": "m", "metres": "m", "meter": "m",
    "meters": "m", "feet": "ft", "foot": "ft", "ft": "ft", "kg": "kg", "kilograms": "kg", "pounds": "lb",
    "lb": "lb", "g": "g", "grams": "g", "mg": "mg", "ml": "ml", "litres": "l", "liters": "l", "seconds": "s",
    "second": "s", "minutes": "min", "minute": "min", "min": "min", "hours": "h", "hour": "h", "days": "d",
    "day": "d", "weeks": "wk", "week": "wk", "months": "mo", "month": "mo", "years": "yr", "year": "yr",
    "thousand": "k", "million": "M", "billion": "B", "times": "x", "fold": "x",
}  # fmt: skip
_NEGATIONS = frozenset("not never no none nobody nothing neither nor cannot without".split())
_FIXED_NOT = frozenset("only just merely least necessarily".split())  # "not only X" affirms X
_PASSIVE_AUX = frozenset("is are was were be been being".split())
_BREAKS = frozenset(",;:()\"“”—–.!?")
# A claim that restates one evidence sentence this closely and puts another name or number
# where the sentence has one names a substitute (another person, place or number of the passage).
SUBSTITUTION_COVERAGE = 0.8
_ROLE_WINDOW = 3
_NOT_S = ("ss", "us", "is", "ous", "ics", "sis")
_IRREGULAR = frozenset("took gave made won led wrote built found held lost beat brought bought sold sent saw".split())
_NEGATION_SCOPE = 4
_SLOT = 2


@dataclass(frozen=True)
class Token:
    text: str
    term: str  # the stemmed content word; "" for function words and punctuation
    name: bool  # capitalised (not only for opening the sentence), an acronym, or a code with digits
    number: str  # the normalised value of a number, else ""
    unit: str  # the normalised unit written with the number, else ""


@dataclass(frozen=True)
class Mismatch:
    signal: str  # number, unit, negation, name, role
    detail: str


def mismatches(claim: str, chunk: Chunk) -> tuple[Mismatch, ...]:
    """What in `claim` the chunk contradicts or does not hold, judged against its best evidence."""
    claim_tokens = tokenize(strip_markers(claim))
    if not any(t.term for t in claim_tokens):
        return ()
    evidence = best_evidence(claim_tokens, chunk.text)
    text = tokenize(chunk.text)
    label = tokenize(f"{chunk.title}. {chunk.path.replace('/', ' ').replace('-', ' ')}")
    found = [
        *_number_mismatches(claim_tokens, evidence, text + label, label),
        *_negation_mismatches(claim_tokens, evidence),
        *_name_mismatches(claim_tokens, evidence, text, label),
        *_role_mismatches(claim_tokens, evidence),
    ]
    return tuple(found)


def tokenize(text: str) -> list[Token]:
    """Words, numbers and clause punctuation; a word opening a sentence is no name by its capital."""
    out: list[Token] = []
    end = 0
    for match in _TOKEN.finditer(text):
        gap = text[end : match.start()]
        opening = not out or "\n" in gap or out[-1].text in (".", "!", "?")
        opening = opening or (out[-1].text in "\"“(" and (len(out) == 1 or out[-2].text in ".!?"))
        end = match.end()
        word = match.group()
        parts = re.split(r"[-/–]", word) if re.search(r"\d", word) and re.search(r"[-/–]", word) else [word]
        out.extend(_token(part, opening) for part in parts if part)
    return out


@lru_cache(maxsize=65536)
def _token(word: str, opening: bool) -> Token:
    low = word.lower().replace("’", "'")
    value, unit = _number_of(word)
    terms = content_terms(word) if low not in STOPWORDS and word not in _BREAKS else set()
    term = min(terms) if terms else ""
    acronym = sum(c.isupper() for c in word) >= 2 or (word[:1].isupper() and any(c.isdigit() for c in word))
    name = bool(term) and not value and (acronym or (word[:1].isupper() and not opening))
    return Token(word, term, name, value, unit)


def _number_of(word: str) -> tuple[str, str]:
    low = word.lower()
    if low in _NUMBER_WORDS:
        return str(_NUMBER_WORDS[low]), ""
    match = _NUMBER.match(word)
    if not match:
        return "", ""
    digits = match[1].replace(",", "")
    if digits.count(".") == 1:
        digits = digits.rstrip("0").rstrip(".") if "." in digits else digits
    return digits, _UNITS.get((match[3] or "").lower(), "")


def best_evidence(claim: list[Token], text: str) -> list[Token]:
    """Tokens of the chunk sentence (or two adjacent ones, when the claim joins two) that hold
    most of the claim's content words."""
    sentences = [tokenize(text[s:e]) for s, e in sentence_spans(text)] or [[]]
    every = {t.term for t in claim if t.term}
    plain = _plain_terms(claim)
    cover = [len(every & {t.term for t in s}) for s in sentences]
    best = max(range(len(sentences)), key=lambda i: (cover[i], -i))
    span = [best]
    for j in (best - 1, best + 1):
        if len(span) == 1 and 0 <= j < len(sentences):
            gained = (every & {t.term for t in sentences[j]}) - {t.term for t in sentences[best]}
            # A neighbour joins when it adds plain words too: a substituted name alone must not
            # pull in the sentence that holds it, as if the claim joined two sentences.
            if len(gained) >= max(2, 0.2 * len(every)) and gained & plain:
                span = sorted([best, j])
    return [t for i in span for t in sentences[i]]


def coverage(claim: list[Token], evidence: list[Token], leave_out: str = "") -> float:
    """Share of the claim's content words (other than `leave_out`) found in the evidence."""
    wanted = {t.term for t in claim if t.term and t.term != leave_out and not t.number}
    return len(wanted & {t.term for t in evidence}) / len(wanted) if wanted else 0.0


def _number_mismatches(
    claim: list[Token], evidence: list[Token], whole: list[Token], label: list[Token]
) -> list[Mismatch]:
    out = []
    ev_units: dict[str, set[str]] = {}
    for i, t in enumerate(evidence):
        if t.number:
            ev_units.setdefault(t.number, set()).add(t.unit or _unit_after(evidence, i))
    anywhere = {t.number for t in whole if t.number}
    named = {t.number for t in label if t.number}
    vacated = _vacated(claim, evidence)
    for i, t in enumerate(claim):
        if not t.number or t.number in named:
            continue
        unit = t.unit or _unit_after(claim, i)
        if t.number in ev_units:
            units = ev_units[t.number] - {""}
            if unit and units and unit not in units:
                out.append(Mismatch("unit", f"{t.text} {unit} where the passage has {'/'.join(sorted(units))}"))
        elif t.number not in anywhere or _substitute(claim, i, evidence, vacated):
            out.append(Mismatch("number", f"{t.text} is not in the evidence"))
    return out


def _unit_after(tokens: list[Token], i: int) -> str:
    following = tokens[i + 1].text.lower() if i + 1 < len(tokens) else ""
    return _UNITS.get(following, "")


def _negation_mismatches(claim: list[Token], evidence: list[Token]) -> list[Mismatch]:
    """A statement negated on one side only: the words a negation governs on one side are all
    there, unnegated, on the other ("never seized 10km" / "seized 10km")."""
    claim_terms, evidence_terms = _plain_terms(claim), {t.term for t in evidence if t.term}
    claim_neg, evidence_neg = _negated(claim, names=True), _negated(evidence, names=False)
    claim_denied = {t for heads in claim_neg for t in heads}
    evidence_denied = {t for heads in _negated(evidence, names=True) for t in heads}
    for heads in claim_neg:
        if heads <= evidence_terms - evidence_denied:
            return [Mismatch("negation", f"the claim denies {', '.join(sorted(heads))}; the passage does not")]
    for heads in evidence_neg:
        # Plain words only: "the Bayeux Tapestry" affirms nothing that "not a tapestry" denies.
        if heads <= claim_terms - claim_denied:
            return [Mismatch("negation", f"the passage denies {', '.join(sorted(heads))}; the claim does not")]
    return []


def _plain_terms(tokens: list[Token]) -> set[str]:
    return {t.term for t in tokens if t.term and not t.name and not t.number}


def _negated(tokens: list[Token], *, names: bool) -> list[frozenset[str]]:
    """For each negation, the content words of the next four tokens, to the next punctuation
    ("not have started" -> {start}); a negation governing no word ("without the other") is left out."""
    out = []
    for i, t in enumerate(tokens):
        low = t.text.lower().replace("’", "'")
        if not (low in _NEGATIONS or low.endswith("n't")):
            continue
        after = tokens[i + 1 : i + 1 + _NEGATION_SCOPE]
        if after and after[0].text.lower() in _FIXED_NOT:
            continue
        if low == "no" and after and after[0].text.lower() == "longer":
            after = tokens[i + 2 : i + 2 + _NEGATION_SCOPE]
        heads = []
        for nxt in after:
            if nxt.text in _BREAKS:
                break
            if nxt.term and not nxt.number and (names or not nxt.name):
                heads.append(nxt.term)
        if heads:
            out.append(frozenset(heads))
    return out


def _name_mismatches(
    claim: list[Token], evidence: list[Token], text: list[Token], label: list[Token]
) -> list[Mismatch]:
    # A claim's first word is a name when the passage writes it with a capital and never without.
    capitals = {t.term for t in text + label if t.text[:1].isupper()} - {t.term for t in text if t.text[:1].islower()}
    names = [(i, t) for i, t in enumerate(claim) if t.name or (i == 0 and t.term in capitals and not t.number)]
    text_terms, ev_terms, label_terms = {t.term for t in text}, {t.term for t in evidence}, {t.term for t in label}
    vacated = _vacated(claim, evidence)
    out = []
    for i, t in names:
        if t.term in ev_terms:
            continue
        if t.term not in text_terms and not _in_parentheses(claim, i):
            # The document's own name (its title or path) is evidence; so are codes and acronyms,
            # which answers spell in many ways ("IL-6", "interleukin 6"). A proper name is not.
            if t.term not in label_terms and not _code(t.text):
                out.append(Mismatch("name", f"{t.text} is not in the passage"))
        elif _substitute(claim, i, evidence, vacated):
            out.append(Mismatch("name", f"{t.text} takes the place of a name of the evidence sentence"))
    return out


def _vacated(claim: list[Token], evidence: list[Token]) -> list[int]:
    """Places of the evidence's names and numbers (and single letters: "vitamin D") that the claim
    holds fewer times than the evidence does."""
    held = Counter(t.text.lower() for t in claim)
    seen: Counter[str] = Counter()
    out = []
    for j, t in enumerate(evidence):
        word = t.text.lower()
        if t.name or t.number or (len(word) == 1 and word.isalnum()):
            seen[word] += 1
            if seen[word] > held[word]:
                out.append(j)
    return out


def _code(word: str) -> bool:
    return sum(c.isupper() for c in word) >= 2 or any(c.isdigit() for c in word)


def _substitute(claim: list[Token], i: int, evidence: list[Token], vacated: list[int]) -> bool:
    """Whether claim token `i` sits where the evidence has a name or number the claim lacks (the
    word before or after it is within two words of that one: "Ukraine seized" / "Russian forces
    seized") in a claim that otherwise restates the evidence sentence. A claim adding a name from
    elsewhere in the passage ("in zebrafish") vacates no such place."""
    if not vacated or coverage(claim, evidence, claim[i].term) < SUBSTITUTION_COVERAGE:
        return False
    before, after = _neighbours(claim, i)
    for j in vacated:
        near_before = {t.text.lower() for t in evidence[max(0, j - _SLOT) : j]}
        near_after = {t.text.lower() for t in evidence[j + 1 : j + 1 + _SLOT]}
        if before in near_before or after in near_after:
            return True
    return False


def _neighbours(tokens: list[Token], i: int) -> tuple[str, str]:
    """The words around a name, skipping the rest of a name of several words."""
    lo, hi = i, i
    while lo > 0 and tokens[lo - 1].name:
        lo -= 1
    while hi + 1 < len(tokens) and tokens[hi + 1].name:
        hi += 1
    before = tokens[lo - 1].text.lower() if lo > 0 else "^"
    after = tokens[hi + 1].text.lower() if hi + 1 < len(tokens) else "$"
    return before, after


def _in_parentheses(tokens: list[Token], i: int) -> bool:
    """An abbreviation the claim spells out itself: "break-induced DNA replication (BIR)"."""
    return 0 < i < len(tokens) - 1 and tokens[i - 1].text == "(" and tokens[i + 1].text == ")"


def _role_mismatches(claim: list[Token], evidence: list[Token]) -> list[Mismatch]:
    """Around a verb both texts share once, the words before it in one are after it in the other;
    or "from A to B" in one is "from B to A" in the other."""
    claim_ways, evidence_ways = _directions(claim), _directions(evidence)
    for source, target in claim_ways:
        if (target, source) in evidence_ways and (source, target) not in evidence_ways:
            return [Mismatch("role", f"from {source} to {target}: the passage has it the other way")]
    for pivot in _shared_verbs(claim, evidence):
        c_doer, c_done = _sides(claim, pivot)
        e_doer, e_done = _sides(evidence, pivot)
        if not (c_doer and c_done) or c_doer[0] in e_doer or c_done[0] in e_done:
            continue
        # The words next to the verb carry the roles; farther ones may be moved by a paraphrase.
        if c_doer[0] in e_done and c_done[0] in e_doer:
            return [Mismatch("role", f"{c_doer[0]} and {c_done[0]} trade places around {pivot}")]
    return []


def _directions(tokens: list[Token]) -> set[tuple[str, str]]:
    """(A, B) of every "from A to B" whose A and B are single content words."""
    out = set()
    for i in range(len(tokens) - 3):
        a, to, b = tokens[i + 1], tokens[i + 2], tokens[i + 3]
        if tokens[i].text.lower() == "from" and to.text.lower() == "to" and a.term and b.term:
            out.add((a.term, b.term))
    return out


def _shared_verbs(a: list[Token], b: list[Token]) -> list[str]:
    """Terms of finite verbs by their form ("seized", "inhibits", "took") found once in each text."""

    def once(tokens: list[Token]) -> set[str]:
        terms = [t.term for t in tokens if t.term and not t.name and not t.number]
        verbs = {t.term for t in tokens if t.term and _verb_like(t.text)}
        return {x for x in verbs if terms.count(x) == 1}

    return sorted(once(a) & once(b))


def _verb_like(word: str) -> bool:
    if not word.isalpha() or not word.islower() or len(word) < 4:
        return False
    return word in _IRREGULAR or word.endswith(("ed", "es")) or (word.endswith("s") and not word.endswith(_NOT_S))


def _sides(tokens: list[Token], pivot: str) -> tuple[list[str], list[str]]:
    """Content words just before and after `pivot` in its clause, as (doer, done-to): a passive
    ("B was defeated by A") gives them in the other order."""
    i = next(k for k, t in enumerate(tokens) if t.term == pivot)
    left: list[str] = []
    right: list[str] = []
    for k in range(i - 1, -1, -1):
        if tokens[k].text in _BREAKS or len(left) == _ROLE_WINDOW:
            break
        left.extend([tokens[k].term] if tokens[k].term else [])
    for k in range(i + 1, len(tokens)):
        if tokens[k].text in _BREAKS or len(right) == _ROLE_WINDOW:
            break
        right.extend([tokens[k].term] if tokens[k].term else [])
    passive = i > 0 and tokens[i - 1].text.lower() in _PASSIVE_AUX and any(
        t.text.lower() == "by" for t in tokens[i + 1 : i + 3]
    )
    return (right, left) if passive else (left, right)
