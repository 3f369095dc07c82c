import pytest

from rag.errors import IndexMismatchError, IndexMissingError
from rag.index import build_index, current_version, index_status, load_index

from conftest import KeywordEncoder


def counting_encoder(calls: list):
    """A keyword encoder that notes every passage it embeds in `calls`."""
    class Counting(KeywordEncoder):
        def encode_passages(self, texts):
            calls.extend(texts)
            return super().encode_passages(texts)

    return Counting


def test_built_index_loads_with_its_manifest(small_settings):
    summary = build_index(small_settings, embedder=KeywordEncoder())
    index = load_index(small_settings)
    assert summary.chunks == len(index.chunks) and index.dimension == 256
    assert index.manifest["embedder"] == "keyword-test" and index.manifest["corpus_fingerprint"]


def test_each_sentence_is_also_indexed_after_its_page_title(small_settings):
    build_index(small_settings, embedder=KeywordEncoder())
    index = load_index(small_settings)
    assert index.sentence_context_vectors.shape == index.sentence_vectors.shape
    chunk = index.chunks[0]
    assert chunk.in_context("Inscription avant le 15 juillet.").startswith(chunk.title)


def test_an_index_of_the_format_before_is_refused_and_rebuilt_by_the_server(small_settings):
    import json

    build_index(small_settings, embedder=KeywordEncoder())
    manifest = current_version(small_settings.index_dir) / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps(dict(data, format=1)), encoding="utf-8")   # before the sentences in context
    with pytest.raises(IndexMismatchError, match="format 1.*rebuild it"):
        load_index(small_settings)
    assert index_status(small_settings) == "stale"   # `rag serve` rebuilds a stale index before serving


def test_missing_index_says_what_to_run(small_settings):
    with pytest.raises(IndexMissingError, match="rag index"):
        load_index(small_settings)
    assert index_status(small_settings) == "missing"


def test_index_from_another_embedder_is_refused(small_settings):
    build_index(small_settings, embedder=KeywordEncoder())
    with pytest.raises(IndexMismatchError, match="built with embedder 'keyword-test'"):
        load_index(small_settings.replace(embedder="use-multilingual-v3"))


def test_index_of_a_changed_corpus_is_refused(small_settings):
    build_index(small_settings, embedder=KeywordEncoder())
    (small_settings.corpus_dir / "lille.txt").write_text("Changed.\n", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="corpus .* changed"):
        load_index(small_settings)
    assert index_status(small_settings) == "stale"


def test_truncated_index_file_is_refused(small_settings):
    build_index(small_settings, embedder=KeywordEncoder())
    path = current_version(small_settings.index_dir) / "chunks.faiss"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IndexMismatchError, match="damaged"):
        load_index(small_settings)


def test_corrupt_manifest_is_refused(small_settings):
    build_index(small_settings, embedder=KeywordEncoder())
    (current_version(small_settings.index_dir) / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="damaged"):
        load_index(small_settings)


def test_a_failed_build_leaves_the_good_index_in_place(small_settings):
    build_index(small_settings, embedder=KeywordEncoder())
    before = (current_version(small_settings.index_dir) / "manifest.json").read_bytes()

    class Broken(KeywordEncoder):
        name = "broken-test"   # not in the vector cache: it must really encode

        def encode_passages(self, texts):
            raise RuntimeError("out of memory halfway")

    with pytest.raises(RuntimeError):
        build_index(small_settings, embedder=Broken())
    assert (current_version(small_settings.index_dir) / "manifest.json").read_bytes() == before
    assert load_index(small_settings).chunks
    assert sorted(p.name for p in small_settings.index_dir.iterdir()) == [".CURRENT.lock", "CURRENT", "cache", current_version(small_settings.index_dir).name]


