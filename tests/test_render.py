"""How the chat shows an answer (HTML, each answer with its own sources) and what Copy copies (plain text)."""

import re

from rag.web.render import answer_html, notice_html, plain_text, question_html

ANSWER = {
    "question": "Combien pour Erasmus ?", "language": "ar", "abstained": False,
    "answer": "Montant : **210€** par mois <b>x</b> [1]\n\nوتذكر النصوص أيضًا:\n- Contact : erasmus@uphf.fr [2]",
    "citations": [
        {"n": 1, "title": "Les aides <i>financières</i>", "institution": "UPHF", "section": "Erasmus & Mermoz",
         "url": "https://www.uphf.fr", "text": "Intro. Montant : 210€ par mois <b>x</b> Fin.", "score": 0.7931,
         "highlight": "Montant : 210€ par mois <b>x</b>", "language": "fr"},
        {"n": 2, "title": "Contact", "institution": "UPHF", "section": "", "url": "https://www.uphf.fr",
         "text": "Contact : erasmus@uphf.fr", "score": 0.61, "highlight": "Contact : erasmus@uphf.fr", "language": "fr"},
    ],
}


def test_each_marker_links_to_its_own_card_under_its_own_answer():
    first, second = answer_html(ANSWER, "a1"), answer_html(ANSWER, "a2")
    assert "<a class='cite' href='#a1-1'>[1]</a>" in first and "id='a1-1'" in first and "id='a2-1'" in second
    assert "<details class='sources' id='a1-sources'>" in first and "المصادر (2)" in first


def test_a_card_names_institution_title_section_link_and_marks_the_quote_but_no_score():
    html = answer_html(ANSWER, "a1")
    assert "UPHF · Erasmus &amp; Mermoz" in html and "<strong>Les aides &lt;i&gt;financières&lt;/i&gt;</strong>" in html
    assert "<mark>Montant : 210€ par mois &lt;b&gt;x&lt;/b&gt;</mark>" in html
    assert "href='https://www.uphf.fr'" in html
    assert "0.79" not in html and "0.61" not in html and "<b>" not in html and "<i>" not in html


def test_every_block_says_its_language_and_reads_in_its_own_direction():
    html = answer_html(ANSWER, "a1")
    assert html.startswith("<div class='answer' id='a1' dir='rtl' lang='ar'>")   # framed in Arabic
    assert "<p class='lead' dir='auto' lang='fr'>" in html                        # the quote is French
    assert "<p dir='auto' lang='ar'>وتذكر النصوص أيضًا:</p>" in html
    assert "<li class='source-card' id='a1-1' tabindex='-1' dir='auto' lang='fr'>" in html
    assert question_html("كم؟ <b>", "ar") == "<p class='question' dir='auto' lang='ar'>كم؟ &lt;b&gt;</p>"
    assert notice_html("Tapez une question.", "fr").startswith("<div class='answer notice' dir='auto' lang='fr'>")


def test_copy_gives_plain_text_with_the_sources_listed():
    text = plain_text(ANSWER)
    assert text.startswith("Montant : 210€ par mois <b>x</b> [1]\n\nوتذكر النصوص أيضًا:\n- Contact : erasmus@uphf.fr [2]\n\n")
    assert "المصادر:\n[1] Les aides <i>financières</i> (UPHF, Erasmus & Mermoz)\n    « Montant : 210€ par mois <b>x</b> »\n    https://www.uphf.fr\n[2] Contact (UPHF)" in text
    assert "**" not in text and not re.search(r"&[#a-z0-9]+;", text)
    # In the page it travels escaped inside the message, and the browser's textContent gives it back as is.
    assert "<pre class='copy-text' hidden>Montant : 210€ par mois &lt;b&gt;x&lt;/b&gt; [1]" in answer_html(ANSWER, "a1")


def test_small_talk_and_refusals_have_no_sources_list():
    html = answer_html({"language": "en", "answer": "You're welcome!", "citations": []}, "a9")
    assert "<details" not in html and "You&#x27;re welcome!" in html and plain_text({"answer": "Hi"}) == "Hi"
