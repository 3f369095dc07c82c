"""The answering core end to end: question -> language, vector, hits, answer. Used by the CLI, the web app
and the evaluation alike, so what is evaluated is what students get."""

from __future__ import annotations

import math
import re
import time
import unicodedata
from pathlib import Path

import numpy as np

from .answer import Answer, compose_answer
from .embedding import Embedder, make_embedder
from .errors import InvalidQuestionError, InvalidSettingError
from .index import Index, load_index
from .language import detect_language
from .retrieval import Hit, RetrievalOptions, Retriever, named_institutions

# Languages whose capitalised words are names (not German nouns) and whose names the corpus would spell
# alike (French and English texts): only there is an unknown name evidence that the texts do not answer.
NAME_CHECK_LANGUAGES = ("en", "fr")
UNKNOWN_NAME_PENALTY = 0.15
# The mirror image: a name of the question that only one or two passages use, the best one among them
# ("What does PAEH stand for?"). The embedding knows nothing of such acronyms and rates the passage low.
# Dev: answer accuracy 0.963 -> 0.975, false abstentions 0.025 -> 0.012, abstention unchanged
# (passages using the name: at most 1 / 2 / 3, bonus 0.1 / 0.15 compared; 2 and 0.1 kept, the smallest of the ties).
RARE_NAME_BONUS = 0.1
# Confidence = the best passage's dense similarity + this weight x log(1 + its raw BM25 score). The
# multilingual embedding rates "Wie ist das Wetter in Valenciennes?" about as close to the texts as many
# real questions; what separates them is that a passage that answers also shares the question's words
# (through the glossary, across languages). Chosen on the dev split: abstention AUC 0.877 -> 0.974.
LEXICAL_EVIDENCE_WEIGHT = 0.15
# A question naming one university ("the president of the University of Lille") whose best passage is
# another's (UPHF's governance page) is about something the texts do not say. Dev: +1 abstention, no loss.
INSTITUTION_MISMATCH_PENALTY = 0.15
# A question asking for a kind of fact (a price, opening hours, a date, an address) that none of the three
# best passages holds is not answered by them: "Combien coûte un loyer ?" against passages with no price.
# Dev: abstention 0.708 -> 0.792 with no more false abstentions (money and hours alone did the same on dev).
MISSING_KIND_PENALTY = 0.15
RETRIEVED = 10           # candidates kept on every answer, for hit@10 and for staff review
HISTORY_WEIGHT = 0.5     # how much the previous question steers a follow-up's retrieval
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_question(question: object, max_chars: int) -> str:
    """The question as text to search with, or InvalidQuestionError saying what is wrong with it."""
    if not isinstance(question, str):
        raise InvalidQuestionError(f"the question must be text, not {type(question).__name__}")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in question):
        raise InvalidQuestionError("the question is not valid UTF-8 text: re-type it or save it as UTF-8")
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", question))
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise InvalidQuestionError("the question is empty: type a question, for example \"How much is the Erasmus grant?\"")
    if len(text) > max_chars:
        raise InvalidQuestionError(
            f"the question is {len(text)} characters long; the limit is {max_chars}: ask it in fewer words")
    return text


class Assistant:
    def __init__(self, index: Index, embedder: Embedder, settings, options: RetrievalOptions | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.retriever = Retriever(index, options)

    @classmethod
    def load(cls, index_dir: str | Path | None = None, settings=None, check_corpus: bool = True) -> "Assistant":
        from .settings import Settings

        settings = settings or Settings.from_env()
        if index_dir is not None:
            settings = settings.replace(index_dir=Path(index_dir))
        index = load_index(settings, check_corpus=check_corpus)
        embedder = make_embedder(settings)
        return cls(index, embedder, settings)

    def ask(self, question: str, top_k: int | None = None, history: list[str] | None = None,
            id: str | None = None, threshold: float | None = None) -> Answer:
        """Answer `question`; `history` holds the conversation's earlier questions, oldest first."""
        started = time.perf_counter()
        top_k = self.settings.top_k if top_k is None else top_k
        if not isinstance(top_k, int) or not 1 <= top_k <= 5:
            raise InvalidSettingError(f"top_k must be between 1 and 5. Currently, top_k is {top_k!r}")
        text = clean_question(question, self.settings.max_question_chars)
        language = detect_language(text)
        previous = [clean_question(h, self.settings.max_question_chars) for h in (history or []) if isinstance(h, str) and h.strip()]
        embedded = self.embedder.encode_queries([text] + previous[-1:])
        query = embedded[0]
        if len(embedded) > 1:  # a follow-up ("and for Mermoz?") is read in the light of the last question
            query = query + HISTORY_WEIGHT * embedded[1]
            query = query / np.linalg.norm(query)
        t_embed = time.perf_counter()
        search_text = " ".join([text] + previous[-1:]) if previous else text
        hits = self.retriever.retrieve(search_text, query, RETRIEVED)
        t_search = time.perf_counter()
        threshold = self.settings.abstain_threshold if threshold is None else threshold
        confidence = self.confidence(text, search_text, language, hits)
        answer = compose_answer(text, language, hits, self.index, query, top_k, threshold, confidence, context=search_text,
                                sentence_tokens=self.retriever.sentence_tokens)
        t_done = time.perf_counter()
        answer.id = id
        answer.timings_ms = {"embed": (t_embed - started) * 1000, "search": (t_search - t_embed) * 1000,
                             "answer": (t_done - t_search) * 1000, "total": (t_done - started) * 1000}
        return answer

    def confidence(self, text: str, search_text: str, language: str, hits: list[Hit]) -> float:
        """How sure the texts answer `text`: the best passage's dense similarity plus its lexical evidence,
        then evidence that the passages are about something else (or, for rare names, exactly this).
        `search_text` is the question with the conversation's previous one. Below the calibrated
        threshold the assistant abstains; each term's effect on the dev split is in the README."""
        if not hits:
            return 0.0
        retriever, best = self.retriever, hits[0]
        confidence = best.dense
        if retriever.options.lexical_evidence:
            confidence += LEXICAL_EVIDENCE_WEIGHT * math.log1p(best.lexical_raw)
        if retriever.options.name_check:
            # Names and years the texts never mention: the question is about something else
            # ("the Sorbonne", "the 2027 deadline"). Years are read in every language, names in en/fr.
            unknown = retriever.unknown_years(text)
            if language in NAME_CHECK_LANGUAGES:
                unknown += retriever.unknown_names(text)
            confidence -= UNKNOWN_NAME_PENALTY * min(2, len(unknown))
            if retriever.rare_names(text, best):
                confidence += RARE_NAME_BONUS
        if retriever.missing_kinds(search_text, hits[:3]):
            confidence -= MISSING_KIND_PENALTY
        named = named_institutions(search_text)
        if len(named) == 1 and best.chunk.institution not in named:
            confidence -= INSTITUTION_MISMATCH_PENALTY
        return confidence
