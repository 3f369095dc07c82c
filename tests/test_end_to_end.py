"""The real default embedder on the real corpus: what a student gets."""

import dataclasses

import pytest

pytestmark = pytest.mark.slow


def test_erasmus_grant_amounts_are_cited_and_quoted(real_assistant):
    answer = real_assistant.ask("How much is the Erasmus grant per month?")
    assert not answer.abstained and answer.language == "en"
    assert any("210€" in c.text for c in answer.citations)
    # The first line is the one that answers, the amounts in bold (not the neighbouring 400 EUR AMI grant).
    first = answer.answer.split("\n")[0]
    assert "**210€**" in first and first.endswith("[1]")
    assert "210€ (groupe 3), 261€ (groupe 2) ou 312€ (groupe 1) par mois" in first.replace("**", "")


def test_a_follow_up_is_understood_in_the_conversation(real_assistant):
    alone = real_assistant.ask("And for Mermoz?")
    follow_up = real_assistant.ask("And for Mermoz?", history=["How much is the Erasmus grant per month?"])
    assert not follow_up.abstained
    assert "Mermoz" in follow_up.citations[0].text
    # The quoted sentence is the Mermoz amount, not the criteria heading.
    first = follow_up.answer.split("[1]")[0].replace("**", "")
    assert "400€ par mois" in first, follow_up.answer
    assert alone.abstained or "400€" not in alone.answer.split("[1]")[0]


def test_a_follow_up_asking_another_kind_of_fact_gets_that_fact_not_the_previous_one(real_assistant):
    # Read with the grant question, whose "how much" asks an amount; this turn asks whom to write to.
    answer = real_assistant.ask("who do I write to about it?", history=["How much is the Erasmus grant per month?"])
    assert not answer.abstained and answer.follow_up
    first = answer.answer.split("\n")[0]
    assert "@" in answer.answer and "210€" not in first, answer.answer


@pytest.mark.xfail(strict=False, reason="since session 20 a follow-up's lines are scored on its own words, so this "
                   "one leads with an address, but the staff-mobility one (erasmus-staff@uphf.fr): the passage with the "
                   "students' addresses is only fifth of the joint reading's passages, and the first line is chosen "
                   "among the three best (docs/figures.md, session 20)")
def test_a_follow_up_asking_whom_to_write_to_leads_with_the_students_address(real_assistant):
    answer = real_assistant.ask("who do I write to about it?", history=["How much is the Erasmus grant per month?"])
    first = answer.answer.split("\n")[0]
    assert "erasmus@uphf.fr" in first or "international_out@uphf.fr" in first, answer.answer


def test_an_answer_never_leads_with_a_bare_heading(real_assistant):
    # the criteria's heading is quoted with the first criterion under it, not alone
    answer = real_assistant.ask("What are the criteria for the Mermoz grant?")
    first = answer.answer.split("\n")[0]
    assert "Critères d’attribution de la bourse Mermoz" in first and "Être inscrit en formation initiale" in first, first


def test_an_email_question_quotes_the_address(real_assistant):
    answer = real_assistant.ask("Who should I email about incoming exchange mobility?")
    assert "**international_in@uphf.fr**" in answer.answer.split("\n")[0]


def test_a_new_topic_is_answered_on_its_own_not_from_the_previous_one(real_assistant):
    answer = real_assistant.ask("Where are the UPHF campuses located?", history=["How much is the Erasmus grant per month?"])
    # what the student sees: the campuses first, none of the grant's passages (whether the previous question
    # also steered the search is the follow-up model's call; it must not bring the grant back)
    assert not answer.abstained
    assert "Cambrai" in answer.answer.split("\n")[0]
    assert not any("210€" in c.text for c in answer.citations)


def test_a_new_question_the_texts_do_not_answer_is_not_answered_from_the_previous_one(real_assistant):
    # Its wording stands alone (the question-form model), so it is not read with the campus question, whose
    # passages would answer it with the campus list.
    answer = real_assistant.ask("Can you recommend a cheap restaurant in Valenciennes?",
                                history=["Where are the UPHF campuses located?"])
    assert answer.abstained and not answer.follow_up and answer.citations == []


@pytest.mark.parametrize("message", ["thanks!", "merci beaucoup", "谢谢", "شكرا", "danke schön",
                                     # greetings the models place far from English ones: "ok, thank you, goodbye"
                                     "حسنا، شكرا لك، إلى اللقاء", "好的，谢谢你", "vale, muchas gracias, hasta luego"])
