"""Stage 7: hits to a short, grounded answer with numbered citations, or an honest abstention.

The answer is extractive and leads with the line that answers: of the best passages' sentences (and
label/value pairs such as "Code ERASMUS : 999884537"), the one a fitted model (fitted.py, "sentence")
rates likeliest to hold the fact asked, the fact itself in bold, then at most two supporting quotes from
other passages, each with its [n] marker. Nothing is written that the passages do not say. When the
confidence (confidence.py) is below the threshold, the assistant abstains and names the office to ask.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .chunking import Chunk
from .index import Index
from .language import message
from .retrieval import Borrowing, Hit
from .retrieval.names import named_institutions
from .retrieval.words import ANSWER_TYPES, answer_types, expand_query

MIN_SENTENCE_CHARS = 25  # a bare heading ("Le financement") answers nothing
_LABELLED_FACT = re.compile(r":\s*\S*[\d@]|https?:|www\.")  # a label followed by a figure, address or link
SHORT_LINE_CHARS = 60    # below this, a line without a full stop, figure or address is a heading


@dataclass(frozen=True)
class Citation:
    n: int
    source: str
    title: str
    institution: str
    url: str
    text: str
    score: float
    chunk_id: str = ""
    section: str = ""
    highlight: str = ""   # the sentence of `text` quoted in the answer
    language: str = ""    # the passage's own language (a quote is marked with it, for browser translation)

    def to_dict(self) -> dict:
        return {"n": self.n, "source": self.source, "title": self.title, "institution": self.institution,
                "url": self.url, "text": self.text, "score": round(self.score, 4), "chunk_id": self.chunk_id,
                "section": self.section, "highlight": self.highlight, "language": self.language}


@dataclass
class Answer:
    question: str
    language: str
    answer: str
    abstained: bool
    citations: list[Citation]
    timings_ms: dict = field(default_factory=dict)
    id: str | None = None
    confidence: float = 0.0
    retrieved: list[Hit] = field(default_factory=list)   # the ranked candidates, for evaluation and review
    follow_up: bool = False      # read together with the conversation's previous question
    small_talk: bool = False     # a pleasantry, answered without passages

    def to_dict(self) -> dict:
        data = {"question": self.question, "language": self.language, "answer": self.answer,
                "abstained": self.abstained, "citations": [c.to_dict() for c in self.citations],
                "confidence": round(self.confidence, 4), "follow_up": self.follow_up, "small_talk": self.small_talk,
                "quotes": [{"n": c.n, "text": c.highlight, "language": c.language} for c in self.citations],
                "candidates": [{"chunk_id": h.chunk.id, "source": h.chunk.source, "title": h.chunk.title,
                                "score": round(h.score, 4)} for h in self.retrieved],
                "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()}}
        return {"id": self.id, **data} if self.id is not None else data


# Sentences of this many best passages compete to lead the answer.
LEAD_PASSAGES = 3
# At most this many supporting quotes follow the lead (the contract allows 5 citations; a student reads two).
MAX_SUPPORT = 2
# A supporting passage must score within this many log-odds of the best passage, by the fitted ranker:
# further down it adds reading, not answers (dev sweep in docs/figures.md).
SUPPORT_GAP = 1.0


@dataclass(frozen=True)
class Unit:
    """A quotable piece of a passage: one sentence, or a label and the value under it."""

    hit_rank: int
    first: int          # rows of Index.sentences
    last: int
    text: str


@dataclass
class Quotes:
    """The quotable units of the best passages and the sentence model's score of each (log-odds)."""

    units: list[Unit]
    scores: np.ndarray
    kinds: frozenset[str] = frozenset()   # the kind of fact asked, shown in bold in the answer

    @property
    def best(self) -> float:
        return float(self.scores.max()) if len(self.units) else -30.0

    @property
    def lead(self) -> Unit | None:
        """The unit the answer leads with (the sentence model's best), or None without any."""
        return self.units[int(np.argmax(self.scores))] if self.units else None


