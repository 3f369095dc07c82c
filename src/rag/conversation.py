"""Stage 1: the question read in its conversation.

- Small talk ("thanks!", "ok merci", "谢谢", "bonjour") is recognised by its closeness, in the embedding
  space, to a few pleasantries (hello, thanks, goodbye, ok in each language of the interface; the models place
  "danke schön" and "merci beaucoup" next to them). It gets a short reply to what it says (a greeting, thanks,
  a goodbye), in the language it is said in, and no passage.
- A follow-up ("and for a master?", "who do I write to about it?") is read together with the previous
  question; a new topic on its own. Which one it is, a fitted model (fitted.py, "follow_up") decides from
  how much the question says by itself (its content words, beyond the stop words of its language), whether
  its wording leans on an earlier turn (the question-form model over its vector: "and for a master?" does,
  "what's the weather like in Valenciennes?" does not), how confidently the texts answer it alone and with
  the previous question, and how close the two questions are.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import numpy as np

from .retrieval.words import answer_types

# The pleasantries small talk is recognised by, by language and by what they say. The models are multilingual,
# but they place some greetings far from their English ones ("مع السلامة", goodbye: 0.56 from "goodbye"), so
# hello, thanks, goodbye, ok and a request for help with no subject of its own ("can you help me?", "I have a
# question": read with the previous question, it got that question's passage again) are given in each language
# of the interface (the languages of src/rag/locale).
# The reply is in the language of the pleasantry said ("cool, bye" after a French question gets English); those
# every language says ("ok", "cool") leave the asker's language as detected (None).
PLEASANTRIES = {
    None: {"ok": ["ok", "okay, great", "cool"]},
    "en": {"thanks": ["thanks", "thank you very much", "great, that helps"], "hello": ["hello", "hi there", "good morning", "how are you"],
           "bye": ["bye", "goodbye"], "ok": ["perfect"],
           "help": ["can you help me", "i have a question", "one more question"]},
    "fr": {"thanks": ["merci"], "hello": ["bonjour", "salut"], "bye": ["au revoir"], "ok": ["d'accord"],
           "help": ["pouvez-vous m'aider", "j'ai une question", "encore une question"]},
    "es": {"thanks": ["gracias"], "hello": ["hola"], "bye": ["adiós"], "ok": ["vale"],
           "help": ["puedes ayudarme", "tengo una pregunta", "otra pregunta"]},
    "pt": {"thanks": ["obrigado"], "hello": ["olá"], "bye": ["tchau"], "ok": ["tudo bem"],
           "help": ["você pode me ajudar", "tenho uma pergunta", "mais uma pergunta"]},
    "de": {"thanks": ["danke"], "hello": ["hallo"], "bye": ["tschüss"], "ok": ["alles klar"],
           "help": ["können Sie mir helfen", "ich habe eine Frage", "noch eine Frage"]},
    "it": {"thanks": ["grazie"], "hello": ["ciao"], "bye": ["arrivederci"], "ok": ["va bene"],
           "help": ["mi può aiutare", "ho una domanda", "un'altra domanda"]},
    "ar": {"thanks": ["شكرا"], "hello": ["مرحبا"], "bye": ["مع السلامة"], "ok": ["حسنا"],
           "help": ["هل يمكنك مساعدتي", "لدي سؤال", "سؤال آخر"]},
    "zh": {"thanks": ["谢谢"], "hello": ["你好"], "bye": ["再见"], "ok": ["好的"],
           "help": ["你能帮我吗", "我有一个问题", "还有一个问题"]},
    "ru": {"thanks": ["спасибо"], "hello": ["привет", "здравствуйте"], "bye": ["до свидания"], "ok": ["хорошо"],
           "help": ["можете мне помочь", "у меня вопрос", "ещё один вопрос"]},
    "tr": {"thanks": ["teşekkürler"], "hello": ["merhaba"], "bye": ["hoşça kal"], "ok": ["tamam"],
           "help": ["bana yardım eder misiniz", "bir sorum var", "bir sorum daha var"]},
    "pl": {"thanks": ["dziękuję"], "hello": ["cześć", "dzień dobry"], "bye": ["do widzenia"], "ok": ["w porządku"],
           "help": ["czy możesz mi pomóc", "mam pytanie", "jeszcze jedno pytanie"]},
    "nl": {"thanks": ["bedankt"], "hello": ["hallo"], "bye": ["tot ziens"], "ok": ["prima"],
           "help": ["kun je me helpen", "ik heb een vraag", "nog een vraag"]},
    "vi": {"thanks": ["cảm ơn"], "hello": ["xin chào"], "bye": ["tạm biệt"], "ok": ["được rồi"],
           "help": ["bạn có thể giúp tôi không", "tôi có một câu hỏi", "còn một câu hỏi nữa"]},
    "ja": {"thanks": ["ありがとう"], "hello": ["こんにちは"], "bye": ["さようなら"], "ok": ["わかりました"],
           "help": ["手伝ってもらえますか", "質問があります", "もう一つ質問があります"]},
    "ko": {"thanks": ["감사합니다"], "hello": ["안녕하세요"], "bye": ["안녕히 계세요"], "ok": ["알겠습니다"],
           "help": ["도와줄 수 있어요", "질문이 있어요", "질문 하나 더 있어요"]},
}
_TAGGED = [(phrase, language, intent) for language, intents in PLEASANTRIES.items()
           for intent, phrases in intents.items() for phrase in phrases]
SMALL_TALK = [phrase for phrase, _, _ in _TAGGED]
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
# each pleasantry as a message's words are matched: " can you help me " (cased and punctuated as typed)
_FOLDED = [f" {' '.join(_WORD.findall(phrase.casefold()))} " for phrase in SMALL_TALK]
# When a message says several ("ok, thanks, bye"), the reply answers a request for help first ("thanks! I have
# another question"), then the one that ends a conversation.
INTENT_ORDER = ("help", "bye", "thanks", "hello", "ok")
# Cosine with the closest pleasantry from which a short message is small talk, when nothing was fitted for
# the embedder; `rag eval --fit` chooses it on the training split (each model has its own spread of cosines).
SMALL_TALK_SIMILARITY = 0.7
SMALL_TALK_MAX_CONTENT_WORDS = 4
_SCRIPT_WITHOUT_SPACES = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")
# Of the scripts written without spaces, the characters that carry meaning: Chinese characters, Japanese katakana
# and kanji (hiragana mostly writes endings and particles: "もう一つ質問があります" says 質問, "question"), Thai.
# Korean is written with spaces between words, and counted by them.
_MEANINGFUL_WITHOUT_SPACES = re.compile(r"[\u30a0-\u30ff\u3400-\u9fff\u0e00-\u0e7f]")


@lru_cache(maxsize=64)
def _stopwords(language: str) -> frozenset[str]:
    try:
        import stopwordsiso
    except ImportError:
        return frozenset()
    return frozenset(stopwordsiso.stopwords(language)) if stopwordsiso.has_lang(language) else frozenset()


def content_words(text: str, language: str) -> int:
    """How many words of `text` carry meaning (not stop words of its language, stopwords-iso). In scripts
    written without spaces, two of their meaningful characters count as a word. 'and for the master?' -> 1"""
    spaceless = _MEANINGFUL_WITHOUT_SPACES.findall(text)
    if len(spaceless) >= 2:
        return max(1, len(spaceless) // 2)
    stop = _stopwords(language)
    return sum(1 for w in _WORD.findall(text.casefold()) if w not in stop)


class SmallTalk:
    """Recognises pleasantries with the assistant's own embedder (their vectors computed once). With several
    models (`models`: the index's [(name, first column, last column)]), each model's own cosine is read too:
    a model that never learnt the message's language ("cảm ơn", "děkuji" for USE) drags the combined
    cosine down, and the model that reads it should still be heard."""

    def __init__(self, embedder, models: list[tuple[str, int, int]] | None = None) -> None:
        self.embedder = embedder
        self.models = list(models or []) if len(models or []) > 1 else []
        self._vectors = None
        self._lock = threading.Lock()

    def _pleasantry_vectors(self) -> np.ndarray:
        """The pleasantries' vectors, computed on first use."""
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    self._vectors = self.embedder.encode_queries(SMALL_TALK)
        return self._vectors

    def _scores(self, query_vector: np.ndarray) -> np.ndarray:
        """The cosine of the message with each pleasantry."""
        return self._pleasantry_vectors() @ query_vector

    def _model_scores(self, query_vector: np.ndarray) -> dict[str, np.ndarray]:
        """Each model's own cosine of the message with each pleasantry (its columns of the combined vectors)."""
        vectors = self._pleasantry_vectors()
        out = {}
        for name, first, last in self.models:
            rows, vector = vectors[:, first:last], query_vector[first:last]
            norms = np.linalg.norm(rows, axis=1) * (float(np.linalg.norm(vector)) or 1.0)
            out[name] = (rows @ vector) / np.where(norms > 0, norms, 1.0)
        return out

    def _partial(self, model_cuts: dict[str, float] | None) -> bool:
        """Whether `model_cuts` leaves a model out: one that never learnt the message's language, whose cosines
        are noise, so that only the others' own cosines are read (Assistant.model_cuts)."""
        return bool(model_cuts) and bool(self.models) and set(model_cuts) < {name for name, _, _ in self.models}

    def similarity(self, query_vector: np.ndarray) -> float:
        return float(self._scores(query_vector).max())

    def model_similarities(self, query_vector: np.ndarray) -> dict[str, float]:
        """Each model's cosine with its closest pleasantry ({} with one model)."""
        return {name: float(scores.max()) for name, scores in self._model_scores(query_vector).items()}

    def reading(self, text: str, query_vector: np.ndarray, model_cuts: dict[str, float] | None = None,
                threshold: float | None = None, detected: str | None = None) -> tuple[str | None, str]:
        """(language, what it says: thanks, hello, bye, ok) of the pleasantries the message says in words
        ("cool, bye" -> English goodbye: the models place it by "cool"), else of the closest one (by the
        combined cosine, or, when only one model's own cosine passed its cut or one model does not read the
        message's language, by the own cosine of the model heard best). The language
        is None for one every language says ("ok"). A pleasantry found by closeness only says what the message
        means, not its language ("спасибо" sits by "شكرا", "dziękuję" by "gracias"): the language is then the
        one the message was confidently detected in (`detected`), else None (the conversation's)."""
        folded = f" {' '.join(_WORD.findall(text.casefold()))} "
        said = [(language, intent) for (phrase, language, intent), words in zip(_TAGGED, _FOLDED)
                if words in folded or (_SCRIPT_WITHOUT_SPACES.search(phrase) and phrase in text)]
        if said:
            language = next((language for language, _ in said if language), None)
            return language, min((intent for _, intent in said), key=INTENT_ORDER.index)
        scores = self._scores(query_vector)
        if model_cuts and (self._partial(model_cuts) or (threshold is not None and scores.max() < threshold)):
            own = self._model_scores(query_vector)
            heard = max((n for n in own if n in model_cuts), key=lambda n: own[n].max() - model_cuts[n], default=None)
            if heard is not None:
                scores = own[heard]
        _, language, intent = _TAGGED[int(np.argmax(scores))]
        return (detected or None) if language else None, intent

    def __call__(self, text: str, language: str, query_vector: np.ndarray, threshold: float,
                 model_cuts: dict[str, float] | None = None) -> bool:
        """`threshold`: the fitted cut of the combined cosine for this embedder (fitted.py), SMALL_TALK_SIMILARITY
        without one; `model_cuts`: each model's own fitted cut: any of them passed is enough. When they leave a
        model out (it never learnt the message's language), the combined cosine is not read."""
        if content_words(text, language) > SMALL_TALK_MAX_CONTENT_WORDS or answer_types(text):
            return False   # it says too much, or asks for a fact: "since when?", "e o valor?" are no goodbye
        if not self._partial(model_cuts) and self.similarity(query_vector) >= threshold:
            return True
        own = self.model_similarities(query_vector) if model_cuts else {}
        return any(own[name] >= cut for name, cut in (model_cuts or {}).items() if name in own)


def follow_up_signals(text: str, language: str, alone_confidence: float, with_confidence: float,
                      closeness: float, form: float | None = None) -> tuple[np.ndarray, list[str]]:
    """The evidence that a question depends on the previous one, as a row and its column names. `form`: the
    question-form model's log-odds that its wording leans on an earlier turn (None: no such model)."""
    values = {"words.content": float(np.log1p(content_words(text, language))),
              "confidence.alone": alone_confidence,
              "confidence.gain": with_confidence - alone_confidence,
              "closeness.previous": closeness}
    if form is not None:
        values["form.dependent"] = form
    return np.array(list(values.values()), dtype=np.float64), list(values)


def choose_small_talk_threshold(similarities: list[float], is_small_talk: list[bool]) -> float:
    """The middle of the widest gap separating pleasantries from questions (training split), or, where
    they overlap, the cut with the fewest mistakes."""
    pairs = sorted(zip(similarities, is_small_talk))
    best, best_errors, best_gap = SMALL_TALK_SIMILARITY, len(pairs) + 1, -1.0
    for i in range(1, len(pairs)):
        cut = (pairs[i - 1][0] + pairs[i][0]) / 2
        errors = sum(1 for s, t in pairs if (s >= cut) != t)
        gap = pairs[i][0] - pairs[i - 1][0]
        if errors < best_errors or (errors == best_errors and gap > best_gap):
            best, best_errors, best_gap = cut, errors, gap
    return round(best, 4)
