"""`rag index PATH` / `python -m index PATH`: build or update an index with a progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from index import env
from index.embedding import DEFAULT_EMBEDDER
from index.types import IndexReport

if TYPE_CHECKING:
    from index.ray_engine import RayEngine


def default_index_dir() -> str:
    return env.index_dir()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", help="folder or file to index (.txt .md .html .pdf .docx .pptx .epub .csv .jsonl, extensionless text)"
    )
    parser.add_argument("--index", default=default_index_dir(), help="index folder (default: %(default)s; $RAG_INDEX)")
    parser.add_argument(
        "--embedder",
        default=None,
        help=f"embedder name or local model folder (a new index: {DEFAULT_EMBEDDER}; an update: the index's own)",
    )
    parser.add_argument("--chunk-tokens", type=int, default=200, help="target chunk size in tokens")
    parser.add_argument("--overlap-tokens", type=int, default=40, help="tokens shared by neighbouring chunks")
    parser.add_argument(
        "--faiss",
        choices=("auto", "flat", "ivf", "hnsw"),
        default="auto",
        help="vector index: exact (flat), IVF or HNSW; auto = flat up to 50,000 chunks, IVF above",
    )
    parser.add_argument("--rebuild", action="store_true", help="ignore the existing index and re-embed everything")
    parser.add_argument("--replace", action="store_true", help="let PATH replace the source the index mirrors")
    parser.add_argument(
        "--max-file-mb",
        type=float,
        default=None,
        help="skip files larger than this many megabytes (default: 25, about a quarter hour of embedding)",
    )
    parser.add_argument(
        "--warn-chunks",
        type=int,
        default=None,
        help="warn, with the embedding time, about a file that yields more chunks than this (default: 20000)",
    )
    parser.add_argument(
        "--follow-links",
        action="store_true",
        help="also index files that symbolic links point at outside PATH (skipped by default)",
    )
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="where reading, embedding and index building run: this process, or a Ray cluster (docs/scale.md)",
    )
    parser.add_argument("--ray-address", help="with --engine ray: auto or HOST:PORT of a running cluster's head "
                        "(default: start Ray on this machine)")
    parser.add_argument("--workers", type=int, help="with --engine ray: embedding actors (default: the cluster's CPUs)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    problem = _engine_problem(args)
    if problem:  # said before any model loads
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from tqdm import tqdm

    from index.build import LARGE_FILE_CHUNKS, build_index
    from index.chunking import ChunkerSettings
    from index.documents import DEFAULT_MAX_FILE_BYTES
    from index.store import DiskFull, StoreError

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if args.quiet:
            return
        bar = bars.get(stage)
        if bar is None or bar.total != total or done < bar.n:  # each huge file chunked gets a bar of its own
            if bar is not None:
                bar.close()
            unit, scale = {"load": (" files", False), "chunk": (" chars", True)}.get(stage, (" chunks", False))
            bar = bars[stage] = tqdm(total=total, desc=f"{stage:>5}", unit=unit, unit_scale=scale)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    engine = _engine(args)
    try:
        settings = ChunkerSettings(args.chunk_tokens, args.overlap_tokens)
        report = build_index(
            args.path,
            args.index,
            embedder=args.embedder,
            settings=settings,
            faiss_kind=args.faiss,
            rebuild=args.rebuild,
            replace=args.replace,
            progress=progress,
            follow_links=args.follow_links,
            max_file_bytes=int(args.max_file_mb * 1_000_000) if args.max_file_mb else DEFAULT_MAX_FILE_BYTES,
            large_file_chunks=LARGE_FILE_CHUNKS if args.warn_chunks is None else args.warn_chunks,
            on_warning=lambda message: tqdm.write(f"warning: {message}", file=sys.stderr),
            engine=engine,
        )
    except DiskFull as exc:  # the run's fault was the machine's, not the command's: exit 1, not 2
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (StoreError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for bar in bars.values():
            bar.close()
        if engine is not None:
            engine.close()
    print(format_report(report))
    return 0


def _engine_problem(args: argparse.Namespace) -> str | None:
    if args.engine != "ray":
        return "--ray-address and --workers go with --engine ray" if args.ray_address or args.workers else None
    if args.workers is not None and args.workers < 1:
        return f"--workers {args.workers}: give 1 or more"
    from index.ray_engine import ray_missing

    return ray_missing()


def _engine(args: argparse.Namespace) -> RayEngine | None:
    if args.engine != "ray":
        return None
    from index.ray_engine import RayEngine

    return RayEngine(args.ray_address, args.workers, args.embedder)


def format_report(report: IndexReport) -> str:
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in report.stage_seconds.items() if k != "model")
    model = report.stage_seconds.get("model", 0.0)
    lines = [
        f"Indexed into {Path(report.index_dir).resolve()} (version {report.version})",
        f"  documents: {report.documents}   chunks: {report.chunks}",
        f"  added {len(report.added)}, updated {len(report.updated)}, removed {len(report.removed)}, "
        f"unchanged {report.unchanged}, skipped {len(report.skipped)}",
        f"  embedded {report.embedded_chunks} chunks, reused {report.cached_chunks} unchanged or cached",
        f"  {report.seconds:.2f} s in all, {model:.2f} s of it loading the embedder; "
        f"{report.chunks_per_second:.1f} chunks/s ({stages})",
    ]
    lines += [f"  warning: {w}" for w in report.warnings]
    if report.full_rebuild_reason:
        lines.append(f"  full rebuild: {report.full_rebuild_reason}")
    for skip in report.skipped[:50]:
        lines.append(f"  skipped {skip.path}: {skip.reason}")
    if len(report.skipped) > 50:
        lines.append(f"  ... and {len(report.skipped) - 50} more skipped")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from index.runtime import configure_process

    parser = argparse.ArgumentParser(prog="python -m index", description="Build or update a document index.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    configure_process(serving=False)  # an entry point: batch work on all cores (`rag index` does this in cli)
    return run(args)