def score_units(hits: list[Hit], index: Index, query_vector: np.ndarray, context: str,
                sentence_tokens: Sequence[frozenset[str]], signals=None, sentence_model=None,
                drop: frozenset[str] = frozenset(), extra: tuple[str, ...] = (),
                kinds: frozenset[str] | None = None, unread: Borrowing | None = None) -> Quotes:
    """The quotable units of the best passages, scored by the sentence model; `drop`: signal groups an
    ablation leaves out; `extra`: the induced lexicon's words for the question (lexicon.py); `kinds`: the
    kind of fact asked (retrieval.words.asked_kinds), by default read from `context`; `unread`: the models whose
    cosines another's stand in for (a language they never learnt, retrieval.Borrowing)."""
    kinds = answer_types(context) if kinds is None else kinds
    units, features, names = sentence_candidates(hits, index, query_vector, context, sentence_tokens, signals, drop,
                                                 extra, kinds, unread)
    if not units:
        return Quotes([], np.zeros(0), kinds)
    if sentence_model is not None:
        return Quotes(units, sentence_model.decision(features, names), kinds)
    # no fitted model: the closest sentence, real sentences before headings
    return Quotes(units, features[:, names.index("cosine.combined")] - 0.3 * features[:, names.index("shape.heading")],
                  kinds)


def compose_answer(question: str, language: str, hits: list[Hit], index: Index, top_k: int, threshold: float,
                   confidence: float, context: str, quotes: Quotes) -> Answer:
    """Below `threshold`, `confidence` makes the answer an abstention. `context` is the question with the
    conversation's previous one when it is a follow-up: what the quoted sentences should match."""
    if not hits or confidence < threshold:
        return abstain(question, language, confidence, hits, index)
    units, scores = quotes.units, quotes.scores
    lead = quotes.lead
    lead = _answering(lead, index) if lead else None
    lead_hit = hits[lead.hit_rank] if lead else hits[0]
    chosen = [lead_hit]
    for hit in hits[:top_k]:
        if len(chosen) > MAX_SUPPORT or len(chosen) >= top_k:
            break
        if hit is not lead_hit and hit.score >= hits[0].score - SUPPORT_GAP:
            chosen.append(hit)
    wanted = quotes.kinds
    lines, citations = [], []
    for n, hit in enumerate(chosen, start=1):
        if hit is lead_hit and lead is not None:
            quote = lead.text
        else:
            rank = hits.index(hit)
            own = [i for i, u in enumerate(units) if u.hit_rank == rank]
            quote = units[max(own, key=lambda i: scores[i])].text if own else index.sentences[hit.sentence]
        citations.append(_citation(n, hit, quote))
        shown = " ".join(quote.split())
        lines.append(f"{emphasise(shown, wanted)} [{n}]" if n == 1 else f"- {shown} [{n}]")
    text = lines[0]
    if len(lines) > 1:
        text += "\n\n" + message(language, "also") + "\n" + "\n".join(lines[1:])
    return Answer(question=question, language=language, answer=text, abstained=False, citations=citations,
                  confidence=confidence, retrieved=hits)


def _answering(unit: Unit, index: Index) -> Unit:
    """A line that only asks or announces ("Qui peut devenir alternant ?", then "En contrat d'apprentissage :"),
    or a bare heading ("Critères d'attribution de la bourse Mermoz:", "Le Hubhouse"), answers nothing: the
    passage answers on the lines after it, which are quoted with it."""
    owner = index.sentence_chunk[unit.last]
    title = index.chunks[int(owner)].title

    def announces(row: int) -> bool:
        line = index.sentences[row].rstrip()
        return line.endswith(QUESTION_MARKS + (":",)) or is_heading_like(line, title)

    last = unit.last
    while (announces(last) and last - unit.first < MAX_LEAD_LINES - 1
           and last + 1 < len(index.sentences) and index.sentence_chunk[last + 1] == owner):
        last += 1
    if last == unit.last:
        return unit
    lines = [index.sentences[row] for row in range(unit.first, last + 1)]
    text = _span(index.chunks[int(owner)].text, lines[0], lines[-1]) or "\n".join(lines)
    return Unit(unit.hit_rank, unit.first, last, text)


