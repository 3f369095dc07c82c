"""Which language a question is in (py3langid, restricted to the embedder's languages), and the
framing words of an answer in that language."""

from __future__ import annotations

import re
import threading

# USE multilingual v3's languages (zh covers zh-cn and zh-tw).
SUPPORTED = ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh")
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
    if len(_CJK.findall(text)) >= 2:
        return "ja" if re.search(r"[\u3040-\u30ff]", text) else "zh"
    if len(_ARABIC.findall(text)) >= 2:
        return "ar"
    if len(_LETTERS.findall(text)) < 3:
        return fallback
    language, probability = _identifier().classify(text)
    needed = MIN_CONFIDENCE_FR_EN if language in ("fr", "en") else MIN_CONFIDENCE
    return language if probability >= needed else fallback


# Framing words. Where a language is missing, English is used.
MESSAGES = {
    "en": {"intro": "Here is what the universities' texts say:",
           "abstain": "The universities' texts I can search do not answer this question.",
           "contact": "Please contact {office}.",
           "sources": "Sources"},
    "fr": {"intro": "Voici ce que disent les textes des universités :",
           "abstain": "Les textes des universités dont je dispose ne répondent pas à cette question.",
           "contact": "Adressez-vous {office}.",
           "sources": "Sources"},
    "es": {"intro": "Esto es lo que dicen los textos de las universidades:",
           "abstain": "Los textos de las universidades que puedo consultar no responden a esta pregunta.",
           "contact": "Contacte con {office}.",
           "sources": "Fuentes"},
    "pt": {"intro": "Eis o que dizem os textos das universidades:",
           "abstain": "Os textos das universidades que posso consultar não respondem a esta pergunta.",
           "contact": "Contacte {office}.",
           "sources": "Fontes"},
    "de": {"intro": "Das sagen die Texte der Universitäten:",
           "abstain": "Die Texte der Universitäten, die ich durchsuchen kann, beantworten diese Frage nicht.",
           "contact": "Bitte wenden Sie sich an {office}.",
           "sources": "Quellen"},
    "it": {"intro": "Ecco cosa dicono i testi delle università:",
           "abstain": "I testi delle università che posso consultare non rispondono a questa domanda.",
           "contact": "Contatta {office}.",
           "sources": "Fonti"},
    "ar": {"intro": "إليك ما تقوله نصوص الجامعات:",
           "abstain": "نصوص الجامعات المتاحة لي لا تجيب عن هذا السؤال.",
           "contact": "يرجى التواصل مع {office}.",
           "sources": "المصادر"},
    "zh": {"intro": "以下是各大学文本中的相关内容：",
           "abstain": "我可以检索的大学文本没有回答这个问题。",
           "contact": "请联系 {office}。",
           "sources": "来源"},
}


def message(language: str, key: str, **values: str) -> str:
    table = MESSAGES.get(language, MESSAGES[FALLBACK])
    return table[key].format(**values)
