"""Claims a passage contradicts, made from one of its sentences by one small, generic change:
actors swapped, a number or unit changed, a negation added or removed, a date moved, a name
replaced by another name of the passage, a statement given to another speaker.

Each edit returns None where its cue is missing; a changed value is one the passage does not
hold, so the claim is unambiguously false of it (a value taken from elsewhere in the passage
is kept for the entity and speaker kinds, where that is the point).
"""

from __future__ import annotations

import random
import re

from eval.claim_support import Context
from eval.claim_words import (
    AUX,
    DEMONYM,
    INTRANSITIVE,
    MONTHS,
    NUMBER,
    ORDINAL,
    RELATION,
    SPEECH,
    STOP,
    SYMMETRIC,
    UNIT_SWAPS,
    WEEKDAYS,
    YEAR,
    Word,
    is_capitalised,
    is_verb,
    join,
    name_spans,
    replace_core,
    span_text,
    words,
)

_NEGATED = {
    "didn't": "did", "doesn't": "does", "don't": "do", "isn't": "is", "wasn't": "was", "aren't": "are",
    "weren't": "were", "can't": "can", "won't": "will", "couldn't": "could", "wouldn't": "would",
    "hasn't": "has", "haven't": "have", "hadn't": "had", "shouldn't": "should", "cannot": "can",
}  # fmt: skip
_NEGATION = re.compile(r"\b(not|never|no|none|nothing|nobody|neither|nor|cannot|without)\b|n['’]t\b", re.I)
_FIXED_NOT = frozenset("only just least necessarily".split())
_ADVERBS = frozenset("first then later also soon once still already again".split())
_PLAIN_SAYING = frozenset("said says told stated".split())  # others ("added", "noted") say only with a quote
_CLAUSE_OPENERS = frozenset("that which whereas while".split())
_ARTICLES = frozenset(("the", "a", "an"))
_JOINERS = frozenset(("of", "and", "or"))  # the noun phrase goes on: "the maturation and migration of ..."


def swap_roles(sentence: str, ctx: Context, rng: random.Random) -> str | None:
    """"A <verb> ... B" -> "B <verb> ... A": the two actors of one clause trade places."""
    ws = words(sentence)
    for left, right in _role_pairs(ws, ctx):
        out = list(ws)
        a, b = [w.core for w in ws[left[0] : left[1]]], [w.core for w in ws[right[0] : right[1]]]
        out[left[0] : left[1]] = _respell(ws[left[0] : left[1]], b)
        shift = len(b) - len(a)
        out[right[0] + shift : right[1] + shift] = _respell(ws[right[0] : right[1]], a)
        out = [replace_core(w, w.lower) if i and w.lower in _ARTICLES else w for i, w in enumerate(out)]
        if out[0].core[:1].islower():
            out[0] = replace_core(out[0], out[0].core[0].upper() + out[0].core[1:])
        if join(out) != sentence:
            return join(out)
    return None


