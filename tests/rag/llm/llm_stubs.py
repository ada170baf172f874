"""Helpers shared by the LLM tests (a plain module: importing from conftest is fragile)."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A loopback port nobody listens on (closed right after binding)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def sse_body(*pieces: str, done: bool = True) -> bytes:
    """A chat-completions stream answering `pieces`, as OpenAI sends it."""
    events = [{"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}]
    events += [{"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    lines = [f"data: {json.dumps(e)}\n\n" for e in events] + (["data: [DONE]\n\n"] if done else [])
    return "".join(lines).encode()


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StubServer:
    """Answers POSTs with `replies` in order (the last one repeats) and records what it was sent."""

    url: str
    replies: list[Reply]
    hits: int = 0
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)

    def next_reply(self, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        self.hits += 1
        self.requests.append((headers, body))
        return self.replies[min(self.hits, len(self.replies)) - 1]


def make_distribution(root: Path, name: str, version: str, files: dict[str, bytes]) -> None:
    """An installed-looking distribution (dist-info with RECORD) under `root`, which must be on sys.path."""
    module = name.replace("-", "_")
    info = root / f"{module}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text("".join(f"{path},,\n" for path in files) + f"{info.name}/RECORD,,\n")
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
