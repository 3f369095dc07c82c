"""Words the texts never use, read as the texts' own words: an induced cross-lingual lexicon.

A student asks "cuánto cuesta el alojamiento"; the French texts say "logement". The lexical side (BM25) cannot
match them, and the hand glossary (retrieval.GLOSSARY) only knows the words written into it. Here every word
of the corpus (its commonest spelling) is embedded once with the multilingual word-and-sentence encoder, and
each word of a question that the texts never use is read as its nearest corpus word when their cosine is at
least MIN_COSINE ("alojamiento" -> "logement", "bewerben" -> "postuler"): any language the encoder reads, any
document added to the corpus, nothing written by hand.

The translations steer only which passages are found and quoted (Assistant.reading): the confidence, and so
abstention, is read without them. Measured in docs/figures.md (session 8): with the confidence also reading
them, out-of-scope questions got lexical matches too and abstention fell.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import numpy as np

from .retrieval import STOPWORDS, fold, tokenize

# A question word is read as a corpus word from this cosine (USE's word vectors); 0.7 and 0.8 measured alike.
MIN_COSINE = 0.6
_WORD = re.compile(r"[^\W\d_]{3,}")
MAX_REMEMBERED = 50_000   # words read so far, kept for the next questions (a few MB at most)


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
        # word -> its corpus reading (or None): a follow-up is read alone and with the previous question, whose
        # words the previous turn already read, so each word is encoded once, not once per reading
        self._read: dict[str, str | None] = {}

    def unknown_words(self, text: str) -> list[str]:
        """The question's words (three letters or more, no stop word) that no passage uses; words of a script
        the lexical side does not read (Arabic, Cyrillic) count as unknown."""
        words = []
        for word in dict.fromkeys(_WORD.findall(text.lower())):
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
            similarity = self._encode(new) @ self.vectors.T
            best = similarity.argmax(axis=1)
            if len(self._read) > MAX_REMEMBERED:
                self._read.clear()
            for i, word in enumerate(new):
                read[word] = self._read[word] = self.tokens[best[i]] if similarity[i, best[i]] >= MIN_COSINE else None
        return tuple(dict.fromkeys(read[w] for w in words if read[w] is not None))


def word_encoder(embedder):
    """USE's query encoder inside `embedder` (alone or combined), or None: e5 would cost ~13 ms a question more,
    and a sentence-transformers model is not known to embed single words well."""
    from .embedding import USE_NAME

    for member in getattr(embedder, "members", [embedder]):
        if getattr(member, "name", None) == USE_NAME:
            return member.encode_queries
    return None
