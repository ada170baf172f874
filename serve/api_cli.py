"""`rag serve`: the OpenAI-compatible HTTP API over one index, on 127.0.0.1 unless a key is set.

Without `RAG_API_KEY` anyone who can reach the port could read the documents through it, so the
server then listens on a loopback address only; with the key set, every request must send it.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from index import env

KEY_ENV = "RAG_API_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", default=env.index_dir(), help="index folder (default: %(default)s; $RAG_INDEX)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument("--backend", default=None, help="LLM backend name (default: $RAG_BACKEND, else llama-cpp)")
    parser.add_argument("--model", default=None, help="model for the backend: catalogue name, GGUF path, server model")
    parser.add_argument(
        "--max-queue", type=int, default=8, help="answers that may wait for the model before a 429 (default: 8)"
    )
    parser.add_argument("--max-body-kb", type=int, default=1000, help="largest request body in kB (default: 1000)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_key: str) -> str:
    """Why the server must not start on `host` ('' when it may)."""
    if api_key or is_loopback(host):
        return ""
    return (
        f"refusing to listen on {host} without an API key: anyone who can reach it could read the indexed "
        f"documents. Set {KEY_ENV} (clients then send it as their API key), or use --host 127.0.0.1."
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from index.store import StoreError
    from rag.llm.base import LLMError
    from rag.settings import AnswerSettings
    from serve.api_app import ApiConfig, build_app
    from serve.api_service import Service

    api_key = env.get(KEY_ENV).strip()
    problem = check_exposure(args.host, api_key) or _check_numbers(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    print(f"Loading the index {args.index} and the model ...", flush=True)
    try:
        settings = AnswerSettings.from_env().with_overrides(backend=args.backend, model=args.model)
        service = Service.open(Path(args.index), settings, max_queue=args.max_queue)
    except (StoreError, LLMError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    app = build_app(service, ApiConfig(api_key=api_key, max_body_bytes=args.max_body_kb * 1000))
    key = f"; send {KEY_ENV} as the API key" if api_key else ""
    print(f"OpenAI-compatible API on http://{args.host}:{args.port}/v1 (model '{service.model}'{key})", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _check_numbers(args: argparse.Namespace) -> str:
    if not 0 <= args.port <= 65535:
        return f"--port {args.port} is not a port; use 1-65535 (default 8000)"
    if args.max_queue < 1:
        return f"--max-queue {args.max_queue}: at least one answer must be able to wait for the model"
    if args.max_body_kb < 1:
        return f"--max-body-kb {args.max_body_kb}: use 1 or more"
    return ""