def _tree(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_that_is_not_an_index_is_never_overwritten(small_settings):
    from rag.errors import IndexTargetError

    target = small_settings.index_dir
    target.mkdir()
    (target / "thesis.docx").write_bytes(b"two years of work")
    (target / "notes").mkdir()
    (target / "notes" / "a.txt").write_text("keep me", encoding="utf-8")
    before = _tree(target)
    with pytest.raises(IndexTargetError, match="holds no index"):
        build_index(small_settings, embedder=KeywordEncoder())
    assert _tree(target) == before


def test_a_file_named_as_the_index_is_never_overwritten(small_settings):
    from rag.errors import IndexTargetError

    small_settings.index_dir.write_text("not a folder", encoding="utf-8")
    with pytest.raises(IndexTargetError, match="is a file"):
        build_index(small_settings, embedder=KeywordEncoder())
    assert small_settings.index_dir.read_text(encoding="utf-8") == "not a folder"


def test_the_corpus_folder_given_as_output_is_refused(small_settings):
    from rag.errors import IndexTargetError

    before = _tree(small_settings.corpus_dir)
    with pytest.raises(IndexTargetError):
        build_index(small_settings.replace(index_dir=small_settings.corpus_dir), embedder=KeywordEncoder())
    assert _tree(small_settings.corpus_dir) == before


def test_a_crash_at_the_switch_leaves_the_old_index_whole(small_settings, monkeypatch):
    import os

    build_index(small_settings, embedder=KeywordEncoder())
    old = current_version(small_settings.index_dir)
    real_replace = os.replace

    def crash(src, dst):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        build_index(small_settings, embedder=KeywordEncoder())
    monkeypatch.setattr(os, "replace", real_replace)
    assert current_version(small_settings.index_dir) == old
    assert load_index(small_settings).chunks


def test_a_crash_after_the_switch_leaves_the_new_index_whole(small_settings, monkeypatch):
    import rag.index as index_module

    build_index(small_settings, embedder=KeywordEncoder())
    old = current_version(small_settings.index_dir)
    monkeypatch.setattr(index_module.versions, "_remove_retired", lambda *a, **k: (_ for _ in ()).throw(OSError("killed")))
    with pytest.raises(OSError):
        build_index(small_settings, embedder=KeywordEncoder())
    assert current_version(small_settings.index_dir) != old
    assert load_index(small_settings).chunks
    monkeypatch.undo()
    build_index(small_settings, embedder=KeywordEncoder())   # the next build cleans what the crash left
    assert len([p for p in small_settings.index_dir.iterdir() if p.name.startswith("v-")]) == 1


def test_an_index_of_the_first_format_is_upgraded_without_touching_other_files(small_settings):
    build_index(small_settings, embedder=KeywordEncoder())
    version = current_version(small_settings.index_dir)
    for path in version.iterdir():   # the first format: files directly in the folder
        path.rename(small_settings.index_dir / path.name)
    version.rmdir()
    (small_settings.index_dir / "CURRENT").unlink()
    (small_settings.index_dir / "README.txt").write_text("mine", encoding="utf-8")
    assert load_index(small_settings).chunks          # still readable
    build_index(small_settings, embedder=KeywordEncoder())
    names = sorted(p.name for p in small_settings.index_dir.iterdir())
    assert names == [".CURRENT.lock", "CURRENT", "README.txt", "cache", current_version(small_settings.index_dir).name]


def test_two_builds_at_once_leave_one_whole_index(small_settings):
    """Two replicas starting on a stale index both build it: neither may delete the version the other
    switched to (the pointer would name a folder that is gone)."""
    import threading

    errors = []

    def build():
        try:
            for _ in range(4):
                build_index(small_settings, embedder=KeywordEncoder())
                assert load_index(small_settings).chunks
        except Exception as exc:   # noqa: BLE001 - the test reports any failure of either build
            errors.append(exc)

    builders = [threading.Thread(target=build) for _ in range(2)]
    for thread in builders:
        thread.start()
    for thread in builders:
        thread.join()
    assert errors == []
    assert load_index(small_settings).chunks
    assert len([p for p in small_settings.index_dir.iterdir() if p.name.startswith("v-")]) == 1


def test_non_finite_vectors_are_refused(small_settings):
    import numpy as np
    from rag.errors import IndexBuildError

    class NaNs(KeywordEncoder):
        name = "nan-test"

        def encode_passages(self, texts):
            vectors = super().encode_passages(texts)
            vectors[0, 0] = np.nan
            return vectors

    with pytest.raises(IndexBuildError, match="non-finite"):
        build_index(small_settings, embedder=NaNs())
    assert index_status(small_settings) == "missing"


def test_an_unchanged_corpus_is_not_embedded_again_and_a_changed_file_only_its_own(small_settings):
    calls = []
    Counting = counting_encoder(calls)

    first = build_index(small_settings, embedder=Counting())
    assert first.embedded == first.passages > 0
    assert first.line().startswith("indexed 5 documents:")   # no earlier index: nothing to compare with
    again = build_index(small_settings, embedder=Counting())
    assert again.embedded == 0 and "0 of" in again.line()
    assert again.line().startswith("indexed 5 documents (0 new or changed, 5 unchanged):")
    calls.clear()
    (small_settings.corpus_dir / "lille.txt").write_text(
        "The University of Lille opened an office in Belo Horizonte in Brazil in 2020.\n", encoding="utf-8")
    changed = build_index(small_settings, embedder=Counting())
    assert 0 < changed.embedded <= 3 and all("2020" in text or "Lille" in text for text in calls)
    assert changed.line().startswith("indexed 5 documents (1 new or changed, 4 unchanged):")
    assert load_index(small_settings).chunks


def test_a_new_pdf_document_embeds_only_its_own_passages(small_settings):
    from test_corpus import FIXTURES, add_source

    calls = []
    Counting = counting_encoder(calls)

    build_index(small_settings, embedder=Counting())
    calls.clear()
    add_source(small_settings.corpus_dir, FIXTURES / "sports-guide-artois.pdf", language="en")
    summary = build_index(small_settings, embedder=Counting())
    from rag.chunking import split_sentences

    own = [c for c in load_index(small_settings).chunks if c.source == "sports-guide-artois"]
    own_texts = ({c.embedding_text() for c in own} | {s for c in own for s in split_sentences(c.text)}
                 | {c.in_context(s) for c in own for s in split_sentences(c.text)})
    assert own and summary.embedded == len(calls) > 0
    assert set(calls) <= own_texts   # the new document's passages and sentences, nothing of the others
    assert "(1 new or changed, 5 unchanged)" in summary.line()


def test_only_version_folders_this_program_named_are_cleaned_up(small_settings):
    build_index(small_settings, embedder=KeywordEncoder())
    mine = small_settings.index_dir / "v-notes"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine", encoding="utf-8")
    build_index(small_settings, embedder=KeywordEncoder())
    assert (mine / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_a_sentence_close_to_every_passage_counts_as_a_hub():
    """A line near every passage (links, a banner) is near every question too: the answer-sentence model
    weighs a sentence's cosine against its hubness, so it does not lead answers it does not give."""
    import numpy as np

    from rag.chunking import Chunk
    from rag.index import Index

    rng = np.random.default_rng(0)
    passages = rng.normal(size=(30, 16))
    passages /= np.linalg.norm(passages, axis=1, keepdims=True)
    everywhere = passages.mean(axis=0) / np.linalg.norm(passages.mean(axis=0))
    sentences = np.vstack([everywhere, passages[0]])
    chunks = [Chunk(str(i), "s.md", "t", "", "text", "UPHF", "fr", "") for i in range(30)]
    index = Index(chunks, passages, ["hub", "own"], np.array([0, 0]), sentences,
                  {"models": [{"name": "m", "dimension": 16}]})
    hub, own = index.sentence_hubness["m"]
    assert hub > own
