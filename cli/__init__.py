"""The `rag` command line: the composition root that wires the layers together.

`cli` sits on top of every layer (index <- rag <- ui, serve, eval) and imports each subcommand's module
with a plain import, so the edges are visible to readers and to tests/test_layers.py; nothing
imports `cli`. A subcommand is a module with `add_arguments(parser)` and `run(args) -> int`,
listed in the plain `COMMANDS` registry. Those modules load their heavy dependencies (torch, faiss,
gradio, the language model) inside `run()`, so building the parser stays cheap.

Before a subcommand runs, `main` makes the process-wide choices once
(`index.runtime.configure_process`): the OpenBLAS kernel, and whether the process serves queries
on one thread each (`ask`, `chat`, `serve`) or does batch work on all cores (`index`; `eval` builds its
index first and switches to serving when it starts asking).
"""

from __future__ import annotations

import argparse
from typing import NamedTuple, Protocol

from eval import cli as eval_cli
from eval import stats_cli
from index import cli as index_cli
from index.runtime import configure_process
from rag import ask_cli
from serve import api_cli as serve_cli
from serve import mcp_stdio
from ui import cli as ui_cli


class Subcommand(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class Command(NamedTuple):
    module: Subcommand
    help: str
    serving: bool  # answers queries as they come: one thread a query (configure_process)


COMMANDS: dict[str, Command] = {
    "index": Command(index_cli, "build or update an index of a folder of documents", serving=False),
    "ask": Command(ask_cli, "answer one question from an index, with cited passages", serving=True),
    "eval": Command(eval_cli, "evaluate retrieval and answers against question sets; compare runs", serving=False),
    "chat": Command(ui_cli, "open the chat in the browser (127.0.0.1 by default)", serving=True),
    "serve": Command(serve_cli, "serve an OpenAI-compatible API with citations (127.0.0.1 by default)", serving=True),
    "mcp": Command(mcp_stdio, "serve the index to agents as an MCP server over stdio (search, ask)", serving=True),
    "stats": Command(stats_cli, "questions a day, refusals and latency from the question log", serving=False),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Question answering over your documents, with citations.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.module.add_arguments(sub.add_parser(name, help=command.help, description=command.help))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    command = COMMANDS[args.command]
    configure_process(serving=command.serving)
    return command.module.run(args)
