"""The `rag` command line: the composition root that wires the layers together.

Subcommands of higher layers (chat, eval) are found in the plain `COMMANDS` registry,
imported by module path only when that subcommand runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module with add_arguments(parser) and run(args) -> int, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "index": ("index.cli", "build or update an index of a folder of documents"),
    "ask": ("rag.ask_cli", "answer one question from an index, with cited passages"),
    "eval": ("eval.cli", "evaluate retrieval and answers against question sets; compare runs"),
    "chat": ("ui.cli", "open the chat in the browser (127.0.0.1 by default)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Question answering over your documents, with citations.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    module, _ = COMMANDS[args.command]
    code: int = importlib.import_module(module).run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
