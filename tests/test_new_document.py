"""A document added to corpus/ with its sources.json entry is answered from, with no code naming it: a
topic absent from the project's texts (the sports service, SUAPS) at an institution they never mention
(Université d'Artois), as a French HTML page and an English PDF."""

import shutil
from pathlib import Path

import pytest

from rag.settings import Settings

from conftest import PROJECT, KeywordEncoder
from test_corpus import FIXTURES, add_source

NEW = {"artois-suaps", "artois-sports-guide"}


def add_artois_documents(corpus: Path) -> None:
    add_source(corpus, FIXTURES / "suaps-artois.html", id="artois-suaps", title="SUAPS", institution="Université d'Artois",
               institution_aliases=["Artois"], url="https://www.univ-artois.example/suaps")
    add_source(corpus, FIXTURES / "sports-guide-artois.pdf", id="artois-sports-guide", title="Sports guide",
               institution="Université d'Artois", language="en", url="https://www.univ-artois.example/sports-guide.pdf")


def test_the_topic_is_absent_from_the_project_texts():
    text = "\n".join(p.read_text(encoding="utf-8") for p in (PROJECT / "corpus").glob("*.txt")).casefold()
    assert "suaps" not in text and "artois" not in text and "carte sport" not in text and "gymnase" not in text


def test_a_new_institution_is_named_and_routed_from_its_metadata(small_settings):
    from rag.answer import abstain
    from rag.assistant import Assistant
    from rag.index import build_index, load_index
    from rag.retrieval import named_institutions

    add_artois_documents(small_settings.corpus_dir)
    build_index(small_settings, embedder=KeywordEncoder())
    index = load_index(small_settings)
    assert named_institutions("Le SUAPS de l'université d'Artois ?", index.institutions) == {"Université d'Artois"}
    answer = Assistant(index, KeywordEncoder(), small_settings).ask("Horaires du gymnase de l'Artois ?")
    assert answer.citations[0].institution == "Université d'Artois"
    # With no `contact` in its entry, an abstention about it points to its link.
    refusal = abstain("Le parking de l'Université d'Artois est-il payant ?", "fr", 0.0, [], index)
    assert refusal.abstained and "https://www.univ-artois.example/suaps" in refusal.answer


@pytest.fixture(scope="module")
def artois_assistant(tmp_path_factory):
    """The project's corpus plus the two documents, indexed with the real default embedder. The project's
    vector cache, when there is one, is copied so that only the new passages are embedded."""
    from rag.assistant import Assistant
    from rag.index import build_index

    root = tmp_path_factory.mktemp("artois")
    corpus = root / "corpus"
    shutil.copytree(PROJECT / "corpus", corpus)
    add_artois_documents(corpus)
    if (PROJECT / "index" / "cache").is_dir():
        shutil.copytree(PROJECT / "index" / "cache", root / "index" / "cache")
    settings = Settings(corpus_dir=corpus, index_dir=root / "index", data_dir=root / "data")
    summary = build_index(settings)
    print(summary.line())
    return Assistant.load(settings=settings)


@pytest.mark.slow
@pytest.mark.parametrize("question, language", [
    ("How do I sign up for sports at the Université d'Artois?", "en"),
    ("When is the sports hall open?", "en"),
    ("Combien coûte la carte sport à l'Université d'Artois ?", "fr"),
    ("¿Qué deportes puedo practicar en la Universidad de Artois?", "es"),
    ("¿Cuánto cuesta la tarjeta deportiva?", "es"),
])
def test_questions_about_the_new_documents_are_answered_from_them(artois_assistant, question, language):
    answer = artois_assistant.ask(question)
    print(f"{question!r}: confidence {answer.confidence:.3f} (threshold {artois_assistant.threshold}), "
          f"cited {[c.source for c in answer.citations]}")
    assert not answer.abstained and answer.language == language
    assert answer.citations[0].source in NEW


@pytest.mark.slow
def test_the_pdf_is_cited_with_its_page(artois_assistant):
    answer = artois_assistant.ask("When is the sports hall open?")
    cited = answer.citations[0]
    assert cited.source == "artois-sports-guide" and cited.url.endswith("sports-guide.pdf#page=2")
    assert "12:00 to 21:00" in answer.answer.split("\n")[0]


@pytest.mark.slow
@pytest.mark.parametrize("question", ["How much does the bus from the station to the campus cost?",
                                      "Quel temps fera-t-il à Arras demain ?"])
def test_out_of_scope_questions_still_abstain(artois_assistant, question):
    answer = artois_assistant.ask(question)
    print(f"{question!r}: confidence {answer.confidence:.3f}")
    assert answer.abstained
