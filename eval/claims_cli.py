"""`rag eval claims`: the contradiction benchmark, generated and measured in one command.

    rag eval claims                       # report half, today's check ("overlap") against the default ("aligned")
    rag eval claims --half tune --modes aligned --threshold 0.45
    rag eval claims --sample 50           # print 50 seeded pairs to read, measure nothing
    rag eval claims --write pairs.jsonl   # keep the generated pairs

Pairs are made from the news corpus, SQuAD2 paragraphs, a seeded sample of SciFact abstracts and
sibling package descriptions (eval/claims_data.py); the same seed gives the same pairs.
`--scifact-claims` adds SciFact's own human-written claims (SUPPORT/CONTRADICT) as a check that
the generator's edits are not all the checker has learned to see.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

from eval.claims import ClaimPair, Passage, generate

# The data sets beside the project, as bench/common.py finds them.
SHARED = Path(os.environ.get("RAG_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))
NEWS_PER_PASSAGE = 3  # two news articles: three sentences a chunk gives them a few dozen pairs


def add_claims(parser: argparse.ArgumentParser) -> None:
    from rag.citations import MODES, SUPPORT_THRESHOLD

    parser.add_argument("--shared", default=str(SHARED), help="folder of corpus/news and data/ (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default: %(default)s)")
    parser.add_argument("--scifact-docs", type=int, default=400, help="SciFact abstracts drawn (default: %(default)s)")
    parser.add_argument("--half", choices=["tune", "report", "all"], default="report", help="default: %(default)s")
    parser.add_argument("--modes", default="overlap,aligned", help=f"checker modes to compare, of {', '.join(MODES)}")
    parser.add_argument("--threshold", type=float, default=SUPPORT_THRESHOLD, help="support threshold (%(default)s)")
    parser.add_argument("--embedder", default="minilm", help="embedder of the semantic score, or 'none'")
    parser.add_argument("--scifact-claims", action="store_true", help="also measure SciFact's human-written claims")
    parser.add_argument("--sample", type=int, metavar="N", help="print N seeded pairs of the half and stop")
    parser.add_argument("--write", metavar="FILE", help="write the pairs (all halves) as JSONL")


def run_claims(args: argparse.Namespace) -> int:
    from eval.claims_data import write_pairs

    shared = Path(args.shared)
    try:
        pairs = benchmark_pairs(shared, seed=args.seed, scifact_docs=args.scifact_docs)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.write:
        write_pairs(pairs, Path(args.write))
    chosen = [p for p in pairs if args.half in ("all", p.half)]
    print(describe(pairs, chosen, args.half))
    if args.sample:
        for pair in random.Random(args.seed).sample(chosen, min(args.sample, len(chosen))):
            print(f"\n[{pair.label} / {pair.kind} / {pair.source} / {pair.title[:60]}]\n  passage: {pair.sentence}\n"
                  f"  claim:   {pair.claim}")  # fmt: skip
        return 0
    return _measure(args, chosen, shared)


def _measure(args: argparse.Namespace, chosen: list[ClaimPair], shared: Path) -> int:
    from eval.claims_bench import CachedEmbed, checker_judge, measure, render
    from rag.citations import CitationChecker

    embed = None
    if args.embedder != "none":
        from index.embedding import get_embedder

        embed = CachedEmbed(get_embedder(args.embedder).encode)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    try:
        checkers = {m: CitationChecker(embed, threshold=args.threshold, mode=m) for m in modes}
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render([measure(chosen, checker_judge(c), name) for name, c in checkers.items()]))
    if args.scifact_claims:
        human = scifact_claims(shared / "data" / "scifact")
        print(f"\nSciFact human-written claims: {len(human)} (claim, abstract) pairs")
        print(render([measure(human, checker_judge(c), name) for name, c in checkers.items()]))
    return 0


def benchmark_pairs(shared: Path, *, seed: int = 0, scifact_docs: int = 400) -> list[ClaimPair]:
    from eval.claims_data import jsonl_passages, metadata_documents, news_passages, sibling_packages, sibling_passages

    passages: list[Passage] = [
        *news_passages(shared / "corpus" / "news"),
        *jsonl_passages(shared / "data" / "squad2" / "passages.jsonl", "squad2", group_by_title=True),
        *jsonl_passages(shared / "data" / "scifact" / "corpus.jsonl", "scifact", limit=scifact_docs, seed=seed),
    ]
    siblings = sibling_passages(metadata_documents(sibling_packages()))
    return generate(passages, siblings, seed=seed, per_passage=lambda p: NEWS_PER_PASSAGE if p.source == "news" else 1)


def scifact_claims(folder: Path) -> list[ClaimPair]:
    """SciFact's train claims with the abstract each is judged against: SUPPORT or CONTRADICT."""
    docs = {}
    for line in (folder / "corpus.jsonl").read_text("utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            docs[str(record["_id"])] = record
    out = []
    for line in (folder / "claims_train.jsonl").read_text("utf-8").splitlines():
        claim = json.loads(line) if line.strip() else {}
        for doc_id, evidence in claim.get("evidence", {}).items():
            doc = docs.get(str(doc_id))
            if doc is not None:
                label = "contradicted" if evidence["label"] == "CONTRADICT" else "supported"
                out.append(ClaimPair(f"scifact-claim-{claim['id']}-{doc_id}", claim["claim"], label, "human",
                                     "scifact-claims", str(doc_id), str(doc_id), "report", doc["title"],
                                     f"corpus.jsonl#{doc_id}", doc["text"], ""))  # fmt: skip
    return out


def describe(pairs: list[ClaimPair], chosen: list[ClaimPair], half: str) -> str:
    sources: dict[str, int] = {}
    for p in chosen:
        sources[p.source] = sources.get(p.source, 0) + 1
    by_source = ", ".join(f"{s} {n}" for s, n in sorted(sources.items()))
    return f"{len(pairs)} pairs generated; {len(chosen)} in the {half} half ({by_source})"
