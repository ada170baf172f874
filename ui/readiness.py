"""Getting the chat ready in the background: load the model as the chat starts, then find example questions.

The page opens at once and shows `status_markdown()`; questions asked while the model loads wait for it.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rag.examples import Stopped, corpus_examples
from ui.engine import Engine, friendly_error

log = logging.getLogger(__name__)

State = Literal["loading", "ready", "failed"]
# Plain symbols only: an emoji font is often missing on the machines this runs on, and shows as a box.
LOADING = "**Loading the model…** Questions asked now are answered as soon as it is ready."
WAITING = "_Loading the model… this question is answered as soon as it is ready._"
# Drafting runs the model in C code; a process that exits under it crashes (SIGSEGV), so exit waits for
# the generation in flight (one short question) after asking the thread to stop.
CLOSE_WAIT_S = 120.0
_LIVE: weakref.WeakSet[Readiness] = weakref.WeakSet()


@dataclass(frozen=True)
class View:
    status: str
    examples: tuple[str, ...]
    examples_done: bool
    settled: bool


class Readiness:
    """The default model's load and the example questions, each done once in one daemon thread.

    `listed` are the corpus's own examples (its `.rag-examples.txt`): when given, none are drafted.
    Attributes are written by the thread and read by page polls; each is replaced whole, never mutated.
    """

    def __init__(self, engine: Engine, listed: Sequence[str] = ()) -> None:
        self.engine = engine
        self.state: State = "loading"
        self.error = ""
        self.model = ""
        self.examples: list[str] = list(listed)
        self.examples_done = bool(listed)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> Readiness:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="chat-warm-up", daemon=True)
            _LIVE.add(self)
            _hook_exit()
            self._thread.start()
        return self

    def close(self, timeout: float = CLOSE_WAIT_S) -> None:
        """Stop drafting before the next question and wait for the model call in flight to end."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """True once the model is loaded (or failed to) and the examples are settled."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.settled

    @property
    def settled(self) -> bool:
        return self.state != "loading" and self.examples_done

    def view(self) -> View:
        """What a page shows now, read in the reverse order of the thread's writes, so `settled`
        never holds before the examples it settles are in the view."""
        done = self.examples_done
        examples = tuple(self.examples)
        return View(self.status_markdown(), examples, done, done and self.state != "loading")

    def run(self) -> None:
        try:
            assistant = self.engine.warm_up()
        except Exception as exc:  # noqa: BLE001 - shown in the page as a sentence; the trace goes to the log
            self.error = friendly_error(exc)
            self.state = "failed"
            self.examples_done = True
            return
        self.model = str(getattr(assistant.backend if assistant else None, "name", "") or self.engine.defaults.backend)
        self.state = "ready"
        if self.examples_done or assistant is None:
            self.examples_done = True
            return
        try:
            self.examples = corpus_examples(assistant, stop=self._stop)
        except Stopped:
            pass
        except Exception:  # no examples is a working chat; the reason goes to the server log
            log.warning("could not draft example questions", exc_info=True)
        finally:
            self.examples_done = True

    def status_markdown(self) -> str:
        if self.state == "loading":
            return LOADING
        if self.state == "failed":
            return f"**The model could not be loaded.** {self.error}"
        return f"✓ Ready: model `{self.model}` loaded."


def _close_all() -> None:
    for readiness in list(_LIVE):
        readiness.close()


_hooked: list[bool] = []


def _hook_exit() -> None:
    """At exit, llama.cpp's own atexit hook frees the model, so drafting must stop before it: the
    interpreter's thread-shutdown hooks (what concurrent.futures uses) run before any atexit handler."""
    if _hooked:
        return
    _hooked.append(True)
    register = getattr(threading, "_register_atexit", None)
    (register or atexit.register)(_close_all)
