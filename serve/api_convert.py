"""Between the wire and `ask()`, with no I/O: messages → question and history, `Answer` → response models."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.types import Answer, Citation
from rag.types import Hit as RagHit
from serve import api_models as m
from serve.api_errors import ApiError

HISTORY_ROLES = ("user", "assistant")


@dataclass(frozen=True)
class ChatQuestion:
    """What one chat-completions request asks: the last user message, after the turns before it."""

    question: str
    history: tuple[tuple[str, str], ...]  # (role, content) of the earlier user and assistant turns
    stream: bool
    include_usage: bool
    answer_tokens: int | None
    temperature: float | None
    documents: tuple[str, ...] = ()  # only these documents (paths or globs); () searches them all

    def history_messages(self) -> list[dict[str, str]]:
        """The earlier turns as OpenAI-style messages, the form `ask(history=...)` takes."""
        return [{"role": role, "content": content} for role, content in self.history]


def parse_chat(request: m.ChatRequest, served: str) -> ChatQuestion:
    """The question and its history; an `ApiError` that says the fix for anything unusable."""
    if request.model != served:
        raise ApiError(
            404,
            f"The model '{request.model}' does not exist here: this server answers from the index '{served}'. "
            f"Set model='{served}' (GET /v1/models lists it).",
            code="model_not_found",
            param="model",
        )
    if not request.messages:
        raise ApiError(
            400, "'messages' is empty; send the conversation, ending with the user's question.", param="messages"
        )
    last = request.messages[-1]
    if last.role != "user":
        raise ApiError(
            400,
            f"The last message is from '{last.role}'; end 'messages' with the user's question.",
            param="messages",
        )
    question = message_text(last.content, len(request.messages) - 1).strip()
    if not question:
        raise ApiError(400, "The question (the last user message) is empty; type a question.", param="messages")
    history = tuple(
        (msg.role, message_text(msg.content, i))
        for i, msg in enumerate(request.messages[:-1])
        if msg.role in HISTORY_ROLES
    )
    options = request.stream_options
    return ChatQuestion(
        question=question,
        history=history,
        stream=request.stream,
        include_usage=bool(options and options.include_usage),
        answer_tokens=request.max_completion_tokens or request.max_tokens,
        temperature=request.temperature,
        documents=tuple(request.documents or ()),
    )


def message_text(content: str | Sequence[m.ContentPart] | None, index: int) -> str:
    """A message's text: its string, or its text parts joined; other parts (images, audio) are refused."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    other = [part.type for part in content if part.type != "text"]
    if other:
        raise ApiError(
            400,
            f"messages[{index}] has a '{other[0]}' part; this server reads text only, so send the text alone.",
            param=f"messages.{index}.content",
        )
    return "\n".join(part.text or "" for part in content)


def citation(c: Citation) -> m.CitationOut:
    chunk = c.chunk
    return m.CitationOut(
        marker=c.marker,
        document=chunk.doc_id,
        passage=chunk.id,
        title=chunk.title,
        path=chunk.path,
        page=chunk.page,
        start=chunk.start,
        end=chunk.end,
        sentence=c.sentence,
        support=round(c.support, 4),
        evidence=c.evidence,
        evidence_start=c.evidence_start,
        evidence_end=c.evidence_end,
        reattributed=c.reattributed,
    )


def source(marker: int, hit: RagHit) -> m.SourceOut:
    chunk = hit.chunk
    return m.SourceOut(
        marker=marker,
        passage=chunk.id,
        document=chunk.doc_id,
        title=chunk.title,
        path=chunk.path,
        page=chunk.page,
        start=chunk.start,
        end=chunk.end,
        score=round(hit.score, 4),
        text=chunk.text,
    )


def extras(answer: Answer) -> m.Extras:
    """The checked citations, the refusal and its reason, the unsupported sentences and the sources."""
    return m.Extras(
        citations=[citation(c) for c in answer.citations],
        refusal=m.RefusalOut(reason=answer.refusal_reason) if answer.refused else None,
        unsupported_sentences=list(answer.unsupported_sentences),
        sources=[source(i, hit) for i, hit in enumerate(answer.sources, start=1)],
    )


def usage(answer: Answer) -> m.Usage:
    prompt, completion = answer.usage.prompt_tokens, answer.usage.answer_tokens
    return m.Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def completion(answer: Answer, *, id: str, created: int, model: str) -> m.ChatCompletion:
    return m.ChatCompletion(
        id=id,
        created=created,
        model=model,
        choices=[m.Choice(message=m.AssistantMessage(content=answer.text))],
        usage=usage(answer),
        **dict(extras(answer)),
    )


def search_hit(hit: RagHit) -> m.Hit:
    chunk = hit.chunk
    return m.Hit(
        id=chunk.id,
        rank=hit.rank,
        score=round(hit.score, 6),
        scores={name: round(value, 6) for name, value in hit.scores.items()},
        document=chunk.doc_id,
        title=chunk.title,
        path=chunk.path,
        page=chunk.page,
        start=chunk.start,
        end=chunk.end,
        text=chunk.text,
    )


@dataclass(frozen=True)
class StreamIds:
    """What every chunk of one streamed answer repeats."""

    id: str
    created: int
    model: str

    def chunk(self, content: str, *, first: bool = False) -> m.ChatCompletionChunk:
        delta = m.Delta(role="assistant" if first else None, content=content)
        return m.ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model, choices=[m.ChunkChoice(delta=delta)]
        )

    def closing(self, answer: Answer, streamed: str, include_usage: bool) -> list[m.ChatCompletionChunk]:
        """The chunks after the model's last piece: the refusal, if the draft did not say it, then the final one.

        The deltas are the model's draft as it was written; the final chunk carries the checked
        citations and `answer`, the checked text (what a non-streamed response returns as content).
        """
        out: list[m.ChatCompletionChunk] = []
        if answer.refused and answer.text not in streamed:
            out.append(self.chunk(f"\n\n{answer.text}" if streamed.strip() else answer.text))
        final = m.FinalChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[m.ChunkChoice(delta=m.Delta(), finish_reason="stop")],
            usage=usage(answer) if include_usage else None,
            answer=answer.text,
            **dict(extras(answer)),
        )
        return [*out, final]


def sse(event: m.ChatCompletionChunk | Mapping[str, object]) -> str:
    """One server-sent event's `data:` line."""
    data = event.model_dump_json() if isinstance(event, m.ChatCompletionChunk) else json.dumps(event)
    return f"data: {data}\n\n"
