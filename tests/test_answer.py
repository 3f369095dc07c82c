import re

import pytest

from rag.confidence import fact_not_held
from rag.errors import InvalidQuestionError


def test_answer_cites_the_passage_holding_the_amounts(small_assistant):
    answer = small_assistant.ask("Quel est le montant de la bourse Erasmus par mois ?")
    assert not answer.abstained
    assert any("210€" in c.text for c in answer.citations)
    first, *rest = answer.answer.split("\n")
    assert answer.language == "fr" and first.endswith("[1]") and "**" in first   # the line that answers, fact in bold
    assert len(answer.citations) == 1 or "Les textes disent aussi" in answer.answer


def test_every_marker_names_a_citation_and_every_citation_is_used(small_assistant):
    answer = small_assistant.ask("bourse Mermoz montant", top_k=3)
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers == {c.n for c in answer.citations}
    assert 1 <= len(answer.citations) <= 3


def test_unanswerable_question_abstains_and_names_the_office(small_assistant):
    answer = small_assistant.ask("What is the weather like tomorrow?")
    assert answer.abstained and answer.citations == []
    assert "international_in@uphf.fr" in answer.answer


def test_abstention_in_french_for_a_french_question(small_assistant):
    answer = small_assistant.ask("Quel temps fera-t-il demain à la plage ?")
    assert answer.abstained and "ne répondent pas" in answer.answer


def test_a_question_naming_upjv_is_routed_to_upjv(small_assistant):
    answer = small_assistant.ask("How many Erasmus partnerships does UPJV have?")
    assert answer.citations[0].institution == "UPJV"


def test_to_dict_has_the_contract_fields(small_assistant):
    data = small_assistant.ask("PAEH handicap", id="q1").to_dict()
    assert {"id", "question", "language", "answer", "abstained", "citations", "timings_ms"} <= data.keys()
    assert data["id"] == "q1"
    assert {"n", "source", "title", "institution", "url", "text", "score"} <= data["citations"][0].keys()
    assert {"embed", "search", "answer", "total"} <= data["timings_ms"].keys()


@pytest.mark.parametrize("question", ["", "   \n\t ", "x" * 100_000])
def test_bad_questions_are_refused_with_a_message(small_assistant, question):
    with pytest.raises(InvalidQuestionError):
        small_assistant.ask(question)


def test_control_characters_are_ignored(small_assistant):
    answer = small_assistant.ask("bourse\x00 Mermoz\x1b montant\x07")
    assert not answer.abstained and answer.question == "bourse Mermoz montant"


def test_a_follow_up_is_read_in_the_light_of_the_previous_question(small_assistant):
    follow = small_assistant.ask("et le montant pour Mermoz ?", history=["Quel est le montant de la bourse Erasmus ?"])
    assert "Mermoz" in follow.citations[0].text and "400€" in follow.answer.split("\n")[0]


def test_a_labelled_value_is_an_answer_not_a_heading():
    from rag.answer import is_heading_like

    assert not is_heading_like("Code ERASMUS : 999884537")
    assert not is_heading_like("Contact : ddrs@uphf.fr")
    assert is_heading_like("Critères d’attribution de la bourse Mermoz:")
    assert is_heading_like("Le financement")


def test_the_quoted_lines_are_highlighted_verbatim_in_their_passage(small_assistant):
    for question in ("Quel est le montant de la bourse Erasmus par mois ?", "bourse Mermoz montant"):
        answer = small_assistant.ask(question)
        for c in answer.citations:
            assert c.highlight and c.highlight in c.text
            assert c.highlight.strip().endswith(":") is False  # never a bare heading


@pytest.mark.parametrize("text, held", [
    ("Centre de santé des étudiants, 42 rue Paul Duez, Lille. Ouvert de 8h30 à 17h00.", False),
    ("Tél : 03 20 90 76 10", True),
    ("Urgences\n- 15 : SAMU (urgence médicale)\n- 112 : numéro d'urgence européen", True),
    ("Le soir ou le week-end, appelez le 116 117 (médecin de garde).", True),
    ("Montant : 210€ par mois, 60 jours minimum.", False),
])
def test_a_phone_number_asked_for_is_held_only_by_a_number_one_could_call(text, held):
    assert fact_not_held(frozenset({"phone"}), text) is not held
    assert not fact_not_held(frozenset({"date"}), text)   # a date has too many forms: no rule


@pytest.mark.parametrize("text, held", [
    ("Montant : 210€ par mois.", True),
    ("L'inscription au module est gratuite pour les étudiants de l'UPHF.", True),   # "free" answers a price
    ("Le Centre FLE propose des cours intensifs de français en été.", False),
])
def test_a_price_asked_for_is_held_by_an_amount_or_by_saying_it_is_free(text, held):
    assert fact_not_held(frozenset({"money"}), text) is not held


@pytest.mark.parametrize("kinds, text, held", [
    ({"count"}, "Il y a cinq aéroports à proximité du campus.", True),    # a number written out
    ({"count"}, "The Commission meets once a quarter.", True),
    ({"count"}, "Partir au Québec avec le BCI : une mobilité d'un an.", False),
    ({"count", "money"}, "L'UPHF est sur 5 campus.", False),   # "combien coûte" asks an amount: 5 campuses is none
])
def test_a_number_asked_for_is_held_by_a_figure_or_a_number_written_out(kinds, text, held):
    assert fact_not_held(frozenset(kinds), text) is not held


@pytest.mark.parametrize("question, asks_amount", [
    ("¿Cuánto es la beca Erasmus al mes?", True),
    ("Quanto è la borsa Erasmus?", True),
    ("How much does the TOEIC cost?", True),
    ("¿Qué permiten las asociaciones en cuanto a elegir la movilidad?", False),   # "as for"
    ("e per il linguaskill ogni quanto ci sono sessioni?", False),                # "how often"
])
def test_an_amount_is_asked_for_only_when_the_question_asks_one(question, asks_amount):
    from rag.retrieval import answer_types

    assert ("money" in answer_types(question)) is asks_amount


def test_a_year_the_quoted_passages_never_mention_is_not_held():
    lead = "Dates des commissions 2022 : 12 mai, 9 juin."
    assert fact_not_held(frozenset(), lead, "Quand a lieu la commission en 2027 ?")
    assert not fact_not_held(frozenset(), lead, "Quand a lieu la commission en 2022 ?")
    assert not fact_not_held(frozenset(), lead, "Quand a lieu la commission ?")
