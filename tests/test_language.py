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
