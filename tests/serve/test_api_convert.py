"""Reading a chat-completions request, without a server: messages → question, history and options."""

from __future__ import annotations

from typing import Any

import pytest

from serve.api_convert import parse_chat
from serve.api_errors import ApiError, validation_message
from serve.api_models import ChatRequest


def request(messages: list[dict[str, Any]], **extra: Any) -> ChatRequest:
    return ChatRequest.model_validate({"model": "news", "messages": messages, **extra})


def test_the_last_user_message_is_the_question_and_earlier_turns_the_history() -> None:
    q = parse_chat(
        request(
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Who wrote the column?"},
                {"role": "assistant", "content": "Marc Champion [1].", "refusal": None, "tool_calls": None},
                {"role": "tool", "content": "ignored", "tool_call_id": "t1"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": " Which regions "},
                        {"type": "text", "text": "does he cover? "},
                    ],
                },
            ],
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=64,
            max_completion_tokens=80,
            temperature=0.2,
            top_p=0.9,
            seed=1,
        ),
        "news",
    )
    assert q.question == "Which regions \ndoes he cover?"
    assert q.history_messages() == [
        {"role": "user", "content": "Who wrote the column?"},
        {"role": "assistant", "content": "Marc Champion [1]."},
    ]
    assert (q.stream, q.include_usage, q.answer_tokens, q.temperature) == (True, True, 80, 0.2)


@pytest.mark.parametrize(
    ("messages", "model", "status", "says"),
    [
        ([{"role": "user", "content": "hi"}], "other", 404, "Set model='other'"),
        ([], "news", 400, "'messages' is empty"),
        ([{"role": "user", "content": None}], "news", 400, "is empty"),
        ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "news", 400, "from 'assistant'"),
        (
            [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
            "news",
            400,
            "'input_audio' part",
        ),
    ],
)
def test_unusable_conversations_say_the_fix(messages: list[dict[str, Any]], model: str, status: int, says: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse_chat(request(messages), model)
    assert raised.value.status == status and says in raised.value.message


def test_a_misspelt_field_is_reported_as_unknown_rather_than_the_right_one_as_missing() -> None:
    errors = [
        {"type": "missing", "loc": ("body", "query"), "msg": "Field required"},
        {"type": "extra_forbidden", "loc": ("body", "qurey"), "msg": "Extra inputs are not permitted"},
    ]
    assert validation_message(errors) == (
        "Unknown field 'qurey'; remove it (GET /openapi.json lists the fields).",
        "qurey",
    )
