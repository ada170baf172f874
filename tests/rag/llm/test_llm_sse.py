"""The SSE parser on hand-made byte streams, and Retry-After parsing."""

from __future__ import annotations

import email.utils
import json
import time

import pytest

from rag.llm.base import LLMProtocolError, LLMServerError
from rag.llm.openai import _retry_after
from rag.llm.sse import sse_data, text_pieces

STREAM = (
    ": keep-alive comment\r\n\r\n"
    'event: message\r\ndata: {"a": "café 日本"}\r\n\r\n'
    "data: line one\ndata: line two\n\n"
    "data:no-space\r\r"
    "data: [DONE]\n\n"
).encode()
EVENTS = ['{"a": "café 日本"}', "line one\nline two", "no-space", "[DONE]"]


def test_sse_whole_stream() -> None:
    assert list(sse_data([STREAM])) == EVENTS


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_sse_split_anywhere(cut: int) -> None:
    """Chunk edges inside a CRLF or a multi-byte character change nothing."""
    assert list(sse_data([STREAM[:cut], STREAM[cut:]])) == EVENTS


def test_sse_byte_by_byte() -> None:
    assert list(sse_data(STREAM[i : i + 1] for i in range(len(STREAM)))) == EVENTS


def test_sse_last_event_without_blank_line_is_kept() -> None:
    assert list(sse_data([b"data: 1\n\ndata: 2"])) == ["1", "2"]
    assert list(sse_data([b"data: 1\n\ndata: 2\r"])) == ["1", "2"]


def test_sse_unicode_line_separator_inside_json_is_not_a_line_end() -> None:
    payload = json.dumps({"text": "a\u2028b"}, ensure_ascii=False)
    assert list(sse_data([f"data: {payload}\n\n".encode()])) == [payload]


def _chunk(content: str | None = None, finish: str | None = None) -> str:
    delta = {} if content is None else {"content": content}
    return json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def test_text_pieces_stop_at_done() -> None:
    events = [_chunk(""), _chunk("Hel"), _chunk("lo"), "[DONE]", "data after done is ignored"]
    assert list(text_pieces(events)) == ["Hel", "lo"]


def test_text_pieces_accept_finish_reason_without_done() -> None:
    assert list(text_pieces([_chunk("Hi"), _chunk(finish="stop")])) == ["Hi"]


def test_stream_cut_off_midway_is_an_error() -> None:
    with pytest.raises(LLMProtocolError, match="ended before \\[DONE\\]"):
        list(text_pieces([_chunk("Hel")]))


def test_non_json_data_is_a_protocol_error() -> None:
    with pytest.raises(LLMProtocolError, match="not JSON: '\\{not json'"):
        list(text_pieces(["{not json"]))


def test_chunk_without_choices_is_a_protocol_error() -> None:
    with pytest.raises(LLMProtocolError, match="without a 'choices' list"):
        list(text_pieces(['{"id": "x"}']))


def test_error_object_mid_stream_is_a_server_error_and_redacted() -> None:
    events = [_chunk("Hi"), '{"error": {"message": "model crashed, key sk-123"}}']
    with pytest.raises(LLMServerError, match="model crashed") as err:
        list(text_pieces(events, redact=lambda s: s.replace("sk-123", "***")))
    assert "sk-123" not in str(err.value)


def test_retry_after_seconds_and_dates() -> None:
    assert _retry_after("2") == 2.0
    assert _retry_after("-5") == 0.0
    assert _retry_after(None) is None
    assert _retry_after("soon") is None
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= (_retry_after(in_ten) or 0.0) <= 10.0
