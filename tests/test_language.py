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