def test_small_talk_gets_a_short_reply_and_no_passage(real_assistant, message):
    answer = real_assistant.ask(message, history=["How much is the Erasmus grant per month?"])
    assert answer.small_talk and answer.citations == [] and not answer.abstained
    assert "[1]" not in answer.answer and len(answer.answer) < 200


@pytest.mark.parametrize("message, history, language", [
    ("cool, bye", ["Où candidater en master 1 ?"], "en"),    # says goodbye in English after a French question
    ("ok merci", ["Where do I apply for a master?"], "fr"),
    ("ok", ["Où candidater en master 1 ?"], "fr"),           # every language says "ok": the conversation's stays
])
def test_small_talk_is_answered_in_the_language_it_is_said_in(real_assistant, message, history, language):
    answer = real_assistant.ask(message, history=history)
    assert answer.small_talk and answer.language == language


def test_the_line_that_answers_leads_not_one_close_to_everything(real_assistant):
    # "A l'UPHF: 14500 étudiants, 5 campus, 160 formations" is near any question about the UPHF (a hub);
    # the line naming the campuses answers.
    answer = real_assistant.ask("Where are the UPHF campuses?")
    assert "Cambrai" in answer.answer.split("\n")[0]


@pytest.mark.parametrize("message, language, reply", [
    ("cool, bye", "en", "small_talk_bye"), ("bonjour", "fr", "small_talk_hello"), ("再见", "zh", "small_talk_bye"),
    ("thanks a lot!", "en", "small_talk"), ("tchau, obrigado", "pt", "small_talk_bye"),
])
def test_a_greeting_gets_a_greeting_and_a_goodbye_a_goodbye(real_assistant, message, language, reply):
    from rag.language import message as framing

    answer = real_assistant.ask(message)
    assert answer.small_talk and answer.answer == framing(language, reply)


def test_master_application_in_french(real_assistant):
    answer = real_assistant.ask("Où candidater en master 1 ?")
    assert not answer.abstained and answer.language == "fr"
    assert any("Mon Master" in c.text for c in answer.citations)


def test_an_off_topic_request_abstains_with_the_office(real_assistant):
    answer = real_assistant.ask("can you help me with my visa appointment?")
    assert answer.abstained and not answer.small_talk and "international_in@uphf.fr" in answer.answer


def test_a_request_for_a_joke_quotes_no_passage(real_assistant):
    # Since session 19 the small-talk model reads it as a greeting with a request and answers with an invitation to
    # ask about studying (it abstained with the office before): either way, nothing from the texts.
    answer = real_assistant.ask("Bonjour, tu peux me raconter une blague ?")
    assert answer.citations == [] and "[1]" not in answer.answer and answer.language == "fr"
    assert answer.abstained or answer.small_talk


@pytest.mark.parametrize("message, language", [("excuse me, are you there?", "en"), ("perdón, una pregunta rápida", "es"),
                                               ("Entschuldigung, darf ich noch etwas fragen?", "de"),
                                               ("すみません、質問してもいいですか", "ja"), ("pardon, une petite question", "fr"),
                                               ("desculpa, posso perguntar outra coisa?", "pt")])
def test_asking_leave_to_ask_is_small_talk_not_the_previous_topic(real_assistant, message, language):
    """"entschuldigung, kurze frage" sat far from every pleasantry and, read with the previous question, was
    answered with its passages. The small-talk model (fitted.py) reads the whole message."""
    answer = real_assistant.ask(message, history=["How much is the Erasmus grant per month?"])
    assert answer.small_talk and answer.citations == [] and "€" not in answer.answer
    assert answer.language == language


KNOWN_GAP = pytest.mark.xfail(strict=True, reason="session 3's hand-set penalties caught this; the fitted confidence "
                                                  "does not yet (see docs/figures.md, Known gaps)")


def test_a_year_the_texts_never_mention_is_not_answered_from_another_year(real_assistant):
    # The texts give the 2022 commission dates; a student asking about 2027 must not get them as the answer.
    later = real_assistant.ask("Quelle est la date limite Parcoursup en 2027 ?")
    assert later.abstained and "international_in@uphf.fr" in later.answer
    # A year the texts do mention is no such evidence.
    assert not real_assistant.ask("Quel est le classement de l'UPHF au Times Higher Education 2022 ?").abstained


