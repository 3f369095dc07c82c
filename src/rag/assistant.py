"""The answering core end to end: question -> language, vector, hits, answer. Used by the CLI, the web app
and the evaluation alike, so what is evaluated is what students get."""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .answer import Answer, Quotes, compose_answer, score_units, small_talk_reply
from .conversation import SMALL_TALK_SIMILARITY, SmallTalk, follow_up_signals
from .embedding import Embedder, make_embedder
from .errors import InvalidQuestionError, InvalidSettingError
from .index import Index, load_index
from .language import detect_language, reply_language
from .lexicon import InducedLexicon, word_encoder
from .confidence import fact_not_held, question_signals
from .fitted import Fitted
from .retrieval import Borrowing, Hit, RetrievalOptions, Retriever, Signals
from .retrieval.words import answer_types, asked_kinds

@dataclass
class Reading:
    """One way of reading a question: the text searched, its vector, the passages found and the confidence."""

    search_text: str
    query: np.ndarray
    hits: list[Hit]
    signals: Signals
    confidence: float
    quotes: Quotes
    follow_up: bool = False
    judged: tuple | None = None   # (hits, signals, quotes) the confidence read: ranked without the word alignment


RETRIEVED = 10           # candidates kept on every answer, for hit@10 and for staff review
HISTORY_WEIGHT = 0.5     # how much the previous question steers a follow-up's retrieval
# ... and the choice of the line it leads with, which must answer the follow-up itself ("who do I write to about
# it?" after the grant asks for an address, not for the grant); chosen on dev (0, 0.25, 0.5)
LINE_HISTORY_WEIGHT = 0.25
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


def with_previous(vectors: np.ndarray, weight: float = HISTORY_WEIGHT) -> np.ndarray:
    """A follow-up's vector: the question's, steered by the previous question's (rows 0 and 1 of `vectors`)."""
    mixed = vectors[0] + weight * vectors[1]
    return mixed / np.linalg.norm(mixed)


def follow_up_lines(text: str, vectors: np.ndarray) -> tuple[np.ndarray, str]:
    """What a follow-up's lines are scored against: its own words, its vector steered a little by the previous
    question's. The passages are found with both questions; the line shown first answers the one asked now."""
    return with_previous(vectors, LINE_HISTORY_WEIGHT), text


