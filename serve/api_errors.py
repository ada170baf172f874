"""Errors of the HTTP API in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, each saying the fix.

`ApiError` is raised anywhere below the routes; `from_exception` turns what `ask()` and the index
raise into one; `validation_message` turns pydantic's complaints about a body into one sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from index.store import IndexNotFound, StoreError
from rag.documents import UnknownDocuments
from rag.llm.base import LLMContextOverflow, LLMError, LLMTimeout, LLMUnavailable

INVALID = "invalid_request_error"

# Fields of OpenAI's chat-completions request this server does not take, with the reason and the fix.
UNSUPPORTED = {
    "tools": "this server answers from the indexed documents and calls no tools; remove 'tools'",
    "tool_choice": "this server calls no tools; remove 'tool_choice'",
    "functions": "this server calls no functions; remove 'functions'",
    "function_call": "this server calls no functions; remove 'function_call'",
    "response_format": "answers are text with [n] citation markers; remove 'response_format'",
    "audio": "answers are text only; remove 'audio'",
    "modalities": "answers are text only; remove 'modalities'",
    "prediction": "predicted outputs are not supported; remove 'prediction'",
}


class ApiError(Exception):
    """An error answer: HTTP `status` and the OpenAI error object's fields."""

    def __init__(
        self, status: int, message: str, *, type: str = INVALID, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param

    def body(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def from_exception(exc: Exception) -> ApiError:
    """The API error for a failure of `ask()`, retrieval or the index; the message keeps their advice."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, LLMContextOverflow):
        return ApiError(400, str(exc), code="context_length_exceeded")
    if isinstance(exc, LLMTimeout):
        return ApiError(504, f"The model did not answer in time: {exc} Try again.", type="server_error", code="timeout")
    if isinstance(exc, LLMUnavailable | IndexNotFound):
        return ApiError(503, str(exc), type="server_error", code="unavailable")
    if isinstance(exc, LLMError):
        return ApiError(502, f"The language model failed: {exc}", type="server_error", code="model_error")
    if isinstance(exc, StoreError):
        return ApiError(503, f"The index cannot be read: {exc}", type="server_error", code="index_error")
    if isinstance(exc, UnknownDocuments):
        return ApiError(400, str(exc), code="unknown_document", param="documents")
    if isinstance(exc, ValueError | TypeError):
        return ApiError(400, str(exc))
    return ApiError(500, "Internal error; the details are in the server's log.", type="server_error")


def validation_message(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str | None]:
    """(one sentence, the offending parameter) for pydantic's errors about a request body."""
    if not errors:
        return "The request body is invalid.", None
    # A misspelt field is reported as unknown and its right name as missing: the unknown one says more.
    first = min(errors, key=lambda e: e.get("type") != "extra_forbidden")
    kind = str(first.get("type", ""))
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(loc) or None
    if kind == "json_invalid":
        context = first.get("ctx") or {}
        return f"The request body is not valid JSON ({context.get('error', 'parse error')}); send a JSON object.", None
    if not loc and kind in ("missing", "model_attributes_type", "dict_type"):
        return "The request body must be a JSON object, sent with Content-Type: application/json.", None
    if kind == "extra_forbidden":
        name = loc[-1]
        if len(loc) == 1 and name in UNSUPPORTED:
            return f"'{name}' is not supported: {UNSUPPORTED[name]}.", param
        return f"Unknown field '{param}'; remove it (GET /openapi.json lists the fields).", param
    if kind == "missing":
        return f"'{param}' is required.", param
    return f"'{param}' is invalid: {first.get('msg', 'bad value')}.", param
