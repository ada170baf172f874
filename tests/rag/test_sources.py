"""The checked prompt's evidence: windows or sentences to a first-token budget at the backend's prompt speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import HashEmbedder
from index.types import Chunk
from rag.answer import Assistant
from rag.llm.scripted import ScriptedBackend
from rag.prompt_speed import LOCAL_PRIOR, MIN_EVIDENCE_TOKENS, PromptSpeed, evidence_budget, prior_for, speed_of
from rag.prompting import DIRECT_PROMPT, SYSTEM_PROMPT, build_prompt, fixed_tokens
from rag.settings import AnswerSettings
from rag.sources import plan_prompt, timed_first_token
from rag.types import Hit

SENTENCES = [
    "The weather in the capital was mild all week.",
    "Officials met in the old town hall on Monday.",
    "The summit took place in Anchorage, Alaska.",
    "Putin arrived by plane on Friday.",
    "Nobody expected a deal.",
    "Markets were calm.",
] * 3
QUESTION = "Where did the summit take place?"


def hits() -> list[Hit]:
    texts = [" ".join(SENTENCES[i : i + 6]) for i in (0, 6, 12)]
    docs = ["a.txt", "b.txt", "c.txt"]
    chunks = [Chunk(f"c{i}", d, d, d, t, 0, len(t)) for i, (d, t) in enumerate(zip(docs, texts))]
    return [Hit(c, 1.0 - i / 10, i + 1) for i, c in enumerate(chunks)]


def settings(**kw: object) -> AnswerSettings:
    return AnswerSettings(backend="scripted", log_questions=False).with_overrides(**kw)


def test_windows_are_the_prompt_as_before() -> None:
    backend = ScriptedBackend()
    planned = plan_prompt(QUESTION, hits(), backend, settings(evidence="windows", source_tokens=20))
    before = build_prompt(QUESTION, hits(), backend, answer_tokens=160, focus=QUESTION, source_tokens=20)
    assert planned.prompt == before


def test_sentences_fill_the_budget_the_prompt_speed_allows() -> None:
    backend = ScriptedBackend()
    chosen = settings(evidence="sentences", prompt_tokens_per_second=80.0, first_token_budget=3.0)
    planned = plan_prompt(QUESTION, hits(), backend, chosen)
    fixed = fixed_tokens(QUESTION, backend)
    assert planned.budget.tokens == 240 - fixed and planned.budget.rate == 80.0
    assert 0 < planned.prompt.prompt_tokens - fixed <= planned.budget.tokens
    assert "Anchorage, Alaska" in planned.prompt.messages[-1].content


def test_a_server_of_unknown_speed_reads_whole_chunks() -> None:
    backend = ScriptedBackend()
    planned = plan_prompt(QUESTION, hits(), backend, settings(evidence="sentences"))
    assert planned.budget.tokens is None
    user = planned.prompt.messages[-1].content
    assert all(h.chunk.text in user for h in hits())


def test_the_first_token_time_measures_the_backend() -> None:
    backend = ScriptedBackend("Anchorage [1].")
    assert not speed_of(backend).measured
    pieces = list(timed_first_token(backend.complete([]), backend, 300))
    assert "".join(pieces) == "Anchorage [1]." and speed_of(backend).measured
    assert speed_of(backend) is speed_of(backend) and speed_of(backend) is not speed_of(ScriptedBackend())
    planned = plan_prompt(QUESTION, hits(), backend, settings(evidence="sentences"))
    assert planned.budget.measured and planned.budget.rate is not None


def test_the_speed_is_the_median_of_recent_answers_after_a_prior() -> None:
    speed = PromptSpeed(prior=100.0, window=3)
    assert speed.rate() == 100.0 and not speed.measured
    for tokens, seconds in [(100, 1.0), (300, 1.0), (200, 1.0), (1000, 1.0)]:
        speed.observe(tokens, seconds)
    assert speed.rate() == 300.0  # the last three: 300, 200, 1000
    speed.observe(0, 0.0)  # an empty prompt or no time says nothing
    assert speed.rate() == 300.0


def test_the_budget_subtracts_the_fixed_prompt_and_keeps_a_floor() -> None:
    speed = PromptSpeed(prior=100.0)
    assert evidence_budget(2.0, 50, speed).tokens == 150
    assert evidence_budget(0.5, 200, speed).tokens == MIN_EVIDENCE_TOKENS
    assert evidence_budget(2.0, 50, speed, rate=10.0).tokens == MIN_EVIDENCE_TOKENS
    assert evidence_budget(2.0, 50, PromptSpeed()).tokens is None


def test_only_the_local_model_has_a_prior() -> None:
    assert prior_for(ScriptedBackend(name="llama-cpp:qwen")) == LOCAL_PRIOR
    assert prior_for(ScriptedBackend(name="openai:gpt-4o-mini")) is None


def test_the_direct_style_asks_for_the_short_answer_first() -> None:
    backend = ScriptedBackend()
    direct = plan_prompt(QUESTION, hits(), backend, settings(answer_style="direct")).prompt
    brief = plan_prompt(QUESTION, hits(), backend, settings()).prompt
    assert direct.messages[0].content == DIRECT_PROMPT and brief.messages[0].content == SYSTEM_PROMPT
    assert "short answer" not in SYSTEM_PROMPT and "name, number, date" in DIRECT_PROMPT


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("evidence", "paragraphs"),
        ("answer_style", "long"),
        ("first_token_budget", 0.0),
        ("prompt_tokens_per_second", 0),
    ],
)
def test_bad_settings_are_refused_by_name(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"{name}={value!r} is invalid"):
        AnswerSettings(**{name: value})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    (src / "alaska.txt").write_text("Alaska summit\n\n" + " ".join(SENTENCES[:6]), encoding="utf-8")
    (src / "taiwan.txt").write_text("Energy\n\nTaiwan burned fossil fuels for 87 percent of its energy.", "utf-8")
    out = tmp_path_factory.mktemp("idx")
    build_index(src, out, embedder=HashEmbedder(64), settings=ChunkerSettings(64, 8))
    return out


def test_an_answer_from_sentences_keeps_claims_and_drops_pointers(index_dir: Path) -> None:
    reply = "Anchorage, Alaska [1]. The summit took place in Anchorage, Alaska [1]. This is stated in [1]."
    backend = ScriptedBackend(reply)
    assistant = Assistant(index_dir, settings(evidence="sentences", min_evidence=0.0), backend=backend)
    answer = assistant.ask(QUESTION)
    assert not answer.refused and "stated" not in answer.text
    assert answer.text == "Anchorage, Alaska [1]. The summit took place in Anchorage, Alaska [1]."
    assert len(answer.citations) == 2 and speed_of(backend).measured
