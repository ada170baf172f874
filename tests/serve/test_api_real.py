"""Acceptance: `rag serve` on the reference news corpus with the real default model, driven by the official
`openai` client. Three generations in all (a plain answer, a streamed follow-up, a refusal), to stay
inside the CI budget on two cores.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.prompting import REFUSAL
from tests.conftest import ROOT, free_port

pytestmark = [pytest.mark.slow, pytest.mark.integration]

KEY = "acceptance-key"
FIRST = "Which Ukrainian Brigadier General vowed to continue drone strikes?"
FOLLOW_UP = "Until when did he vow to keep them up?"


@pytest.fixture(scope="module")
def server(news_index: Path) -> Iterator[str]:
    """`rag serve` in a subprocess on a free loopback port; yields its base URL (…/v1)."""
    port = free_port()
    env = {**os.environ, "RAG_API_KEY": KEY, "RAG_QUESTION_LOG": "0"}
    env.pop("RAG_BACKEND", None)
    command = [sys.executable, "-m", "cli", "serve", "--index", str(news_index), "--port", str(port)]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"rag serve exited: {proc.communicate()[0]}"
            assert time.monotonic() < deadline, "rag serve did not start in 180 s"
            try:
                if httpx.get(f"{url}/health", headers={"Authorization": f"Bearer {KEY}"}, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        yield f"{url}/v1"
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def client(base_url: str, key: str = KEY) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=300)


def model_name(news_index: Path) -> str:
    return news_index.resolve().name


def test_plain_answer_then_a_streamed_follow_up_with_citations(server: str, news_index: Path) -> None:
    model = model_name(news_index)
    api = client(server)
    first = api.chat.completions.create(model=model, messages=[{"role": "user", "content": FIRST}])
    text = first.choices[0].message.content
    print(f"\nplain answer: {text}\ncitations: {first.model_extra['citations']}")
    assert "Shchygol" in text and re.search(r"\[\d+\]", text), text
    assert first.model_extra["refusal"] is None and first.model_extra["citations"]
    cited = first.model_extra["citations"][0]
    assert cited["path"] == "000_f8153a16f5650d2a.txt" and cited["support"] >= 0.5 and cited["evidence"]
    assert 0 <= cited["start"] < cited["end"] and cited["sentence"]

    messages = [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": text},
        {"role": "user", "content": FOLLOW_UP},
    ]
    chunks = list(api.chat.completions.create(model=model, messages=messages, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    last = chunks[-1].model_extra
    print(f"streamed follow-up: {streamed}\nchecked: {last['answer']}\ncitations: {last['citations']}")
    assert len(chunks) > 3 and chunks[-1].choices[0].finish_reason == "stop"
    assert last["refusal"] is None and "war" in last["answer"].lower()
    passages = " ".join(" ".join(c["evidence"].split()) for c in last["citations"])
    assert "until Russia ended the war" in passages


def test_a_question_the_documents_do_not_answer_is_refused(server: str, news_index: Path) -> None:
    answer = client(server).chat.completions.create(
        model=model_name(news_index), messages=[{"role": "user", "content": "What is the population of Alaska?"}]
    )
    print(f"\nrefusal: {answer.choices[0].message.content} {answer.model_extra['refusal']}")
    assert answer.choices[0].message.content == REFUSAL
    assert answer.model_extra["refusal"]["refused"] is True and answer.model_extra["refusal"]["reason"]


def test_wrong_key_is_401_and_a_malformed_body_is_400(server: str, news_index: Path) -> None:
    from openai import AuthenticationError, BadRequestError

    with pytest.raises(AuthenticationError) as wrong:
        client(server, "wrong-key").chat.completions.create(
            model=model_name(news_index), messages=[{"role": "user", "content": FIRST}]
        )
    with pytest.raises(BadRequestError) as malformed:
        client(server).chat.completions.create(
            model=model_name(news_index), messages=[{"role": "user", "content": FIRST}], extra_body={"temprature": 1}
        )
    raw = httpx.post(
        f"{server}/chat/completions",
        content=b'{"model": "x", "messages": [}',
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    print(f"\n401: {wrong.value.message}\n400: {malformed.value.message}\n400: {raw.json()}")
    assert wrong.value.status_code == 401 and malformed.value.status_code == 400 and raw.status_code == 400
    assert "temprature" in malformed.value.message and "not valid JSON" in raw.json()["error"]["message"]


def test_search_returns_passages_with_locations(server: str) -> None:
    r = httpx.post(
        f"{server}/search",
        json={"query": "Syzran refinery drones", "k": 3},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    hits = r.json()["data"]
    print(f"\nsearch: {[(h['id'], round(h['score'], 3), h['start'], h['end']) for h in hits]}")
    assert r.status_code == 200 and len(hits) == 3 and [h["rank"] for h in hits] == [1, 2, 3]
    assert "Syzran" in hits[0]["text"] and hits[0]["path"] == "000_f8153a16f5650d2a.txt"
    assert hits[0]["id"] and hits[0]["end"] > hits[0]["start"] and hits[0]["scores"]
