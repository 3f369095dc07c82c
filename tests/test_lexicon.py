"""The induced lexicon (lexicon.py): a question's words that the texts never use are read as the corpus words
nearest to them, so the passage that answers is found and quoted; how sure the answer is stays unchanged."""

import dataclasses

from rag.lexicon import InducedLexicon
from rag.retrieval import RetrievalOptions


def test_words_the_texts_never_use_are_read_as_theirs(real_assistant):
    lexicon = real_assistant.lexicon
    assert "logement" in lexicon.translations("¿Hay alojamiento para estudiantes en la UPHF?")
    assert "stagiaire" in lexicon.translations("How late can I ask to extend my Erasmus internship?")
    # the texts' own words need no reading
    assert lexicon.translations("bourse Erasmus montant") == ()


def test_a_chinese_question_is_read_word_by_word(real_assistant):
    from rag.lexicon import question_words

    # Chinese runs its words together: each is read, not the whole run as one word
    assert question_words("我是学生，想在UPHF创业") == ["学生", "uphf", "创业"]
    assert "entrepreneur" in real_assistant.lexicon.translations("我是学生，想在UPHF创业")
    # "does the University of Lille work with the agency promoting French higher education abroad?"
    answer = real_assistant.ask("里尔大学和法国海外教育推广机构有合作吗？")
    assert not answer.abstained and "Campus France" in answer.citations[0].text


def test_the_answering_line_is_found_through_the_lexicon_and_the_confidence_is_unchanged(real_assistant):
    question = "How late can I ask to extend my Erasmus internship?"
    answer = real_assistant.ask(question)
    assert not answer.abstained
    first = answer.answer.split("\n")[0]
    assert "prolongation" in first and "un mois avant" in first
    options = real_assistant.retriever.options
    try:
        real_assistant.retriever.options = dataclasses.replace(options, lexicon=False)
        without_readings = real_assistant.ask(question)
        # nor aligned word by word ("internship" with "stage", "extend" with "prolongation")
        real_assistant.retriever.options = dataclasses.replace(options, lexicon=False, drop=frozenset({"align"}))
        without = real_assistant.ask(question)
    finally:
        real_assistant.retriever.options = options
    assert "un mois avant" not in without.answer.split("\n")[0]
    # the word alignment alone finds its passage ("internship" beside "stage", "extend" beside "prolongation")
    assert "un mois avant" in without_readings.citations[0].text
    # whether the assistant answers is read without either
    assert without_readings.confidence == without.confidence == answer.confidence


class Chunk:
    """A passage as the lexicon reads it."""

    def __init__(self, text):
        self.text = text

    def embedding_text(self):
        return self.text


def housing_encoder(near_nothing: tuple[str, ...] = ()):
    """Housing words on one axis, the corpus's other words on the other; `near_nothing` words at zero."""
    import numpy as np

    def encode(words):
        return np.array([[1.0, 0.0] if w.startswith(("log", "alo")) else [0.0, 0.0] if w in near_nothing
                         else [0.0, 1.0] for w in words])

    return encode


def test_a_new_documents_words_are_in_the_lexicon_at_once():
    lexicon = InducedLexicon([Chunk("Le logement étudiant du Crous.")], housing_encoder(near_nothing=("barato",)))
    assert "logement" in lexicon.tokens
    assert lexicon.translations("alojamiento barato") == ("logement",)
    assert lexicon.unknown_words("logement alojamiento") == ["alojamiento"]


def test_a_question_is_aligned_word_by_word_with_each_passage_in_any_language():
    lexicon = InducedLexicon([Chunk("Le logement étudiant."), Chunk("Les bourses de mobilité."), Chunk("")],
                             housing_encoder())
    best = lexicon.alignment("¿Hay alojamiento barato?")
    assert lexicon.content_words("¿Hay alojamiento barato?") == ["alojamiento", "barato"]   # "hay": a stop word
    assert best.shape == (2, 3)
    assert best[0, 0] == 1.0 and best[0, 1] == 0.0   # "alojamiento" is the housing passage's "logement"
    assert best[0, 2] == 0.0                         # a passage without words speaks of nothing
    assert lexicon.alignment("¿y?") is None
