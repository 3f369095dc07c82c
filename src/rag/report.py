"""`rag eval --report DIR`: metrics.json and a self-contained report.html (plots embedded as PNG data).

Besides the shipped pipeline, the same questions go through a baseline (the models' mean cosine, nothing
fitted) and ablations: each group of signals left out, the models refitted without it on the train split
and the threshold chosen again on dev, so every stage's contribution is a number on dev, test and blind.
The checks kept out of the splits (questions written apart from the code, in `eval/sources/`) go through the
shipped pipeline only, beside them: how far the splits' figures carry.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from .evaluation import auc, breakdown, choose_threshold, metrics, sweep
from .retrieval import RetrievalOptions

ABLATIONS = {
    "without chunk similarity": RetrievalOptions(drop=frozenset({"chunk"})),
    "without sentence similarity": RetrievalOptions(drop=frozenset({"sentence"})),
    "without BM25 (ranking and confidence)": RetrievalOptions(drop=frozenset({"bm25"})),
    "without the student glossary": RetrievalOptions(glossary=False),
    "without the induced lexicon (passages found and quoted)": RetrievalOptions(lexicon=False),
    "without word alignment (ranking)": RetrievalOptions(drop=frozenset({"align"})),
    "without institution routing and mismatch": RetrievalOptions(drop=frozenset({"routing", "institution"})),
    "without the kind of fact asked (ranking and answer sentence)": RetrievalOptions(drop=frozenset({"kind"})),
    "without names and years the texts never use": RetrievalOptions(drop=frozenset({"names"})),
    "without sentence hubness (answer sentence)": RetrievalOptions(drop=frozenset({"hub"})),
    "without the lines read in their page's context (answer sentence)": RetrievalOptions(drop=frozenset({"context"})),
    "without borrowed cosines for a language a model never learnt (USE: Vietnamese...)": RetrievalOptions(drop=frozenset({"borrow"})),
    "without the answer-sentence evidence (confidence)": RetrievalOptions(drop=frozenset({"lead"})),
    "without word coverage (confidence)": RetrievalOptions(drop=frozenset({"coverage"})),
    "without the question-language signal (confidence)": RetrievalOptions(drop=frozenset({"language"})),
    "without the unheld-fact rule: phone, hours, price, number, year (confidence)": RetrievalOptions(drop=frozenset({"unheld"})),
}
OUTSIDE_METRICS = ("questions", "hit@5", "answer_accuracy", "first_line_accuracy", "citation_precision",
                   "abstention_accuracy", "false_abstention_rate", "small_talk_without_passages", "auc")
ABLATION_METRICS = ("hit@1", "hit@5", "answer_accuracy", "first_line_accuracy", "citation_precision",
                    "abstention_accuracy", "false_abstention_rate", "auc")


def scored(results, threshold: float) -> dict:
    """The metrics of `results` at `threshold`, with the confidence's AUC."""
    return dict(metrics(results, threshold), auc=auc(results))


def ablations(assistant, items, extra_items=()) -> dict:
    """Each configuration refitted (train), its threshold chosen (dev), then measured on every split."""
    from .evaluation import run
    from .fitted import Fitted
    from .fitting import fit, install

    from .evaluation import remember_encodings

    saved, saved_options = assistant.fitted, assistant.retriever.options
    restore = remember_encodings(assistant)
    everything = list(items) + list(extra_items)
    splits = sorted({i.split for i in everything})
    out = {}
    try:
        configurations = {"baseline: mean cosine of the models, nothing fitted": None, **ABLATIONS}
        for name, options in configurations.items():
            if options is None:
                install(assistant, Fitted.unfitted(), RetrievalOptions())
                from .evaluation import choose_threshold, sweep

                dev = run(assistant, [i for i in items if i.split == "dev"])
                assistant.fitted.threshold = choose_threshold(
                    sweep(dev, thresholds=[round(0.01 * i, 2) for i in range(1, 100)]), 0.03)["threshold"]
            else:
                fit(assistant, items, options)
            results = run(assistant, everything)
            out[name] = {}
            for split in splits:
                chosen = [r for r in results if r.item.split == split]
                m = scored(chosen, assistant.threshold)
                out[name][split] = {k: m.get(k) for k in ABLATION_METRICS}
    finally:
        install(assistant, saved, saved_options)
        restore()
    return out


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
    bins = [i / 10 for i in range(11)]
    xs, ys, ns = [], [], []
    for low, high in zip(bins, bins[1:]):
        group = [r for r in results if low <= r.confidence < high or (high == 1.0 and r.confidence == 1.0)]
        group = [r for r in group if not r.item.small_talk]
        if group:
            xs.append((low + high) / 2)
            ys.append(sum(r.item.answerable and r.answer_has_needle for r in group) / len(group))
            ns.append(len(group))
    ax.plot([0, 1], [0, 1], color="#999", linestyle=":")
    ax.plot(xs, ys, marker="o")
    for x, y, n in zip(xs, ys, ns):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ax.set_xlabel("confidence (binned)"); ax.set_ylabel("share answerable and answered right")
    ax.set_title("reliability (numbers: questions per bin)")
    plots["reliability"] = _png(fig); plt.close(fig)

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


