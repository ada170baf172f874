"""`compare_runs(A, B)`: B minus A per metric with paired bootstrap 95% CIs, and the questions that flipped.

Only questions both runs answered are compared; the same resampled questions are used
for both runs (a paired bootstrap), which is what makes small differences visible.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from eval.records import QuestionRecord, RecordLog
from eval.summary import METRICS, bootstrap_indices, interval, resampled_means, values

CORRECT = "correct"


@dataclass(frozen=True)
class MetricDelta:
    key: str  # a METRICS key, or "correct"
    a: float | None
    b: float | None
    delta: float | None  # b - a
    low: float | None  # paired bootstrap 95% CI of the delta
    high: float | None
    n_a: int  # questions the metric applies to in run A
    n_b: int

    @property
    def label(self) -> str:
        return "Right" if self.key == CORRECT else METRICS[self.key].label


@dataclass(frozen=True)
class Flip:
    id: str
    question: str
    answer_a: str
    answer_b: str


@dataclass(frozen=True)
class Comparison:
    run_a: str
    run_b: str
    common: int
    only_a: int
    only_b: int
    deltas: tuple[MetricDelta, ...]
    right_to_wrong: tuple[Flip, ...]  # right in A, wrong in B
    wrong_to_right: tuple[Flip, ...]
    config_changes: tuple[str, ...]  # fingerprint fields that differ, "name: A -> B"


def load_run(folder: str | Path) -> tuple[dict[str, Any], dict[str, QuestionRecord]]:
    path = Path(folder)
    if not (path / "records.jsonl").is_file():
        raise FileNotFoundError(f"No records.jsonl in {path}; give a folder written by `rag eval run`.")
    config_path = path / "config.json"
    config = json.loads(config_path.read_text("utf-8")) if config_path.is_file() else {}
    return config, RecordLog(path / "records.jsonl").read()


def _with_correct(records: Sequence[QuestionRecord]) -> list[QuestionRecord]:
    return [replace(r, metrics={**r.metrics, CORRECT: float(r.correct)}) for r in records]


def _delta(key: str, a: Sequence[QuestionRecord], b: Sequence[QuestionRecord], seed: int) -> MetricDelta:
    """B's mean minus A's, each over the questions the metric applies to in that run.

    The bootstrap is paired: each resample draws the same questions for both runs. A metric such as
    refusal precision applies to different questions in each run (those it declined), so the means are
    not restricted to questions where both apply; that would measure something else.
    """
    va, vb = values(a, key), values(b, key)
    n_a, n_b = int((~np.isnan(va)).sum()), int((~np.isnan(vb)).sum())
    mean_a = float(np.nanmean(va)) if n_a else None
    mean_b = float(np.nanmean(vb)) if n_b else None
    if mean_a is None or mean_b is None:
        return MetricDelta(key, mean_a, mean_b, None, None, None, n_a, n_b)
    idx = bootstrap_indices(len(va), seed)
    low, high = interval(resampled_means(vb, idx) - resampled_means(va, idx))
    return MetricDelta(key, mean_a, mean_b, mean_b - mean_a, low, high, n_a, n_b)


def compare_runs(run_a: str | Path, run_b: str | Path, *, seed: int = 0) -> Comparison:
    config_a, recs_a = load_run(run_a)
    config_b, recs_b = load_run(run_b)
    common = [qid for qid in recs_a if qid in recs_b]
    if not common:
        raise ValueError(f"{run_a} and {run_b} share no question id; compare runs over the same question set.")
    a = _with_correct([recs_a[q] for q in common])
    b = _with_correct([recs_b[q] for q in common])
    deltas = tuple(_delta(key, a, b, seed) for key in (CORRECT, *METRICS))

    def flips(right_in_a: bool) -> tuple[Flip, ...]:
        return tuple(
            Flip(x.id, x.question, x.answer, y.answer)
            for x, y in zip(a, b)
            if x.correct == right_in_a and y.correct != right_in_a
        )

    fields_a, fields_b = config_a.get("fields", {}), config_b.get("fields", {})
    changes = tuple(
        f"{k}: {fields_a.get(k)!r} -> {fields_b.get(k)!r}"
        for k in dict.fromkeys([*fields_a, *fields_b])
        if fields_a.get(k) != fields_b.get(k)
    )
    return Comparison(
        str(run_a),
        str(run_b),
        len(common),
        len(recs_a) - len(common),
        len(recs_b) - len(common),
        deltas,
        flips(True),
        flips(False),
        changes,
    )


def _num(value: float | None, sign: bool = False) -> str:
    return "–" if value is None else (f"{value:+.3f}" if sign else f"{value:.3f}")


def render_comparison(c: Comparison) -> str:
    lines = [
        f"# Compare: A = `{c.run_a}`, B = `{c.run_b}`",
        "",
        f"{c.common} questions in both runs"
        + (f" ({c.only_a} only in A, {c.only_b} only in B)" if c.only_a or c.only_b else "")
        + ". Each mean is over the shared questions a metric applies to in that run (n); "
        "95% CI of B − A by a paired bootstrap over the shared questions.",
    ]
    if c.config_changes:
        lines += ["", "Configuration changes: " + "; ".join(c.config_changes)]
    lines += ["", "| Metric | A | B | B − A | 95% CI | n A / B |", "|---|---:|---:|---:|---:|---:|"]
    for d in c.deltas:
        if d.a is None and d.b is None:
            continue
        ci = f"[{d.low:+.3f}, {d.high:+.3f}]" if d.low is not None and d.high is not None else "–"
        better = "" if d.key == CORRECT or METRICS[d.key].higher_is_better else " (lower is better)"
        lines.append(
            f"| {d.label}{better} | {_num(d.a)} | {_num(d.b)} | {_num(d.delta, True)} | {ci} | {d.n_a} / {d.n_b} |"
        )
    for title, flips in (("Right in A, wrong in B", c.right_to_wrong), ("Wrong in A, right in B", c.wrong_to_right)):
        lines += ["", f"## {title} ({len(flips)})", ""]
        lines += [f"- **{f.id}** {f.question}\n  - A: {f.answer_a.strip()}\n  - B: {f.answer_b.strip()}" for f in flips]
    return "\n".join(lines) + "\n"
