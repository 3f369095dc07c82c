from rag.chunking import chunk_documents, split_sentences
from rag.corpus import load_corpus


def test_pages_of_the_faq_become_chunks_titled_by_their_first_line(small_settings):
    chunks = chunk_documents(load_corpus(small_settings.corpus_dir))
    titles = {c.title for c in chunks if c.source == "uphf-faq"}
    assert {"Les aides financières", "Contact", "La mission handicap"} <= titles


def test_chunk_ids_are_stable_across_rebuilds(small_settings):
    first = [c.id for c in chunk_documents(load_corpus(small_settings.corpus_dir))]
    second = [c.id for c in chunk_documents(load_corpus(small_settings.corpus_dir))]
    assert first == second and len(set(first)) == len(first)


def test_long_sections_are_split_to_the_chunk_size(small_settings):
    long_text = small_settings.corpus_dir / "lille.txt"
    long_text.write_text("\n".join(f"Sentence number {i} about the University of Lille partnerships." for i in range(80)), encoding="utf-8")
    chunks = [c for c in chunk_documents(load_corpus(small_settings.corpus_dir), chunk_size=500, chunk_overlap=50) if c.source == "lille"]
    assert len(chunks) > 5 and all(len(c.text) <= 500 for c in chunks)


def test_sentences_follow_lines():
    assert split_sentences("Montant : 210€ par mois.\nPays du groupe 3 : Slovénie") == ["Montant : 210€ par mois.", "Pays du groupe 3 : Slovénie"]
