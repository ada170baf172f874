"""`rag ask --server URL`: the question asked of a running `rag serve`, so this process loads no model.

The wire is the OpenAI chat-completions stream that `rag serve` speaks (docs/guide/openai-api.md):
text deltas as the model writes them, then a last chunk carrying the checked `answer` with its
`citations`, `refusal`, `unsupported_sentences` and `sources`. That chunk is read back into an
ordinary `Answer`, so `rag ask` prints a served answer exactly as it prints a local one. Only the
wire is shared with serve/, never its code: this layer must not import it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from index.types import Chunk
from rag.inputs import check_question
from rag.llm.base import LLMAuthError, LLMProtocolError, LLMServerError, LLMTimeout, LLMUnavailable
from rag.llm.sse import DONE, decode_json, sse_data
from rag.types import Answer, AnswerStream, Citation, Hit, Timings

_NOT_RAG = "is it a `rag serve`? Other OpenAI-compatible servers send no checked citations"


def api_url(server: str) -> str:
    """The server's API root, `…/v1`, from what a user types: `http://127.0.0.1:8000` or `…/v1`."""
    url = server.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--server {server!r} is not a URL; give the address of a rag serve: http://127.0.0.1:8000")
    return url if parts.path.endswith("/v1") else f"{url}/v1"


class RemoteAssistant:
    """Answers from a running `rag serve` at `server`, sending `api_key` (its RAG_API_KEY) when given.

    Connecting checks the server at once (GET /v1/models, which also names the index to ask), so a
    wrong address or key is reported before any question is sent.
    """

    def __init__(
        self, server: str, *, api_key: str = "", connect_timeout: float = 5.0, read_timeout: float = 600.0
    ) -> None:
        self.url = api_url(server)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # The read timeout is long: an answer may wait in the server's queue behind others.
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._client = httpx.Client(headers=headers, timeout=timeout)
        self._keyed = bool(api_key)
        try:
            self.model = self._model()
        except BaseException:
            self._client.close()
            raise

    def _model(self) -> str:
        response = self._checked(self._request("GET", "/models"))
        try:
            listed = json.loads(response.read())
        except ValueError:
            listed = None
        finally:
            response.close()
        data = listed.get("data") if isinstance(listed, dict) else None
        if not isinstance(data, list) or not data or not isinstance(data[0], dict) or "id" not in data[0]:
            raise LLMProtocolError(f"{self.url}/models lists no model; {_NOT_RAG}.")
        return str(data[0]["id"])

    def stream(self, question: str, *, history: Sequence[str] = (), documents: Sequence[str] = ()) -> AnswerStream:
        """The answer as the server writes it; `history` holds the conversation's earlier questions,
        `documents` the paths or globs of the documents to search in (the server checks them)."""
        question = check_question(question)
        turns = [{"role": "user", "content": q} for q in history if q.strip()]
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [*turns, {"role": "user", "content": question}],
            "stream": True,
        }
        if documents:
            body["documents"] = list(documents)
        started = time.perf_counter()
        response = self._checked(self._request("POST", "/chat/completions", body=body))
        return AnswerStream(self._items(response, question, started))

    def _items(self, response: httpx.Response, question: str, started: float) -> Iterator[str | Answer]:
        first, final = 0.0, None
        try:
            for payload in sse_data(response.iter_bytes()):
                if payload.strip() == DONE:
                    break
                chunk = decode_json(payload)
                final = chunk if "answer" in chunk else final
                piece = _content(chunk)
                if piece:
                    first = first or time.perf_counter()
                    yield piece
        except httpx.TransportError as exc:
            raise LLMProtocolError(f"The connection to {self.url} broke mid-answer: {exc!r}") from None
        finally:
            response.close()
        if final is None:
            raise LLMProtocolError(f"{self.url} ended its answer without the checked citations; {_NOT_RAG}.")
        now = time.perf_counter()
        yield answer_from(final, question, Timings(first_token=first - started if first else 0.0, total=now - started))

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """The response with its body still to read: an answer's text is read as it streams."""
        try:
            return self._client.send(self._client.build_request(method, f"{self.url}{path}", json=body), stream=True)
        except httpx.TimeoutException as exc:
            raise LLMTimeout(f"{self.url} did not answer in time ({exc!r}); is the server overloaded?") from None
        except httpx.TransportError as exc:
            raise LLMUnavailable(
                f"cannot reach a rag serve at {self.url} ({exc}). Start one with `rag serve --index DIR`, "
                "or point --server (or RAG_SERVER) at a running one."
            ) from None

    def _checked(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        response.read()
        response.close()
        message = _error_message(response)
        if response.status_code in (401, 403):
            fix = "Check RAG_API_KEY: the server expects another key." if self._keyed else "Set RAG_API_KEY to its key."
            raise LLMAuthError(f"{self.url} refused the request (HTTP {response.status_code}): {message} {fix}")
        raise LLMServerError(f"{self.url} answered HTTP {response.status_code}: {message}", status=response.status_code)

    def close(self) -> None:
        self._client.close()


def _content(chunk: Mapping[str, Any]) -> str:
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise LLMProtocolError(f"A stream chunk without a 'choices' list: {str(chunk)[:200]!r}; {_NOT_RAG}.")
    delta = choices[0].get("delta") if choices and isinstance(choices[0], dict) else None
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


def _error_message(response: httpx.Response) -> str:
    """The server's `{"error": {"message"}}`, else the start of its body."""
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300].strip() or "(no body)"


