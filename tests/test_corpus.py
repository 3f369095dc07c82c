import pytest

from rag.corpus import load_corpus, normalise_spaces, strip_debris
from rag.errors import CorpusError


def test_no_break_spaces_become_plain_spaces():
    assert normalise_spaces("1\u00a0700\u202fétudiants\r\n") == "1 700 étudiants\n"


def test_navigation_debris_is_removed():
    text = strip_debris("Content | Menu | Autres menus ?\nThe UPJV strategy.\nTop of the page\nOutils et événements. Plus d'infos.\n")
    assert "Menu" not in text and "Top of the page" not in text and "Plus d'infos" not in text
    assert "The UPJV strategy." in text


def test_a_new_pages_frame_is_removed_and_its_content_kept():
    # breadcrumbs and a footer on every page, as a page pasted from another site brings them
    pages = "\n\n".join(
        f"{title}\nAccueil > International > Vie pratique > {title}\nType de logement | Loyer mensuel\n"
        f"Studio | 420 €\nContact : welcome@univ-lille.fr\nHaut de page" for title in ("Se loger", "Se soigner", "Banque"))
    text = strip_debris(pages)
    assert "Accueil >" not in text and "Haut de page" not in text
    # table rows and a line a page repeats on purpose are content
    assert text.count("Type de logement | Loyer mensuel") == 3 and text.count("Studio | 420 €") == 3
    assert text.count("Contact : welcome@univ-lille.fr") == 3
    assert strip_debris("Le 1er prix » des étudiants > 3 candidats\n") == "Le 1er prix » des étudiants > 3 candidats\n"


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


# --- Formats, metadata, the project's texts unchanged ---------------------------------------------------

import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

from rag.chunking import chunk_documents  # noqa: E402
from rag.settings import Settings  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "new_document"
PROJECT_CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def add_source(corpus: Path, file: Path | str, text: str | bytes | None = None, **fields) -> dict:
    """Put a file in the corpus folder (copied, or written from `text`) and its entry in sources.json."""
    name = Path(file).name
    if text is None:
        shutil.copy(file, corpus / name)
    elif isinstance(text, bytes):
        (corpus / name).write_bytes(text)
    else:
        (corpus / name).write_text(text, encoding="utf-8")
    entry = {"id": Path(name).stem, "file": name, "title": Path(name).stem, "institution": "UPHF", "language": "fr",
             "url": "https://www.uphf.fr", "checked_on": "2026-11-27", **fields}
    sources = json.loads((corpus / "sources.json").read_text(encoding="utf-8"))
    (corpus / "sources.json").write_text(json.dumps(sources + [entry], ensure_ascii=False), encoding="utf-8")
    return entry


def test_the_five_project_texts_give_the_same_passages_as_before_the_new_formats():
    # The chunks (text, title, section, id, link) of the five .txt files as the code before issue 12 cut them:
    # 122 chunks; any change to how .txt files are read moves this hash, and with it every measured figure.
    settings = Settings(corpus_dir=PROJECT_CORPUS)
    chunks = chunk_documents(load_corpus(PROJECT_CORPUS), settings.chunk_size, settings.chunk_overlap)
    blob = json.dumps([c.to_dict() for c in chunks], ensure_ascii=False, sort_keys=True)
    assert len(chunks) == 122
    assert hashlib.sha256(blob.encode()).hexdigest() == "e5ca6e47eafb6705b911d2e574ff06a3981cb1f2e2f800464fd920569d2e274d"


def test_adding_a_document_leaves_the_text_files_passages_as_they_were(small_settings):
    corpus = small_settings.corpus_dir
    before = [c for c in chunk_documents(load_corpus(corpus))]
    add_source(corpus, FIXTURES / "suaps-artois.html", institution="Université d'Artois")
    after = chunk_documents(load_corpus(corpus))
    assert [c for c in after if c.source != "suaps-artois"] == before


def test_html_title_and_headings_become_title_and_sections_and_page_furniture_goes(small_settings):
    add_source(small_settings.corpus_dir, FIXTURES / "suaps-artois.html")
    chunks = [c for c in chunk_documents(load_corpus(small_settings.corpus_dir)) if c.source == "suaps-artois"]
    assert {c.title for c in chunks} == {"SUAPS — le service des sports de l'Université d'Artois"}
    assert {"S'inscrire au SUAPS", "Horaires du gymnase Jean Bosco"} <= {c.section for c in chunks}
    fee = next(c for c in chunks if c.section == "S'inscrire au SUAPS")
    # a paragraph's source line breaks are spaces, as in a browser
    assert "La carte sport coûte 20 € pour l'année universitaire" in fee.text
    text = "\n".join(c.text for c in chunks)
    for debris in ("Formation | Recherche", "Accueil ›", "Mentions légales", "analytics", "font-family",
                   "lettre d'information", "Se connecter"):
        assert debris not in text


def test_an_articles_own_header_is_content_the_pages_header_is_not(small_settings):
    add_source(small_settings.corpus_dir, "news.html", "<html><body><header>Menu Accueil Contact</header><article>"
               "<header><h2>Nouvelle salle de sport</h2><p>Publié le 3 mars 2026.</p></header>"
               "<p>La salle de musculation du campus ouvre le lundi 9 mars.</p></article>"
               "<footer>Mentions légales</footer></body></html>")
    chunks = [c for c in chunk_documents(load_corpus(small_settings.corpus_dir)) if c.source == "news"]
    assert [c.section for c in chunks] == ["Nouvelle salle de sport"]
    assert chunks[0].text.split() == "Publié le 3 mars 2026. La salle de musculation du campus ouvre le lundi 9 mars.".split()


