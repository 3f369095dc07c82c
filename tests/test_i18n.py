"""The message catalogue: every language has every message, the committed .mo files say what the .po
files say, and the language a browser asks for picks the interface's."""

import gettext

import pytest

from conftest import require

from rag import i18n
from rag.answer import abstain
from rag.language import MESSAGES, message


def _po(language):
    pofile = require("babel.messages.pofile")
    with (i18n.LOCALE_DIR / language / "LC_MESSAGES" / "rag.po").open("rb") as f:
        return {m.id: m.string for m in pofile.read_po(f) if m.id}


@pytest.mark.parametrize("language", list(i18n.LANGUAGES))
def test_each_mo_says_what_its_po_says_and_nothing_is_missing(language):
    po = _po(language)
    mo = gettext.GNUTranslations(open(i18n.LOCALE_DIR / language / "LC_MESSAGES" / "rag.mo", "rb"))
    assert {key: mo.gettext(key) for key in po} == po, "run `python -m rag.i18n` after editing a .po"
    assert set(po) == set(_po("en")) and all(po.values())


def test_the_answers_framing_comes_from_the_catalogue():
    assert message("fr", "also") == "Les textes disent aussi :" == MESSAGES["fr"]["also"]
    assert message("sw", "sources") == "Sources"   # a language without a catalogue is framed in English


@pytest.mark.slow
@pytest.mark.parametrize("language,foreign", [("ar", "please"), ("zh", "office"), ("es", "Pôle"), ("en", "mobilité"), ("de", "contact"),
                                              ("ru", "office"), ("tr", "office"), ("ja", "contact")])
def test_a_refusal_speaks_the_askers_language_only(language, foreign, real_assistant):
    # the office named comes from corpus/sources.json ("contact", one text per language)
    text = abstain("Who runs the canteen?", language, 0.0, [], real_assistant.index).answer
    assert foreign.casefold() not in text.casefold()
    assert text.startswith(i18n.text(language, "answer.abstain"))


@pytest.mark.parametrize("header,expected", [("fr-FR,fr;q=0.9,en;q=0.8", "fr"), ("pt-BR", "pt"), ("zh-CN", "zh"),
                                             ("sw, de;q=0.5", "de"), ("sw,hi", "en"), ("ru,ja", "ru"), ("", "en"), (None, "en"),
                                             ("ar;q=0.2, it;q=0.7", "it"), ("garbage;q=x", "en")])
def test_the_browsers_language_chooses_the_interfaces(header, expected):
    assert i18n.choose(header) == expected