def answer_from(final: Mapping[str, Any], question: str, timings: Timings) -> Answer:
    """The `Answer` a stream's last chunk describes. The wire carries each citation's combined support,
    not its lexical and semantic parts, which are left 0 (nothing that prints an answer shows them)."""
    try:
        sources = tuple(_hit(s) for s in final.get("sources") or [])
        chunks = {hit.rank: hit.chunk for hit in sources}
        refusal = final.get("refusal")
        return Answer(
            question=question,
            text=str(final["answer"]),
            citations=tuple(_citation(c, chunks.get(int(c["marker"]))) for c in final.get("citations") or []),
            sources=sources,
            refused=refusal is not None,
            unsupported_sentences=tuple(str(s) for s in final.get("unsupported_sentences") or []),
            timings=timings,
            refusal_reason=str(refusal.get("reason", "")) if isinstance(refusal, dict) else "",
        )
    except (KeyError, TypeError, ValueError) as exc:
        problem = f"The answer's last chunk is not as `rag serve` sends it ({exc!r})"
        raise LLMProtocolError(f"{problem}; {_NOT_RAG}.") from None


def _hit(source: Mapping[str, Any]) -> Hit:
    chunk = Chunk(
        id=str(source["passage"]),
        doc_id=str(source["document"]),
        path=str(source["path"]),
        title=str(source["title"]),
        text=str(source.get("text") or ""),  # servers before `text` was sent: the passage is not shown
        start=int(source["start"]),
        end=int(source["end"]),
        page=source.get("page"),
    )
    return Hit(chunk=chunk, score=float(source["score"]), rank=int(source["marker"]))


def _citation(cited: Mapping[str, Any], source: Chunk | None) -> Citation:
    evidence_start, evidence_end = int(cited["evidence_start"]), int(cited["evidence_end"])
    if source is None or source.id != cited["passage"] or not source.text:
        # The evidence sentence alone stands in for a passage the answer did not carry.
        source = Chunk(
            id=str(cited["passage"]),
            doc_id=str(cited["document"]),
            path=str(cited["path"]),
            title=str(cited["title"]),
            text=str(cited["evidence"]),
            start=evidence_start,
            end=evidence_end,
            page=cited.get("page"),
        )
    return Citation(
        marker=int(cited["marker"]),
        chunk=source,
        sentence=str(cited["sentence"]),
        support=float(cited["support"]),
        lexical=0.0,
        semantic=0.0,
        reattributed=bool(cited.get("reattributed")),
        evidence_start=evidence_start,
        evidence_end=evidence_end,
    )
