"""Names a question uses: is a capitalised word an ordinary word of the question's language (wordfreq),
or a name the texts may never use; and which institutions a question names."""

from __future__ import annotations

import re
from functools import lru_cache

# Zipf frequency (wordfreq) from which a capitalised word counts as an ordinary word of the language, not a
# name: 4 is about once in 100,000 words.
COMMON_WORD_ZIPF = 4.0
# The languages that capitalise every noun: there ordinary nouns go down to a lower frequency, and an inflected
# one is checked by its Snowball stem (snowballstemmer). Elsewhere a capitalised word is mostly a name; stemming
# there too refused fewer out-of-scope questions on blind (docs/figures.md, session 6).
CAPITALISED_NOUNS = {"de": (3.0, "german")}   # language: (zipf, Snowball algorithm)
# wordfreq's "small" lists hold every word from zipf 3 (once in a million words) up, enough for both cuts
# above, at a fraction of the memory of its large lists: a server answering in ten languages held ~200 MB
# more with those, one list per language asked in (docs/figures.md, session 12).
WORD_LIST = "small"


_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")   # names the texts could spell: Latin script


@lru_cache(maxsize=None)
def _stemmer(language: str):
    import snowballstemmer

    return snowballstemmer.stemmer(CAPITALISED_NOUNS[language][1])


@lru_cache(maxsize=None)
def _common_stems(language: str) -> frozenset[str]:
    """The stems of the language's ordinary words (wordfreq lists them most frequent first, so the cut is
    found by bisection): about 39,000 German words, built once, ~2 s."""
    from wordfreq import top_n_list, zipf_frequency

    zipf = CAPITALISED_NOUNS[language][0]
    words = top_n_list(language, 200_000, wordlist=WORD_LIST)
    low, high = 0, len(words)
    while low < high:
        middle = (low + high) // 2
        if zipf_frequency(words[middle], language, wordlist=WORD_LIST) >= zipf:
            low = middle + 1
        else:
            high = middle
    return frozenset(_stemmer(language).stemWords(words[:low]))


def warm_word_lists() -> None:
    """Build the common stems now (a server does it in the background at start), not on the first question
    in that language."""
    for language in CAPITALISED_NOUNS:
        _common_stems(language)


@lru_cache(maxsize=65536)
def _common_word(word: str, language: str) -> bool:
    """An ordinary word of `language`, or an inflection of one: the genitive 'Austauschs' is rarer than the
    name 'Sorbonne', but its stem is the common 'Austausch''s."""
    try:
        from wordfreq import available_languages, zipf_frequency
    except ImportError:   # without wordfreq every unknown capitalised word counts as a name
        return False
    if language not in available_languages() or language in ("zh", "ja", "ko", "th"):
        language = "en"   # a Latin-script word in a Chinese question: is it an English word?
    if language not in CAPITALISED_NOUNS:
        return zipf_frequency(word, language, wordlist=WORD_LIST) >= COMMON_WORD_ZIPF
    return (zipf_frequency(word, language, wordlist=WORD_LIST) >= CAPITALISED_NOUNS[language][0]
            or _stemmer(language).stemWord(word.lower()) in _common_stems(language))


def named_institutions(question: str, institutions: dict[str, re.Pattern]) -> set[str]:
    """The institutions a question names, by the names sources.json gives them (Index.institutions):
    'Erasmus at Amiens?' -> {'UPJV'}."""
    return {name for name, pattern in institutions.items() if pattern.search(question)}
