"""`rag eval WHAT ...` / `python -m eval WHAT ...`: evaluations, one sub-subcommand each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from eval.claims_cli import add_claims, run_claims
from eval.run_cli import add_compare, add_run, run_compare, run_run
from index.embedding import DEFAULT_EMBEDDER

if TYPE_CHECKING:
    from index.store import IndexStore

INDEXES_DIR = Path(".rag/indexes")


def default_index_dir(corpus: str | Path) -> Path:
    """`.rag/indexes/NAME`: a folder's name, or `PARENT-STEM` for a file (BEIR files are all `corpus.jsonl`)."""
    path = Path(corpus).resolve()
    return INDEXES_DIR / (path.name if path.is_dir() else f"{path.parent.name}-{path.stem}")


def _add_retrieval(parser: argparse.ArgumentParser) -> None:
    from rag.retrieval import DEFAULT_RETRIEVER, FUSIONS, RETRIEVERS

    parser.add_argument("--corpus", required=True, help="BEIR corpus.jsonl (or a folder of documents)")
    parser.add_argument("--queries", required=True, help="queries .jsonl {_id, text} or .tsv with a header")
    parser.add_argument("--qrels", required=True, help="qrels TSV with a header: query-id, corpus-id, score")
    parser.add_argument("--index", help="index folder, built or updated from --corpus (default: .rag/indexes/NAME)")
    parser.add_argument(
        "--embedder",
        default=None,
        help=f"embedder for a new index (default: {DEFAULT_EMBEDDER}; an update keeps its own)",
    )
    parser.add_argument("--retriever", choices=list(RETRIEVERS), default=DEFAULT_RETRIEVER, help="default: %(default)s")
    parser.add_argument("--fusion", choices=FUSIONS, help="hybrid fusion (default: the retriever's)")
    parser.add_argument("--mmr", action="store_true", help="diversify with maximal marginal relevance")
    parser.add_argument("--rerank", metavar="PATH", help="re-rank with the cross-encoder saved in this folder")
    parser.add_argument("--limit", type=int, help="evaluate only the first N judged queries")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def _run_retrieval(args: argparse.Namespace) -> int:
    from eval.beir import DataError, load_qrels, load_queries
    from eval.retrieval import evaluate_retrieval
    from index.runtime import configure_process
    from index.store import IndexStore, StoreError
    from rag.rerank import get_reranker
    from rag.retrieval import RETRIEVERS, get_retriever

    index_dir = Path(args.index) if args.index else default_index_dir(args.corpus)
    fuses = "fusion" in RETRIEVERS[args.retriever].parameters
    if args.fusion and not fuses:
        fusing = ", ".join(n for n, r in RETRIEVERS.items() if "fusion" in r.parameters)
        print(f"error: --fusion fuses dense and lexical results; it needs --retriever {fusing}", file=sys.stderr)
        return 2
    try:
        queries, qrels = load_queries(args.queries), load_qrels(args.qrels)
        _build_or_reuse(args.corpus, index_dir, args.embedder, args.quiet)
        configure_process(serving=True)  # built on all cores; the queries run one thread each, as when served
        store = IndexStore.open(index_dir)
        _warn_unknown_documents(store, qrels)
        reranker = get_reranker("cross-encoder", model_path=args.rerank) if args.rerank else None
        options = {"fusion": args.fusion} if fuses else {}
        retriever = get_retriever(args.retriever, store, reranker=reranker, mmr=args.mmr, **options)
        result = evaluate_retrieval(retriever, queries, qrels, name=_describe(args), limit=args.limit)
    except (StoreError, DataError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"index {index_dir} ({len(store)} chunks)")
    print(result.summary())
    return 0


def _describe(args: argparse.Namespace) -> str:
    parts = [args.retriever + (f" ({args.fusion})" if args.fusion else "")]
    if args.mmr:
        parts.append("MMR")
    if args.rerank:
        parts.append(f"rerank {Path(args.rerank).name}")
    return " + ".join(parts)


def _warn_unknown_documents(store: IndexStore, qrels: dict[str, dict[str, int]]) -> None:
    """Qrels naming documents the index lacks usually mean the wrong --corpus: say so, don't guess."""
    known = {chunk.record_id for chunk in store.chunks}
    judged = {doc for relevance in qrels.values() for doc, grade in relevance.items() if grade > 0}
    missing = judged - known
    if missing:
        print(
            f"warning: {len(missing)} of {len(judged)} relevant documents in the qrels are not in the index "
            f"(e.g. '{sorted(missing)[0]}'); check that --corpus matches --qrels",
            file=sys.stderr,
        )


def _build_or_reuse(corpus: str, index_dir: Path, embedder: str | None, quiet: bool) -> None:
    """Build or update the index; embedding a new corpus takes minutes, so show how far it got."""
    from index.build import build_index

    def progress(stage: str, done: int, total: int) -> None:
        if not quiet and stage == "embed":
            print(f"\rembedding {done}/{total} chunks", end="\n" if done == total else "", file=sys.stderr)

    if not quiet:
        print(f"indexing {corpus} into {index_dir} (unchanged documents are reused)", file=sys.stderr)
    build_index(corpus, index_dir, embedder=embedder, progress=progress)


# name -> (add its arguments, run it, one-line help)
SUBCOMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str]] = {
    "retrieval": (_add_retrieval, _run_retrieval, "score a retriever on BEIR queries and qrels (nDCG, recall, MRR)"),
    "run": (add_run, run_run, "answer a question set through ask() and score retrieval, answers, citations, cost"),
    "compare": (add_compare, run_compare, "compare two runs: metric deltas with paired CIs, flipped questions"),
    "claims": (add_claims, run_claims, "contradiction benchmark: how many false citations the check flags"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="eval_command", metavar="WHAT")
    for name, (add, _, help_text) in SUBCOMMANDS.items():
        add(sub.add_parser(name, help=help_text, description=help_text))


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "eval_command", None):
        print(f"error: say what to evaluate: one of {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    return SUBCOMMANDS[args.eval_command][1](args)


def main(argv: list[str] | None = None) -> int:
    from index.runtime import configure_process

    parser = argparse.ArgumentParser(prog="python -m eval", description="Evaluate retrieval and answers.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    configure_process(serving=False)  # an entry point: indexes build on all cores; queries switch to serving
    return run(args)
