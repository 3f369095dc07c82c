import json

import pytest

from rag.errors import IndexMismatchError, IndexMissingError
from rag.index import build_index, index_status, load_index

from conftest import KeywordEncoder


def test_built_index_loads_with_its_manifest(small_settings):
    summary = build_index(small_settings, embedder=KeywordEncoder())
    index = load_index(small_settings)
    assert summary.chunks == len(index.chunks) and index.dimension == 256
    assert index.manifest["embedder"] == "keyword-test" and index.manifest["corpus_fingerprint"]


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
    path = small_settings.index_dir / "chunks.faiss"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IndexMismatchError, match="damaged"):
        load_index(small_settings)


def test_corrupt_manifest_is_refused(small_settings):
    build_index(small_settings, embedder=KeywordEncoder())
    (small_settings.index_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="damaged"):
        load_index(small_settings)


def test_a_failed_build_leaves_the_good_index_in_place(small_settings):
    build_index(small_settings, embedder=KeywordEncoder())
    before = (small_settings.index_dir / "manifest.json").read_bytes()

    class Broken(KeywordEncoder):
        def encode_passages(self, texts):
            raise RuntimeError("out of memory halfway")

    with pytest.raises(RuntimeError):
        build_index(small_settings, embedder=Broken())
    assert (small_settings.index_dir / "manifest.json").read_bytes() == before
    assert load_index(small_settings).chunks
    leftovers = [p.name for p in small_settings.index_dir.parent.iterdir() if "building" in p.name or ".old-" in p.name]
    assert leftovers == []
