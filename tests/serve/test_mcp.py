"""`rag mcp` as a subprocess, driven through the official SDK's stdio client: every tool, a refusal, and a
standard output that carries nothing but the protocol. Hash embedder and a scripted model: fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
ANSWER = "The summit took place in Anchorage, Alaska [1]."
# `rag mcp` itself, through cli.main, with the `scripted` backend made to answer by keyword (a model
# cannot be handed to another process); everything else is the command as a user runs it.
LAUNCH = f"""
import sys
from rag.llm import registry
from rag.llm.scripted import ScriptedBackend
from rag.prompting import REFUSAL

def reply(messages):
    return REFUSAL if "football" in messages[-1].content else {ANSWER!r}

registry.BACKENDS["scripted"] = lambda **options: ScriptedBackend(reply)
from cli import main
sys.exit(main(sys.argv[1:]))
"""


def _env() -> dict[str, str]:
    keep = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM", "OPENBLAS_CORETYPE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    return {**env, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _command(index: Path) -> list[str]:
    return ["-c", LAUNCH, "mcp", "--index", str(index), "--backend", "scripted"]


async def _session(index: Path, errlog: Any) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=_command(index), env=_env(), cwd=str(ROOT))
    results: dict[str, Any] = {}
    with anyio.fail_after(120):
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            results["tools"] = tools
            calls: list[tuple[str, dict[str, Any]]] = [
                ("list_documents", {}),
                ("search", {"query": "Where did the summit take place?", "k": 2}),
                ("ask", {"question": "Where did the summit take place?"}),
                ("ask", {"question": "Who won the football cup in Anchorage?"}),
                ("search", {"query": "   "}),
                ("search", {"query": "Where did the summit take place?", "k": 2, "documents": ["taiwan.txt"]}),
                ("ask", {"question": "Where did the summit take place?", "documents": ["kyiv.txt"]}),
            ]
            for name, arguments in calls:
                result = await session.call_tool(name, arguments, read_timeout_seconds=60)
                results.setdefault(name, []).append(result)
    return results


@pytest.mark.timeout(300)
def test_every_tool_answers_through_the_stdio_client(small_index: Path, tmp_path: Path) -> None:
    with open(tmp_path / "server.log", "w", encoding="utf-8") as errlog:
        results = anyio.run(_session, small_index, errlog)
    tools = results["tools"]
    assert set(tools) == {"search", "ask", "list_documents"}
    for tool in tools.values():
        assert len(tool.description or "") > 150 and tool.input_schema["type"] == "object"
        assert tool.output_schema and tool.annotations and tool.annotations.read_only_hint
    assert tools["search"].input_schema["required"] == ["query"]
    assert tools["ask"].input_schema["required"] == ["question"]

    listed = results["list_documents"][0].structured_content
    assert sorted(d["id"] for d in listed["documents"]) == ["alaska.txt", "pokrovsk.txt", "taiwan.txt"]
    assert listed["total"] == 3 and all(d["chunks"] >= 1 and d["title"] for d in listed["documents"])

    found, blank = (r.structured_content for r in results["search"][:1]), results["search"][1]
    passages = next(found)["passages"]
    assert 1 <= len(passages) <= 2 and passages[0]["document"] == "alaska.txt" and "Anchorage" in passages[0]["text"]
    assert {"id", "score", "title", "path", "page", "start", "end"} <= set(passages[0])
    assert blank.is_error and "empty" in blank.content[0].text

    narrowed = results["search"][2].structured_content["passages"]
    assert narrowed and {p["document"] for p in narrowed} == {"taiwan.txt"}
    unknown = results["ask"][2]
    assert unknown.is_error and "'kyiv.txt' matches no indexed document" in unknown.content[0].text

    answered, declined = (r.structured_content for r in results["ask"][:2])
    assert not answered["refused"] and answered["answer"] == ANSWER
    cited = answered["citations"][0]
    assert cited["marker"] == 1 and cited["document"] == "alaska.txt" and cited["support"] > 0.5
    assert "Anchorage" in cited["evidence"]
    assert declined["refused"] and declined["refusal_reason"] and not declined["citations"]
    # The answers went through Assistant, so both were logged where `rag stats` reads them.
    logged = [json.loads(line) for line in (small_index / "logs" / "questions.jsonl").read_text().splitlines()]
    assert [r["refused"] for r in logged] == [False, True]


@pytest.mark.timeout(120)
def test_standard_output_carries_only_protocol_messages(small_index: Path) -> None:
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "ask", "arguments": {"question": "Where did the summit take place?"}},
        },
    ]
    process = subprocess.Popen(
        [sys.executable, *_command(small_index)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=ROOT,
        text=True,
    )
    assert process.stdin and process.stdout
    for request in requests:
        process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
    lines: list[str] = []
    while len(lines) < 2:  # the two answers; then end of input stops the server
        line = process.stdout.readline()
        assert line, f"server ended early: {process.communicate(timeout=10)[1][-2000:]}"
        lines.append(line)
    out, err = process.communicate(timeout=60)  # closes standard input: the server ends
    messages = [json.loads(line) for line in [*lines, *out.splitlines()] if line.strip()]
    assert all(m["jsonrpc"] == "2.0" for m in messages)
    assert [m.get("id") for m in messages] == [1, 2]
    assert messages[1]["result"]["structuredContent"]["answer"] == ANSWER
    assert process.returncode == 0, err[-2000:]


def test_a_missing_index_is_refused_before_serving(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, *_command(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "no index at" in done.stderr and "rag index" in done.stderr
