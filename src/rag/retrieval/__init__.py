"""Stage 5: a question to ranked passages (hits).

Every passage gets signals on comparable scales, which a fitted ranker (fitted.py) weighs into one
log-odds that the passage answers:
- dense similarity: each model's cosine of the question with the chunk (title and heading included) and
  with the chunk's best sentence, as z-scores and gaps to the question's best passage (a model's spread of
  cosines is its own); a model that does not read the question's language borrows another's (Borrowing);
- lexical evidence: BM25 (bm25s) over accent-folded words (words.py), relative to the best passage, so
  that names, acronyms and addresses (EUNICE, PAEH, erasmus@uphf.fr) pull their passages up;
- routing: whether the passage is of the institution the question names (sources.json's names);
- the kind of fact asked: whether the passage holds an amount for "how much", an address for "which
  e-mail", a date for "when" (words.ANSWER_TYPES);
- word alignment: each content word of the question against its closest word of the passage, by the
  induced lexicon's word vectors (lexicon.py).
Each group's effect on the evaluation set is a row of `rag eval --report`'s ablation table.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from ..chunking import Chunk
from ..index import Index
from .names import _LATIN_WORD, _common_word, named_institutions
from .words import _NAME, ANSWER_TYPES, YEAR, answer_types, expand_query, fold, tokenize

# A name used by this few passages identifies its topic (PAEH, OID, Reunice, InclusU); see Retriever.rare_names.
RARE_NAME_PASSAGES = 2


@dataclass(frozen=True)
class RetrievalOptions:
    """What the ranking may use. The evaluation's ablations leave a group of signals out and refit the
    ranking and the confidence without it (see fitting.py), so each row measures a stage, not a weight."""

    # signal groups left out: see Retriever.GROUPS and confidence.GROUPS; "borrow": a model that does not read
    # the question's language keeps its own cosines (Borrowing)
    drop: frozenset[str] = frozenset()
    glossary: bool = True                # the lexical side also searches the student glossary's French words
    lexicon: bool = True                 # passages are found and quoted with the induced lexicon too (lexicon.py)

    def without(self, *groups: str) -> "RetrievalOptions":
        """These options with the signal groups `groups` left out too."""
        return replace(self, drop=self.drop | frozenset(groups))


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    position: int          # row of the chunk in the index
    score: float           # the fitted ranking's log-odds that this passage answers
    dense: float           # mean cosine (chunk and best sentence) over the models
    lexical_raw: float     # BM25 as it is: how much of the question's wording the passage holds
    sentence: int          # index (into Index.sentences) of the chunk's best-matching sentence


@dataclass
class Signals:
    """Everything the ranking and the confidence read about one question against every passage."""

    names: list[str]                 # feature names, columns of `features`
    features: np.ndarray             # (n_chunks, n_features)
    dense: np.ndarray                # (n_chunks,) mean cosine over models, chunk and best sentence
    per_model: dict                  # model -> {"chunk": (n,), "sentence": (n,), "sentence_all": (n_sentences,)}
    lexical_raw: np.ndarray          # (n_chunks,) BM25
    sentence_sims: np.ndarray        # (n_sentences,) the combined vector's cosine with every sentence
    dense_columns: int = 0           # how many first columns of `features` are the models' (see `signals`' `same_vector`)


class Retriever:
    # Signal groups, each a set of feature columns that an ablation can leave out.
    GROUPS = ("chunk", "sentence", "bm25", "routing", "kind", "align")

    def __init__(self, index: Index, options: RetrievalOptions | None = None, lexicon=None) -> None:
        """`lexicon`: the induced lexicon (lexicon.py), whose word vectors align a question with each passage;
        without one (no word encoder) the ranking goes without that signal."""
        import bm25s

        self.index = index
        self.options = options or RetrievalOptions()
        self.lexicon = lexicon
        self.models = index.models   # [(name, first column, last column)] of the stored vectors
        self._bm25 = bm25s.BM25()
        self._bm25.index([tokenize(c.embedding_text()) for c in index.chunks], show_progress=False)
        self._institutions = np.array([c.institution for c in index.chunks])
        self.chunk_tokens = [frozenset(tokenize(c.embedding_text())) for c in index.chunks]
        # Each sentence's words, once: the answer compares them with the question's on every answer.
        self.sentence_tokens = [frozenset(tokenize(sentence)) for sentence in index.sentences]
        self._words = [set(_NAME.findall(fold(c.embedding_text()))) for c in index.chunks]
        self._passages_using = Counter(word for words in self._words for word in words)
        self._numbers = {n for c in index.chunks for n in re.findall(r"\d+", c.embedding_text())}
        # Which passages hold an amount, an address, a date: what "how much / which e-mail / when" asks for.
        index.sentence_hubness   # on load, not on the first question
        self._holds = {kind: np.array([bool(pattern.search(c.text)) for c in index.chunks], dtype=np.float32)
                       for kind, (_, pattern) in ANSWER_TYPES.items()}

    def unknown_names(self, question: str, language: str = "en") -> list[str]:
        """Names the texts never use: what the question is about is something they do not mention.
        A name is a capitalised word past a sentence's first that is not a common word of the question's
        language (wordfreq: 'Universidade', 'América' in Portuguese are words, 'Sorbonne' a name; German
        capitalises every noun, so there a word must be rarer still). 'Tuition fees at the Sorbonne?' -> ['Sorbonne']"""
        unknown = []
        for sentence in re.split(r"[.!?¿¡]\s+", question):
            words = _NAME.findall(sentence)
            unknown += [w for w in words[1:] if w[0].isupper() and len(w) >= 3 and _LATIN_WORD.fullmatch(w)
                        and fold(w) not in self._passages_using and not _common_word(w, language)]
        return unknown

    def rare_names(self, question: str, hit: "Hit") -> list[str]:
        """Capitalised words of the question that at most RARE_NAME_PASSAGES passages use, `hit` among them:
        the passage is about exactly what is asked ('What does PAEH stand for?' -> ['paeh'] for the
        disability page), however little the embedding makes of an acronym it has never seen."""
        names = {fold(w) for w in _NAME.findall(question) if w[0].isupper() and len(w) >= 3}
        return sorted(n for n in names if 0 < self._passages_using[n] <= RARE_NAME_PASSAGES and n in self._words[hit.position])

    def unknown_years(self, question: str) -> list[str]:
        """Years the question names that the texts never mention: 'Parcoursup deadline in 2027?' -> ['2027']."""
        return [y for y in YEAR.findall(question) if y not in self._numbers]

    def signals(self, question: str, query_vector: np.ndarray, options: RetrievalOptions | None = None,
                extra: tuple[str, ...] = (), kinds: frozenset[str] | None = None,
                same_vector: Signals | None = None, unread: Borrowing | None = None) -> Signals:
        """Every passage's evidence for `question` (whose embedding is `query_vector`), on comparable scales:
        each model's cosines as z-scores and as gaps to the best passage of this question (a model's spread
        of cosines is its own: e5's sit in a narrow band, USE's wide), BM25 relative to the best passage.
        `extra`: corpus words the lexical side also searches (the induced lexicon's); `kinds`: the kind of
        fact asked (asked_kinds), by default read from `question`; `same_vector`: the signals of another
        reading of the same vector with the same dense groups, whose models' cosines are reused."""
        options = options or self.options
        index = self.index
        n = len(index.chunks)
        columns, names = [], []
        per_model = {}
        dense = np.zeros(n, dtype=np.float32)
        if same_vector is not None:   # the models' cosines and columns as that reading computed them
            per_model, dense = same_vector.per_model, same_vector.dense
            columns.append(same_vector.features[:, :same_vector.dense_columns])
            names += same_vector.names[:same_vector.dense_columns]
            chunks = lines = {}
        else:
            chunks, lines = index.cosines(index.chunk_vectors, query_vector), index.cosines(index.sentence_vectors, query_vector)
            if unread is not None:
                chunks, lines = unread.apply(chunks, "chunk"), unread.apply(lines, "sentence_all")
        for name in chunks:
            chunk, sentence_all = chunks[name], lines[name]
            sentence = np.full(n, -1.0, dtype=np.float32)
            np.maximum.at(sentence, index.sentence_chunk, sentence_all)
            per_model[name] = {"chunk": chunk, "sentence": sentence, "sentence_all": sentence_all}
            dense += (chunk + sentence) / (2 * len(self.models))
            for group, values in (("chunk", chunk), ("sentence", sentence)):
                if group in options.drop:
                    continue
                columns += [_zscore(values), values - values.max()]
                names += [f"{name}.{group}_z", f"{name}.{group}_gap"]
        dense_columns = len(names)
        tokens = expand_query(question, extra) if options.glossary else tuple(tokenize(question)) + extra
        raw = self._bm25.get_scores(list(tokens)).astype(np.float32) if tokens else np.zeros(n, dtype=np.float32)
        if "bm25" not in options.drop:
            columns += [raw / raw.max() if raw.max() > 0 else raw, np.log1p(raw)]
            names += ["bm25.relative", "bm25.log"]
        if "routing" not in options.drop:
            named = named_institutions(question, index.institutions)
            match = np.zeros(n, dtype=np.float32)
            if len(named) == 1:
                match = np.where(self._institutions == next(iter(named)), 1.0, -1.0).astype(np.float32)
            columns.append(match)
            names.append("routing.institution")
        if "kind" not in options.drop:
            holds = np.zeros(n, dtype=np.float32)
            for kind in (answer_types(question) if kinds is None else kinds):
                holds += self._holds[kind]
            columns.append(holds)
            names.append("kind.holds")
        if "align" not in options.drop and self.lexicon is not None:
            columns += self._alignment(question, n)
            names += ["align.cover", "align.cover_gap", "align.mean_gap"]
        features = np.column_stack(columns).astype(np.float32) if columns else np.zeros((n, 0), dtype=np.float32)
        # The combined vector's cosine is the mean of the models' (embedding.CombinedEmbedder): no second product.
        sentence_sims = sum(parts["sentence_all"] for parts in per_model.values()) / len(per_model)
        return Signals(names=names, features=features, dense=dense, per_model=per_model, lexical_raw=raw,
                       sentence_sims=sentence_sims, dense_columns=dense_columns)

    def retrieve(self, question: str, query_vector: np.ndarray, top_k: int,
                 options: RetrievalOptions | None = None, ranker=None,
                 extra: tuple[str, ...] = (), kinds: frozenset[str] | None = None,
                 same_vector: Signals | None = None, unread: Borrowing | None = None) -> tuple[list[Hit], Signals]:
        """The `top_k` best chunks for `question`, whose embedding is `query_vector` (unit, 1-D), ranked by
        the fitted ranker (or, with none, by the mean cosine), and the signals they were ranked on."""
        signals = self.signals(question, query_vector, options, extra, kinds, same_vector, unread)
        scores = ranker.decision(signals.features, signals.names) if ranker is not None else signals.dense.astype(np.float64)
        order = np.argsort(-scores, kind="stable")[:top_k]
        raw = signals.lexical_raw
        hits = []
        for position in order:
            own = self.index.chunk_sentences[position]
            best = int(own[np.argmax(signals.sentence_sims[own])]) if own.size else -1
            hits.append(Hit(chunk=self.index.chunks[position], position=int(position), score=float(scores[position]),
                            dense=float(signals.dense[position]), lexical_raw=float(raw[position]), sentence=best))
        return hits, signals


    def _alignment(self, question: str, n: int) -> list[np.ndarray]:
        """How much of the question each passage speaks of, word by word in any language (lexicon.alignment):
        the share of its content words with a close word in the passage (as close as the lexicon reads a
        word as another, lexicon.MIN_COSINE), that share less the best passage's, and the words' mean
        closeness less the best passage's."""
        from ..lexicon import MIN_COSINE

        best = self.lexicon.alignment(question)
        if best is None:
            return [np.zeros(n, dtype=np.float32)] * 3
        cover = (best >= MIN_COSINE).mean(axis=0)
        mean = best.mean(axis=0)
        return [cover, cover - cover.max(), mean - mean.max()]


@dataclass(frozen=True)
class Borrowing:
    """For a question in a language one of the embedder's models never learnt ('vi': USE, trained on 16): that
    model's cosines are noise, so the cosines of a model that reads it stand in for them, put on the unread
    model's scale: the mean and spread its cosines have on a question it reads (`scales`, "model|kind" ->
    (mean, spread), fitted on the training questions; without them, this question's own). The fitted models
    then weigh every model's columns as they learnt them."""

    readers: dict[str, str]                       # unread model -> a model that reads the language
    scales: dict[str, tuple[float, float]] = field(default_factory=dict)

    def apply(self, values: dict[str, np.ndarray], kind: str) -> dict[str, np.ndarray]:
        """`values`: each model's cosines of one kind ("chunk", "sentence_all", "context") for this question."""
        out = dict(values)
        for model, reader in self.readers.items():
            own = values[model]
            mean, spread = self.scales.get(f"{model}|{kind}") or (float(own.mean()), float(own.std()))
            out[model] = (mean + spread * _zscore(values[reader])).astype(own.dtype)
        return out


def _zscore(values: np.ndarray) -> np.ndarray:
    """How far each passage stands above this question's typical passage, in this question's spread."""
    spread = float(values.std())
    return ((values - values.mean()) / spread if spread > 1e-6 else values - values.mean()).astype(np.float32)
