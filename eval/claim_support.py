"""Claims a passage supports, made from one of its sentences: shortened, paraphrased, combined.

Each edit returns the new claim, or None where its cue is missing or the result would be
ungrammatical; the generator (eval/claims.py) then tries another kind. The paraphrases are
generic rewrites (voice, word order, a table of synonyms), never rules for one sentence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import pairwise

from eval.claim_words import (
    INTRANSITIVE,
    IRREGULAR,
    RELATION,
    STOP,
    SUBORDINATE,
    SYNONYMS,
    Word,
    end_sentence,
    is_verb,
    join,
    lower_first,
    replace_core,
    upper_first,
    words,
)

_LEADING = frozenset(
    "in during on after before at since following under with by for from over amid within throughout".split()
)
_CONNECTIVES = frozenset("however instead indeed meanwhile moreover furthermore nevertheless additionally".split())
_CLAUSE_STARTS = frozenset("which and but while whereas who although though".split())
_DETERMINERS = frozenset("the a an his her its their this these".split())
_NP_STOP = STOP | _LEADING | frozenset("around across near toward towards than like via per".split())
_PARTICIPLES = {**IRREGULAR, **{past: past for past in RELATION.values()}}
_PAST_OF = {part: past for past, part in IRREGULAR.items()}
_PRESENT_OF = {part: present for present, part in RELATION.items() if present.endswith("s")}


@dataclass(frozen=True)
class Context:
    """What an edit may draw on beyond its sentence."""

    passage: str
    known: frozenset[str]  # words the document capitalises mid-sentence: its names
    names: tuple[str, ...] = ()  # name spans of the passage, in order
    speakers: tuple[str, ...] = ()  # names that speak (said, told, ...) somewhere in the document
    following: str = ""  # the next sentence of the passage


def shorten(sentence: str, ctx: Context, rng: random.Random) -> str | None:
    """A clause of the sentence: no leading adverbial, the first main clause, or no parenthesis."""
    ws = words(sentence)
    options = [o for o in (_drop_leading(ws, ctx), _first_clause(ws), _drop_parenthesis(ws)) if o]
    return rng.choice(options) if options else None


def _drop_leading(ws: list[Word], ctx: Context) -> str | None:
    first = ws[0].lower if ws else ""
    if first not in _LEADING and first not in _CONNECTIVES:
        return None
    cut = next((i for i, w in enumerate(ws[:9]) if w.breaks and "," in w.tail), None)
    rest = ws[cut + 1 :] if cut is not None else []
    if len(rest) < 5 or rest[0].lower in SUBORDINATE or not any(is_verb(w) for w in rest):
        return None
    return join(upper_first(rest))


def _first_clause(ws: list[Word]) -> str | None:
    for i, w in enumerate(ws[:-2]):
        ends = (";" in w.tail or "—" in w.tail) or ("," in w.tail and ws[i + 1].lower in _CLAUSE_STARTS)
        if not ends:
            continue
        clause = ws[: i + 1]
        balanced = sum(x.text.count("(") - x.text.count(")") for x in clause) == 0
        quotes = sum(x.text.count('"') for x in clause) % 2 == 0
        if len(clause) >= 5 and balanced and quotes and ws[0].lower not in SUBORDINATE and any(map(is_verb, clause)):
            return join(end_sentence(clause))
        return None
    return None


def _drop_parenthesis(ws: list[Word]) -> str | None:
    start = next((i for i, w in enumerate(ws) if w.lead.startswith("(")), None)
    if start is None or start == 0:
        return None
    end = next((j for j in range(start, len(ws)) if ")" in ws[j].tail), None)
    if end is None or end - start > 12:
        return None
    after = ws[end].tail.split(")", 1)[1]
    kept = [*ws[: start - 1], Word(ws[start - 1].lead, ws[start - 1].core, ws[start - 1].tail + after), *ws[end + 1 :]]
    return join(kept) if len(kept) >= 5 else None


def paraphrase(sentence: str, ctx: Context, rng: random.Random) -> str | None:
    """The sentence in other words: another voice or word order, then a synonym or two."""
    ws = words(sentence)
    reordered = [r for r in (_to_passive(ws, ctx), _to_active(ws, ctx), _front_to_back(ws, ctx)) if r]
    if reordered:
        ws = rng.choice(reordered)
    changed = _synonyms(ws, rng)
    if changed is None and not reordered:
        return None
    return join(changed or ws)


def _np_end(ws: list[Word], start: int, limit: int) -> int:
    """End of the noun phrase starting at `start`: content words, with "of" joining two of them."""
    j = start
    if j < len(ws) and ws[j].lower in _DETERMINERS:
        j += 1
    while j < len(ws) and j - start < limit:
        w = ws[j]
        if not w.core or (w.lower in _NP_STOP and w.lower != "of") or is_verb(w) or w.lead:
            break
        if w.lower == "of" and (j == start or j + 1 >= len(ws) or ws[j + 1].lower in _NP_STOP):
            break
        j += 1
        if w.breaks:
            break
    return j


def _to_passive(ws: list[Word], ctx: Context) -> list[Word] | None:
    """"A seized B rest" -> "B was seized by A rest"."""
    v = next((i for i, w in enumerate(ws) if is_verb(w)), None)
    if v is None or not 1 <= v <= 6 or ws[v].lower in INTRANSITIVE:
        return None
    if ws[v].lower not in _PARTICIPLES and not ws[v].lower.endswith("ed"):
        return None
    subject, verb = ws[:v], ws[v]
    if any(w.breaks or w.lower in STOP - _DETERMINERS for w in subject) or verb.breaks:
        return None
    if subject[0].lower in SUBORDINATE:
        return None
    end = _np_end(ws, v + 1, 6)
    obj = ws[v + 1 : end]
    if not obj or obj[-1].lower in _DETERMINERS or obj[0].lower in _NP_STOP - _DETERMINERS:
        return None
    if end < len(ws) and ws[end].lower in ("and", "or", "but") and not obj[-1].breaks:
        return None  # "A took B and left": the second verb needs A as its subject
    if end < len(ws) and is_verb(ws[end]):
        return None  # "Ratzel believed expansion was necessary": the object opens a clause of its own
    present = verb.lower in RELATION and verb.lower.endswith("s")
    plural = obj[-1].lower.endswith("s") and not obj[-1].lower.endswith(("ss", "us", "is"))
    aux = ("are" if plural else "is") if present else ("were" if plural else "was")
    participle = _PARTICIPLES.get(verb.lower, verb.lower)
    tail = obj[-1].tail
    moved = [*obj[:-1], Word(obj[-1].lead, obj[-1].core, "")]
    agent = lower_first(subject, ctx.known)
    agent = [*agent[:-1], Word(agent[-1].lead, agent[-1].core, agent[-1].tail + tail)]
    plain = [Word("", aux, ""), Word("", participle, ""), Word("", "by", "")]
    return [*upper_first(moved), *plain, *agent, *ws[end:]]


def _to_active(ws: list[Word], ctx: Context) -> list[Word] | None:
    """"B was seized by A rest" -> "A seized B rest"."""
    for a in range(1, min(len(ws) - 3, 7)):
        aux, part, by = ws[a], ws[a + 1], ws[a + 2]
        if aux.lower not in ("was", "were", "is", "are") or by.lower != "by" or aux.breaks or part.breaks:
            continue
        if aux.lower in ("was", "were"):
            verb = _PAST_OF.get(part.lower, part.lower if part.lower.endswith("ed") else "")
        else:
            verb = _PRESENT_OF.get(part.lower, "")
        obj = ws[:a]
        end = _np_end(ws, a + 3, 5)
        agent = ws[a + 3 : end]
        if not verb or not agent or any(w.breaks or w.lower in SUBORDINATE for w in obj):
            return None
        if end < len(ws) and ws[end].lower in ("and", "or") and not agent[-1].breaks:
            return None  # "by permutation testing and by classifying ...": the agents are coordinated
        tail = agent[-1].tail
        agent = [*agent[:-1], Word(agent[-1].lead, agent[-1].core, "")]
        obj = lower_first(obj, ctx.known)
        obj = [*obj[:-1], Word(obj[-1].lead, obj[-1].core, obj[-1].tail + tail)]
        return [*upper_first(agent), Word("", verb, ""), *obj, *ws[end:]]
    return None


def _front_to_back(ws: list[Word], ctx: Context) -> list[Word] | None:
    """"In 1066, A did B." -> "A did B in 1066."."""
    if not ws or ws[0].lower not in _LEADING:
        return None
    cut = next((i for i, w in enumerate(ws[:9]) if "," in w.tail), None)
    if cut is None or len(ws) - cut < 5 or not ws[-1].tail.endswith("."):
        return None
    phrase, rest = ws[: cut + 1], ws[cut + 1 :]
    if rest[0].lower in SUBORDINATE or any(w.lead or '"' in w.tail for w in phrase):
        return None
    # At the end, "In 1755" would date the last of several clauses, not the first.
    if any(";" in w.tail or "—" in w.tail or (w.lower in ("and", "but") and "," in p.tail) for p, w in pairwise(rest)):
        return None
    phrase = lower_first(phrase, ctx.known)
    end = phrase[-1].tail.replace(",", "", 1) + rest[-1].tail[-1:]
    phrase = [*phrase[:-1], Word(phrase[-1].lead, phrase[-1].core, end)]
    rest = [*rest[:-1], Word(rest[-1].lead, rest[-1].core, rest[-1].tail.rstrip(".!?"))]
    return [*upper_first(rest), *phrase]


def _synonyms(ws: list[Word], rng: random.Random) -> list[Word] | None:
    # Capitals mark headings ("MAIN OUTCOME MEASURES"); "however" is "but" only where it opens the sentence.
    spots = [
        i for i, w in enumerate(ws) if w.lower in SYNONYMS and not w.core.isupper() and (i == 0 or w.lower != "however")
    ]
    if not spots:
        return None
    out = list(ws)
    for i in rng.sample(spots, min(2, len(spots))):
        new = SYNONYMS[ws[i].lower]
        out[i] = replace_core(ws[i], new[0].upper() + new[1:] if ws[i].core[0].isupper() else new)
    return out


def combine(sentence: str, ctx: Context, rng: random.Random) -> str | None:
    """This sentence and the next joined by "and": one claim that needs two evidence sentences."""
    first, second = words(sentence), words(ctx.following)
    if not second or not 5 <= len(first) <= 22 or not 5 <= len(second) <= 22:
        return None
    if not first[-1].tail.endswith(".") or second[0].lower in SUBORDINATE | _CONNECTIVES | {"this", "it", "these"}:
        return None
    head = [*first[:-1], Word(first[-1].lead, first[-1].core, first[-1].tail[:-1] + ",")]
    return join([*head, Word("", "and", ""), *lower_first(second, ctx.known)])


def verbatim(sentence: str, ctx: Context, rng: random.Random) -> str | None:
    return sentence
