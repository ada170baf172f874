"""`rag mcp --index DIR`: the index as an MCP server over stdio, for agents (Claude Desktop, IDEs, any MCP client).

Three tools: `search` (passages), `ask` (an answer with checked citations) and `list_documents`.
Standard output carries the protocol and nothing else: logging goes to standard error, and the SDK
points file descriptor 1 at standard error while it serves, so a library that prints cannot break
the stream. The model loads in the background once the server is up, so a client's handshake
never waits for it; a tool called before it is ready waits for it instead.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations, which name classes
# imported inside build_server (pydantic and the SDK load only when the server starts, not with the CLI).
import argparse
import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

from index import env

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from serve.mcp_tools import Library

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Answers questions from a fixed collection of documents (the index), never from general knowledge. "
    "Use `ask` for an answer whose every sentence is checked against the documents and cited; use `search` "
    "to read the passages themselves; use `list_documents` to see what the collection holds."
)
SEARCH = (
    "Find the passages of the indexed documents that best match a query (keyword and semantic search combined). "
    "Returns up to k passages, best first, each with its chunk id, score, document id, title, path, page, "
    "character offsets and full text. Use it to read the sources yourself or to find where something is written; "
    "use `ask` for a direct answer with checked citations."
)
ASK = (
    "Answer a question from the indexed documents only, with citations checked sentence by sentence. "
    "`answer` carries [n] markers; `citations` gives, for each marker, the document, title, path, page, "
    "character offsets, the supported sentence, a support score (0-1) and the evidence sentence of the passage. "
    "If the documents do not answer it, `refused` is true and `refusal_reason` says why: report that the "
    "documents do not say, rather than answering from elsewhere; rephrasing or `search` may find other wording. "
    "The tool keeps no conversation: ask self-contained questions. An answer takes a few seconds on a local model."
)
LIST = (
    "List the documents in the index with their ids, titles, paths and passage (chunk) counts, sorted by id, "
    "to see what the collection covers before asking. `contains` keeps the documents whose id, title or path "
    "contains it (case-insensitive); at most `limit` are returned and `total` says how many matched."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", default=env.index_dir(), help="index folder (default: %(default)s; $RAG_INDEX)")
    parser.add_argument("--backend", default=None, help="LLM backend name (default: $RAG_BACKEND, else llama-cpp)")
    parser.add_argument("--model", default=None, help="model for the backend: catalogue name, GGUF path, server model")
    parser.add_argument("--top-k", type=int, default=None, help="passages the model sees for each answer")
    parser.add_argument("--no-log", action="store_true", help="do not log the questions in INDEX/logs/questions.jsonl")


def build_server(library: "Library") -> "MCPServer[Any]":
    """The MCP server with the three tools over `library`; it warms the library up once it runs."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations
    from pydantic import Field

    from index.store import StoreError
    from rag.llm.base import LLMError
    from rag.settings import MAX_TOP_K
    from serve import mcp_tools
    from serve.mcp_tools import AskResult, DocumentList, SearchResult

    @asynccontextmanager
    async def warm_up(_: MCPServer[Any]) -> AsyncIterator[None]:
        threading.Thread(target=library.warm_up, name="warm-up", daemon=True).start()
        try:
            yield
        finally:
            library.close()

    server: MCPServer[Any] = MCPServer("rag", instructions=INSTRUCTIONS, lifespan=warm_up, log_level="WARNING")
    reads = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

    def fail(exc: Exception) -> ToolError:
        # The message says what to do (every layer's errors do); the traceback is only for the server log.
        return ToolError(str(exc) or type(exc).__name__)

    def only() -> Any:
        return Field(description="search only these documents: paths or ids as list_documents gives them, or globs")

    @server.tool(description=SEARCH, annotations=reads)
    def search(
        query: Annotated[str, Field(description="what to look for: words, a name, or a question")],
        k: Annotated[int, Field(ge=1, le=MAX_TOP_K, description="how many passages to return")] = 5,
        documents: Annotated[list[str] | None, only()] = None,
    ) -> SearchResult:
        try:
            return mcp_tools.search(library, query, k, documents)
        except (StoreError, LLMError, ValueError, TypeError) as exc:
            raise fail(exc) from None

    @server.tool(description=ASK, annotations=reads)
    def ask(
        question: Annotated[str, Field(description="a self-contained question about the documents")],
        documents: Annotated[list[str] | None, only()] = None,
    ) -> AskResult:
        try:
            return mcp_tools.ask(library, question, documents)
        except (StoreError, LLMError, ValueError, TypeError) as exc:
            raise fail(exc) from None

    @server.tool(description=LIST, annotations=reads)
    def list_documents(
        contains: Annotated[str, Field(description="only documents whose id, title or path contain this")] = "",
        limit: Annotated[int, Field(ge=1, le=10_000, description="the most documents to return")] = 200,
    ) -> DocumentList:
        try:
            return mcp_tools.list_documents(library, contains, limit)
        except (StoreError, ValueError) as exc:
            raise fail(exc) from None

    return server


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from index.store import current_version
    from rag.inputs import check_top_k
    from rag.settings import AnswerSettings
    from serve.mcp_tools import Library

    # Standard error is what an MCP client shows of a server: our own progress, and only warnings of the libraries.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="rag mcp: %(levelname)s %(message)s")
    logging.getLogger("serve").setLevel(logging.INFO)
    index_dir = Path(args.index)
    try:
        check_top_k(args.top_k)
        settings = AnswerSettings.from_env().with_overrides(
            backend=args.backend,
            model=args.model,
            top_k=args.top_k,
            log_questions=False if args.no_log else None,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if current_version(index_dir) is None:
        # Said before serving: an MCP client shows a server's standard error when it fails to start.
        fix = f"Build one first: rag index PATH/TO/DOCS --index {index_dir}"
        print(f"error: no index at {index_dir}. {fix}", file=sys.stderr)
        return 2
    log.info("serving %s over stdio (backend %s)", index_dir, settings.backend)
    build_server(Library(index_dir, settings)).run("stdio")
    return 0
