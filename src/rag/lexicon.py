"""Words the texts never use, read as the texts' own words: an induced cross-lingual lexicon.

A student asks "cuánto cuesta el alojamiento"; the French texts say "logement". The lexical side (BM25) cannot
match them, and the hand glossary (retrieval.words.GLOSSARY) only knows the words written into it. Here every word
of the corpus (its commonest spelling) is embedded once with the multilingual word-and-sentence encoder, and
each word of a question that the texts never use is read as its nearest corpus word when their cosine is at
least MIN_COSINE ("alojamiento" -> "logement", "bewerben" -> "postuler"): any language the encoder reads, any
document added to the corpus, nothing written by hand.

The translations steer only which passages are found and quoted (Assistant.reading): the confidence, and so
abstention, is read without them. Measured in docs/figures.md (session 8): with the confidence also reading
them, out-of-scope questions got lexical matches too and abstention fell.

The same word vectors align a question with each passage (`alignment`): each content word of the question and
its closest word in the passage ("deutsche" -> "allemagne", "Praktikum" -> "stage"), a ranking signal
(retrieval/, group "align"): a soft, cross-lingual reading of how much of the question a passage speaks of.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from functools import lru_cache

import numpy as np
import wordfreq

from .retrieval.words import STOPWORDS, fold, tokenize

# A question word is read as a corpus word from this cosine (USE's word vectors); 0.7 and 0.8 measured alike.
MIN_COSINE = 0.6
_WORD = re.compile(r"[^\W\d_]{3,}")
# Chinese runs its words together: "想在UPHF创业" is three words to read, not one. Its runs are cut by
# wordfreq's segmenter (jieba over wordfreq's own Chinese word list: a quarter of the memory of jieba's own
# dictionary, and Traditional characters read as Simplified); a word of two characters there says as much as
# a longer one in an alphabet.
_HAN_CHARS = "\u3400-\u9fff\uf900-\ufaff"
_HAN = re.compile(f"[{_HAN_CHARS}]+")
_SCRIPT_RUNS = re.compile(f"[{_HAN_CHARS}]+|[^{_HAN_CHARS}]+")   # "想在uphf创业" -> "想在", "uphf", "创业"
_LETTERS = re.compile(r"[^\W\d_]+")
MIN_HAN_CHARS = 2
MAX_REMEMBERED = 50_000   # words read so far, kept for the next questions (a few MB at most)
MAX_VECTORS = 5_000       # vectors of words the texts never use, kept for the next questions (~10 MB at most)
# A question word's cosines with every corpus word, kept for the next questions (a product with the whole
# vocabulary costs more than the rest of the alignment): at most this many values (16 MB).
MAX_SIMILARITY_VALUES = 4_000_000


@lru_cache(maxsize=1)
def any_language_stopwords() -> frozenset[str]:
    """Stop words of every language stopwords-iso knows, accents folded: a question's words that carry no
    topic, whatever its language ("cuánto", "welche", "bitte")."""
    import stopwordsiso

    words = set(STOPWORDS)
    for language in stopwordsiso.langs():
        words |= {fold(w) for w in stopwordsiso.stopwords(language)}
    return frozenset(words)


def _load_segmenter() -> None:
    """The Chinese segmenter's dictionary, loaded with the lexicon rather than on a student's question, quietly."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    question_words("学生")


def question_words(text: str) -> list[str]:
    """The words of a question, in any script, once each, lower case: three letters or more, or two Chinese
    characters or more: '我是学生，想在UPHF创业' -> ['学生', 'uphf', '创业']."""
    words = []
    for piece in _LETTERS.findall(text.lower()):
        for run in _SCRIPT_RUNS.findall(piece):
            if _HAN.match(run):
                words += [w for w in wordfreq.tokenize(run, "zh") if len(w) >= MIN_HAN_CHARS]
            elif len(run) >= 3:
                words.append(run)
    return list(dict.fromkeys(words))


