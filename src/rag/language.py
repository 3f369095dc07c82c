"""Which language a question is in (py3langid, restricted to the embedder's languages), and the
framing words of an answer in that language."""

from __future__ import annotations

import functools
import re
import threading

from . import i18n

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
    return language if probability >= needed else ""


# Framing words of an answer, from the one message catalogue (i18n.py: gettext, src/rag/locale/*/rag.po)
# that the chat's interface uses too. Where a language is missing, English is used.
FRAMING = ("also", "abstain", "contact", "small_talk", "small_talk_hello", "small_talk_bye", "small_talk_help",
           "sources")
MESSAGES = {lang: {key: i18n.text(lang, f"answer.{key}") for key in FRAMING} for lang in i18n.LANGUAGES}


def message(language: str, key: str, **values: str) -> str:
    table = MESSAGES.get(language, MESSAGES[FALLBACK])
    return table[key].format(**values)
