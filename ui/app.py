"""The Gradio Blocks app: widgets wired to `Engine` and `ChatSession`; no retrieval or prompting here."""

from __future__ import annotations

import html
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Gradio reports usage over the network unless told not to; this tool runs offline.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from starlette.middleware import Middleware

from index.documents import SUPPORTED_SUFFIXES
from rag.rerank import rerank_status
from rag.settings import AnswerSettings
from ui.assets import CSS, HEAD, SCROLL_TO_SELECTED
from ui.documents import document_list, document_picker, keep_current
from ui.engine import Engine, friendly_error
from ui.examples import example_questions
from ui.readiness import WAITING, Readiness
from ui.session import ChatSession, FeedbackLog, respond
from ui.throttle import LoginThrottle, LoginThrottleMiddleware, ThrottlePolicy
from ui.uploads import DEFAULT_MAX_UPLOAD_BYTES, UploadResult, upload_and_index

HIDDEN_BACKENDS = {"scripted"}  # the test double: offered only when the app was started with it
Outputs = tuple[Any, ...]


@dataclass(frozen=True)
class AppConfig:
    index_dir: Path
    feedback_path: Path
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    title: str = "rag-chat"
    backends: tuple[str, ...] = field(default_factory=tuple)


def build_app(engine: Engine, config: AppConfig) -> gr.Blocks:
    feedback = FeedbackLog(config.feedback_path)
    defaults = engine.defaults
    # The model loads as the chat starts, not at the first question; the page says so until it is ready.
    readiness = Readiness(engine, example_questions(engine.manifest())).start()
    with gr.Blocks(title=config.title, analytics_enabled=False, fill_width=True) as app:
        session = gr.State(ChatSession())
        gr.Markdown(f"### {config.title}\n{_index_line(engine)}", elem_id="header")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat",
                    elem_id="chat",
                    height=520,
                    buttons=["copy"],
                    placeholder="Ask a question about the documents. Every claim comes with a numbered source.",
                )
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask a question about the documents",
                        show_label=False,
                        scale=6,
                        elem_id="question",
                        autofocus=True,
                    )
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                    new_chat = gr.Button("New chat", scale=1, elem_id="new-chat")
                doc_filter = document_picker()
                _readiness_panel(app, readiness, question)
                settings = _settings_panel(defaults, config)
            with gr.Column(scale=2):
                sources = gr.HTML(ChatSession().panel(), elem_id="sources", label="Sources", padding=True)
                with gr.Accordion("Upload documents", open=False, elem_id="uploads"):
                    files = gr.File(
                        file_count="multiple",
                        file_types=list(SUPPORTED_SUFFIXES),
                        label=f"{' '.join(SUPPORTED_SUFFIXES)} · up to {config.max_upload_bytes / 1e6:.0f} MB each",
                        elem_id="upload",
                    )
                    upload_status = gr.Markdown(elem_id="upload-status")
                doc_list = document_list()
                feedback_status = gr.Markdown(elem_id="feedback-status")
        cite_key = gr.Textbox(visible="hidden", elem_id="cite-key")

        def ask(text: str, state: ChatSession, *values: Any) -> Iterator[Outputs]:
            *setting_values, documents = values  # the picker comes last: "Search only in"
            chosen = _chat_settings(defaults, *setting_values)
            if text.strip() and readiness.state == "loading":
                waiting = [{"role": "user", "content": text.strip()}, {"role": "assistant", "content": WAITING}]
                yield [*state.messages(), *waiting], state.panel(), state, ""
            for update in respond(engine, state, text, chosen, documents or ()):
                yield update.messages, update.panel, state, ""

        def clear(state: ChatSession) -> Outputs:
            state.clear()
            return [], state.panel(), state, ""

        def select(key: str, state: ChatSession) -> str:
            return state.select(key)

        def rate(state: ChatSession, data: gr.LikeData) -> str:
            index = data.index if isinstance(data.index, int) else data.index[0]
            try:
                entry = feedback.record(state, index, data.liked is True, str(engine.index_dir))
            except (ValueError, OSError) as exc:
                return f"Feedback not saved: {exc}"
            return f"Thanks: feedback ({entry['rating']}) saved."

        def upload(paths: list[str] | None, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
            if not paths:
                return ""

            def tick(stage: str, done: int, total: int) -> None:
                progress(done / total if total else 1.0, desc=f"{'Reading' if stage == 'load' else 'Embedding'}")

            try:
                result = upload_and_index(
                    [(Path(p), Path(p).name) for p in paths],
                    config.index_dir,
                    max_bytes=config.max_upload_bytes,
                    progress=tick,
                )
            except Exception as exc:  # noqa: BLE001 - a readable line in the page, never a trace
                return f"**Upload failed.** {friendly_error(exc)}"
            engine.reload()
            return upload_message(result)

        inputs = [question, session, *settings, doc_filter]
        outputs = [chatbot, sources, session, question]
        # One answer at a time: the local model has a single context, shared by every session.
        question.submit(ask, inputs, outputs, api_name="ask", concurrency_limit=1, concurrency_id="answer")
        send.click(ask, inputs, outputs, api_visibility="private", concurrency_limit=1, concurrency_id="answer")
        new_chat.click(clear, [session], outputs, api_name="new_chat")
        chatbot.clear(clear, [session], outputs, api_visibility="private")  # the chat's own bin button
        cite_key.change(select, [cite_key, session], [sources], api_name="select_source").then(
            None, None, None, js=SCROLL_TO_SELECTED
        )
        chatbot.like(rate, [session], [feedback_status], api_visibility="private")
        uploaded = files.upload(upload, [files], [upload_status], api_name="upload", concurrency_limit=1)
        keep_current(app, engine, doc_filter, doc_list).after(uploaded)
    blocks: gr.Blocks = app
    return blocks


def _readiness_panel(app: gr.Blocks, readiness: Readiness, question: gr.Textbox) -> None:
    """The status line under the question box and the example questions, kept current by a timer
    until the model is loaded and the examples are settled (a page opened later gets them on load)."""
    status = gr.Markdown(readiness.status_markdown(), elem_id="model-status")
    examples = gr.Dataset(
        components=["html"],  # shown whole: a Textbox or Markdown sample is cut after 60 characters
        samples=_samples(readiness.examples),
        label="Example questions",
        elem_id="examples",
        visible=bool(readiness.examples),
    )
    timer = gr.Timer(1.0, active=not readiness.settled)

    def poll() -> Outputs:
        now = readiness.view()
        shown = gr.Dataset(samples=_samples(now.examples), visible=bool(now.examples))
        return now.status, shown if now.examples_done else gr.skip(), gr.Timer(active=not now.settled)

    def pick(sample: list[str]) -> str:
        return html.unescape(sample[0])

    outputs = [status, examples, timer]
    timer.tick(poll, None, outputs, api_visibility="private", show_progress="hidden")
    app.load(poll, None, outputs, api_name="status", show_progress="hidden")
    examples.click(pick, [examples], [question], api_visibility="private")


def _samples(questions: Sequence[str]) -> list[list[str]]:
    # Escaped: a drafted question holds words of the documents, and the samples are shown as HTML.
    return [[html.escape(q)] for q in questions]


def _settings_panel(defaults: AnswerSettings, config: AppConfig) -> list[Any]:
    from rag.llm.catalogue import MODELS
    from rag.retrieval import RETRIEVERS

    status = rerank_status()
    backends = list(config.backends) or [b for b in _backend_names() if b not in HIDDEN_BACKENDS]
    if defaults.backend not in backends:
        backends.insert(0, defaults.backend)
    with gr.Accordion("Settings", open=False, elem_id="settings"):
        backend = gr.Dropdown(backends, value=defaults.backend, label="Backend", elem_id="backend")
        model = gr.Dropdown(
            ["", *MODELS],
            value=defaults.model,
            label="Model",
            info="blank: the backend's default; a catalogue name, a GGUF path, or a server's model name",
            allow_custom_value=True,
            elem_id="model",
        )
        top_k = gr.Slider(1, 12, value=defaults.top_k, step=1, label="Passages to retrieve (top-k)")
        retriever = gr.Radio(list(RETRIEVERS), value=defaults.retriever, label="Retrieval")
        rerank = gr.Checkbox(
            value=False, label="Re-rank with a cross-encoder", info=status.reason, interactive=status.available
        )
    return [backend, model, top_k, retriever, rerank]


def _backend_names() -> list[str]:
    from rag.llm.registry import BACKENDS

    return list(BACKENDS)


def _chat_settings(
    defaults: AnswerSettings, backend: str, model: str | None, top_k: float, retriever: str, rerank: bool
) -> AnswerSettings:
    return defaults.with_overrides(
        backend=backend, model=(model or "").strip(), top_k=int(top_k), retriever=retriever, rerank=bool(rerank)
    )


def _index_line(engine: Engine) -> str:
    manifest = engine.manifest()
    if manifest is None:
        return f"No index at `{engine.index_dir}` yet: upload documents to start."
    return (
        f"Answering from `{manifest.source or '?'}` ({manifest.counts.documents} documents, "
        f"{manifest.counts.chunks} passages)."
    )


def upload_message(result: UploadResult) -> str:
    lines = []
    report = result.report
    if result.saved and report is not None:
        mine = [d for d in (*report.added, *report.updated)]
        lines.append(
            f"Indexed {', '.join(result.saved)}: {len(report.added)} added, {len(report.updated)} updated, "
            f"{report.embedded_chunks} new passage(s) embedded in {report.seconds:.1f} s. Ask about them now."
            if mine
            else f"{', '.join(result.saved)}: already indexed, nothing changed."
        )
        lines += [f"- skipped {s.path}: {s.reason}" for s in report.skipped if s.path.split("/")[-1] in result.saved]
    lines += [f"- rejected {r.name}: {r.reason}" for r in result.rejected]
    return "\n".join(lines)


def launch(
    app: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    auth: tuple[str, str] | None = None,
    share: bool = False,
    max_file_size: int = DEFAULT_MAX_UPLOAD_BYTES,
    block: bool = True,
    login_throttle: ThrottlePolicy | None = None,
) -> str:
    """Serve `app`; with block=False return at once (tests). Returns the local URL.

    With a login, failed logins are throttled per client address (`login_throttle`, default ThrottlePolicy()):
    a doubling delay, then a lockout, each answered at once with HTTP 429 and Retry-After."""
    app_kwargs: dict[str, Any] = {}
    if auth is not None:
        throttle = LoginThrottle(login_throttle)
        app_kwargs["middleware"] = [Middleware(LoginThrottleMiddleware, throttle=throttle)]
    _, url, _ = app.queue(default_concurrency_limit=1).launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=auth,
        max_file_size=max_file_size,
        footer_links=[],
        theme=theme(),
        css=CSS,
        head=HEAD,
        prevent_thread_lock=not block,
        quiet=not block,
        app_kwargs=app_kwargs,
    )
    return str(url)


def theme() -> gr.themes.Base:
    # System fonts: the default theme would fetch web fonts, and this tool runs offline.
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
