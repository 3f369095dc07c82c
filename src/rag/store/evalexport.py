"""Reviewed exchanges as lines of the evaluation set, in the format `rag eval --dataset FILE` loads
(rag.evaluation.load_dataset): question, lang, answerable, needles, source, history, split.

- correct, answered: the needle is a short distinctive span of the first quote (an e-mail, an amount, a
  date, a code, else a few words), found in the corpus in at most WEAK_NEEDLE_PLACES places;
- correct, abstained: an out-of-scope line (answerable false, no needle);
- wrong with a correction: the correction is the needle, if the corpus holds it;
- anything else (wrong without a correction, a correction or quote the corpus does not hold) is skipped,
  and counted with its reason: a line whose needle is not in the corpus would fail the whole dataset.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Iterable

from ..evaluation import WEAK_NEEDLE_CHARS, WEAK_NEEDLE_PLACES, first_cited_line, normalise

SPLIT = "reviewed"   # scored by `rag eval` as a split of its own, beside train/dev/test
# Distinctive spans, most telling first.
_SPANS = [
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),                                        # e-mail
    re.compile(r"https?://\S+[\w/]"),                                                   # address
    re.compile(r"\d[\d  .,]*\s?(?:€|euros?\b|EUR\b)", re.I),                            # amount
    re.compile(r"\b\d{1,2}(?:er)? (?:janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|"
               r"décembre|january|february|march|april|may|june|july|august|september|october|november|december)"
               r"(?: \d{4})?\b", re.I),                                                 # date
    re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"),
    re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{5,}\b"),                         # code: E10209014
    re.compile(r"\b\d[\d  ]{2,}\d\b"),                                                 # number
]
WINDOW_WORDS = 4


class Corpus:
    """The corpus text as `rag eval` checks needles against it (normalised), with place counts."""

    def __init__(self, documents) -> None:
        self.documents = [(d.id, normalise(d.text)) for d in documents]
        self.text = "\n".join(t for _, t in self.documents)

    def places(self, needle: str) -> int:
        return self.text.count(normalise(needle)) if normalise(needle) else 0

    def usable(self, needle: str) -> bool:
        n = normalise(needle)
        return len(n) >= WEAK_NEEDLE_CHARS and 1 <= self.text.count(n) <= WEAK_NEEDLE_PLACES

    def source_of(self, needle: str) -> str | None:
        n = normalise(needle)
        return next((doc_id for doc_id, text in self.documents if n in text), None)


def _quote(row: dict) -> tuple[str, str | None]:
    """The first quoted sentence and its source: the stored quote, else the answer's first cited line."""
    for quote in row.get("quotes") or []:
        if (quote.get("text") or "").strip():
            return quote["text"], quote.get("source")
    line = first_cited_line(row.get("answer") or "")
    line = re.sub(r"\[\d+\]|\*\*", "", line).strip().lstrip("-•* ").strip()
    return line, None


def choose_needle(quote: str, corpus: Corpus) -> str | None:
    """A short span of `quote` that proves an answer right: distinctive, and in the corpus."""
    for pattern in _SPANS:
        for match in pattern.finditer(quote):
            span = match.group(0).strip(" .,;:")
            if corpus.usable(span):
                return span
    words = quote.split()
    for start in range(0, max(1, len(words) - WINDOW_WORDS + 1)):
        span = " ".join(words[start:start + WINDOW_WORDS]).strip(" .,;:")
        if corpus.usable(span):
            return span
    return quote.strip() if corpus.places(quote) else None


def eval_lines(rows: Iterable[dict], corpus: Corpus) -> tuple[list[str], Counter]:
    """(JSON lines, skipped rows counted by reason) for reviewed rows."""
    lines, skipped = [], Counter()
    for row in rows:
        if row.get("verdict") not in ("correct", "wrong"):
            continue
        source = None
        if row["verdict"] == "correct" and row["abstained"]:
            item = {"answerable": False, "needles": []}
        elif row["verdict"] == "correct":
            quote, source = _quote(row)
            needle = choose_needle(quote, corpus) if quote else None
            if needle is None:
                skipped["no quote found in the corpus"] += 1
                continue
            item = {"answerable": True, "needles": [needle]}
            source = source or corpus.source_of(needle)
        else:
            correction = (row.get("correction") or "").strip()
            if not correction:
                skipped["wrong without a correction"] += 1
                continue
            if not corpus.places(correction):
                skipped["correction not in the corpus"] += 1
                continue
            item = {"answerable": True, "needles": [correction]}
            source = corpus.source_of(correction)
        line = {"id": f"staff-{row['id'][:12]}", "question": row["question"], "lang": row["language"], **item,
                "split": SPLIT}
        if source:
            line["source"] = source
        if row.get("history"):
            line["history"] = list(row["history"])
            line["conversation"] = "follow_up"
        lines.append(json.dumps(line, ensure_ascii=False))
    return lines, skipped
