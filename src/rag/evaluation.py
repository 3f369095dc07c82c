"""The evaluation set through the same code path as `rag ask`, scored as CONTRACT.md defines.

Every question is answered once with abstention off; whether it would abstain at a threshold t is then
`confidence < t`, which is exactly what `compose_answer` does, so a threshold sweep costs nothing.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DatasetError

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "eval" / "qa.jsonl"
BLIND_DATASET = DEFAULT_DATASET.with_name("blind_check.jsonl")
# Question sets written apart from the code and from the splits, never used to fit or choose anything: the report
# gives the shipped pipeline's figures on each, beside the splits.
OUTSIDE_CHECKS = {name: DEFAULT_DATASET.parent / "sources" / file for name, file in {
    "505 questions written from the texts alone": "student_questions_8.jsonl",
    "60 two-turn conversations": "student_conversations_4.jsonl",
    "60 short conversations, 20 requests for help with no subject": "student_conversations_help_14.jsonl",
    "150 short conversations, short new topics and follow-ups": "student_conversations_14b.jsonl",
    "93 questions asking a price, a number, a phone number, hours or a year": "student_fact_questions_10.jsonl",
    "240 questions in languages USE never learnt (id, cs, hi, ro)": "translated_unread_languages_13.jsonl",
}.items()}
KS = (1, 3, 5, 10)


def normalise(text: str) -> str:
    """NFKC, lower case, typographic apostrophes to ', whitespace runs (no-break too) to one space."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[\u2019\u2018\u02bc\u00b4`]", "'", text)
    return re.sub(r"\s+", " ", text).strip()


def holds_needle(text: str, needles: list[str]) -> bool:
    text = normalise(text.replace("**", ""))   # the answer's bold marks are not part of the quoted text
    return any(normalise(n) in text for n in needles)


@dataclass
class Item:
    id: str
    question: str
    lang: str
    answerable: bool
    needles: list[str]
    split: str = "all"
    source: str | None = None
    history: list[str] = field(default_factory=list)   # the user's earlier turns, oldest first
    conversation: str | None = None                     # follow_up, new_topic, small_talk (conversation lines)
    small_talk: bool = False                            # right when answered with no passage


