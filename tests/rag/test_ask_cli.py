"""`rag ask` prints the answer once: streamed to a terminal (a draft the checks change is replaced in place),
the checked text alone to a pipe, then the sources; a refusal never shows the model's draft."""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag import ask_cli
from rag.answer import Assistant
from rag.llm import registry
from rag.llm.scripted import ScriptedBackend
from rag.prompting import REFUSAL

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "How much territory did Russian forces seize around Pokrovsk?"
ANSWER = "Russian forces seized 10km of territory around Pokrovsk [1]."
DRAFT = "The documents do not mention the exact area, but Russian forces advanced a long way."


def rag_ask(index: Path, reply: str, monkeypatch: pytest.MonkeyPatch, *extra: str) -> int:
    """`rag ask QUESTION --backend scripted`, in process, with the scripted model replying `reply`."""
    monkeypatch.setattr(registry, "_LOADED", {})
    monkeypatch.setitem(registry.BACKENDS, "scripted", lambda **_: ScriptedBackend(reply))
    parser = argparse.ArgumentParser()
    ask_cli.add_arguments(parser)
    args = [QUESTION, "--index", str(index), "--backend", "scripted", "--no-log", *extra]
    return ask_cli.run(parser.parse_args(args))


def test_piped_answer_is_printed_once_then_its_sources(
    small_index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rag_ask(small_index, ANSWER, monkeypatch) == 0
    out = capsys.readouterr().out
    assert out.count("Russian forces seized 10km") == 2, out  # the answer, and the marked passage below it
    assert out.startswith(ANSWER + "\n\n[1] Front line — pokrovsk.txt") and ">>Russian forces seized" in out


def test_piped_refusal_shows_no_draft_only_the_refusal_and_the_closest_passages(
    small_index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rag_ask(small_index, DRAFT, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "advanced a long way" not in out and out.count(REFUSAL) == 1
    assert out.startswith(f"{REFUSAL}\n\n(declined: the model found no answer in the passages; closest passages")


class Terminal(io.StringIO):
    """A terminal `columns` wide: keeps what was written, and `screen()` is what a person would see."""

    def __init__(self, columns: int = 40) -> None:
        super().__init__()
        self.columns = columns

    def isatty(self) -> bool:
        return True

    def screen(self) -> str:
        lines, row, col = [""], 0, 0
        for token in re.findall(r"\x1b\[\d*[AJ]|\r|\n|[^\x1b\r\n]", self.getvalue()):
            if token == "\n":
                row, col = row + 1, 0
            elif token == "\r":
                col = 0
            elif token.endswith("A"):
                row -= int(token[2:-1] or 1)
                assert row >= 0, "the cursor went above the draft's first line"
            elif token.endswith("J"):
                lines = [*lines[:row], lines[row][:col]]
                continue
            else:
                if col == self.columns:  # wraps before the next character, as terminals do
                    row, col = row + 1, 0
                while len(lines) <= row:
                    lines.append("")
                lines[row] = lines[row][:col].ljust(col) + token + lines[row][col + 1 :]
                col += 1
            while len(lines) <= row:
                lines.append("")
        return "\n".join(lines)


def answer_on_a_terminal(index: Path, reply: str, columns: int, monkeypatch: pytest.MonkeyPatch) -> Terminal:
    monkeypatch.setenv("COLUMNS", str(columns))  # the width shutil.get_terminal_size() reports first
    terminal = Terminal(columns)
    stream = Assistant(index, backend=ScriptedBackend(reply), log_questions=False).stream(QUESTION)
    ask_cli.show(stream, terminal, stream=True)
    return terminal


def test_terminal_streams_the_answer_and_keeps_it_when_the_checks_agree(
    small_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = answer_on_a_terminal(small_index, ANSWER, 200, monkeypatch)
    assert terminal.getvalue().count(ANSWER) == 1 and "\x1b[" not in terminal.getvalue()
    assert terminal.screen().startswith(ANSWER + "\n\n[1] Front line")


@pytest.mark.parametrize("columns", [200, 30, 7])
def test_terminal_replaces_a_refused_draft_in_place(
    small_index: Path, columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = answer_on_a_terminal(small_index, DRAFT + "\nIt was a big advance.", columns, monkeypatch)
    assert "advanced a long" in terminal.getvalue(), "the draft was streamed as it came"
    screen = terminal.screen()
    assert "advance" not in screen and screen.count(REFUSAL[:6]) == 1, screen
    assert screen.startswith(REFUSAL[:columns])


def test_rag_ask_subprocess_with_the_scripted_backend_prints_the_refusal_once(small_index: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "ask", QUESTION, "--index", str(small_index), "--backend=scripted", "--no-log"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(REFUSAL) == 1 and done.stdout.startswith(REFUSAL + "\n\n(declined:"), done.stdout