def sentence_candidates(hits: list[Hit], index: Index, query_vector: np.ndarray, context: str,
                        sentence_tokens: Sequence[frozenset[str]], signals=None,
                        drop: frozenset[str] = frozenset(), extra: tuple[str, ...] = (),
                        kinds: frozenset[str] | None = None,
                        unread: Borrowing | None = None) -> tuple[list[Unit], np.ndarray, list[str]]:
    """Every quotable unit of the best passages with the signals the sentence model weighs: its cosine with
    the question (and the gap to the best unit), alone and read after its page title and section ("context"),
    how close it is to every passage anyway (its hubness), the question's words it holds, whether it holds the
    kind of fact asked, its shape (a heading, a label/value pair, its length) and how its passage ranked."""
    question_tokens = set(expand_query(context, extra))
    wanted = answer_types(context) if kinds is None else kinds
    sims = signals.sentence_sims if signals is not None else index.sentence_vectors @ query_vector
    units, rows, shape = [], [], []
    for rank, hit in enumerate(hits[:LEAD_PASSAGES]):
        own = index.chunk_sentences[hit.position]
        sentences = [index.sentences[row] for row in own]
        headings = [is_heading_like(s, hit.chunk.title) for s in sentences]
        spans = [(i, i) for i in range(len(own))]
        # a label and its value ("Critères … Mermoz:" / "Être boursier …"): quoted together, matched on the value
        spans += [(i, i + 1) for i in range(len(own) - 1) if headings[i] and not headings[i + 1]]
        for first, last in spans:
            rows_ = own[first:last + 1]
            text = sentences[first] if first == last else (
                _span(hit.chunk.text, sentences[first], sentences[last]) or "\n".join(sentences[first:last + 1]))
            words = frozenset().union(*(sentence_tokens[r] for r in rows_))
            units.append(Unit(rank, int(rows_[0]), int(rows_[-1]), text))
            rows.append(int(rows_[-1]))
            held = sum(1 for kind in wanted if ANSWER_TYPES[kind][1].search(text))
            shape.append((len(question_tokens & words) / max(1, len(question_tokens)), float(held),
                          float(bool(wanted) and not held), float(all(headings[first:last + 1])), float(last > first),
                          math.log1p(len(text)), hit.score - hits[0].score, float(rank)))
    if not rows:
        return [], np.zeros((0, 0)), []
    # one column per signal, the units' rows at once: this runs twice on every answer
    columns = {"cosine.combined": np.asarray(sims[rows], dtype=np.float64)}
    if signals is not None:
        for model, parts in signals.per_model.items():
            columns[f"cosine.{model}"] = np.asarray(parts["sentence_all"][rows], dtype=np.float64)
    if index.sentence_context_vectors is not None:   # the line read after its page title and section
        # a model that does not read the question's language borrows another's cosines over every line (unread)
        lines = rows if unread is None else slice(None)
        context_cosines = {model: np.asarray(values, dtype=np.float64) for model, values in
                           index.cosines(index.sentence_context_vectors, query_vector, lines).items()}
        if unread is not None:
            context_cosines = {m: values[rows] for m, values in unread.apply(context_cosines, "context").items()}
        for model, values in context_cosines.items():
            columns[f"context.{model}"] = values
    similarities = list(columns)   # each also as a gap to the best unit and a z-score, below
    for model, hubness in index.sentence_hubness.items():
        columns[f"hub.{model}"] = np.asarray(hubness[rows], dtype=np.float64)
    shaped = np.array(shape, dtype=np.float64)
    for j, name in enumerate(("overlap.question", "kind.holds", "kind.asked_missing", "shape.heading", "shape.pair",
                              "shape.length", "passage.gap", "passage.rank")):
        columns[name] = shaped[:, j]
    for name in similarities:
        values = columns[name]
        spread = float(values.std()) or 1.0
        columns[name + "_gap"] = values - values.max()
        columns[name + "_z"] = (values - values.mean()) / spread
    names = [n for n in columns if n.split(".")[0] not in drop]
    return units, np.column_stack([columns[n] for n in names]), names


