"""The HTTP API's requests and responses: OpenAI's chat-completions wire format plus our extra fields.

Requests forbid unknown fields (a misspelt `max_token` is an error, not silently ignored). Standard
OpenAI fields that cannot change an answer drawn from the documents (`top_p`, `seed`, `user`, ...)
are accepted and ignored, so ordinary clients work unchanged. Responses carry the checked
citations in `citations` and a refusal's reason in `refusal`, fields standard clients ignore.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.settings import MAX_TOP_K

MIN_ANSWER_TOKENS, MAX_ANSWER_TOKENS = 16, 8192  # AnswerSettings.answer_tokens' bounds


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContentPart(BaseModel):
    """One part of a message's content; only `text` parts are accepted (checked when parsed)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    text: str | None = None


class ChatMessage(_Request):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    # What a client echoes back from an earlier assistant message; none of it changes the answer.
    refusal: str | None = None
    annotations: list[object] | None = None
    audio: object | None = None
    tool_calls: list[object] | None = None
    function_call: object | None = None
    tool_call_id: str | None = None
    cache_control: dict[str, object] | None = None  # prompt-caching hint (Open WebUI sends it); nothing to cache here


class StreamOptions(_Request):
    include_usage: bool = False
    include_obfuscation: bool | None = None


class ChatRequest(_Request):
    model: str
    messages: list[ChatMessage]
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=MIN_ANSWER_TOKENS, le=MAX_ANSWER_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=MIN_ANSWER_TOKENS, le=MAX_ANSWER_TOKENS)
    n: int | None = Field(None, ge=1, le=1, description="one answer per request")
    # Ours: search only these documents (paths relative to the indexed folder, ids or globs; rag/documents.py).
    documents: list[str] | None = Field(None, description="only these documents: paths or globs, e.g. 'guide/*.md'")
    # Accepted and ignored: sampling knobs and bookkeeping that cannot change a grounded answer.
    top_p: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: str | None = None
    reasoning: dict[str, object] | None = None


class SearchFilters(_Request):
    paths: list[str] = Field(default_factory=list, description="globs on document path or id, e.g. 'reports/*.pdf'")
    documents: list[str] = Field(
        default_factory=list, description="indexed documents by path or glob; one that matches none is an error"
    )


class SearchRequest(_Request):
    query: str
    k: int = Field(5, ge=1, le=MAX_TOP_K)
    filters: SearchFilters | None = None


class CitationOut(BaseModel):
    """One checked citation: answer sentence `sentence` is supported by passage `passage` of `document`."""

    marker: int = Field(description="the [n] in the answer text; numbers `sources` from 1")
    document: str
    passage: str = Field(description="chunk id of the cited passage")
    title: str
    path: str
    page: int | None
    start: int = Field(description="character offset of the passage in its document")
    end: int
    sentence: str = Field(description="the answer sentence this citation supports")
    support: float = Field(description="how well the passage supports the sentence, 0-1")
    evidence: str = Field(description="the sentence of the passage that best backs the answer sentence")
    evidence_start: int
    evidence_end: int
    reattributed: bool = Field(description="the checker moved the citation to a better-supporting passage")


class SourceOut(BaseModel):
    """A passage the model was shown (or, for a refusal, one of the closest passages)."""

    marker: int
    passage: str
    document: str
    title: str
    path: str
    page: int | None
    start: int
    end: int
    score: float
    text: str = Field(description="the passage itself, so a client can show what the answer rests on")


class RefusalOut(BaseModel):
    refused: Literal[True] = True
    reason: str


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Extras(BaseModel):
    """Our fields on a response (and on a stream's last chunk); standard clients ignore them."""

    citations: list[CitationOut] = Field(default_factory=list)
    refusal: RefusalOut | None = None
    unsupported_sentences: list[str] = Field(default_factory=list)
    sources: list[SourceOut] = Field(default_factory=list)


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class OpenAICompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class ChatCompletion(Extras, OpenAICompletion):
    """OpenAI's fields first, then ours."""


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


class FinalChunk(Extras, ChatCompletionChunk):
    """A stream's last chunk before `data: [DONE]`: the extras, and `answer`, the checked text."""

    answer: str = Field(description="the checked answer text, as a non-streamed response's content")


class Hit(BaseModel):
    id: str = Field(description="chunk id of the passage")
    rank: int
    score: float
    scores: dict[str, float] = Field(description="each retrieval stage's own score: dense, lexical, fused, ...")
    document: str
    title: str
    path: str
    page: int | None
    start: int
    end: int
    text: str


class SearchResponse(BaseModel):
    object: Literal["list"] = "list"
    query: str
    data: list[Hit]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "rag-chat"
    index: str
    documents: int


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: str
    index: str
    version: str
    documents: int
    backend: str