def test_names_the_texts_use_are_not_unknown_even_inside_compounds(real_assistant):
    check = real_assistant.retriever.unknown_names
    assert check("Je suis à l'INSA Hauts-de-France, qui contacter pour partir à l'étranger ?", "fr") == []
    assert check("Combien coûtent les frais d'inscription à la Sorbonne ?", "fr") == ["Sorbonne"]
    # Capitalised ordinary words of the question's language are not names (any language, not only en/fr).
    assert check("A Universidade de Lille tem algum escritório na América do Sul?", "pt") == []
    # German capitalises every noun: an inflected one (the genitive "Austauschs", rarer than "Sorbonne") is a
    # word of the language, not a name the texts lack.
    assert check("An wen schreibe ich wegen eines Austauschs an der UPHF?", "de") == []
    assert check("Kann ich an der Sorbonne studieren?", "de") == ["Sorbonne"]


@KNOWN_GAP
def test_an_acronym_only_the_texts_use_is_answered_from_its_page(real_assistant):
    answer = real_assistant.ask("What does PAEH stand for?")
    assert not answer.abstained
    assert any("Plan d'Accompagnement de l'Etudiant en situation de Handicap" in c.text for c in answer.citations)


@pytest.mark.parametrize("question", ["Combien coûte une place de parking au campus du Mont Houy ?",
                                      "How much does the bus from the station to the campus cost?",
                                      "À quelle heure ferme la bibliothèque ?"])
def test_a_price_or_opening_time_the_texts_never_give_is_not_answered(real_assistant, question):
    # The texts give grant amounts and the language centre's hours; neither answers these.
    assert real_assistant.ask(question).abstained


def test_a_when_question_cites_the_passage_with_the_dates(real_assistant):
    answer = real_assistant.ask("When does the financial aid commission meet?")
    assert not answer.abstained
    assert any("Dates des prochaines commissions" in c.text for c in answer.citations)


def test_a_german_compound_word_finds_the_french_passage(real_assistant):
    answer = real_assistant.ask("Welche Sprachzertifikate kann ich an der UPHF ablegen?")
    assert not answer.abstained and answer.language == "de"
    assert any("TOEIC" in c.text for c in answer.citations)


def test_no_answer_cites_the_same_text_twice(real_assistant):
    answer = real_assistant.ask("Combien d'étudiants étrangers à l'UPHF ?", top_k=5)
    texts = [c.text for c in answer.citations]
    assert len(texts) == len(set(texts))


def test_quality_on_the_test_split_stays_above_the_committed_floor(real_assistant):
    import json
    from pathlib import Path

    from rag.evaluation import DEFAULT_DATASET, load_dataset, metrics, run

    floor = json.loads((Path(DEFAULT_DATASET).parent / "floor.json").read_text())
    test = [i for i in load_dataset(DEFAULT_DATASET) if i.split == "test"]
    m = metrics(run(real_assistant, test), real_assistant.threshold)
    for name in ("answer_accuracy", "abstention_accuracy", "first_line_accuracy", "citation_precision"):
        assert m[name] >= floor[name], (name, m[name])
    assert m["false_abstention_rate"] <= floor["false_abstention_rate_max"]


def test_the_load_command_serves_drives_and_counts_every_feedback_row(real_settings, capsys):
    """`rag load` end to end, briefly: the benchmark itself (its figures are in docs/figures.md, not asserted)."""
    import argparse
    import json

    from rag.loadtest import run_load

    args = argparse.Namespace(clients=3, duration=1.0, dataset=None, json=True)
    assert run_load(args, real_settings) == 0
    figures = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert figures["errors"] == 0 and figures["requests"] > 0
    assert figures["feedback_sent"] == figures["feedback_stored"] == 3
    # the server's memory as an operator's monitor sees it, before and after the load
    memory = figures["server_memory_mb"]
    assert 0 < memory["ready"] <= memory["peak"] and 0 < memory["after"] <= memory["peak"]


