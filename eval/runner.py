"""`run_eval`: every question through the same `Assistant.stream` path the chat uses, scored and reported.

A run folder holds config.json (with the configuration's fingerprint), records.jsonl (one
fsynced line per finished question), summary.json, report.md and report.html. Rerunning
into the same folder skips questions already recorded; a different configuration is refused.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from eval.questions import SPLITS, Question, QuestionSet, load_questions, split_of
from eval.records import QuestionRecord, RecordLog, answer_record, retrieval_record
from eval.scoring import missing_gold
from eval.summary import EvalRun, summarize
from index.store import IndexStore, read_manifest
from rag.answer import Assistant
from rag.documents import UnknownDocuments, catalog
from rag.llm.base import LLMBackend
from rag.settings import AnswerSettings

RUNS_DIR = Path(".rag/eval")
RETRIEVAL_ONLY_K = 10


class ConfigMismatch(ValueError):
    """A resumed run whose configuration differs from the one that wrote the folder."""


@dataclass(frozen=True)
class RunSettings:
    """How to run. `answer` says how each question is answered (the chat's and `rag ask`'s settings);
    `top_k`, when given, overrides `answer.top_k` and is the k of Hit@k / Recall@k (retrieval-only
    question sets default to RETRIEVAL_ONLY_K)."""

    answer: AnswerSettings = field(default_factory=AnswerSettings.from_env)
    top_k: int | None = None
    workers: int = 1
    limit: int | None = None
    sample: int | None = None
    seed: int = 0
    split: str | None = None  # only the questions of this half ("tune" or "report"; eval.questions.split_of)
    format: str | None = None
    qrels: str | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("workers", "limit", "sample", "top_k"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}={value} must be 1 or more")
        if self.split is not None and self.split not in SPLITS:
            raise ValueError(f"split={self.split!r} must be one of {', '.join(SPLITS)}")
        if self.top_k is not None:
            object.__setattr__(self, "answer", self.answer.with_overrides(top_k=self.top_k))

    def to_json(self) -> dict[str, Any]:
        """What config.json records (the progress bar is not a setting of the run)."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("answer", "progress")}
        return {"answer": self.answer.to_json(), **own}


def select(questions: Sequence[Question], *, limit: int | None, sample: int | None, seed: int) -> list[Question]:
    """A fixed random sample is a prefix of one seeded shuffle, so a larger sample extends a smaller one."""
    order = list(questions)
    if sample is not None:
        random.Random(seed).shuffle(order)
        order = order[:sample]
    return order[:limit] if limit is not None else order


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def code_digest() -> str:
    """A digest of the source that produces and scores answers: a resumed run must not mix two versions."""
    root = Path(__file__).resolve().parent.parent
    files = sorted(p for package in ("index", "rag", "eval") for p in (root / package).rglob("*.py"))
    return _digest([(str(p.relative_to(root)), hashlib.sha256(p.read_bytes()).hexdigest()) for p in files])


def fingerprint_fields(qs: QuestionSet, index: Path, settings: RunSettings, backend_name: str) -> dict[str, Any]:
    """What decides a question's answer and its scores; the selection (limit, sample) and workers do not."""
    retrieval_only = all(q.retrieval_only for q in qs.questions)
    top_k = settings.top_k or (RETRIEVAL_ONLY_K if retrieval_only else settings.answer.top_k)
    manifest = read_manifest(index)  # digested as its JSON, so earlier runs' fingerprints still match
    # Whether questions are logged changes no answer, so a run resumes with or without --no-log.
    own = ("backend", "model", "retriever", "top_k", "log_questions")
    answer = {k: v for k, v in settings.answer.to_json().items() if k not in own}
    return {
        "questions": _digest([asdict(q) for q in qs.questions]),
        "index": str(index.resolve()),
        "index_manifest": _digest(manifest.to_json() if manifest else None),
        "backend": "" if retrieval_only else backend_name,
        "model": settings.answer.model,
        "retriever": settings.answer.retriever,
        "top_k": top_k,
        "answer_settings": answer,
        "code": code_digest(),
    }


def _commit() -> str:
    """The code's commit, marked `+dirty` when the tree has uncommitted changes (answers may differ)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=root, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    return f"{commit}+dirty" if commit and git("status", "--porcelain", "--untracked-files=no") else commit


def _check_config(out: Path, fields: dict[str, Any]) -> str:
    """The configuration's fingerprint; raises when the folder was written by another configuration."""
    fingerprint = _digest(fields)
    path = out / "config.json"
    if path.exists():
        earlier = json.loads(path.read_text("utf-8"))
        if earlier.get("fingerprint") != fingerprint:
            changed = [k for k in fields if earlier.get("fields", {}).get(k) != fields[k]]
            raise ConfigMismatch(
                f"{out} holds a run with another configuration (differs in: {', '.join(changed) or 'format'}). "
                "Use another --out folder, or delete this one to start over."
            )
    return fingerprint


def _backend_name(settings: RunSettings, backend: LLMBackend | None) -> str:
    if backend is not None:
        return str(getattr(backend, "name", type(backend).__name__))
    return settings.answer.backend


def _make_assistant(index: Path, settings: RunSettings, backend: LLMBackend | None) -> Assistant:
    return Assistant(index, settings.answer, backend=backend)


