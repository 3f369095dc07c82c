"""`rag eval --report DIR`: metrics.json and a self-contained report.html (plots embedded as PNG data).

Besides the shipped pipeline, the same questions go through baselines: BM25 alone, dense alone, and the
pipeline with each retrieval component switched off, so every component's contribution is a number.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from .evaluation import breakdown, choose_threshold, metrics, sweep
from .retrieval import RetrievalOptions

BASELINES = {
    "BM25 alone": RetrievalOptions(dense_chunks=False, sentences=False, glossary=False, routing=False, name_check=False, lexical_weight=1.0),
    "dense alone (chunks)": RetrievalOptions(sentences=False, lexical=False, routing=False, name_check=False),
    "without BM25": RetrievalOptions(lexical=False),
    "without glossary": RetrievalOptions(glossary=False),
    "without sentence matching": RetrievalOptions(sentences=False),
    "without routing": RetrievalOptions(routing=False),
    "without unknown-name and unknown-year check": RetrievalOptions(name_check=False),
    "without answer-type bonus": RetrievalOptions(answer_type_bonus=0.0),
}


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _plots(results, summary, rows, threshold) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = {}
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist([r.confidence for r in results if r.item.answerable], bins=20, alpha=.6, label="answerable")
    ax.hist([r.confidence for r in results if not r.item.answerable], bins=20, alpha=.6, label="unanswerable")
    ax.axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold}")
    ax.set_xlabel("confidence"); ax.set_ylabel("questions"); ax.legend()
    plots["scores"] = _png(fig); plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.2))
    langs = list(summary["by_language"])
    ax.bar(langs, [summary["by_language"][l]["answer_accuracy"] or 0 for l in langs])
    ax.set_ylim(0, 1); ax.set_ylabel("answer accuracy"); ax.set_title("by question language")
    plots["languages"] = _png(fig); plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([r["abstention_accuracy"] for r in rows], [r["answer_accuracy"] for r in rows], marker=".")
    chosen = next(r for r in rows if r["threshold"] == threshold) if any(r["threshold"] == threshold for r in rows) else None
    if chosen:
        ax.plot([chosen["abstention_accuracy"]], [chosen["answer_accuracy"]], "ro", label=f"operating point t={threshold}")
        ax.legend()
    ax.set_xlabel("abstention accuracy (unanswerable abstained)"); ax.set_ylabel("answer accuracy (answerable answered right)")
    ax.set_title("threshold sweep, dev split")
    plots["sweep"] = _png(fig); plt.close(fig)
    return plots


def _table(headers, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('-' if c is None else (f'{c:.3f}' if isinstance(c, float) else str(c)))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


METRIC_NAMES = ["questions", "hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10", "answer_accuracy", "quoted_answer_accuracy", "citation_precision",
                "abstention_accuracy", "false_abstention_rate"]


def write_report(folder: Path, assistant, items, results, summary) -> None:
    from .evaluation import run

    folder.mkdir(parents=True, exist_ok=True)
    threshold = summary["threshold"]
    dev = [r for r in results if r.item.split == "dev"] or results
    rows = sweep(dev)
    recommended = choose_threshold(rows)
    baselines = {"shipped pipeline": summary["by_split"]}
    for name, options in BASELINES.items():
        res = run(assistant, items, options=options)
        baselines[name] = {s: metrics([r for r in res if r.item.split == s], threshold) for s in summary["by_split"]}
    summary = dict(summary, baselines=baselines, threshold_sweep_dev=rows,
                   threshold_choice={"used": threshold, "recommended_on_dev": recommended["threshold"],
                                     "rule": "best answer_accuracy + abstention_accuracy with false_abstention_rate <= 0.05 on the dev split, middle of a run of tied thresholds"},
                   by_source=breakdown(results, lambda r: r.item.source or "(none)", threshold),
                   by_language_pair=breakdown([r for r in results if r.item.answerable],
                                                     lambda r: f"{r.item.lang} → {source_language(assistant, r.item.source)}", threshold))
    (folder / "metrics.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    plots = _plots(results, summary, rows, threshold)
    split_rows = [[name] + [m.get(k) for k in METRIC_NAMES] for name, m in [("all", summary["overall"])] + list(summary["by_split"].items())]
    base_rows = [[name, split] + [m.get(k) for k in ("hit@1", "hit@5", "mrr@10", "answer_accuracy", "abstention_accuracy")]
                 for name, by_split in baselines.items() for split, m in by_split.items()]
    group_rows = lambda groups: [[g] + [m.get(k) for k in METRIC_NAMES] for g, m in groups.items()]
    failures = [r for r in results if (r.item.answerable and not (r.confidence >= threshold and r.answer_has_needle))
                or (not r.item.answerable and r.confidence >= threshold)]
    failure_html = "".join(
        f"<details><summary>{html.escape(r.item.id)} [{html.escape(r.item.split)}, {html.escape(r.item.lang)}] "
        f"{html.escape(r.item.question)} — {'should abstain' if not r.item.answerable else ('abstained' if r.confidence < threshold else 'needle missing')}"
        f" (confidence {r.confidence:.2f})</summary><p>Needles: {html.escape(', '.join(r.item.needles) or '—')}</p>"
        f"<pre>{html.escape(r.answer['answer'])}</pre><ol>"
        + "".join(f"<li>{html.escape(h['title'])} ({h['score']}) — {html.escape(h['text'][:200])}</li>" for h in r.retrieved)
        + "</ol></details>" for r in failures)
    lat = summary["latency_ms"]
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Evaluation report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:1rem auto;padding:0 1rem}} table{{border-collapse:collapse;margin:.5rem 0}}
td,th{{border:1px solid #aaa;padding:3px 6px;font-size:.85rem}} img{{max-width:100%}} pre{{white-space:pre-wrap;background:#f4f4f4;padding:6px}}</style></head>
<body><main><h1>Evaluation report</h1>
<p>{summary['overall']['questions']} questions, abstention threshold {threshold} (the rule "{html.escape(summary['threshold_choice']['rule'])}"
recommends {recommended['threshold']}; the test split chose nothing). Run time {summary.get('seconds', '?')} s.</p>
<h2>Headline</h2>{_table(['split'] + METRIC_NAMES, split_rows)}
<h2>Baselines and ablations (same questions)</h2>{_table(['configuration', 'split', 'hit@1', 'hit@5', 'mrr@10', 'answer_accuracy', 'abstention_accuracy'], base_rows)}
<h2>By question language</h2>{_table(['language'] + METRIC_NAMES, group_rows(summary['by_language']))}<img alt="answer accuracy per language" src="{plots['languages']}">
<h2>By source document</h2>{_table(['source'] + METRIC_NAMES, group_rows(summary['by_source']))}
<h2>By language pair (question → source)</h2>{_table(['pair'] + METRIC_NAMES, group_rows(summary['by_language_pair']))}
<h2>Abstention threshold</h2><img alt="threshold sweep" src="{plots['sweep']}"><img alt="confidence distributions" src="{plots['scores']}">
<h2>Latency per stage (ms)</h2>{_table(['stage', 'p50', 'p95'], [[k, v['p50'], v['p95']] for k, v in lat.items()])}
<h2>Failed questions ({len(failures)})</h2>{failure_html}
</main></body></html>"""
    (folder / "report.html").write_text(page, encoding="utf-8")


def source_language(assistant, source) -> str:
    for chunk in assistant.index.chunks:
        if chunk.source == source:
            return chunk.language
    return "?"