def test_a_line_that_answers_only_under_its_page_title_leads_the_answer(real_assistant):
    """"The first was established in Belo Horizonte in Brazil in 2019" says "office" only in the paragraph
    before it: read after its page title and section, it is the line that answers."""
    question = "Does the University of Lille have an office in Brazil?"
    answer = real_assistant.ask(question)
    assert not answer.abstained and "Belo Horizonte" in answer.answer.split("\n")[0]
    fitted = real_assistant.fitted
    try:
        real_assistant.fitted = dataclasses.replace(fitted, quote_sentence=None)   # each line read alone
        alone = real_assistant.ask(question)
    finally:
        real_assistant.fitted = fitted
    assert "Belo Horizonte" not in alone.answer.split("\n")[0]


def test_an_faq_question_line_is_never_the_whole_first_line(real_assistant):
    # the passage asks "Qui peut devenir alternant ?" and answers two lines below: the student reads the answer
    answer = real_assistant.ask("i'm 27, can I still do an alternance en contrat d'apprentissage at uphf or am I too old?")
    first = answer.answer.split("\n")[0]
    assert not answer.abstained and "16 à 29 ans" in first and first.endswith("[1]")


@pytest.mark.xfail(strict=True, reason="known gap (docs/figures.md): in French the Mermoz passage, which names the "
                                       "Erasmus grant too, ranks above the Erasmus one; in English and Arabic it does not")
def test_the_erasmus_grant_asked_in_french_leads_with_the_erasmus_amounts(real_assistant):
    answer = real_assistant.ask("Combien touche-t-on par mois avec la bourse Erasmus ?")
    assert "210€" in answer.answer.split("\n")[0]


@pytest.mark.parametrize("question", ["What is the phone number of the international relations office at UPHF?",
                                      "¿Cuál es el teléfono del servicio de relaciones internacionales de la UPHF?",
                                      "À quelle heure ouvre le bureau Erasmus de l'UPHF ?",
                                      "How much does the Voltaire certification cost?"])
def test_a_phone_number_hours_or_price_the_texts_do_not_give_is_not_answered_with_another_fact(real_assistant, question):
    # the topic is in the texts, the telephone number, opening hours or price are not: nothing else is quoted instead
    answer = real_assistant.ask(question)
    assert answer.abstained and answer.citations == [], answer.answer


@pytest.mark.parametrize("question", ["¿Cuántas plazas hay para ir a Quebec con el BCI?",
                                      "When are the EUNICE Weeks in 2025?"])
def test_a_number_or_year_the_passage_led_with_does_not_hold_is_not_answered(real_assistant, question):
    # the BCI page gives no number of places, the EUNICE Weeks page another year's dates; a figure or a year
    # elsewhere in the passages found is about something else
    answer = real_assistant.ask(question)
    assert answer.abstained and answer.citations == [], answer.answer


def test_a_number_written_out_still_answers_how_many(real_assistant):
    answer = real_assistant.ask("Combien d'aéroports y a-t-il près de l'UPHF ?")
    assert not answer.abstained and "cinq aéroports" in answer.answer, answer.answer


def test_opening_hours_the_texts_give_are_still_answered(real_assistant):
    answer = real_assistant.ask("When is the language resource centre open?")
    assert not answer.abstained and "8h30" in answer.answer.split("\n")[0], answer.answer


def test_a_question_in_a_language_one_model_never_learnt_is_read_by_the_model_that_did(real_assistant):
    """USE was trained on 16 languages, Vietnamese not among them: its cosines for a Vietnamese question are
    noise. e5's stand in for them, on USE's scale, and the grant question leads with the monthly amounts. (Since
    "bao nhiêu tiền" is read as asking for an amount, USE's noise alone no longer leads with another passage,
    but the passage that answers ranks lower, and the answer is less sure.)"""
    question = "Học bổng Erasmus mỗi tháng được bao nhiêu tiền?"   # how much is the Erasmus grant a month?
    answer = real_assistant.ask(question)
    assert answer.language == "vi" and not answer.abstained
    assert "210€" in answer.answer.split("\n")[0], answer.answer
    unread = real_assistant.unread
    try:
        real_assistant.unread = lambda *args, **kwargs: None   # USE's own cosines, noise and all
        noisy = real_assistant.ask(question)
    finally:
        real_assistant.unread = unread
    assert noisy.retrieved[0].chunk.id != answer.retrieved[0].chunk.id and noisy.confidence < answer.confidence