def check_documents(qs: QuestionSet, store: IndexStore) -> None:
    """Every question's `documents` names indexed documents: checked before a model loads, since a
    misspelt filter would score a question against nothing."""
    bad = []
    for q in (q for q in qs.questions if q.documents):
        try:
            catalog(store).resolve(q.documents)
        except UnknownDocuments as exc:
            bad.append(f"line {q.line} (id {q.id!r}): {exc}")
    if bad:
        more = f" (and {len(bad) - 1} more question(s))" if len(bad) > 1 else ""
        raise ValueError(f"{qs.path}: {bad[0]}{more}. Fix the 'documents' of those questions, or drop them.")


def _answer_one(assistant: Assistant, question: Question, k: int) -> QuestionRecord:
    only = question.documents or None
    answer = assistant.ask(question.question, history=list(question.history), documents=only)
    # Retrieval is scored on the ranked hits the answer was drawn from (at least 10 deep).
    return answer_record(question, answer, [h.chunk for h in answer.hits], k)


def _retrieve_one(store: IndexStore, settings: RunSettings, k: int) -> Callable[[Question], QuestionRecord]:
    from rag.retrieval import get_retriever

    retriever = get_retriever(settings.answer.retriever, store, **settings.answer.retrieval_options())

    def one(question: Question) -> QuestionRecord:
        t0 = time.perf_counter()
        hits = retriever.retrieve(question.question, max(10, k), documents=question.documents or None)
        return retrieval_record(question, [h.chunk for h in hits], k, time.perf_counter() - t0)

    retriever.retrieve("warm up the query embedder", 1)
    return one


def _run_all(
    todo: list[Question],
    one: Callable[[Question], QuestionRecord],
    log: RecordLog,
    settings: RunSettings,
    bar: tqdm[Any],
) -> list[str]:
    """Run `one` on every question, appending each record as it finishes; the failures' messages."""
    errors: list[str] = []

    def finish(question: Question, result: Callable[[], QuestionRecord]) -> None:
        try:
            log.append(result())
        except Exception as exc:  # noqa: BLE001 - one failing question must not lose the others
            errors.append(f"{question.id}: {type(exc).__name__}: {exc}")
        bar.update()

    if settings.workers == 1:
        for question in todo:
            finish(question, partial(one, question))
        return errors
    pool = ThreadPoolExecutor(settings.workers)
    try:
        futures: dict[Future[QuestionRecord], Question] = {pool.submit(one, q): q for q in todo}
        for future in as_completed(futures):
            finish(futures[future], future.result)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return errors


def run_eval(
    questions: str | Path,
    index: str | Path,
    *,
    out: str | Path | None = None,
    settings: RunSettings | None = None,
    backend: LLMBackend | None = None,
) -> EvalRun:
    """Answer and score every selected question of `questions` against `index`; write the run folder.

    `backend` (an object) takes the place of `settings.backend` (a name), e.g. a scripted one in tests.
    """
    from eval.report import write_reports

    settings = settings or RunSettings()
    index = Path(index)
    qs = load_questions(questions, format=settings.format, qrels=settings.qrels)
    store = IndexStore.open(index)
    check_documents(qs, store)
    fields = fingerprint_fields(qs, index, settings, _backend_name(settings, backend))
    out_dir = Path(out) if out else RUNS_DIR / f"{Path(questions).stem}-{_digest(fields)[:8]}"
    fingerprint = _check_config(out_dir, fields)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "fingerprint": fingerprint,
        "fields": fields,
        "format": qs.format,
        "commit": _commit(),
        "settings": settings.to_json(),
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n", "utf-8")

    pool = [q for q in qs.questions if settings.split is None or split_of(q) == settings.split]
    selected = select(pool, limit=settings.limit, sample=settings.sample, seed=settings.seed)
    log = RecordLog(out_dir / "records.jsonl")
    log.repair()
    done = log.read()
    todo = [q for q in selected if q.id not in done]
    reused = len(selected) - len(todo)
    k = int(fields["top_k"])
    errors: list[str] = []
    if todo:
        if all(q.retrieval_only for q in todo):
            one = _retrieve_one(store, settings, k)
        else:
            assistant = _make_assistant(index, settings, backend)
            assistant.retriever.retrieve("warm up the query embedder", 1)
            one = lambda q: _answer_one(assistant, q, k)  # noqa: E731
        bar = tqdm(
            total=len(selected),
            initial=reused,
            desc="questions",
            unit="q",
            disable=not settings.progress,
            file=sys.stderr,
        )
        with bar:
            errors = _run_all(todo, one, log, settings, bar)
        done = log.read()
    position = {q.id: n for n, q in enumerate(qs.questions)}
    records = tuple(sorted((done[q.id] for q in selected if q.id in done), key=lambda r: position[r.id]))
    problems = [f"{qs.path}: {p}" for p in qs.problems] + missing_gold(selected, store.chunks)
    summary = summarize(records, k=k, problems=problems)
    (out_dir / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2) + "\n", "utf-8")
    run = EvalRun(out_dir, config, qs, records, summary, reused, tuple(errors))
    write_reports(run)
    return run
