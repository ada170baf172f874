"""The corpora the contradiction benchmark is made from, read into `Passage`s (chunks as the
index cuts them), and the pairs written to or read from a JSONL file.

Sources: the news corpus (a folder of .txt files), SQuAD2 paragraphs and SciFact abstracts
(BEIR-style JSONL), and sibling documents: near-duplicate texts such as two versions of one
package's description. Without a folder of siblings the package descriptions installed beside
this project (`*.dist-info/METADATA`) serve, grouped into families by the sentences they share.
"""

from __future__ import annotations

import json
import random
import re
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from email.parser import Parser
from pathlib import Path

from eval.claims import ClaimPair, Passage, eligible_sentences
from index.chunking import Chunker
from index.types import Document

# Beside the similar-documents corpus (eval/sets/similar_docs/manifest.json), packages whose
# descriptions share sentences with another's: a licence, a contributor guide, a funding note.
EXTRA_SIBLINGS = (
    "numpy", "scipy", "pluggy", "pytest", "fastapi", "typer", "hf-xet", "sortedcontainers", "transformers",
    "packaging", "pip", "cryptography",
)  # fmt: skip


def sibling_packages() -> tuple[str, ...]:
    from eval.sets.similar_docs.build_corpus import load_manifest

    return tuple(sorted({e.name for e in load_manifest()} | set(EXTRA_SIBLINGS)))


# Two documents are siblings when they share this many sentences; one shared line (a badge, a
# "pip install" hint) makes no family.
MIN_SHARED = 2


def chunk_passages(
    source: str, doc_id: str, group: str, title: str, path: str, text: str, name: str = ""
) -> list[Passage]:
    chunks = Chunker().chunk(Document(doc_id, path, title, text))
    return [Passage(source, doc_id, group, title, path, c.text, name) for c in chunks]


def news_passages(folder: Path) -> list[Passage]:
    out = []
    for path in sorted(folder.glob("*.txt")):
        text = path.read_text("utf-8")
        title = text.split("\n", 1)[0].strip()
        out.extend(chunk_passages("news", path.name, path.name, title, path.name, text))
    return out


def jsonl_passages(path: Path, source: str, *, limit: int | None = None, group_by_title: bool = False,
                   seed: int = 0) -> list[Passage]:  # fmt: skip
    """BEIR-style records; `limit` draws that many at random (seeded); SQuAD paragraphs of one
    article share a group, so an article is never split between the halves."""
    records = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    if limit is not None and limit < len(records):
        records = sorted(random.Random(seed).sample(records, limit), key=lambda r: str(r["_id"]))
    out = []
    for r in records:
        doc_id, title = str(r["_id"]), str(r.get("title") or "")
        group = title if group_by_title else doc_id
        out.extend(chunk_passages(source, doc_id, group, title, f"{path.name}#{doc_id}", str(r["text"])))
    return out


def metadata_documents(names: Iterable[str], site: Path | None = None) -> list[tuple[str, str, str]]:
    """(display name "pkg 1.2.3", path, description) of installed packages, in name order."""
    site = site or Path(sysconfig.get_paths()["purelib"])
    wanted = {_normal(n) for n in names}
    out = []
    for meta in sorted(site.glob("*.dist-info/METADATA")):
        message = Parser().parsestr(meta.read_text("utf-8", errors="replace"))
        name, body = str(message["Name"] or ""), message.get_payload()
        if _normal(name) in wanted and isinstance(body, str) and body.strip():
            out.append((f"{name} {message['Version']}", f"{meta.parent.name}/METADATA", body))
    return out


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sibling_passages(documents: Sequence[tuple[str, str, str]]) -> list[Passage]:
    """Chunks of near-duplicate documents; a family (the group) is every document joined to
    another by a shared sentence, so siblings never straddle the tune/report split."""
    sentences = [set(eligible_sentences(text)) for _, _, text in documents]
    family = list(range(len(documents)))

    def root(i: int) -> int:
        while family[i] != i:
            i = family[i]
        return i

    for i in range(len(documents)):
        for j in range(i + 1, len(documents)):
            if len(sentences[i] & sentences[j]) >= MIN_SHARED:
                family[root(j)] = root(i)
    out = []
    for i, (name, path, text) in enumerate(documents):
        group = f"family:{documents[root(i)][0].split()[0]}"
        out.extend(chunk_passages("siblings", path, group, name, path, text, name))
    return out


def write_pairs(pairs: Sequence[ClaimPair], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in pairs), "utf-8")


def read_pairs(path: Path) -> list[ClaimPair]:
    return [ClaimPair(**json.loads(line)) for line in path.read_text("utf-8").splitlines() if line.strip()]
