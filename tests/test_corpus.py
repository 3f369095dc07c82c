import pytest

from rag.corpus import load_corpus, normalise_spaces, strip_debris
from rag.errors import CorpusError


def test_no_break_spaces_become_plain_spaces():
    assert normalise_spaces("1\u00a0700\u202fétudiants\r\n") == "1 700 étudiants\n"


def test_navigation_debris_is_removed():
    text = strip_debris("Content | Menu | Autres menus ?\nThe UPJV strategy.\nTop of the page\nOutils et événements. Plus d'infos.\n")
    assert "Menu" not in text and "Top of the page" not in text and "Plus d'infos" not in text
    assert "The UPJV strategy." in text


def test_glued_words_are_split_where_the_corpus_shows_the_split(small_settings):
    docs = {d.id: d for d in load_corpus(small_settings.corpus_dir)}
    # the label page repeats the extra page with glued words; its repeated line is dropped entirely
    assert "étrangersetplus" not in docs["uphf-label"].text
    assert "1 700 étudiants étrangers et plus" in docs["uphf-extra"].text


def test_a_passage_repeated_in_a_later_document_is_kept_once(small_settings):
    docs = {d.id: d for d in load_corpus(small_settings.corpus_dir)}
    assert "erasmus@uphf.fr" in docs["uphf-faq"].text
    assert "erasmus@uphf.fr" not in docs["uphf-label"].text


def test_e_mail_addresses_are_never_split(small_settings):
    text = "\n".join(d.text for d in load_corpus(small_settings.corpus_dir))
    assert "international_in@uphf.fr" in text


def test_a_missing_corpus_file_is_a_clear_error(small_settings):
    (small_settings.corpus_dir / "lille.txt").unlink()
    with pytest.raises(CorpusError, match="lille.txt is missing"):
        load_corpus(small_settings.corpus_dir)


def test_a_corpus_file_that_is_not_utf8_is_a_clear_error(small_settings):
    (small_settings.corpus_dir / "lille.txt").write_bytes(b"caf\xe9 \xff\xfe")
    with pytest.raises(CorpusError, match="not UTF-8"):
        load_corpus(small_settings.corpus_dir)
