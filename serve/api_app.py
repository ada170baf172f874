"""The FastAPI application: routes, the bearer-key and body-size guard, and errors in OpenAI's shape.

Every error, including a malformed body, an unknown route and an unexpected failure, is answered as
`{"error": {"message", "type", "param", "code"}}`; a stack trace goes to the server's log only.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve import api_models as m
from serve.api_convert import parse_chat
from serve.api_errors import ApiError, validation_message
from serve.api_service import EventStream, Service

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000
ROUTES = "POST /v1/chat/completions, GET /v1/models, POST /v1/search and GET /health"


@dataclass(frozen=True)
class ApiConfig:
    api_key: str = ""  # when set, every request must send `Authorization: Bearer <api_key>`
    max_body_bytes: int = MAX_BODY_BYTES


class EventStreamResponse(StreamingResponse):
    """Server-sent events that close their answer when the response ends, however it ends.

    Starlette stops reading a stream whose client left but leaves the iterator to the garbage
    collector, which would keep the model busy with an answer nobody reads.
    """

    def __init__(self, events: EventStream) -> None:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(iter(events), media_type="text/event-stream", headers=headers)
        self.events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.events.close)


def error_response(error: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


class Guard:
    """ASGI middleware: checks the bearer key, then refuses a body over `max_body` bytes (413).

    The body is read here, before the app parses it, and handed on unchanged.
    """

    def __init__(self, app: ASGIApp, *, api_key: str, max_body: int) -> None:
        self.app = app
        self.api_key = api_key.encode()
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = self._unauthorized(scope)
        if error is None:
            declared = _header(scope, b"content-length")
            if declared.isdigit() and int(declared) > self.max_body:
                error = self._too_large()
        if error is not None:
            await error_response(error)(scope, receive, send)
            return
        body = await self._read(receive)
        if body is None:
            await error_response(self._too_large())(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _unauthorized(self, scope: Scope) -> ApiError | None:
        if not self.api_key:
            return None
        given = _header(scope, b"authorization")
        scheme, _, token = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.api_key):
            return None
        what = "Incorrect API key" if given else "No API key"
        return ApiError(
            401,
            f"{what}: send the server's RAG_API_KEY as 'Authorization: Bearer <key>' (the openai client's api_key).",
            code="invalid_api_key",
        )

    def _too_large(self) -> ApiError:
        return ApiError(
            413,
            f"The request body is over {self.max_body:,} bytes; send a shorter conversation "
            "(or start the server with a larger --max-body-kb).",
            code="request_too_large",
        )

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None when it passes `max_body`."""
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            part = message.get("body", b"")
            size += len(part)
            if size > self.max_body:
                return None
            parts.append(part)
            if not message.get("more_body", False):
                break
        return b"".join(parts)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    message, param = validation_message(exc.errors())
    return error_response(ApiError(400, message, param=param))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    where = f"{request.method} {request.url.path}"
    message = {
        404: f"There is no {where}; the API has {ROUTES}.",
        405: f"{where} is not allowed; the API has {ROUTES}.",
    }
    code = {404: "not_found", 405: "method_not_allowed"}
    return error_response(
        ApiError(exc.status_code, message.get(exc.status_code, str(exc.detail)), code=code.get(exc.status_code))
    )


async def _internal_error(_: Request, exc: Exception) -> Response:
    log.error("unexpected error", exc_info=exc)
    return error_response(ApiError(500, "Internal error; the details are in the server's log.", type="server_error"))


def build_app(service: Service, config: ApiConfig | None = None) -> FastAPI:
    """The API over `service`; `config` says the key and the largest body."""
    config = config or ApiConfig()
    app = FastAPI(
        title="rag-chat", summary="Answers with checked citations, OpenAI-compatible", docs_url=None, redoc_url=None
    )
    app.add_middleware(Guard, api_key=config.api_key, max_body=config.max_body_bytes)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)

    @app.post("/v1/chat/completions", response_model=None)
    def chat_completions(request: m.ChatRequest) -> Response:
        question = parse_chat(request, service.model)
        if question.stream:
            return EventStreamResponse(service.stream(question))
        return JSONResponse(service.complete(question).model_dump(mode="json"))

    @app.post("/v1/search")
    def search(request: m.SearchRequest) -> m.SearchResponse:
        return service.search(request)

    @app.get("/v1/models")
    def models() -> m.ModelList:
        return service.models()

    @app.get("/v1/models/{model_id}")
    def model(model_id: str) -> m.ModelCard:
        for card in service.models().data:
            if card.id == model_id:
                return card
        raise ApiError(
            404, f"There is no model '{model_id}'; this server has '{service.model}'.", code="model_not_found"
        )

    @app.get("/health")
    def health() -> m.Health:
        return service.health()

    return app
