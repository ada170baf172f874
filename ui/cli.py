"""`rag chat` / `python -m ui`: open the chat on 127.0.0.1 (never a public share link by default)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from index import env

USER_ENV, PASSWORD_ENV = "RAG_UI_USER", "RAG_UI_PASSWORD"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", default=env.index_dir(), help="index folder (default: %(default)s)")
    parser.add_argument("--backend", default=None, help="LLM backend name (default: llama-cpp, local)")
    parser.add_argument("--model", default="", help="model for the backend: catalogue name, GGUF path, server model")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: %(default)s)")
    parser.add_argument(
        "--feedback", default=None, help="JSONL file for thumbs up/down (default: INDEX/feedback.jsonl)"
    )
    parser.add_argument("--max-upload-mb", type=float, default=20.0, help="largest accepted upload (default: 20)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    parser.add_argument("--no-log", action="store_true", help="do not log the questions in INDEX/logs/questions.jsonl")


def login_from_env(environ: dict[str, str] | None = None) -> tuple[str, str] | None:
    """(user, password) when both RAG_UI_USER and RAG_UI_PASSWORD are set; None when neither is."""
    user, password = env.get(USER_ENV, environ=environ), env.get(PASSWORD_ENV, environ=environ)
    if bool(user) != bool(password):
        raise ValueError(f"Set both {USER_ENV} and {PASSWORD_ENV} to require a login, or neither to open the chat.")
    return (user, password) if user else None


def run(args: argparse.Namespace) -> int:
    from index.runtime import configure_process
    from rag.settings import AnswerSettings
    from ui.app import AppConfig, build_app, launch
    from ui.engine import Engine

    # The chat's startup, before any model loads: it serves questions, one thread each (`rag chat` and `python -m ui`).
    configure_process(serving=True)
    try:
        auth = login_from_env()
        settings = AnswerSettings.from_env().with_overrides(
            backend=args.backend, model=args.model or None, log_questions=False if args.no_log else None
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    index_dir = Path(args.index)
    engine = Engine(index_dir, settings=settings)
    config = AppConfig(
        index_dir=index_dir,
        feedback_path=Path(args.feedback) if args.feedback else index_dir / "feedback.jsonl",
        max_upload_bytes=int(args.max_upload_mb * 1_000_000),
    )
    app = build_app(engine, config)
    print(f"Chat on http://{args.host}:{args.port} (index {index_dir}){' with login' if auth else ''}", flush=True)
    launch(
        app, host=args.host, port=args.port, auth=auth, share=bool(args.share), max_file_size=config.max_upload_bytes
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui", description="Open the chat over an index.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