METRIC_NAMES = ["questions", "hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10", "answer_accuracy", "strict_answer_accuracy",
                "first_line_accuracy", "quoted_answer_accuracy", "citation_precision", "abstention_accuracy",
                "false_abstention_rate", "small_talk_without_passages"]


def write_report(folder: Path, assistant, items, results, summary, extra_items=(), outside=None) -> None:
    """`extra_items`: the blind set, reported beside the splits and in the ablations; `outside`: {name: items} of
    the checks kept out of the splits (evaluation.OUTSIDE_CHECKS), through the shipped pipeline only."""
    folder.mkdir(parents=True, exist_ok=True)
    threshold = summary["threshold"]
    dev = [r for r in results if r.item.split == "dev"] or results
    rows = sweep(dev, thresholds=[round(0.01 * i, 2) for i in range(1, 100)])
    recommended = choose_threshold(rows, 0.03)
    splits = {i.split for i in items}
    from .evaluation import run

    shipped = list(results) + (run(assistant, list(extra_items)) if extra_items else [])
    baselines = {"shipped pipeline": {s: scored([r for r in shipped if r.item.split == s], threshold)
                                      for s in sorted({r.item.split for r in shipped})}}
    if {"train", "dev"} <= splits:   # ablations refit the models: they need a train and a dev split
        baselines.update(ablations(assistant, items, extra_items))
    checks = {name: scored(run(assistant, list(check)), threshold) for name, check in (outside or {}).items()}
    summary = dict(summary, baselines=baselines, outside_checks=checks, threshold_sweep_dev=rows,
                   threshold_choice={"used": threshold, "recommended_on_dev": recommended["threshold"],
                                     "rule": "best answer_accuracy + abstention_accuracy with false_abstention_rate <= 0.03 on the dev split, middle of a run of tied thresholds"},
                   by_source=breakdown(results, lambda r: r.item.source or "(none)", threshold),
                   by_language_pair=breakdown([r for r in results if r.item.answerable],
                                                     lambda r: f"{r.item.lang} → {source_language(assistant, r.item.source)}", threshold))
    (folder / "metrics.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    plots = _plots(results, summary, rows, threshold)
    split_rows = [[name] + [m.get(k) for k in METRIC_NAMES] for name, m in [("all", summary["overall"])] + list(summary["by_split"].items())]
    base_rows = [[name, split] + [m.get(k) for k in ABLATION_METRICS]
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
<h2>Baselines and ablations (each refitted on train, threshold on dev; blind never chose anything)</h2>{_table(['configuration', 'split'] + list(ABLATION_METRICS), base_rows)}
<h2>Checks kept out of the splits ({len(checks)})</h2><p>Questions written apart from the code and from the splits, never
used to fit or choose anything; the same models and threshold. A document nobody wrote code for has its own command
(<code>sh eval/new_document/run.sh</code>).</p>{_table(['check'] + list(OUTSIDE_METRICS), [[name] + [m.get(k) for k in OUTSIDE_METRICS] for name, m in checks.items()])}
<h2>By question language</h2>{_table(['language'] + METRIC_NAMES, group_rows(summary['by_language']))}<img alt="answer accuracy per language" src="{plots['languages']}">
<h2>By source document</h2>{_table(['source'] + METRIC_NAMES, group_rows(summary['by_source']))}
<h2>By language pair (question → source)</h2>{_table(['pair'] + METRIC_NAMES, group_rows(summary['by_language_pair']))}
<h2>Abstention threshold and confidence</h2><img alt="threshold sweep" src="{plots['sweep']}"><img alt="confidence distributions" src="{plots['scores']}"><img alt="reliability of the confidence" src="{plots['reliability']}">
<h2>Conversations</h2>{_table(['kind'] + METRIC_NAMES, group_rows(summary.get('by_conversation', {})))}
<h2>Latency per stage (ms)</h2>{_table(['stage', 'p50', 'p95'], [[k, v['p50'], v['p95']] for k, v in lat.items()])}
<h2>Failed questions ({len(failures)})</h2>{failure_html}
</main></body></html>"""
    (folder / "report.html").write_text(page, encoding="utf-8")


def source_language(assistant, source) -> str:
    for chunk in assistant.index.chunks:
        if chunk.source == source:
            return chunk.language
    return "?"