@pytest.mark.parametrize("message", ["cảm ơn bạn!", "děkuji!", "mulțumesc!"])
def test_thanks_in_a_language_one_model_never_learnt_is_small_talk_not_a_passage(real_assistant, message):
    """USE never learnt Vietnamese, Czech or Romanian: its cosine with "thanks" is low and dragged the combined
    one under the cut, so "děkuji!" got a recruitment passage. e5's own cosine, with its own fitted cut, hears
    the thanks; the reply is in the message's language (Vietnamese has a catalogue since session 14), English
    where the interface has no words for it."""
    from rag.language import message as framing

    answer = real_assistant.ask(message)
    assert answer.small_talk and answer.citations == [] and not answer.abstained
    assert answer.answer == framing(answer.language, "small_talk")
    assert answer.answer == framing("en", "small_talk") if message != "cảm ơn bạn!" else answer.language == "vi"


@pytest.mark.parametrize("message, language", [("děkuji moc", "en"), ("спасибо!", "ru"), ("xin chào", "vi"),
                                               ("감사합니다", "ko")])
def test_a_pleasantry_is_answered_in_its_language_or_the_conversations(real_assistant, message, language):
    # Pleasantries said in the words of an interface language are answered in it (Russian, Vietnamese and Korean
    # have a catalogue since session 14 and pleasantries since session 15: "xin chào" was a question before).
    # Said in another ("děkuji", Czech), it is heard by closeness ("děkuji" sits by "gracias"), which says what it
    # means, not the language to reply in: the conversation's language answers.
    from rag.language import message as framing

    answer = real_assistant.ask(message, history=["How much is the Erasmus grant per month?"])
    assert answer.small_talk and answer.citations == []
    reply = "small_talk_hello" if message == "xin chào" else "small_talk"
    assert answer.answer == framing(language, reply), answer.answer


@pytest.mark.parametrize("question", ["Сколько стоит сертификат TOEIC в UPHF?", "TOEIC sınavı UPHF'de ne kadar?",
                                      "Ile kosztuje egzamin TOEIC na UPHF?", "Hoeveel kost het TOEIC-examen aan de UPHF?",
                                      "UPHF の TOEIC 試験はいくらですか？"])
def test_a_price_the_texts_never_give_is_refused_in_every_interface_language(real_assistant, question):
    # The texts describe the TOEIC but give no price. A price asked in Russian, Turkish, Polish, Dutch or Japanese
    # was not read as a price asked (the kinds of fact knew eight languages' words), so the TOEIC passage was
    # quoted as if it answered.
    answer = real_assistant.ask(question)
    assert answer.abstained and answer.citations == []


@pytest.mark.parametrize("question", ["Какой номер телефона BAIP в UPHF для стажировок?", "UPHF BAIP telefon numarası nedir?"])
def test_a_phone_number_the_texts_give_is_answered_in_every_interface_language(real_assistant, question):
    answer = real_assistant.ask(question)
    assert not answer.abstained and "**03 27 51 10 23**" in answer.answer.split("\n")[0], answer.answer


@pytest.mark.parametrize("message, history", [("since when?", "Is UPHF Qualiopi certified?"),
                                              ("desde cuando", "¿La UPHF tiene la certificación Qualiopi?")])
def test_a_short_follow_up_asking_for_a_fact_is_not_taken_for_small_talk(real_assistant, message, history):
    # "since when" sits by "bye" and "e o valor?" by "vale" in the embedding space: a message that asks for a date,
    # an amount or a number is a question, however close it is to a pleasantry.
    answer = real_assistant.ask(message, history=[history])
    assert not answer.small_talk and answer.follow_up and "2021" in answer.answer.split("\n")[0], answer.answer


@pytest.mark.parametrize("message, language", [("hey, can you help me?", "en"), ("tu peux m'aider stp ?", "fr"),
                                               ("¿puedo hacerte una pregunta?", "es"), ("我有问题想问你", "zh")])
def test_a_request_for_help_with_no_subject_is_not_answered_from_the_previous_topic(real_assistant, message, language):
    """Read with the previous question, "can you help me?" got the grant amounts again. It says nothing the texts
    could answer: the reply asks what the student would like to know, in their language, with no passage."""
    from rag.language import message as framing

    answer = real_assistant.ask(message, history=["How much is the Erasmus grant per month?"])
    assert answer.small_talk and answer.citations == [] and "€" not in answer.answer
    assert answer.answer == framing(language, "small_talk_help")
