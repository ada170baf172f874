"""Words of a sentence as the claim generator (eval/claim_edits.py) sees them: decorated words,
names, verbs, and the small generic tables the edits draw on.

No part-of-speech tagger is installed, so verbs and names are recognised by form (capitals,
"-ed" endings, short closed lists). The edits only fire where these cues are unambiguous,
which keeps the generated claims grammatical at the price of skipping many sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DECORATION = re.compile(r"^([^\w]*)(.*?)((?:['’]s)?[^\w]*)$", re.S)


@dataclass(frozen=True)
class Word:
    """One white-space separated word: `lead` + `core` + `tail` (punctuation, possessive)."""

    lead: str
    core: str
    tail: str

    @property
    def text(self) -> str:
        return f"{self.lead}{self.core}{self.tail}"

    @property
    def lower(self) -> str:
        return self.core.lower()

    @property
    def breaks(self) -> bool:
        """A clause boundary follows this word (a comma, semicolon, colon, dash or quote)."""
        return any(c in self.tail for c in ",;:—–\"”)") or any(c in self.lead for c in "\"“(")


def words(sentence: str) -> list[Word]:
    found = []
    for raw in sentence.split():
        match = _DECORATION.match(raw)
        lead, core, tail = match.groups() if match else ("", raw, "")
        found.append(Word(lead, core, tail))
    return found


def join(parts: list[Word]) -> str:
    return " ".join(w.text for w in parts if w.text)


def replace_core(word: Word, core: str) -> Word:
    return Word(word.lead, core, word.tail)


STOP = frozenset(
    """a an the this that these those his her its their our my your of in on at by for to from with as and or
    but nor so if then than when while where which who whom whose what how why not no is are was were be been
    being has have had do does did can could will would shall should may might must it he she they we you i
    there here also only just about after before during into over under between through against among him them
    us me himself herself itself themselves within without upon via across around toward towards near beyond
    throughout despite per versus like unlike inside outside along amid""".split()
)
MONTHS = (
    "January February March April May June July August September October November December".split()
)
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
AUX = frozenset("is are was were has have had can could will would should may might must does do did".split())
SPEECH = frozenset(
    """said says told stated argued claimed wrote vowed announced declared warned added noted insisted
    explained acknowledged admitted promised recalled remarked replied""".split()
)
# "A met B" says the same as "B met A": swapping these verbs' actors is no contradiction.
SYMMETRIC = frozenset(
    """met meets meet married marries fought fights played plays faced faces battled talked spoke negotiated
    signed collaborated partnered merged competed drew tied allied resembled resembles matched matches
    shared shares joined""".split()
)
# Transitive verbs whose two sides are a relation's roles (present -> past participle); they
# carry most claims in abstracts ("X inhibits Y"), where the actors are not capitalised names.
RELATION = {
    "increases": "increased", "decreases": "decreased", "reduces": "reduced", "inhibits": "inhibited",
    "activates": "activated", "induces": "induced", "promotes": "promoted", "regulates": "regulated",
    "suppresses": "suppressed", "causes": "caused", "prevents": "prevented", "enhances": "enhanced",
    "blocks": "blocked", "mediates": "mediated", "predicts": "predicted", "stimulates": "stimulated",
    "impairs": "impaired", "improves": "improved", "precedes": "preceded", "exceeds": "exceeded",
    "outperforms": "outperformed", "protects": "protected", "degrades": "degraded", "represses": "repressed",
    "controls": "controlled", "requires": "required", "replaced": "replaced", "defeated": "defeated",
    "attacked": "attacked", "succeeded": "succeeded", "invaded": "invaded", "acquired": "acquired",
    "employed": "employed", "supported": "supported", "appointed": "appointed", "influenced": "influenced",
    "conquered": "conquered", "captured": "captured", "killed": "killed", "visited": "visited",
    "ruled": "ruled", "elected": "elected", "hired": "hired", "sued": "sued", "overthrew": "overthrown",
    "ordered": "ordered", "funded": "funded", "owned": "owned", "governed": "governed", "inspired": "inspired",
    "opposed": "opposed", "criticized": "criticized", "praised": "praised", "preceded": "preceded",
    "reduced": "reduced", "increased": "increased", "inhibited": "inhibited", "activated": "activated",
    "induced": "induced", "promoted": "promoted", "regulated": "regulated", "caused": "caused",
    "prevented": "prevented", "enhanced": "enhanced", "blocked": "blocked", "improved": "improved",
}  # fmt: skip
# Past tense -> past participle for common irregular verbs; regular ones add "-ed" to both.
IRREGULAR = {
    "took": "taken", "gave": "given", "made": "made", "won": "won", "led": "led", "wrote": "written",
    "built": "built", "found": "found", "held": "held", "lost": "lost", "beat": "beaten", "brought": "brought",
    "bought": "bought", "caught": "caught", "chose": "chosen", "drove": "driven", "grew": "grown",
    "kept": "kept", "paid": "paid", "sold": "sold", "sent": "sent", "saw": "seen", "struck": "struck",
    "taught": "taught", "threw": "thrown", "founded": "founded", "killed": "killed", "captured": "captured",
}  # fmt: skip
# "-ed" verbs that take no object: "Putin arrived Friday" has no passive and no object to swap.
INTRANSITIVE = frozenset(
    """arrived died lived remained happened occurred existed appeared emerged returned travelled traveled
    worked lasted ended started stayed responded resulted survived rose fell belonged consisted""".split()
)
_NOT_VERBS = frozenset("red bed hundred indeed need speed seed feed breed united naked wicked sacred".split())
# Generic synonyms for rule-based paraphrases: meaning-preserving in any context they are found.
SYNONYMS = {
    "approximately": "roughly", "began": "started", "begin": "start", "begins": "starts", "large": "big",
    "many": "numerous", "often": "frequently", "frequently": "often", "usually": "typically",
    "typically": "usually", "main": "primary", "helped": "assisted", "helps": "assists", "help": "assist",
    "bought": "purchased", "showed": "demonstrated", "shows": "demonstrates", "chose": "selected",
    "quickly": "rapidly", "rapidly": "quickly", "nearly": "almost", "almost": "nearly", "allow": "permit",
    "allows": "permits", "allowed": "permitted", "requires": "needs", "required": "needed",
    "attempted": "tried", "additional": "extra", "larger": "bigger", "largest": "biggest",
    "called": "named", "suggests": "indicates", "suggest": "indicate", "suggested": "indicated",
    "investigated": "examined", "examined": "studied", "method": "approach", "methods": "approaches",
    "therefore": "thus", "thus": "therefore", "whereas": "while", "located": "situated",
    "famous": "well-known", "area": "region", "areas": "regions", "built": "constructed",
    "created": "made", "obtained": "acquired", "however": "but", "despite": "in spite of",
    "received": "got", "several": "a number of", "demonstrated": "showed", "enough": "sufficient",
}  # fmt: skip
# Units a quantity may be given in, and one it may not be mistaken for.
UNIT_SWAPS = {
    "km": "miles", "kilometres": "miles", "kilometers": "miles", "miles": "kilometres", "metres": "feet",
    "meters": "feet", "feet": "metres", "kg": "pounds", "kilograms": "pounds", "pounds": "kilograms",
    "hours": "minutes", "minutes": "hours", "days": "weeks", "weeks": "months", "months": "years",
    "years": "months", "million": "billion", "billion": "million", "thousand": "million", "mg": "g",
    "g": "mg", "ml": "litres", "seconds": "minutes", "percent": "times",
}  # fmt: skip
YEAR = re.compile(r"^(1[0-9]|20)\d\d$")
ORDINAL = re.compile(r"^(\d+)(st|nd|rd|th)$")
NUMBER = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)([a-zA-Z%]*)$")
SUBORDINATE = frozenset("although though while if when because since as unless whether despite".split())
DEMONYM = re.compile(r"(ian|ean|ese|ish|ic|an|i)$")
TITLES = frozenset("President General King Queen Prince Pope Senator Governor Minister Dr Mr Mrs Ms Sir".split())


def is_capitalised(word: Word) -> bool:
    core = word.core
    plain = bool(re.fullmatch(r"[\w'’.&-]+", core))
    return plain and core[0].isupper() and core.lower() not in STOP and core not in MONTHS + WEEKDAYS


def is_verb(word: Word) -> bool:
    """A finite verb by form: auxiliaries, known irregular pasts and lower-case "-ed" words."""
    low = word.core
    if low != low.lower() or not low.isalpha():
        return False
    return (
        low in AUX or low in IRREGULAR or low in RELATION or low in SPEECH
        or (low.endswith("ed") and len(low) > 4 and low not in _NOT_VERBS)
    )  # fmt: skip


def name_spans(ws: list[Word], known: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """[start, end) of runs of capitalised words. A sentence's first word counts only when the
    passage capitalises it mid-sentence too (`known`), so "Instead" and "During" are no names."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(ws):
        if is_capitalised(ws[i]) and (i > 0 or ws[i].core in known) and not ws[i].lead.strip("\"“("):
            j = i + 1
            while j < len(ws) and is_capitalised(ws[j]) and not ws[j - 1].breaks and not ws[j].lead:
                j += 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    return spans


