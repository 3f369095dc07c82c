"""Which language a question is in (py3langid, restricted to the embedder's languages), and the
framing words of an answer in that language."""

from __future__ import annotations

import re
import threading

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
    if len(_CJK.findall(text)) >= 2:
        return "ja" if re.search(r"[\u3040-\u30ff]", text) else "zh"
    if len(_ARABIC.findall(text)) >= 2:
        return "ar"
    if len(_LETTERS.findall(text)) < 3:
        return fallback
    language, probability = _identifier().classify(text)
    needed = MIN_CONFIDENCE_FR_EN if language in ("fr", "en") else MIN_CONFIDENCE
    return language if probability >= needed else fallback


# Framing words, one catalogue for every language the answers speak. Where a language is missing,
# English is used.
MESSAGES = {
    "en": {"also": "Also in the texts:",
           "abstain": "The universities' texts I can search do not answer this question.",
           "contact": "Please contact {office}.",
           "small_talk": "You're welcome! Ask me anything about studying at UPHF, UPJV or the Université de Lille.",
           "sources": "Sources"},
    "fr": {"also": "Les textes disent aussi :",
           "abstain": "Les textes des universités dont je dispose ne répondent pas à cette question.",
           "contact": "Adressez-vous {office}.",
           "small_talk": "Avec plaisir ! Posez-moi vos questions sur les études à l'UPHF, à l'UPJV ou à l'Université de Lille.",
           "sources": "Sources"},
    "es": {"also": "Los textos también dicen:",
           "abstain": "Los textos de las universidades que puedo consultar no responden a esta pregunta.",
           "contact": "Contacte con {office}.",
           "small_talk": "¡Con gusto! Pregúntame lo que quieras sobre estudiar en la UPHF, la UPJV o la Université de Lille.",
           "sources": "Fuentes"},
    "pt": {"also": "Os textos também dizem:",
           "abstain": "Os textos das universidades que posso consultar não respondem a esta pergunta.",
           "contact": "Contacte {office}.",
           "small_talk": "Com prazer! Pergunte-me o que quiser sobre estudar na UPHF, na UPJV ou na Université de Lille.",
           "sources": "Fontes"},
    "de": {"also": "Die Texte sagen außerdem:",
           "abstain": "Die Texte der Universitäten, die ich durchsuchen kann, beantworten diese Frage nicht.",
           "contact": "Bitte wenden Sie sich an {office}.",
           "small_talk": "Gern geschehen! Fragen Sie mich alles zum Studium an der UPHF, der UPJV oder der Université de Lille.",
           "sources": "Quellen"},
    "it": {"also": "I testi dicono anche:",
           "abstain": "I testi delle università che posso consultare non rispondono a questa domanda.",
           "contact": "Contatta {office}.",
           "small_talk": "Prego! Chiedimi pure qualsiasi cosa sullo studio all'UPHF, all'UPJV o all'Université de Lille.",
           "sources": "Fonti"},
    "ar": {"also": "وتذكر النصوص أيضًا:",
           "abstain": "نصوص الجامعات المتاحة لي لا تجيب عن هذا السؤال.",
           "contact": "يرجى التواصل مع {office}.",
           "small_talk": "على الرحب والسعة! اسألني عن الدراسة في UPHF أو UPJV أو جامعة ليل.",
           "sources": "المصادر"},
    "zh": {"also": "文本中还提到：",
           "abstain": "我可以检索的大学文本没有回答这个问题。",
           "contact": "请联系 {office}。",
           "small_talk": "不客气！关于在 UPHF、UPJV 或里尔大学学习的任何问题，都可以问我。",
           "sources": "来源"},
}


def message(language: str, key: str, **values: str) -> str:
    table = MESSAGES.get(language, MESSAGES[FALLBACK])
    return table[key].format(**values)