def test_markdown_headings_become_sections(small_settings):
    add_source(small_settings.corpus_dir, "sport.md", "# Le sport à l'UPHF\n\nIntro du service des sports.\n\n"
               "## Inscription\n\nL'inscription se fait en ligne sur l'ENT, voir [le portail](https://ent.example).\n\n"
               "## Horaires\n\n- Lundi : de 12h à 14h pour le badminton.\n- Mardi : de 18h à 20h pour la natation.\n")
    chunks = [c for c in chunk_documents(load_corpus(small_settings.corpus_dir)) if c.source == "sport"]
    sections = {c.section: c.text for c in chunks}
    assert {c.title for c in chunks} == {"Le sport à l'UPHF"}
    assert "(https://ent.example)" in sections["Inscription"] and "#" not in sections["Inscription"]
    assert sections["Horaires"].split("\n") == ["Lundi : de 12h à 14h pour le badminton.", "Mardi : de 18h à 20h pour la natation."]


def test_pdf_text_is_read_per_page_and_the_citation_links_to_its_page(small_settings):
    add_source(small_settings.corpus_dir, FIXTURES / "sports-guide-artois.pdf", language="en",
               url="https://www.univ-artois.example/sports.pdf")
    chunks = [c for c in chunk_documents(load_corpus(small_settings.corpus_dir)) if c.source == "sports-guide-artois"]
    by_page = {c.url.rsplit("#page=", 1)[1]: c for c in chunks}
    assert set(by_page) == {"1", "2"}
    assert by_page["2"].section == "Opening hours and competitions"
    # visual lines joined back into sentences: "… from 9:00 to" / "13:00." is one sentence
    assert "on Saturday from 9:00 to 13:00." in by_page["2"].text
    assert by_page["1"].title == "Sports guide for international students"   # the PDF's own title


def test_a_pdf_that_is_not_a_pdf_is_a_clear_error(small_settings):
    add_source(small_settings.corpus_dir, "broken.pdf", b"%PDF-1.4 this is not really a PDF")
    with pytest.raises(CorpusError, match="broken.pdf is not a readable PDF"):
        load_corpus(small_settings.corpus_dir)


@pytest.mark.parametrize("change, words", [
    (lambda e: e.pop("checked_on"), "lacks checked_on"),
    (lambda e: e.update(checked_on="last week"), "checked_on"),
    (lambda e: e.update(language="French"), "language"),
    (lambda e: e.update(url="www.uphf.fr"), "url"),
    (lambda e: e.update(file="../secrets.txt"), "inside the corpus folder"),
])
def test_invalid_metadata_is_refused_with_the_field_named(small_settings, change, words):
    path = small_settings.corpus_dir / "sources.json"
    sources = json.loads(path.read_text(encoding="utf-8"))
    change(sources[1])
    path.write_text(json.dumps(sources), encoding="utf-8")
    with pytest.raises(CorpusError, match=f"source #2 \\(uphf-extra\\).*{words}"):
        load_corpus(small_settings.corpus_dir)


def test_the_project_metadata_is_valid_with_its_dates():
    from rag.corpus import read_sources

    sources = read_sources(PROJECT_CORPUS)
    assert len(sources) == 5 and all(s.checked_on.isoformat() == "2026-11-23" for s in sources)


ROOM_ROW = "Type de logement: Studio T1 | Loyer mensuel: 420 € | Dépôt: 300 €"


@pytest.mark.parametrize("name, text", [
    ("rents.html", "<html><body><main><h1>Logement</h1><p>Les loyers :</p><table>"
                   "<tr><th>Type de logement</th><th>Loyer mensuel</th><th>Dépôt</th></tr>"
                   "<tr><td>Chambre 9 m²</td><td>250 €</td><td>100 €</td></tr>"
                   "<tr><td>Studio T1</td><td>420 €</td><td>300 €</td></tr></table></main></body></html>"),
    ("rents.md", "# Logement\n\nLes loyers :\n\n| Type de logement | Loyer mensuel | Dépôt |\n|---|---|---|\n"
                 "| Chambre 9 m² | 250 € | 100 € |\n| Studio T1 | 420 € | 300 € |\n"),
    ("rents.txt", "Logement\nLes loyers :\nType de logement | Loyer mensuel | Dépôt\nChambre 9 m² | 250 € | 100 €\n"
                  "Studio T1 | 420 € | 300 €\n"),
])
def test_a_table_row_is_one_line_that_names_its_columns(small_settings, name, text):
    # A row quoted alone must say which figure is the rent; an HTML row's cells were glued ("Studio T1420 €").
    add_source(small_settings.corpus_dir, name, text)
    chunks = [c for c in chunk_documents(load_corpus(small_settings.corpus_dir)) if c.source == "rents"]
    lines = "\n".join(c.text for c in chunks).split("\n")
    assert ROOM_ROW in lines
    assert "Type de logement: Chambre 9 m² | Loyer mensuel: 250 € | Dépôt: 100 €" in lines
    assert not any("T1420" in line for line in lines)


def test_pipes_that_are_not_a_table_stay_as_written():
    from rag.corpus import pipe_tables

    menu = "Se loger | Se soigner | Banque\n\nLe Crous gère 30 résidences.\nA | 1\nB | 2"
    assert pipe_tables(menu) == menu