QUESTION_MARKS = ("?", "？", "؟")
MAX_LEAD_LINES = 3   # a question, a label under it, the line that answers
_FACTS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?://\S+|www\.\S+")


def emphasise(text: str, wanted: frozenset[str]) -> str:
    """The fact in bold: the amount, date, hours or address the question asks for, and any e-mail or link.
    'Le montant est de 400€ par mois.' -> 'Le montant est de **400€** par mois.'"""
    spans = [m.span() for m in _FACTS.finditer(text)]
    # "combien ?" asks for a count or an amount; every digit of a line is no fact: amounts are
    wanted = (wanted - {"count"}) | ({"money"} if "count" in wanted else set())
    for kind in wanted:
        spans += [m.span() for m in ANSWER_TYPES[kind][1].finditer(text) if m.group(0).strip()]
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        while end > start and text[end - 1] in " .,;":
            end -= 1
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif end > start:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = f"{text[:start]}**{text[start:end].strip()}**{text[end:]}"
    return text


# thanks, ok: "small_talk"
SMALL_TALK_MESSAGES = {"hello": "small_talk_hello", "bye": "small_talk_bye", "help": "small_talk_help"}


def small_talk_reply(question: str, language: str, intent: str = "thanks") -> Answer:
    """'thanks!' -> a short reply in the asker's language, no passage; a greeting, a goodbye or a request for
    help ('can you help me?': what would you like to know?) gets its own."""
    text = message(language, SMALL_TALK_MESSAGES.get(intent, "small_talk"))
    return Answer(question=question, language=language, answer=text, abstained=False,
                  citations=[], confidence=1.0, small_talk=True)


def abstain(question: str, language: str, confidence: float, hits: list[Hit], index: Index) -> Answer:
    """The texts do not answer: say so and name the office of the institution asked about (sources.json's
    `contact`), or of the first institution of sources.json when the question names none or several."""
    offices = index.institution_info
    named = named_institutions(question, index.institutions)
    institution = next(iter(named)) if len(named) == 1 else next(iter(offices))
    contact = offices[institution]["contact"]
    office = contact.get(language) or contact.get("en") or next(iter(contact.values()))
    space = "" if language in ("zh", "ja") else " "   # Chinese runs sentences together
    text = message(language, "abstain") + space + message(language, "contact", office=office)
    return Answer(question=question, language=language, answer=text, abstained=True, citations=[],
                  confidence=confidence, retrieved=hits)


def _span(text: str, first: str, last: str) -> str | None:
    """The passage's own text from `first` to the end of `last` (what the source card highlights)."""
    start = text.find(first)
    end = text.find(last, start + len(first)) if start >= 0 else -1
    return text[start:end + len(last)] if end >= 0 else None


def is_heading_like(sentence: str, title: str = "") -> bool:
    """Headings and banners answer nothing: 'Le financement', 'Critères de la bourse Mermoz:', 'CUMULABLE AVEC …',
    the page's own title, and a short line without a full stop that holds no figure, address or link
    ('Les conditions pour mobilité Erasmus+', 'Pourquoi étudier à l'UPHF')."""
    stripped = sentence.strip()
    if _LABELLED_FACT.search(stripped) and not stripped.endswith(":"):
        return False  # "Code ERASMUS : 999884537", "Contact : ddrs@uphf.fr": short, but the answer itself
    if len(stripped) < MIN_SENTENCE_CHARS or stripped.endswith(":") or stripped.isupper():
        return True
    if title and stripped.casefold() == title.strip().casefold():
        return True
    return (len(stripped) < SHORT_LINE_CHARS and stripped[-1] not in ".!?;)»\"'"
            and not re.search(r"\d|@|https?:|www\.|:", stripped))


def _citation(n: int, hit: Hit, sentence: str) -> Citation:
    chunk: Chunk = hit.chunk
    return Citation(n=n, source=chunk.source, title=chunk.title, institution=chunk.institution, url=chunk.url,
                    text=chunk.text, score=hit.score, chunk_id=chunk.id, section=chunk.section, highlight=sentence,
                    language=chunk.language)