class InducedLexicon:
    def __init__(self, chunks, encode) -> None:
        """`chunks`: the index's passages; `encode`: a list of words -> unit row vectors (USE's query encoder)."""
        spellings: dict[str, Counter] = defaultdict(Counter)
        for chunk in chunks:
            for word in _WORD.findall(chunk.text):
                tokens = tokenize(word)
                if len(tokens) == 1:
                    spellings[tokens[0]][word.lower()] += 1
        self.tokens = sorted(spellings)
        self._known = frozenset(self.tokens)
        self._encode = encode
        self.vectors = encode([spellings[t].most_common(1)[0][0] for t in self.tokens]) if self.tokens else None
        self._id = {token: i for i, token in enumerate(self.tokens)}
        # each passage's corpus words, flat, and where each passage's start (for `alignment`)
        own = [sorted({self._id[t] for t in tokenize(c.embedding_text()) if t in self._id}) for c in chunks]
        self._flat = np.array([i for words in own for i in words], dtype=np.int64)
        self._starts = np.cumsum([0] + [len(words) for words in own[:-1]]).astype(np.int64)
        self._wordless = np.array([not words for words in own], dtype=bool)
        self._vectors: dict[str, np.ndarray] = {}
        self._similarity: dict[str, np.ndarray] = {}
        # word -> its corpus reading (or None): a follow-up is read alone and with the previous question, whose
        # words the previous turn already read, so each word is encoded once, not once per reading
        self._read: dict[str, str | None] = {}
        _load_segmenter()

    def unknown_words(self, text: str) -> list[str]:
        """The question's words (question_words, no stop word) that no passage uses; words of a script the
        lexical side does not read (Arabic, Cyrillic, Chinese) count as unknown."""
        words = []
        for word in question_words(text):
            tokens = tokenize(word)
            if fold(word) in STOPWORDS or (tokens and set(tokens) <= self._known):
                continue
            words.append(word)
        return words

    def translations(self, text: str) -> tuple[str, ...]:
        """The corpus tokens the unknown words of `text` stand for, in the words' order, at most one per word."""
        words = self.unknown_words(text)
        if not words or self.vectors is None:
            return ()
        read = {w: self._read[w] for w in words if w in self._read}   # a local copy: requests run in threads
        new = [w for w in words if w not in read]
        if new:
            similarity = self._vectors_of(new) @ self.vectors.T
            best = similarity.argmax(axis=1)
            if len(self._read) > MAX_REMEMBERED:
                self._read.clear()
            for i, word in enumerate(new):
                read[word] = self._read[word] = self.tokens[best[i]] if similarity[i, best[i]] >= MIN_COSINE else None
        return tuple(dict.fromkeys(read[w] for w in words if read[w] is not None))


    def _vectors_of(self, words: list[str]) -> np.ndarray:
        """The words' vectors, each encoded once (a local copy: requests run in threads)."""
        known = {w: self._vectors[w] for w in words if w in self._vectors}
        new = [w for w in words if w not in known]
        if new:
            if len(self._vectors) > MAX_VECTORS:
                self._vectors.clear()
            for word, vector in zip(new, self._encode(new)):
                known[word] = self._vectors[word] = vector
        return np.array([known[w] for w in words])

    def content_words(self, text: str) -> list[str]:
        """The question's words (question_words) that are no stop word of any language."""
        stop = any_language_stopwords()
        return [w for w in question_words(text) if fold(w) not in stop]

    def alignment(self, text: str) -> np.ndarray | None:
        """(content words of `text`, passages): each word's cosine with its closest word of each passage, 1 for
        the word itself; None when `text` has no content word. A word the texts use is read by its corpus
        vector, one they never use is encoded."""
        words = self.content_words(text)
        if not words or self.vectors is None or not self._flat.size:
            return None
        rows = {w: self._similarity[w] for w in words if w in self._similarity}   # a local copy (threads)
        new = [w for w in words if w not in rows]
        if new:
            ids = [self._id.get(t[0]) if len(t := tokenize(w)) == 1 else None for w in new]
            vectors = np.empty((len(new), self.vectors.shape[1]), dtype=self.vectors.dtype)
            known = [j for j, i in enumerate(ids) if i is not None]
            vectors[known] = self.vectors[[ids[j] for j in known]]
            unknown = [j for j, i in enumerate(ids) if i is None]
            if unknown:
                vectors[unknown] = self._vectors_of([new[j] for j in unknown])
            similarity = vectors @ self.vectors.T
            if len(self._similarity) * self.vectors.shape[0] > MAX_SIMILARITY_VALUES:
                self._similarity.clear()
            for j, word in enumerate(new):
                if ids[j] is not None:
                    similarity[j, ids[j]] = 1.0
                rows[word] = self._similarity[word] = similarity[j]
        similarity = np.array([rows[w] for w in words])
        # the best per passage; a last column of -1 lets passages without a word (at the end) start past the rest
        gathered = np.hstack([similarity[:, self._flat], np.full((len(words), 1), -1.0, dtype=similarity.dtype)])
        best = np.maximum.reduceat(gathered, self._starts, axis=1)
        best[:, self._wordless] = 0.0
        return best


def word_encoder(embedder):
    """USE's query encoder inside `embedder` (alone or combined), or None: e5 would cost ~13 ms a question more,
    and a sentence-transformers model is not known to embed single words well."""
    from .embedding import USE_NAME

    for member in getattr(embedder, "members", [embedder]):
        if getattr(member, "name", None) == USE_NAME:
            return member.encode_queries
    return None
