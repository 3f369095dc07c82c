"""Which language a question is in (py3langid, restricted to the embedder's languages; where it is unsure, the
interface languages' common words), the language to reply in, and the framing words of an answer in it."""

from __future__ import annotations

import functools
import re
import threading

from . import i18n
from .retrieval.words import fold

# The languages py3langid tells apart that multilingual-e5 reads (XLM-R's), less a few whose short-text
# guesses mostly catch other languages' questions. On the evaluation set's 526 questions this detects as
# many right as USE's 15 languages did, and Vietnamese, Polish, Czech, Hindi... are no longer read as
# English or Portuguese.
SUPPORTED = tuple("""am ar az be bg bn bs ca cs da de el en es et fa fi fr gu he hi hr hu hy id it ja ka kk km kn ko
lt lv mk ml mn mr ms my ne nl no pa pl ps pt ro ru si sk sl sq sr sv sw ta te th tr uk ur uz vi zh""".split())
FALLBACK = "en"
# Below this probability the detector is guessing (short questions like "PAEH ?"): fall back.
# French and English, the corpus's and most askers' languages, need less evidence: "Où candidater en
# master 1 ?" scores fr 0.49, "Code Erasmus UPHF" de 0.35.
MIN_CONFIDENCE = 0.45
MIN_CONFIDENCE_FR_EN = 0.3
_CJK = re.compile(r"[\u4e00-\u9fff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
_LETTERS_RUN = re.compile(r"[^\W\d_]+", re.UNICODE)


_LOAD_LOCK = threading.Lock()
_LOADED: list = []


def _identifier():
    """py3langid's model, loaded once: the web app's first requests arrive together."""
    if not _LOADED:
        with _LOAD_LOCK:
            if not _LOADED:
                from py3langid.langid import _load_identifier

                _LOADED.append(_load_identifier(norm_probs=True, langs=list(SUPPORTED)))
    return _LOADED[0]


def detect_language(text: str, fallback: str = FALLBACK) -> str:
    """ISO 639-1 code of `text`. 'Où candidater en master 1 ?' -> 'fr'; 'PAEH ?' -> fallback."""
    return _detected(text) or fallback


@functools.lru_cache(maxsize=1024)
def _detected(text: str) -> str:
    """`text`'s language, or "" when the detector is not sure (cached: answering a question asks twice, with and
    without a fallback)."""
    if len(_CJK.findall(text)) >= 2:
        return "ja" if re.search(r"[\u3040-\u30ff]", text) else "zh"
    if len(_ARABIC.findall(text)) >= 2:
        return "ar"
    if len(_LETTERS.findall(text)) < 3:
        return ""
    language, probability = _identifier().classify(text)
    needed = MIN_CONFIDENCE_FR_EN if language in ("fr", "en") else MIN_CONFIDENCE
    return language if probability >= needed else _by_common_words(text)


# Where py3langid is unsure, most often a question typed without its accents ("dang ky o dau", "c quand la
# rentree"), the interface languages' common words (wordfreq, accents folded) vote: the language whose common
# words the message's words are, by mean Zipf frequency, when it leads the next by this much.
COMMON_WORDS = 10_000
WORDS_MARGIN = 0.5
_WORDS_LOCK = threading.Lock()
_WORD_TABLES: dict[str, dict[str, float]] = {}


def _fold(word: str) -> str:
    """retrieval.words.fold, and the Vietnamese "đ", which no accent makes (it does not decompose), as "d"."""
    return fold(word).replace("đ", "d")


def warm() -> None:
    """Build the common-word tables now (a server does it in the background at start, with the name check's word
    lists), not on the first question the detector is unsure of."""
    _word_tables()


def _word_tables() -> dict[str, dict[str, float]]:
    """Each interface language's common words, folded -> Zipf frequency; built once (by warm() at server start,
    or on the first message the detector is unsure of)."""
    if not _WORD_TABLES:
        with _WORDS_LOCK:
            if not _WORD_TABLES:
                from wordfreq import available_languages, read_cBpack

                # read from wordfreq's files, not through its cached lookups, which would keep every language's
                # whole list in memory (~70 MB)
                paths, tables = available_languages(wordlist="small"), {}
                for language in i18n.LANGUAGES:
                    if language in paths:
                        table: dict[str, float] = {}
                        for centibels, words in enumerate(read_cBpack(paths[language])):
                            for word in words:   # the list at index i: words of frequency 10^(-i/100)
                                table.setdefault(_fold(word), 9 - centibels / 100)   # Zipf
                            if len(table) >= COMMON_WORDS:
                                break
                        tables[language] = table
                _WORD_TABLES.update(tables)
    return _WORD_TABLES


def _common_word_scores(text: str) -> list[tuple[float, str]]:
    """(mean Zipf frequency of `text`'s words in the language's common words, language), best first; [] for
    a message of one word."""
    words = [_fold(word) for word in _LETTERS_RUN.findall(text)]
    if len(words) < 2:
        return []
    return sorted(((sum(table.get(w, 0.0) for w in words) / len(words), language)
                   for language, table in _word_tables().items()), reverse=True)


def _by_common_words(text: str) -> str:
    """`text`'s language by the interface languages' common words, or "" when none clearly leads."""
    scores = _common_word_scores(text)
    return scores[0][1] if len(scores) > 1 and scores[0][0] - scores[1][0] >= WORDS_MARGIN else ""


# py3langid reads a message typed without accents by its letters, and is sometimes sure of the wrong language
# ("uphf co clb cau long ko" -> en). Where the message's words are another interface language's common words,
# by this much more than the detected language's, and that language clearly leads the vote, the reply is in it.
UNACCENTED_MARGIN = 1.0


def reply_language(text: str, language: str) -> str:
    """The language to reply in to `text`, read (detect_language) as `language`: that one, except for a message
    in plain ASCII letters whose words are clearly another interface language's. 'uphf co clb cau long ko', read
    as English -> 'vi'. Only the reply changes: the question is still searched and weighed as `language`, as
    the confidence was fitted (reading it as Vietnamese trusts e5's reading alone, where USE never learnt the
    language, and turned refusals into wrong answers: docs/figures.md, session 16)."""
    if not text.isascii() or _detected(text) != language or language not in _word_tables():
        return language   # accented, read by its fallback, or a language the vote does not know
    scores = _common_word_scores(text)
    if len(scores) < 2 or scores[0][1] == language or scores[0][0] - scores[1][0] < WORDS_MARGIN:
        return language
    own = next(score for score, name in scores if name == language)
    return scores[0][1] if scores[0][0] - own >= UNACCENTED_MARGIN else language


# Framing words of an answer, from the one message catalogue (i18n.py: gettext, src/rag/locale/*/rag.po)
# that the chat's interface uses too. Where a language is missing, English is used.
FRAMING = ("also", "abstain", "contact", "small_talk", "small_talk_hello", "small_talk_bye", "small_talk_help",
           "sources")
MESSAGES = {lang: {key: i18n.text(lang, f"answer.{key}") for key in FRAMING} for lang in i18n.LANGUAGES}


def message(language: str, key: str, **values: str) -> str:
    table = MESSAGES.get(language, MESSAGES[FALLBACK])
    return table[key].format(**values)