def limit_blas_threads() -> None:
    """One BLAS thread: the matrix products here are small, and OpenBLAS threads left spinning after one
    slow down e5's own OpenMP threads (warm ask p50 36 -> 20 ms on 2 cores, docs/figures.md "Speed"). Concurrent
    web requests each asking for 2 BLAS threads also fought over the cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


class Assistant:
    def __init__(self, index: Index, embedder: Embedder, settings, options: RetrievalOptions | None = None,
                 fitted: Fitted | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.fitted = fitted or Fitted.load(index.manifest.get("embedder", settings.embedder))
        encode = word_encoder(embedder)
        self.lexicon = InducedLexicon(index.chunks, encode) if encode is not None else None
        self.retriever = Retriever(index, options, self.lexicon)
        self.pleasantries = SmallTalk(embedder, index.models)

    @property
    def threshold(self) -> float:
        """One source of truth: the threshold fitted with the models, unless RAG_ABSTAIN_THRESHOLD overrides it."""
        configured = getattr(self.settings, "abstain_threshold", None)
        return self.fitted.threshold if configured is None else configured

    @classmethod
    def load(cls, index_dir: str | Path | None = None, settings=None, check_corpus: bool = True) -> "Assistant":
        from .settings import Settings

        settings = settings or Settings.from_env()
        if index_dir is not None:
            settings = settings.replace(index_dir=Path(index_dir))
        index = load_index(settings, check_corpus=check_corpus)
        embedder = make_embedder(settings)
        limit_blas_threads()
        return cls(index, embedder, settings)

    def ask(self, question: str, top_k: int | None = None, history: list[str] | None = None,
            id: str | None = None, threshold: float | None = None) -> Answer:
        """Answer `question`; `history` holds the conversation's earlier questions, oldest first."""
        started = time.perf_counter()
        top_k = self.settings.top_k if top_k is None else top_k
        if not isinstance(top_k, int) or not 1 <= top_k <= 5:
            raise InvalidSettingError(f"top_k must be between 1 and 5. Currently, top_k is {top_k!r}")
        threshold = self.threshold if threshold is None else threshold
        text, language, previous, vectors = self.prepare(question, history)
        t_embed = time.perf_counter()
        detected = detect_language(text, fallback="")   # "" when not sure: small talk is often too short to tell
        reply = reply_language(text, language)   # the question is read as `language`; the reply may differ
        if self.small_talk(text, language, vectors[0], detected):
            said_in, intent = self.pleasantries.reading(text, vectors[0], self.model_cuts(detected),
                                                        self.small_talk_cut, detected and reply)
            answer = small_talk_reply(text, said_in or reply, intent)
            t_search = t_done = time.perf_counter()
        else:
            reading = self.read(text, language, previous, vectors)
            t_search = time.perf_counter()
            answer = compose_answer(text, reply, reading.hits, self.index, top_k, threshold,
                                    reading.confidence, context=reading.search_text, quotes=reading.quotes)
            answer.follow_up = reading.follow_up
            t_done = time.perf_counter()
        answer.id = id
        answer.timings_ms = {"embed": (t_embed - started) * 1000, "search": (t_search - t_embed) * 1000,
                             "answer": (t_done - t_search) * 1000, "total": (t_done - started) * 1000}
        return answer

    def prepare(self, question: str, history: list[str] | None = None) -> tuple[str, str, str | None, np.ndarray]:
        """The question cleaned, its language, the previous question (if any) and both their vectors, encoded
        together. A question too short to tell its language takes the previous one's ('e o das Tertiales?')."""
        text = clean_question(question, self.settings.max_question_chars)
        previous = [clean_question(h, self.settings.max_question_chars) for h in (history or []) if isinstance(h, str) and h.strip()]
        last = previous[-1] if previous else None
        language = detect_language(text, fallback=detect_language(last) if last else "en")
        vectors = self.embedder.encode_queries([text] + ([last] if last else []))
        return text, language, last, vectors

    def reading(self, text: str, language: str, search_text: str, query: np.ndarray, follow_up: bool = False,
                options: RetrievalOptions | None = None, lines: tuple[np.ndarray, str] | None = None) -> Reading:
        """The passages for one way of reading the question, and how sure they answer it. The confidence is
        read on the question's own words; the passages found and quoted, also with the induced lexicon's
        reading of the words the texts never use (lexicon.py), when it has one, and ranked by the quote ranker,
        which aligns the question with each passage word by word (retrieval/, "align"): that alignment
        lifts the passage that answers, but out-of-scope questions find a passage that speaks of their words
        too, so the confidence reads the ranking without it (docs/figures.md, session 11). The line quoted
        first is chosen by the quote sentence model, which also reads each line after its page title and
        section (fitted.py). `lines`: the vector and text the lines are scored against, when not the
        question's (a follow-up's, follow_up_lines)."""
        options = options or self.retriever.options
        kinds = asked_kinds(text, search_text)
        unread = self.unread(language, options)
        # the confidence's reading: no word alignment, each line read alone (its sentence model knows no context)
        first = self._found(search_text, query, options.without("align", "context"), kinds=kinds, unread=unread,
                            lines=lines)
        extra = self.lexicon.translations(search_text) if self.lexicon is not None and options.lexicon else ()
        aligned = self.fitted.quote_ranker is not None and "align" not in options.drop
        # without a quote ranker nothing weighs the alignment: it is not computed
        quoting = options if aligned else options.without("align")
        hits, signals, quotes = (self._found(search_text, query, quoting, extra, kinds, self.fitted.quote_ranker,
                                             same_vector=first[1], sentence=self.fitted.quote_sentence, unread=unread,
                                             lines=lines)
                                 if extra or aligned or self.fitted.quote_sentence is not None else first)
        # the passage the confidence reads first and the one the answer quotes must both hold the fact asked
        leads = {found[q.lead.hit_rank if q.lead else 0].chunk.text
                 for found, _, q in (first, (hits, signals, quotes)) if found}
        if "unheld" not in options.drop and any(fact_not_held(kinds, lead, text) for lead in leads):
            confidence = 0.0   # a phone number, hours, a price, a number or a year the lead passage does not hold
        else:
            confidence = self.confidence(text, search_text, language, *first)
        return Reading(search_text, query, hits, signals, confidence, quotes, follow_up, judged=first)

    def _found(self, search_text: str, query: np.ndarray, options: RetrievalOptions, extra: tuple[str, ...] = (),
               kinds: frozenset[str] | None = None, ranker=None, same_vector=None, sentence=None,
               unread: Borrowing | None = None, lines: tuple[np.ndarray, str] | None = None):
        """The best passages, the signals they were ranked on (by `ranker`, by default the fitted ranker), and
        their quotable lines scored (by `sentence`, by default the fitted sentence model) against `lines`
        (vector, text), by default the query's."""
        hits, signals = self.retriever.retrieve(search_text, query, RETRIEVED, options=options,
                                                ranker=ranker or self.fitted.ranker, extra=extra, kinds=kinds,
                                                same_vector=same_vector, unread=unread)
        line_vector, line_text = lines or (query, search_text)
        quotes = score_units(hits, self.index, line_vector, line_text, self.retriever.sentence_tokens, signals,
                             sentence or self.fitted.sentence, drop=options.drop, extra=extra, kinds=kinds,
                             unread=unread)
        return hits, signals, quotes

    def unread(self, language: str, options: RetrievalOptions | None = None) -> Borrowing | None:
        """Which of the embedder's models do not read `language`, and the model whose cosines stand in for
        theirs (retrieval.Borrowing); None when every model reads it, or none does (or an ablation says so)."""
        readers = self._not_reading(language)
        if not readers or "borrow" in (options or self.retriever.options).drop:
            return None
        scales = {key: tuple(value) for key, value in self.fitted.info.get("cosine_scales", {}).items()}
        return Borrowing(readers, scales)

    def _not_reading(self, language: str) -> dict[str, str]:
        """The embedder's models that never learnt `language` -> the model that reads it ({} with one model)."""
        return getattr(self.embedder, "unread", lambda _: {})(language)

    def readings(self, text: str, language: str, previous: str | None, vectors: np.ndarray,
                 options: RetrievalOptions | None = None) -> tuple[Reading, Reading | None, float]:
        """The question read alone, and with the previous question (None without one), and how close the two
        questions are."""
        alone = self.reading(text, language, text, vectors[0], options=options)
        if previous is None:
            return alone, None, 0.0
        together = self.reading(text, language, f"{text} {previous}", with_previous(vectors), follow_up=True,
                                options=options, lines=follow_up_lines(text, vectors))
        return alone, together, float(vectors[0] @ vectors[1])

    def read(self, text: str, language: str, previous: str | None, vectors: np.ndarray) -> Reading:
        """A follow-up is read with the previous question, a new topic alone (conversation.py)."""
        alone, together, closeness = self.readings(text, language, previous, vectors)
        if together is None:
            return alone
        if self.fitted.follow_up is not None:
            row, names = follow_up_signals(text, language, alone.confidence, together.confidence, closeness,
                                           self.question_form(vectors[0]))
            depends = self.fitted.follow_up.probability(row[None, :], names)[0] >= 0.5
        else:   # nothing fitted: the previous question helps only what the question alone does not answer
            depends = alone.confidence < self.threshold <= together.confidence
        return together if depends else alone

    def question_form(self, query: np.ndarray) -> float | None:
        """The question-form model's log-odds that the question's wording leans on an earlier turn."""
        form = self.fitted.form
        if form is None or len(form.names) != query.shape[0]:
            return None
        return float(form.decision(query[None, :], form.names)[0])

    @property
    def small_talk_cut(self) -> float:
        return self.fitted.info.get("small_talk_similarity", SMALL_TALK_SIMILARITY)

    def small_talk(self, text: str, language: str, query: np.ndarray, detected: str | None = None) -> bool:
        """`detected`: the message's language when detected with confidence ("" when not; None: detect it)."""
        detected = detect_language(text, fallback="") if detected is None else detected
        model = self.fitted.small_talk
        if model is not None and len(model.names) == query.shape[0]:
            # the fitted model reads the whole message ("entschuldigung, kurze frage", "ok thanks. are you still
            # there?"), where the closest pleasantry's cosine missed them; a message asking for a fact is a question
            if answer_types(text):
                return False
            cut = self.fitted.info.get("small_talk_log_odds_cut", 0.0)
            if float(model.decision(query[None, :], model.names)[0]) >= cut:
                return True
            if not (detected and self._not_reading(detected)):
                return False
            # in a language one of the models never learnt ("mulțumesc!"), which the training messages hardly hold,
            # the closeness of the models that read it is heard too
        return self.pleasantries(text, language, query, self.small_talk_cut, self.model_cuts(detected))

    def model_cuts(self, detected: str) -> dict[str, float] | None:
        """Each model's own small-talk cut, heard where one model never learnt the message's language (then only
        the models that read it: the others' cosines are noise), or where the language is not sure ("धन्यवाद!",
        "ahoj"): there the combined cosine is dragged down by the model that does not read it. In a language
        every model reads, the combined cosine alone decides: e5's own cosines sit in a narrow band ("can you
        help me with my visa?" is 0.92 from "can you help me", "hey, can you help me?" 0.97), so its cut would
        take requests with a subject for small talk."""
        cuts = self.fitted.info.get("small_talk_model_cuts")
        unread = self._not_reading(detected) if detected else {}
        if not cuts or (detected and not unread):
            return None
        return {name: cut for name, cut in cuts.items() if name not in unread}

    def confidence(self, text: str, search_text: str, language: str, hits: list[Hit], signals: Signals,
                   quotes: Quotes | None = None) -> float:
        """The fitted probability that the texts answer `text` (see confidence.py); without a fitted model,
        the best passage's mean cosine. Below the threshold the assistant abstains (and at once, without it,
        when confidence.fact_not_held: see Assistant.reading)."""
        if not hits:
            return 0.0
        if self.fitted.confidence is None:
            return hits[0].dense
        row, names = question_signals(self.retriever, text, search_text, language, hits, signals, quotes,
                                      drop=self.retriever.options.drop)
        return float(self.fitted.confidence.probability(row[None, :], names)[0])
