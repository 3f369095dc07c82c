"""Stage 6: hits to a short, grounded answer with numbered citations, or an honest abstention.

The answer is extractive: for each cited passage, the sentence of it that best matches the question,
followed by its [n] marker. Nothing is written that the passages do not say. When the confidence (see
Assistant.ask: dense similarity plus lexical evidence) is below the calibrated threshold, the assistant
abstains and names the office to ask.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .chunking import Chunk
from .index import Index
from .language import message
from .retrieval import ANSWER_TYPES, Hit, answer_types, expand_query, named_institutions

MIN_SENTENCE_CHARS = 25  # a bare heading ("Le financement") answers nothing
_LABELLED_FACT = re.compile(r":\s*\S*[\d@]|https?:|www\.")  # a label followed by a figure, address or link
SHORT_LINE_CHARS = 60    # below this, a line without a full stop, figure or address is a heading
# A cited passage whose score is this far below the best one's is left out: it would add noise, not an answer.
# On the dev split (206-question set), answer accuracy was 0.864 / 0.889 / 0.901 / 0.901 at 0.1 / 0.2 / 0.3 / none.
MAX_SCORE_GAP = 0.3

# A sentence holding the kind of fact asked for (see retrieval.ANSWER_TYPES) is preferred as the answer.
ANSWER_TYPE_BONUS = 0.25

# The offices the corpus names (uphf-faq, page "Contact"; UPJV and Lille give only their home pages).
OFFICES = {
    "UPHF": {
        "fr": "au Pôle de relations internationales de l'UPHF : international_in@uphf.fr (mobilité entrante), "
              "international_out@uphf.fr (mobilité sortante), pri@uphf.fr (accords hors Europe)",
        "en": "the UPHF international relations office (Pôle de relations internationales): international_in@uphf.fr "
              "for incoming students, international_out@uphf.fr for outgoing students, pri@uphf.fr otherwise",
    },
    "UPJV": {"fr": "à l'UPJV : https://www.u-picardie.fr", "en": "the UPJV: https://www.u-picardie.fr"},
    "Université de Lille": {"fr": "à l'Université de Lille : https://www.univ-lille.fr",
                            "en": "the Université de Lille: https://www.univ-lille.fr"},
}


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

    def to_dict(self) -> dict:
        return {"n": self.n, "source": self.source, "title": self.title, "institution": self.institution,
                "url": self.url, "text": self.text, "score": round(self.score, 4), "chunk_id": self.chunk_id,
                "section": self.section, "highlight": self.highlight}


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

    def to_dict(self) -> dict:
        data = {"question": self.question, "language": self.language, "answer": self.answer,
                "abstained": self.abstained, "citations": [c.to_dict() for c in self.citations],
                "confidence": round(self.confidence, 4),
                "candidates": [{"chunk_id": h.chunk.id, "source": h.chunk.source, "title": h.chunk.title,
                                "score": round(h.score, 4)} for h in self.retrieved],
                "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()}}
        return {"id": self.id, **data} if self.id is not None else data


def compose_answer(question: str, language: str, hits: list[Hit], index: Index, query_vector: np.ndarray,
                   top_k: int, threshold: float, confidence: float, context: str,
                   sentence_tokens: Sequence[frozenset[str]]) -> Answer:
    """Below `threshold`, `confidence` (Assistant.confidence) makes the answer an abstention. `context` is
    the question with the conversation's previous one ("How much is the grant? And for Mermoz?"): what
    the quoted sentences should match. `sentence_tokens`: each indexed sentence's words."""
    if not hits or confidence < threshold:
        return abstain(question, language, confidence, hits)
    chosen = [h for h in hits[:top_k] if h.score >= hits[0].score - MAX_SCORE_GAP]
    question_tokens = set(expand_query(context))
    wanted = answer_types(context)
    lines, citations = [], []
    for n, hit in enumerate(chosen, start=1):
        sentence = best_sentence(hit, index, query_vector, question_tokens, wanted, pairs=n == 1,
                                 sentence_tokens=sentence_tokens)
        lines.append(f"- {sentence} [{n}]")
        citations.append(_citation(n, hit, sentence))
    text = message(language, "intro") + "\n\n" + "\n".join(lines)
    return Answer(question=question, language=language, answer=text, abstained=False, citations=citations,
                  confidence=confidence, retrieved=hits)


def abstain(question: str, language: str, confidence: float, hits: list[Hit]) -> Answer:
    named = named_institutions(question)
    institution = next(iter(named)) if len(named) == 1 else "UPHF"
    office = OFFICES[institution]["fr" if language == "fr" else "en"]
    text = message(language, "abstain") + " " + message(language, "contact", office=office)
    return Answer(question=question, language=language, answer=text, abstained=True, citations=[],
                  confidence=confidence, retrieved=hits)


def best_sentence(hit: Hit, index: Index, query_vector: np.ndarray, question_tokens: set[str],
                  wanted: frozenset[str], pairs: bool, sentence_tokens: Sequence[frozenset[str]]) -> str:
    """The sentence of the hit's passage closest to the question, preferring real sentences to headings
    and sentences holding the kind of fact asked for (an amount, an address, a date). With `pairs`, two
    consecutive lines may be quoted together: a label and its value ("Critères d'attribution de l'aide…:" /
    "Être boursier sur critères sociaux."), a sentence and the one completing it ("…the Campus France
    label." / "In 2020, it was awarded 2*…"); a heading is never quoted alone. Dev quoted_answer_accuracy:
    0.654 -> 0.679 (labelled facts are not headings) -> 0.753 (pairs for the first citation; 0.778 for
    every citation, at twice the length) -> 0.790 (a leading heading does not count in the similarity)
    -> 0.815 (no bare headings)."""
    own = index.chunk_sentences[hit.position]
    if own.size == 0:
        return hit.chunk.text
    vectors = index.sentence_vectors[own]
    sentences = [index.sentences[row] for row in own]
    words = [sentence_tokens[row] for row in own]  # computed once at load (Retriever.sentence_tokens)
    headings = [is_heading_like(s, hit.chunk.title) for s in sentences]
    units = [(i, i) for i in range(len(sentences))]
    if pairs:  # a pair never ends on a heading: that would introduce what is not quoted
        units += [(i, i + 1) for i in range(len(sentences) - 1) if not headings[i + 1]]
    best, best_score = (0, 0), -np.inf
    for first, last in units:
        # A heading leading a pair gives the reader context, not the match: "Critères … Mermoz:" is close
        # to any Mermoz question, whatever the line under it says.
        start = first + 1 if last > first and headings[first] else first
        vector = vectors[start:last + 1].sum(axis=0)
        similarity = float(vector @ query_vector / (np.linalg.norm(vector) or 1.0))
        text = " ".join(sentences[first:last + 1])
        overlap = len(question_tokens & (words[first] | words[last])) / max(1, len(question_tokens))
        score = similarity + 0.2 * overlap - (0.3 if all(headings[first:last + 1]) else 0.0)
        score += ANSWER_TYPE_BONUS * sum(1 for kind in wanted if ANSWER_TYPES[kind][1].search(text))
        if score > best_score:
            best, best_score = (first, last), score
    first, last = best
    if first == last and headings[first] and first + 1 < len(sentences) and not headings[first + 1]:
        last = first + 1  # a heading is never quoted alone: with the line it introduces, it answers
    if first == last:
        return sentences[first]
    return _span(hit.chunk.text, sentences[first], sentences[last]) or "\n".join(sentences[first:last + 1])


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
                    text=chunk.text, score=hit.score, chunk_id=chunk.id, section=chunk.section, highlight=sentence)
