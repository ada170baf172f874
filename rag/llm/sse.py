"""Server-sent events as OpenAI-compatible servers stream chat completions, parsed from raw bytes.

Kept apart from the HTTP client so the parser can be tested on hand-made byte streams: chunk
boundaries may fall anywhere, inside a line, a CRLF pair or a multi-byte UTF-8 character.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from rag.llm.base import LLMProtocolError, LLMServerError

DONE = "[DONE]"
# SSE ends lines only with CR, LF or CRLF; str.splitlines would also split on U+2028 inside JSON text.
_EOL = re.compile(r"\r\n|\r|\n")
_HINT = "Check that the base URL points at an OpenAI-compatible /v1 API, or pass stream=False."


def _same(text: str) -> str:
    return text


def sse_data(chunks: Iterable[bytes]) -> Iterator[str]:
    """The `data` payload of each event, multi-line data joined by newlines; comments and other fields skipped.

    Lenient at the end: a last event not closed by a blank line is still delivered.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer = ""
    data: list[str] = []
    for chunk in chunks:
        buffer += decoder.decode(chunk)
        # A trailing CR may be the first half of a CRLF split across chunks: keep it until the next one.
        held = "\r" if buffer.endswith("\r") else ""
        *lines, buffer = _EOL.split(buffer.removesuffix("\r"))
        buffer += held
        for line in lines:
            if not line:
                if data:
                    yield "\n".join(data)
                data = []
            elif line == "data" or line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
    tail = (buffer + decoder.decode(b"", final=True)).rstrip("\r")
    if tail.startswith("data:"):
        data.append(tail[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)


def text_pieces(events: Iterable[str], *, redact: Callable[[str], str] = _same) -> Iterator[str]:
    """Content deltas from chat-completion chunk events, up to `[DONE]`.

    A stream that ends with neither `[DONE]` nor a finish_reason was cut off mid-answer,
    which is an error rather than a short answer. `redact` cleans any server text quoted in errors.
    """
    finished = False
    for payload in events:
        if payload.strip() == DONE:
            return
        chunk = decode_json(payload, redact=redact)
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise LLMProtocolError(f"Stream chunk without a 'choices' list: {redact(payload[:200])!r}. {_HINT}")
        for choice in choices:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            content = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(content, str) and content:
                yield content
            finished = finished or bool(isinstance(choice, dict) and choice.get("finish_reason"))
    if not finished:
        raise LLMProtocolError(f"The stream ended before [DONE]: the server dropped the answer midway. {_HINT}")


def decode_json(payload: str, *, redact: Callable[[str], str] = _same) -> dict[str, Any]:
    """A JSON object from the server; an `{"error": ...}` object becomes LLMServerError."""
    try:
        obj = json.loads(payload)
    except json.JSONDecodeError:
        raise LLMProtocolError(f"Server data is not JSON: {redact(payload[:200])!r}. {_HINT}") from None
    if not isinstance(obj, dict):
        raise LLMProtocolError(f"Server data is not a JSON object: {redact(payload[:200])!r}. {_HINT}")
    if "error" in obj:
        error = obj["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise LLMServerError(f"The server reported an error: {redact(str(message))}", status=200)
    return obj
