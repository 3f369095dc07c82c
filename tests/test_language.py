import pytest

from rag.language import detect_language


@pytest.mark.parametrize("question, expected", [
    ("How much is the Erasmus grant?", "en"), ("Où candidater en master 1 ?", "fr"),
    ("¿Cuánto es la beca Erasmus?", "es"), ("Quanto é a bolsa Erasmus?", "pt"),
    ("Wie hoch ist das Erasmus-Stipendium?", "de"), ("كم تبلغ منحة إيراسموس؟", "ar"),
    ("伊拉斯谟奖学金是多少？", "zh"), ("PAEH ?", "en"),
])
def test_question_language(question, expected):
    assert detect_language(question) == expected


@pytest.mark.parametrize("question, expected", [
    # typed without accents, where the character n-grams of py3langid are unsure: the common words vote
    ("dang ky o dau", "vi"), ("hoc bong erasmus dc bao nhieu", "vi"), ("c quand la rentree", "fr"),
    ("а в европе?", "ru"),
])
def test_a_question_typed_without_its_accents_is_still_told_apart(question, expected):
    assert detect_language(question, fallback="") == expected


def test_a_vietnamese_question_typed_without_accents_is_refused_in_vietnamese(real_assistant):
    from rag.language import message

    answer = real_assistant.ask("toi co the nuoi meo trong ky tuc xa khong")   # can I keep a cat in my dorm room?
    assert answer.language == "vi" and answer.abstained and answer.answer.startswith(message("vi", "abstain"))


@pytest.mark.parametrize("question, expected", [
    # py3langid is sure, and wrong: English or French for Vietnamese typed without accents
    ("co the hoc tieng trung o uphf ko?", "vi"), ("o valenciennes hay lille thi re hon", "vi"),
    ("Plateforme des Langues et Certifications cua UPHF co tu nam nao vay?", "vi"),
    # ... and right, with French names in English words, or accents typed
    ("where is the Maison des Services a l Etudiant?", "en"), ("Où candidater en master 1 ?", "fr"),
])
def test_the_reply_is_in_the_language_the_words_are_even_where_the_detector_is_sure_of_another(question, expected):
    from rag.language import reply_language

    assert reply_language(question, detect_language(question)) == expected


def test_an_unaccented_vietnamese_question_read_as_english_is_refused_in_vietnamese_not_answered(real_assistant):
    from rag.language import message

    # "does UPHF have a badminton club?": read as English, as the confidence was fitted; only the reply changes
    answer = real_assistant.ask("uphf co clb cau long ko")
    assert answer.language == "vi" and answer.abstained and answer.answer.startswith(message("vi", "abstain"))