def load_dataset(path: Path, corpus_text: str | None = None) -> list[Item]:
    """The items of a JSON Lines dataset, or a DatasetError naming the first bad line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DatasetError(f"no dataset at {path}: give --dataset FILE (JSON Lines)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read dataset {path}: {exc}") from None
    items, seen = [], set()
    haystack = normalise(corpus_text) if corpus_text is not None else None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DatasetError(f"{where}: expected a JSON object")
        missing = [k for k in ("question", "answerable") if k not in record]
        if missing:
            raise DatasetError(f"{where}: missing field {', '.join(missing)}")
        needles = record.get("needles") or []
        if not isinstance(needles, list) or not all(isinstance(n, str) and n.strip() for n in needles):
            raise DatasetError(f"{where}: needles must be a list of non-empty strings")
        if record["answerable"] and not needles:
            raise DatasetError(f"{where}: an answerable question needs at least one needle")
        if haystack is not None and needles and not any(normalise(n) in haystack for n in needles):
            raise DatasetError(f"{where}: none of the needles {needles} appears anywhere in the corpus")
        item_id = str(record.get("id", f"line{number}"))
        if item_id in seen:
            raise DatasetError(f"{where}: id {item_id!r} is used twice")
        seen.add(item_id)
        history = record.get("history") or []
        if not isinstance(history, list):
            raise DatasetError(f"{where}: history must be a list of turns")
        turns = [t.get("content") if isinstance(t, dict) else t for t in history
                 if not isinstance(t, dict) or t.get("role", "user") == "user"]
        if not all(isinstance(t, str) for t in turns):
            raise DatasetError(f"{where}: each history turn must be text or {{\"role\", \"content\"}}")
        items.append(Item(id=item_id, question=str(record["question"]), lang=str(record.get("lang") or "?"),
                          answerable=bool(record["answerable"]), needles=needles,
                          split=str(record.get("split") or "all"), source=record.get("source"), history=turns,
                          conversation=record.get("conversation"),
                          # a conversation line labelled small talk is small talk, whether or not it says so twice
                          small_talk=bool(record.get("small_talk", record.get("conversation") == "small_talk"))))
    if not items:
        raise DatasetError(f"{path} holds no questions")
    return items


WEAK_NEEDLE_CHARS = 4      # shorter needles ("dix", "400") match answers that say something else
WEAK_NEEDLE_PLACES = 5     # a needle found in more places than this does not prove the right passage


def weak_needles(items: list[Item], corpus_text: str) -> list[tuple[str, str]]:
    """(id, needle) of every needle too short or too common in the corpus to prove an answer right."""
    haystack = normalise(corpus_text)
    weak = []
    for item in items:
        for needle in item.needles:
            n = normalise(needle)
            if len(n) < WEAK_NEEDLE_CHARS or haystack.count(n) > WEAK_NEEDLE_PLACES:
                weak.append((item.id, needle))
    return weak


@dataclass
class Result:
    item: Item
    confidence: float
    rank: int | None                 # 1-based rank of the first retrieved passage holding a needle
    relevant_ranks: list[int]
    relevant_total: int              # passages in the index holding a needle
    answer_has_needle: bool          # in the answer text or a citation, when answered
    cited_relevant: int
    cited: int
    language: str
    answer: dict
    timings: dict
    retrieved: list[dict] = field(default_factory=list)
    quoted_needle: bool = False      # in the answer's own quoted sentences
    first_line_needle: bool = False  # in the answer's first line carrying a citation marker: what a student reads first
    strict_needle: bool = False      # in the answer's text or its first citation
    passages_shown: bool = False     # any citation at all (small talk must have none)


def run(assistant, items: list[Item], progress: bool = False, options=None) -> list[Result]:
    from tqdm import tqdm

    chunk_texts = [c.text for c in assistant.index.chunks]
    results = []
    saved = assistant.retriever.options
    if options is not None:
        assistant.retriever.options = options
    try:
        for item in tqdm(items, desc="evaluating", unit="question", disable=not progress, leave=False):
            answer = assistant.ask(item.question, history=item.history, threshold=-math.inf)
            relevant = [i for i, h in enumerate(answer.retrieved, start=1) if item.needles and holds_needle(h.chunk.text, item.needles)]
            total = sum(holds_needle(t, item.needles) for t in chunk_texts) if item.needles else 0
            cited_relevant = sum(holds_needle(c.text, item.needles) for c in answer.citations) if item.needles else 0
            has = bool(item.needles) and (holds_needle(answer.answer, item.needles) or cited_relevant > 0)
            first_line = first_cited_line(answer.answer)
            strict = bool(item.needles) and (holds_needle(answer.answer, item.needles) or
                                              bool(answer.citations) and holds_needle(answer.citations[0].text, item.needles))
            results.append(Result(item=item, confidence=answer.confidence, rank=relevant[0] if relevant else None,
                                  relevant_ranks=relevant, relevant_total=total, answer_has_needle=has,
                                  quoted_needle=bool(item.needles) and holds_needle(answer.answer, item.needles),
                                  first_line_needle=bool(item.needles) and holds_needle(first_line, item.needles),
                                  strict_needle=strict, passages_shown=bool(answer.citations),
                                  cited_relevant=cited_relevant, cited=len(answer.citations), language=answer.language,
                                  answer=answer.to_dict(), timings=answer.timings_ms,
                                  retrieved=[{"title": h.chunk.title, "source": h.chunk.source, "score": round(h.score, 3),
                                              "text": h.chunk.text[:300]} for h in answer.retrieved[:5]]))
    finally:
        assistant.retriever.options = saved
    return results


def first_cited_line(answer_text: str) -> str:
    """The first line of an answer that carries a citation marker ('… **400€** par mois. [1]'), or ''."""
    return next((line for line in answer_text.splitlines() if re.search(r"\[\d+\]", line)), "")


def metrics(results: list[Result], threshold: float) -> dict:
    small_talk = [r for r in results if r.item.small_talk]
    answerable = [r for r in results if r.item.answerable]
    unanswerable = [r for r in results if not r.item.answerable and not r.item.small_talk]
    out: dict = {"questions": len(results), "answerable": len(answerable), "unanswerable": len(unanswerable)}
    for k in KS:
        out[f"hit@{k}"] = _mean([r.rank is not None and r.rank <= k for r in answerable])
    out["mrr@10"] = _mean([1 / r.rank if r.rank and r.rank <= 10 else 0.0 for r in answerable])
    out["ndcg@10"] = _mean([_ndcg(r) for r in answerable])
    answered = [r for r in answerable if r.confidence >= threshold]
    out["answer_accuracy"] = _mean([r.confidence >= threshold and r.answer_has_needle for r in answerable])
    out["strict_answer_accuracy"] = _mean([r.confidence >= threshold and r.strict_needle for r in answerable])
    out["first_line_accuracy"] = _mean([r.confidence >= threshold and r.first_line_needle for r in answerable])
    out["quoted_answer_accuracy"] = _mean([r.confidence >= threshold and r.quoted_needle for r in answerable])
    cited = sum(r.cited for r in answered)
    out["citation_precision"] = round(sum(r.cited_relevant for r in answered) / cited, 4) if cited else None
    out["abstention_accuracy"] = _mean([r.confidence < threshold for r in unanswerable])
    out["false_abstention_rate"] = _mean([r.confidence < threshold for r in answerable])
    out["small_talk_without_passages"] = _mean([not r.passages_shown for r in small_talk])
    out["confidence_auc"] = auc(results)
    out["language_detection_accuracy"] = _mean([r.language == r.item.lang for r in results])
    return out


def auc(results: list[Result]) -> float | None:
    """ROC AUC of the confidence: answerable against out-of-scope questions (small talk aside)."""
    pos = [r.confidence for r in results if r.item.answerable]
    neg = [r.confidence for r in results if not r.item.answerable and not r.item.small_talk]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return round(wins / (len(pos) * len(neg)), 4)


def _ndcg(r: Result) -> float:
    dcg = sum(1 / math.log2(rank + 1) for rank in r.relevant_ranks if rank <= 10)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(r.relevant_total, 10) + 1))
    return dcg / ideal if ideal else 0.0


def _mean(values) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else None


def sweep(results: list[Result], thresholds=None) -> list[dict]:
    """answer_accuracy and abstention_accuracy at each candidate threshold."""
    if thresholds is None:
        thresholds = [round(0.20 + 0.01 * i, 2) for i in range(51)]
    rows = []
    for t in thresholds:
        m = metrics(results, t)
        rows.append({"threshold": t, "answer_accuracy": m["answer_accuracy"], "abstention_accuracy": m["abstention_accuracy"],
                     "false_abstention_rate": m["false_abstention_rate"]})
    return rows


def choose_threshold(rows: list[dict], max_false_abstention: float = 0.05) -> dict:
    """The threshold with the best mean of answer and abstention accuracy among those that keep false
    abstentions within `max_false_abstention`. When a run of neighbouring thresholds ties, the middle one:
    it sits farthest from the questions on either side, so it moves least on questions not in the set
    (the lowest of the run sat right against an unanswerable question's confidence)."""
    allowed = [r for r in rows if (r["false_abstention_rate"] or 0) <= max_false_abstention] or rows
    quality = lambda r: round((r["answer_accuracy"] or 0) + (r["abstention_accuracy"] or 0), 6)
    best = max(quality(r) for r in allowed)
    ordered = sorted(rows, key=lambda r: r["threshold"])
    top = [any(r is a for a in allowed) and quality(r) == best for r in ordered]
    start = end = top.index(True)
    while end + 1 < len(ordered) and top[end + 1]:
        end += 1
    return ordered[(start + end) // 2]


def breakdown(results: list[Result], key, threshold: float) -> dict:
    groups: dict = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    return {name: metrics(group, threshold) for name, group in sorted(groups.items(), key=lambda kv: str(kv[0]))}


def latency(results: list[Result]) -> dict:
    out = {}
    for stage in ("embed", "search", "answer", "total"):
        values = sorted(r.timings.get(stage, 0.0) for r in results)
        out[stage] = {"p50": round(statistics.median(values), 2), "p95": round(percentile(values, 95), 2)}
    return out


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    position = (len(sorted_values) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summarise(results: list[Result], threshold: float) -> dict:
    splits = sorted({r.item.split for r in results})
    return {
        "threshold": threshold,
        "overall": metrics(results, threshold),
        "by_split": {s: metrics([r for r in results if r.item.split == s], threshold) for s in splits},
        "by_language": breakdown(results, lambda r: r.item.lang, threshold),
        "by_conversation": breakdown([r for r in results if r.item.conversation], lambda r: r.item.conversation, threshold),
        "by_split_language": {s: breakdown([r for r in results if r.item.split == s], lambda r: r.item.lang, threshold) for s in splits},
        "latency_ms": latency(results),
    }


def format_metrics(summary: dict) -> str:
    names = ["questions", "hit@1", "hit@5", "mrr@10", "answer_accuracy", "strict_answer_accuracy", "first_line_accuracy",
             "citation_precision", "abstention_accuracy", "false_abstention_rate", "confidence_auc", "small_talk_without_passages"]
    short = ["n", "hit@1", "hit@5", "mrr@10", "ans_acc", "strict", "first_ln", "cite_prec", "abst_acc", "false_abst", "auc", "smalltalk"]
    lines = [f"abstention threshold {summary['threshold']}", "", f"{'':14}" + "".join(f"{s:>10}" for s in short)]

    def row(label, m):
        cells = "".join(f"{'-' if m.get(n) is None else (m[n] if isinstance(m[n], int) else format(m[n], '.3f')):>10}" for n in names)
        return f"{label:14}" + cells

    lines.append(row("all", summary["overall"]))
    for split, m in summary["by_split"].items():
        lines.append(row(f"split {split}", m))
    lines.append("")
    for kind, m in summary.get("by_conversation", {}).items():
        lines.append(row(f"conv {kind}", m))
    lines.append("")
    for split, langs in summary["by_split_language"].items():
        for lang, m in langs.items():
            lines.append(row(f"{split} {lang}", m))
    lat = summary["latency_ms"]
    lines += ["", "latency ms (p50 / p95): " + ", ".join(f"{k} {v['p50']:.1f} / {v['p95']:.1f}" for k, v in lat.items())]
    return "\n".join(lines)


def _corpus_text(settings) -> str:
    from .corpus import load_corpus

    return "\n".join(d.text for d in load_corpus(settings.corpus_dir))


def run_cli(args, settings) -> int:
    from .assistant import Assistant

    dataset = args.dataset or DEFAULT_DATASET
    if args.report and Path(args.report).exists() and not Path(args.report).is_dir():
        from .errors import InvalidSettingError

        raise InvalidSettingError(f"--report {args.report} is a file: give a folder for metrics.json and report.html")
    corpus_text = _corpus_text(settings)
    items = load_dataset(dataset, corpus_text=corpus_text)
    for item_id, needle in weak_needles(items, corpus_text):
        print(f"rag: weak needle in {item_id}: {needle!r} (under {WEAK_NEEDLE_CHARS} characters or in more than "
              f"{WEAK_NEEDLE_PLACES} places of the corpus): it can count a wrong answer as right", file=sys.stderr)
    assistant = Assistant.load(settings=settings)
    started = time.perf_counter()
    fitted_path = None
    if args.fit is not None:
        from .fitting import fit

        restore = remember_encodings(assistant)   # fitting asks the same questions several times
        fitted = fit(assistant, items, only=frozenset(args.fit) or None)
        restore()
        fitted.info["dataset"] = Path(dataset).name
        fitted_path = fitted.save(assistant.index.manifest.get("embedder", settings.embedder))
    results = run(assistant, items, progress=sys.stderr.isatty())
    threshold = assistant.threshold
    summary = summarise(results, threshold)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    if args.report:
        from .report import write_report

        blind, outside = [], {}
        if dataset == DEFAULT_DATASET:   # reported beside, never used to choose
            if BLIND_DATASET.exists():
                blind = load_dataset(BLIND_DATASET, corpus_text=corpus_text)
            outside = {name: load_dataset(path, corpus_text=corpus_text)
                       for name, path in OUTSIDE_CHECKS.items() if path.exists()}
        write_report(Path(args.report), assistant, items, results, summary, extra_items=blind, outside=outside)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(format_metrics(summary))
        if fitted_path:
            which = ", ".join(sorted(args.fit)) if args.fit else "ranker, confidence and sentence models"
            print(f"\n{which} fitted on the train split, threshold {threshold} chosen on the dev split; saved to "
                  f"{fitted_path}")
        if args.report:
            print(f"report written to {args.report}/report.html")
    return 0


def remember_encodings(assistant):
    """Encode each distinct question once while fitting (not when timing or serving); returns the undo."""
    encode, memo = assistant.embedder.encode_queries, {}

    def remembered(texts):
        key = tuple(texts)
        if key not in memo:
            memo[key] = encode(list(texts))
        return memo[key]

    assistant.embedder.encode_queries = remembered
    return lambda: setattr(assistant.embedder, "encode_queries", encode)