def _role_pairs(ws: list[Word], ctx: Context) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(subject, direct object or passive agent) of a non-symmetric verb: both names, or both plain
    noun phrases around a relation verb ("X inhibits Y"). Objects behind a preposition are left
    alone: "Céloron returned to Montreal" has no reading with the two swapped."""
    spans = [s for s in name_spans(ws, ctx.known) if _standalone(ws, s)]
    pairs = []
    for v, verb in enumerate(ws[:-1]):
        if not is_verb(verb) or verb.lower in SYMMETRIC | SPEECH | AUX | INTRANSITIVE or verb.breaks:
            continue
        subject = _subject_before(ws, spans, v)
        passive = v >= 2 and ws[v - 1].lower in AUX and ws[v + 1].lower == "by"
        start = v + 2 if passive else v + 1
        obj = next((s for s in spans if s[0] == start), None)
        if obj is None and verb.lower in RELATION:
            obj = _plain_np(ws, start)
        pairs.append((subject, obj)) if subject and obj else None
    for i, w in enumerate(ws[:-3]):
        if w.lower == "from":  # "from A to B": a direction
            source = next((s for s in spans if s[0] == i + 1), None)
            to = source and source[1] < len(ws) and ws[source[1]].lower == "to"
            target = next((s for s in spans if to and source and s[0] == source[1] + 1), None)
            pairs.append((source, target)) if source and target else None
    return [(a, b) for a, b in pairs if not {w.lower for w in ws[slice(*a)]} & {w.lower for w in ws[slice(*b)]}]


def _standalone(ws: list[Word], span: tuple[int, int]) -> bool:
    """A name that is a whole actor: not "the Cape (of Good Hope)", "LSM (redistribution)", "British"."""
    before = ws[span[0] - 1].lower if span[0] > 0 else ""
    after = ws[span[1]] if span[1] < len(ws) else None
    joined = after is not None and not ws[span[1] - 1].breaks
    noun_after = (
        joined and after is not None and after.core.islower() and after.lower not in STOP and not is_verb(after)
    )
    modifier = noun_after or (joined and after is not None and after.lower == "of")
    demonym = span[1] - span[0] == 1 and bool(DEMONYM.search(ws[span[0]].core))
    possessive = any(w.tail.startswith(("'s", "’s")) for w in ws[span[0] : span[1]])
    quoted = any(w.lead for w in ws[span[0] : span[1]]) or any(c in ws[span[1] - 1].tail for c in "\"”)")
    return before not in ("the", "a", "an") and not (demonym or modifier or possessive or quoted)


def _subject_before(ws: list[Word], spans: list[tuple[int, int]], v: int) -> tuple[int, int] | None:
    end = v - 1 if v >= 2 and ws[v - 1].lower in AUX else v
    span = next((s for s in spans if s[1] == end), None)
    # "mice have increased susceptibility": after "have" the participle may describe its noun
    adjectival = v > 0 and ws[v - 1].lower in ("have", "has", "had")
    if span is None and ws[v].lower in RELATION and not adjectival:
        start = end
        while start > 0 and end - start < 4 and _plain(ws[start - 1]) and not ws[start - 1].breaks:
            start -= 1
        span = (start, end) if 0 < end - start <= 3 else None
        if span and start > 0 and ws[start - 1].lower in ("the", "a", "an"):
            span = (start - 1, end)  # the article moves with its noun
    if span is None or ws[span[1] - 1].breaks:
        return None
    before = ws[span[0] - 1] if span[0] > 0 else None
    return span if before is None or before.breaks or before.lower in _CLAUSE_OPENERS else None


def _plain(word: Word) -> bool:
    """A word of a plain noun phrase: no function word, verb, adverb or symbol."""
    core = word.core
    return (
        core.replace("-", "").isalpha() and word.lower not in STOP and not is_verb(word)
        and not core.endswith(("ly", "ing")) and not word.lead and not word.tail.startswith(("'s", "’s"))
    )  # fmt: skip


def _plain_np(ws: list[Word], start: int) -> tuple[int, int] | None:
    """The whole noun phrase at `start` (an article and 1-3 plain words)."""
    article = start < len(ws) and ws[start].lower in ("the", "a", "an")
    end = start + article
    while end < len(ws) and end - start < 4 and _plain(ws[end]):
        end += 1
        if ws[end - 1].breaks:
            break
    listed = end - start - article == 1 and "," in ws[end - 1].tail  # "promoted commercial, scientific, ..."
    closed = end == len(ws) or ws[end - 1].breaks or (ws[end].lower in STOP and ws[end].lower not in _JOINERS)
    return (start, end) if 0 < end - start - article <= 3 and closed and not listed else None


def _respell(old: list[Word], cores: list[str]) -> list[Word]:
    """`cores` in the place of `old`, keeping the punctuation around the old span."""
    first, last = old[0], old[-1]
    if len(cores) == 1:
        return [Word(first.lead, cores[0], last.tail)]
    return [Word(first.lead, cores[0], ""), *[Word("", c, "") for c in cores[1:-1]], Word("", cores[-1], last.tail)]


def change_number(sentence: str, ctx: Context, rng: random.Random) -> str | None:
    """A quantity given another value, or the same value in another unit."""
    ws = words(sentence)
    spots = [i for i, w in enumerate(ws) if _quantity(w, ws[i - 1] if i else None)]
    if not spots:
        return None
    i = rng.choice(spots)
    match = NUMBER.match(ws[i].core)
    assert match is not None
    digits, suffix = match.groups()
    percent_sign = not suffix and ws[i].tail.startswith("%")
    unit_at = i if suffix else i + 1
    unit = "%" if percent_sign else suffix or (ws[i + 1].lower if i + 1 < len(ws) else "")
    if unit in UNIT_SWAPS and not percent_sign and rng.random() < 0.5:
        new_unit = UNIT_SWAPS[unit]
        out = list(ws)
        out[unit_at] = replace_core(ws[unit_at], f"{digits}{new_unit}" if suffix else new_unit)
        return join(out)
    new = _other_number(digits, rng, percent=unit in ("%", "percent"))
    if new is None or re.search(rf"(?<![\d.,]){re.escape(new)}(?![\d,])", ctx.passage):
        return None
    out = list(ws)
    out[i] = replace_core(ws[i], new + suffix)
    return join(out)


def _quantity(word: Word, before: Word | None) -> bool:
    match = NUMBER.match(word.core)
    if not match or YEAR.match(word.core) or (before is not None and before.lower in ("version", "v", "no", "number")):
        return False
    return not match[2] or match[2].lower() in UNIT_SWAPS


def _other_number(digits: str, rng: random.Random, *, percent: bool) -> str | None:
    commas = "," in digits
    value = float(digits.replace(",", ""))
    places = len(digits.split(".")[1]) if "." in digits else 0
    small = value < 10 and not places  # "3 sons" -> "5 sons"; "440km" -> "660km"
    new = value + rng.choice([1, 2, 3]) if small else value * rng.choice([0.5, 0.75, 1.5, 2.0])
    if percent and new > 100:
        new = value / 2
    text = f"{new:,.{places}f}" if commas else f"{new:.{places}f}"
    return None if text == digits else text


def flip_negation(sentence: str, ctx: Context, rng: random.Random) -> str | None:
    """A negation removed where the sentence has one, else added after its first auxiliary."""
    ws = words(sentence)
    cues = _NEGATION.findall(sentence)
    if len(cues) > 1:
        return None  # double negations read ambiguously once one is flipped
    out = _remove_negation(ws) if cues else _add_negation(ws)
    return join(out) if out else None


def _remove_negation(ws: list[Word]) -> list[Word] | None:
    for i, w in enumerate(ws):
        low = w.lower.replace("’", "'")
        following = ws[i + 1].lower if i + 1 < len(ws) else ""
        if low in _NEGATED:
            return [*ws[:i], replace_core(w, _NEGATED[low]), *ws[i + 1 :]]
        if low == "not" and i > 0 and ws[i - 1].lower in AUX and following not in _FIXED_NOT:
            return [*ws[:i], *ws[i + 1 :]]
        if low == "never" and i > 0:
            return [*ws[:i], *ws[i + 1 :]]
        if low == "no" and following == "longer":
            return [*ws[:i], replace_core(ws[i + 1], "still"), *ws[i + 2 :]]
    return None


def _add_negation(ws: list[Word]) -> list[Word] | None:
    for i, w in enumerate(ws[1:-1], start=1):
        after = ws[i + 1]
        if w.lower not in AUX or w.breaks or not after.core.isalpha():
            continue
        if w.lower in ("has", "have", "had") and not (after.lower.endswith(("ed", "en")) or after.lower == "been"):
            continue
        if w.lower in ("do", "does", "did") and after.core != after.lower:
            continue
        negated = replace_core(w, "cannot") if w.lower == "can" else w
        return [*ws[:i], negated, *([] if w.lower == "can" else [Word("", "not", "")]), *ws[i + 1 :]]
    for i, w in enumerate(ws[1:-1], start=1):
        before, after = ws[i - 1], ws[i + 1]
        adverb = before.lower.endswith("ly") or before.lower in _ADVERBS
        direct = after.lower in ("the", "a", "an", "his", "her", "their", "its") or is_capitalised(after)
        if w.lower.endswith("ed") and is_verb(w) and before.lower not in STOP | INTRANSITIVE and not adverb:
            # "X seized the city" reads "X never seized the city"; "the system created by X" has no such reading
            return [*ws[:i], Word("", "never", ""), *ws[i:]] if direct and not before.breaks else None
    return None


def move_date(sentence: str, ctx: Context, rng: random.Random) -> str | None:
    """A year, decade, century, month or weekday moved to one the passage does not mention."""
    ws = words(sentence)
    options = []
    for i, w in enumerate(ws):
        core = w.core
        if YEAR.match(core) or re.fullmatch(r"(1[0-9]|20)\d0s", core):
            step = rng.choice([-10, -20, 10, 20]) if core.endswith("s") else rng.choice([-7, -4, -2, -1, 1, 2, 3, 6])
            options.append((i, f"{int(core[:4]) + step}{'s' if core.endswith('s') else ''}"))
        elif core in MONTHS or core in WEEKDAYS:
            pool = MONTHS if core in MONTHS else WEEKDAYS
            options.append((i, rng.choice([m for m in pool if m != core])))
        elif (match := ORDINAL.match(core)) and i + 1 < len(ws) and ws[i + 1].lower in ("century", "centuries"):
            options.append((i, _ordinal(int(match[1]) + rng.choice([-2, -1, 1, 2]))))
    options = [(i, new) for i, new in options if not re.search(rf"\b{re.escape(new)}\b", ctx.passage)]
    if not options:
        return None
    i, new = rng.choice(options)
    out = list(ws)
    out[i] = replace_core(ws[i], new)
    return join(out)


def _ordinal(n: int) -> str:
    n = max(n, 2)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def replace_entity(sentence: str, ctx: Context, rng: random.Random) -> str | None:
    """A name replaced by another name the passage mentions elsewhere."""
    ws = words(sentence)
    # A sentence's first word is a name only by a guess ("Many" is capitalised mid-sentence in a heading).
    spans = [s for s in name_spans(ws, ctx.known) if s[0] > 0 and not _adjectival(ws, s)]
    taken = {part for w in ws for part in re.split(r"[-/]", w.lower)}
    others = [n for n in ctx.names if _plain_name(n) and not _related(n, taken, ws)]
    if not spans or not others:
        return None
    span = rng.choice(spans)
    size = span[1] - span[0]
    same_size = [n for n in others if len(n.split()) == size]
    new = rng.choice(same_size or others).split()
    out = [*ws[: span[0]], *_respell(ws[span[0] : span[1]], new), *ws[span[1] :]]
    return join(out)


def _related(name: str, taken: set[str], ws: list[Word]) -> bool:
    """The name shares a word with the sentence, contains or extends one ("RNA", "RNAs"), or is
    the spelled-out form of one of its acronyms ("Pain Catastrophizing Scale", "PCS")."""
    parts = [p for p in re.split(r"[-/ ]", name.lower()) if p]
    if set(parts) & taken or any(p.startswith(t) or t.startswith(p) for p in parts for t in taken if len(t) > 2):
        return True
    initials = "".join(p[0] for p in parts)
    return len(parts) > 1 and any(w.core.lower().rstrip("s") == initials for w in ws)


def _plain_name(name: str) -> bool:
    """A name that stands alone: not "N-terminal" or "BCR/ABL-stimulated", not a demonym."""
    parts = re.split(r"[-/ ]", name)
    return len(name) > 1 and not DEMONYM.search(name) and not any(p[:1].islower() for p in parts)


def _adjectival(ws: list[Word], span: tuple[int, int]) -> bool:
    """"Russian forces": a one-word demonym before a lower-case noun names no actor."""
    after = ws[span[1]] if span[1] < len(ws) else None
    single = span[1] - span[0] == 1
    return single and bool(DEMONYM.search(ws[span[0]].core)) and after is not None and after.core.islower()


def give_to_other_speaker(sentence: str, ctx: Context, rng: random.Random) -> str | None:
    """A statement ("X said ...", "..., said X", "according to X") given to another person who
    speaks in the same document."""
    ws = words(sentence)
    speaker = _speaker(ws, ctx.known | {ws[0].core} if ws else ctx.known)
    if speaker is None:
        return None
    said = span_text(ws, speaker)
    taken = {w.lower for w in ws}
    others = sorted({n for n in ctx.speakers if n != said and not {p.lower() for p in n.split()} & taken})
    if not others:
        return None
    new = rng.choice(others).split()
    return join([*ws[: speaker[0]], *_respell(ws[speaker[0] : speaker[1]], new), *ws[speaker[1] :]])


def _speaker(ws: list[Word], known: frozenset[str]) -> tuple[int, int] | None:
    """The name right before or after a verb of saying, or after "according to"."""
    every = [s for s in name_spans(ws, known) if ws[s[0]].lower != "according" and not _next_is(ws, s[1] - 1, "digit")]
    spans = [s for s in every if _standalone(ws, s)]
    quoted = any(c in w.lead + w.tail for w in ws for c in "\"“”")
    for i, w in enumerate(ws):
        after = next((s for s in spans if s[0] == i + 1), None)
        if w.lower == "to" and i > 0 and ws[i - 1].lower == "according":
            skip = 2 if _next_is(ws, i, "the") else 1  # "according to the American Library Association"
            source = next((s for s in every if s[0] == i + skip and ws[s[1] - 1].breaks), None)
            if source:
                return source
        reported = _next_is(ws, i, "that") or (_next_is(ws, i, "to") and w.lower in ("vowed", "promised"))
        said = w.lower in SPEECH and (quoted or w.lower in _PLAIN_SAYING or reported)
        before = next((s for s in spans if s[1] == i and not ws[i - 1].breaks), None)
        after = after if i > 0 and ws[i - 1].breaks else None  # '"...," said X', not "says Directives are"
        if said and (before or after):
            return before or after
    return None


def _next_is(ws: list[Word], i: int, word: str) -> bool:
    """Whether the word after `i` is `word` ("digit": starts with one)."""
    if i + 1 >= len(ws):
        return False
    return ws[i + 1].core[:1].isdigit() if word == "digit" else ws[i + 1].lower == word


def speakers_of(text: str, known: frozenset[str]) -> tuple[str, ...]:
    """Names that say something in `text` ("X said", "said X", "according to X"): a document's people."""
    found: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        ws = words(sentence)
        speaker = _speaker(ws, known) if ws else None
        if speaker is not None:
            found.append(span_text(ws, speaker))
    return tuple(dict.fromkeys(found))
