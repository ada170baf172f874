"""report.md and a self-contained report.html (figures embedded as base64 PNG) for one run."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

from eval.records import QuestionRecord
from eval.summary import METRICS, TIMINGS, EvalRun, GroupSummary, MetricSummary, Summary

WORST = 10
FAMILY_COLOURS = {"retrieval": "#4C72B0", "answer": "#55A868", "citations": "#C44E52", "refusal": "#8172B2"}


def fmt(m: MetricSummary) -> str:
    if m.mean is None:
        return "–"
    ci = f" [{m.low:.2f}, {m.high:.2f}]" if m.low is not None and m.high is not None else ""
    return f"{m.mean:.3f}{ci} (n={m.n})"


def metric_label(key: str, k: int) -> str:
    return METRICS[key].label.replace("@k", f"@{k}")


def summary_table(summary: Summary) -> list[list[str]]:
    header = ["Metric", *[f"{g.name} ({g.questions})" for g in summary.groups]]
    rows = [header, ["Right (contains gold / declined unanswerable)", *[f"{g.correct:.3f}" for g in summary.groups]]]
    for key in METRICS:
        cells = [fmt(g.metric(key)) for g in summary.groups]
        if any(c != "–" for c in cells):
            lower = "" if METRICS[key].higher_is_better else " (lower is better)"
            rows.append([f"{metric_label(key, summary.k)}{lower}", *cells])
    return rows


def cost_table(groups: Sequence[GroupSummary]) -> list[list[str]]:
    rows = [["Cost", *[g.name for g in groups]]]
    for step in TIMINGS:
        name = step.replace("_", " ")
        rows.append([f"{name} mean / p50 / p95 (s)", *[_p(g, step) for g in groups]])
    rows.append(["prompt tokens (mean)", *[f"{g.cost.prompt_tokens:.0f}" for g in groups]])
    rows.append(["answer tokens (mean)", *[f"{g.cost.answer_tokens:.1f}" for g in groups]])
    rows.append(["tokens in all", *[f"{g.cost.total_tokens:,}" for g in groups]])
    return rows


def _p(group: GroupSummary, step: str) -> str:
    if step not in group.cost.p50:
        return "–"
    mean = group.cost.mean.get(step)
    shown = "–" if mean is None else f"{mean:.2f}"
    return f"{shown} / {group.cost.p50[step]:.2f} / {group.cost.p95[step]:.2f}"


def worst(records: Sequence[QuestionRecord], n: int = WORST) -> list[QuestionRecord]:
    """Wrong answers first, then by F1, nDCG@10 and citation precision, lowest first."""

    def key(r: QuestionRecord) -> tuple[float, ...]:
        def get(name: str) -> float:
            value = r.metrics.get(name)
            return 1.0 if value is None else value

        return (float(r.correct), get("f1"), get("ndcg@10"), get("citation_precision"))

    return sorted(records, key=key)[:n]


def _markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|---|" + "---:|" * (len(rows[0]) - 1)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def _mark(correct: bool | None) -> str:
    return {True: "✓", False: "✗", None: "·"}[correct]


def _record_markdown(r: QuestionRecord) -> str:
    gold = " | ".join(r.gold_answers) if r.gold_answers else "(unanswerable: should decline)"
    lines = [f"**{r.id}** {'✓' if r.correct else '✗'} — {r.question}"]
    if r.history:
        lines.append(f"- history: {' → '.join(r.history)}")
    lines += [
        f"- gold: {gold}",
        f"- answer: {r.answer.strip()}" + (f" *(declined: {r.refusal_reason})*" if r.refused else ""),
    ]
    lines += [
        f"  - [{c.marker}] {_mark(c.correct)} {c.doc_id} {c.start}–{c.end}: “{c.evidence.strip()[:160]}”"
        for c in r.citations
    ]
    shown = {k: f"{v:.2f}" for k, v in r.metrics.items() if v is not None}
    lines.append("- " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    return "\n".join(lines)


def config_line(run: EvalRun) -> str:
    f = run.config["fields"]
    backend = f["backend"] + (f" ({f['model']})" if f["model"] else "") if f["backend"] else "none (retrieval only)"
    return (
        f"Questions `{run.question_set.path}` ({run.question_set.format}), index `{f['index']}`, "
        f"backend {backend}, retriever {f['retriever']}, top_k {f['top_k']}, commit {run.config.get('commit') or '?'}"
    )


SHOWN_PROBLEMS = 30


def shown_problems(problems: Sequence[str]) -> list[str]:
    """The first problems, then a count: a mismatched index can flag every question."""
    extra = len(problems) - SHOWN_PROBLEMS
    return [*problems[:SHOWN_PROBLEMS], *([f"... and {extra} more (all in summary.json)"] if extra > 0 else [])]


def render_markdown(run: EvalRun) -> str:
    s = run.summary
    parts = [
        f"# Evaluation: {s.questions} questions",
        config_line(run),
        "Means with bootstrap 95% confidence intervals; n is the number of questions a metric applies to.",
        _markdown_table(summary_table(s)),
        _markdown_table(cost_table(s.groups)),
    ]
    if s.problems:
        parts.append("## Problems\n\n" + "\n".join(f"- {p}" for p in shown_problems(s.problems)))
    if run.errors:
        parts.append("## Failed questions (rerun to retry)\n\n" + "\n".join(f"- {e}" for e in run.errors))
    parts.append("## Worst questions\n\n" + "\n\n".join(_record_markdown(r) for r in worst(run.records)))
    return "\n\n".join(parts) + "\n"


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


HATCHES = (None, "//", "..")


def metric_figure(summary: Summary) -> Any:
    """Horizontal bars of every metric with its 95% CI, one bar per group, coloured by family."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    keys = [key for key in METRICS if summary.group("all").metric(key).mean is not None]
    groups = summary.groups
    height = 0.8 / len(groups)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(keys) * len(groups) + 1.2))
    for g_index, group in enumerate(groups):
        for row, key in enumerate(keys):
            m = group.metric(key)
            if m.mean is None:
                continue
            y = row + (g_index - (len(groups) - 1) / 2) * height
            low = m.mean if m.low is None else m.low
            high = m.mean if m.high is None else m.high
            colour = FAMILY_COLOURS[METRICS[key].family]
            ax.barh(y, m.mean, height=height * 0.9, color=colour, hatch=HATCHES[g_index], edgecolor="white")
            ax.errorbar(m.mean, y, xerr=[[m.mean - low], [high - m.mean]], fmt="none", ecolor="black", capsize=3)
            ax.text(min(high + 0.02, 1.02), y, f"{m.mean:.2f}", va="center", fontsize=8)
    ax.set_yticks(range(len(keys)), [metric_label(k, summary.k) for k in keys])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("mean over the questions each metric applies to; whiskers: bootstrap 95% CI")
    if len(groups) > 1:
        handles = [
            Patch(facecolor="#999999", edgecolor="white", hatch=HATCHES[i], label=f"{g.name} ({g.questions})")
            for i, g in enumerate(groups)
        ]
        ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def latency_figure(records: Sequence[QuestionRecord]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(8, 3.2))
    series = [(step, [r.timings[step] for r in records if r.timings.get(step)]) for step in ("first_token", "total")]
    top = max((max(v) for _, v in series if v), default=1.0)
    bins = [top * i / 20 for i in range(21)]
    for (step, times), colour in zip(series, ("#DD8452", "#4C72B0")):
        if times:
            ax.hist(times, bins=bins, alpha=0.6, color=colour, label=f"{step.replace('_', ' ')} (n={len(times)})")
    ax.set_xlabel("seconds per question")
    ax.set_ylabel("questions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    ax.set_title("Latency per question")
    fig.tight_layout()
    return fig


def _html_table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _record_html(r: QuestionRecord) -> str:
    e = html.escape
    gold = " | ".join(r.gold_answers) if r.gold_answers else "(unanswerable: should decline)"
    cites = "".join(
        f"<li>[{c.marker}] {_mark(c.correct)} <code>{e(c.doc_id)}</code> {c.start}–{c.end}: "
        f"<q>{e(c.evidence.strip()[:200])}</q></li>"
        for c in r.citations
    )
    declined = f" <em>(declined: {e(r.refusal_reason)})</em>" if r.refused else ""
    history = f"<div>history: {e(' → '.join(r.history))}</div>" if r.history else ""
    metrics = ", ".join(f"{k} {v:.2f}" for k, v in r.metrics.items() if v is not None)
    return (
        f"<div class='q {'right' if r.correct else 'wrong'}'><b>{e(r.id)}</b> {e(r.question)}{history}"
        f"<div>gold: {e(gold)}</div><div>answer: {e(r.answer.strip())}{declined}</div>"
        f"<ul>{cites}</ul><div class='m'>{e(metrics)}</div></div>"
    )


STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
td:first-child,th:first-child{text-align:left}img{max-width:100%}.q{border-left:4px solid #c44e52;
padding:.4rem .8rem;margin:.8rem 0;background:#fafafa}.q.right{border-color:#55a868}.m{color:#666;font-size:.85em}"""


def render_html(run: EvalRun) -> str:
    import matplotlib.pyplot as plt

    s = run.summary
    figures = [metric_figure(s), latency_figure(run.records)]
    images = [_png(fig) for fig in figures]
    for fig in figures:
        plt.close(fig)
    problems = "".join(f"<li>{html.escape(p)}</li>" for p in shown_problems(s.problems))
    errors = "".join(f"<li>{html.escape(p)}</li>" for p in run.errors)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Evaluation: {s.questions} questions</title>
<style>{STYLE}</style></head><body><h1>Evaluation: {s.questions} questions</h1>
<p>{html.escape(config_line(run))}</p>
<p>Means with bootstrap 95% confidence intervals; n is the number of questions a metric applies to.</p>
{_html_table(summary_table(s))}
<img alt="metrics with 95% confidence intervals" src="data:image/png;base64,{images[0]}">
{_html_table(cost_table(s.groups))}
<img alt="latency histogram" src="data:image/png;base64,{images[1]}">
{f"<h2>Problems</h2><ul>{problems}</ul>" if problems else ""}
{f"<h2>Failed questions (rerun to retry)</h2><ul>{errors}</ul>" if errors else ""}
<h2>Worst questions</h2>{"".join(_record_html(r) for r in worst(run.records))}
</body></html>
"""


def write_reports(run: EvalRun) -> None:
    (run.out_dir / "report.md").write_text(render_markdown(run), "utf-8")
    (run.out_dir / "report.html").write_text(render_html(run), "utf-8")