def mid_sentence_names(text: str) -> frozenset[str]:
    """Words a passage capitalises after a sentence's first word: its names."""
    found: set[str] = set()
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        ws = words(sentence)
        found.update(w.core for w in ws[1:] if is_capitalised(w) and len(w.core) > 1)
    return frozenset(found)


def span_text(ws: list[Word], span: tuple[int, int]) -> str:
    return " ".join(w.core for w in ws[span[0] : span[1]])


def lower_first(ws: list[Word], known: frozenset[str]) -> list[Word]:
    """The sentence with its first word in lower case, unless that word is a name or an acronym."""
    if not ws or ws[0].core in known or not ws[0].core[:1].isupper() or ws[0].core[1:] != ws[0].core[1:].lower():
        return ws
    return [replace_core(ws[0], ws[0].core[0].lower() + ws[0].core[1:]), *ws[1:]]


def upper_first(ws: list[Word]) -> list[Word]:
    if not ws or not ws[0].core:
        return ws
    return [replace_core(ws[0], ws[0].core[0].upper() + ws[0].core[1:]), *ws[1:]]


def end_sentence(ws: list[Word]) -> list[Word]:
    """The words with a full stop after the last one (in place of a comma or other clause punctuation)."""
    if not ws:
        return ws
    last = ws[-1]
    tail = last.tail.rstrip(",;:—– ")
    tail = tail if tail.endswith((".", "!", "?", ".”", '."')) else tail + "."
    return [*ws[:-1], Word(last.lead, last.core, tail)]
