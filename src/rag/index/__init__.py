"""Stage 4: chunk and sentence vectors in FAISS, with a manifest; built, checked and loaded here, written
to disk by versions.py (one version folder beside the other, switched atomically), passage vectors cached by
content hash in cache.py."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..chunking import Chunk, chunk_documents, split_sentences
from ..corpus import corpus_fingerprint, document_hashes, institutions_of, load_corpus, read_sources
from ..embedding import Embedder, make_embedder, members, unit_rows
from ..errors import IndexMismatchError, IndexMissingError
from ..settings import Settings
from .cache import CACHE, VectorCache  # noqa: F401 (CACHE: the package's API)
from .versions import (CHUNK_VECTORS, MANIFEST, POINTER, SENTENCE_CONTEXT_VECTORS,  # noqa: F401 (POINTER: API)
                       SENTENCE_VECTORS, VECTOR_FILES, _sha256, check_index_target, current_version, write_index)

FORMAT_VERSION = 2   # 2: the sentences in context (SENTENCE_CONTEXT_VECTORS)
# How many closest passages measure a sentence's hubness: CSLS's k (Conneau et al. 2018, "Word translation
# without parallel data"); docs/figures.md has 5, 20 and 50 measured.
HUB_NEIGHBOURS = 10


@dataclass
class Index:
    chunks: list[Chunk]
    chunk_vectors: np.ndarray          # (n_chunks, dim), unit rows
    sentences: list[str]
    sentence_chunk: np.ndarray         # (n_sentences,), chunk position of each sentence
    sentence_vectors: np.ndarray       # (n_sentences, dim), unit rows
    manifest: dict
    # (n_sentences, dim): each sentence read after its passage's title and section (Chunk.in_context)
    sentence_context_vectors: np.ndarray | None = None

    @property
    def dimension(self) -> int:
        return int(self.chunk_vectors.shape[1])

    @cached_property
    def models(self) -> list[tuple[str, int, int]]:
        """(model name, first column, end column) of each model's part of the stored vectors."""
        spans, start = [], 0
        for model in self.manifest.get("models") or [{"name": self.manifest.get("embedder", "?"), "dimension": self.dimension}]:
            spans.append((str(model["name"]), start, start + int(model["dimension"])))
            start += int(model["dimension"])
        return spans

    def cosines(self, vectors: np.ndarray, query: np.ndarray, rows=slice(None)) -> dict[str, np.ndarray]:
        """Each model's cosine of `query` (a combined vector) with `vectors[rows]` (rows of the stored combined
        vectors): the inner product of its columns, times the number of models, since combined vectors are
        scaled by 1/sqrt(m) on both sides (embedding.CombinedEmbedder)."""
        scale = len(self.models)
        return {name: (vectors[rows, first:last] @ query[first:last]) * scale for name, first, last in self.models}

    @cached_property
    def sentence_hubness(self) -> dict[str, np.ndarray]:
        """Per model, each sentence's mean cosine with its HUB_NEIGHBOURS closest passages. A "hub", close to
        every passage (a line of links, a banner, a heading run into its paragraph), is close to every
        question too and would be quoted first for questions it does not answer; the answer-sentence model
        weighs its cosine against this, as CSLS does. Computed on load, so an added document counts at once."""
        k = HUB_NEIGHBOURS
        hubness = {}
        for name, first, last in self.models:
            sentences, chunks = unit_rows(self.sentence_vectors[:, first:last]), unit_rows(self.chunk_vectors[:, first:last])
            # in blocks: a large corpus's full sentence-by-passage matrix would not fit
            rows = [mean_of_largest(sentences[start:start + 1024] @ chunks.T, k) for start in range(0, len(sentences), 1024)]
            hubness[name] = np.concatenate(rows) if rows else np.zeros(0, dtype=np.float32)
        return hubness

    @cached_property
    def institutions(self) -> dict[str, re.Pattern]:
        """{institution: pattern of its names} from sources.json (its names and `institution_aliases`)."""
        from ..corpus.sources import institution_patterns

        return institution_patterns(self.institution_info)

    @cached_property
    def institution_info(self) -> dict[str, dict]:
        """{institution: {"aliases", "contact"}} as recorded from sources.json, in its order (an index without
        them knows each institution by its name, its office by its link)."""
        from ..corpus.sources import default_contact

        first_url = {c.institution: c.url for c in reversed(self.chunks)}
        return self.manifest.get("institutions") or {n: {"aliases": [], "contact": default_contact(n, first_url[n])}
                                                     for n in dict.fromkeys(c.institution for c in self.chunks)}

    @cached_property
    def languages(self) -> frozenset[str]:
        """The languages the texts are written in."""
        return frozenset(c.language for c in self.chunks)

    @cached_property
    def chunk_sentences(self) -> list[np.ndarray]:
        """Rows of `sentences` belonging to each chunk, computed once instead of on every answer."""
        return [np.flatnonzero(self.sentence_chunk == position) for position in range(len(self.chunks))]


def mean_of_largest(values: np.ndarray, k: int) -> np.ndarray:
    """The mean of the `k` largest values along the last axis (all of them when there are fewer)."""
    k = min(k, values.shape[-1])
    return np.partition(values, values.shape[-1] - k, axis=-1)[..., -k:].mean(axis=-1)


@dataclass(frozen=True)
class BuildSummary:
    documents: int
    chunks: int
    sentences: int
    dimension: int
    seconds: float
    embedded: int = 0      # passage vectors computed (the others came from the cache)
    passages: int = 0      # passage vectors needed, over every model
    changed: int | None = None   # documents new or changed since the index this build replaces (None: no index)

    def line(self) -> str:
        since = "" if self.changed is None else f" ({self.changed} new or changed, {self.documents - self.changed} unchanged)"
        return (f"indexed {self.documents} documents{since}: {self.chunks} chunks, {self.sentences} sentences, "
                f"{self.dimension} dimensions, {self.embedded} of {self.passages} passage vectors embedded "
                f"(the rest cached), {self.seconds:.1f} s")


def build_index(settings: Settings, embedder: Embedder | None = None, progress: bool = False) -> BuildSummary:
    started = time.perf_counter()
    check_index_target(settings.index_dir)   # before minutes of embedding, not after
    fingerprint = corpus_fingerprint(settings.corpus_dir)
    sources = read_sources(settings.corpus_dir)
    hashes = document_hashes(settings.corpus_dir, sources)
    previous = _previous_hashes(settings.index_dir)
    documents = load_corpus(settings.corpus_dir)
    chunks = chunk_documents(documents, settings.chunk_size, settings.chunk_overlap)
    assert chunks, "the corpus produced no chunks"
    sentences, owners = [], []
    for position, chunk in enumerate(chunks):
        for sentence in split_sentences(chunk.text):
            sentences.append(sentence)
            owners.append(position)
    embedder = embedder or make_embedder(settings)
    caches = [VectorCache(Path(settings.index_dir) / CACHE, model) for model in members(embedder)]
    chunk_parts = [cache.encode([c.embedding_text() for c in chunks], "chunks", progress) for cache in caches]
    sentence_parts = [cache.encode(sentences, "sentences", progress) for cache in caches]
    in_context = [chunks[owner].in_context(sentence) for owner, sentence in zip(owners, sentences)]
    context_parts = [cache.encode(in_context, "contexts", progress) for cache in caches]
    combine = getattr(embedder, "combine", lambda parts: parts[0])
    chunk_vectors, sentence_vectors = combine(chunk_parts), combine(sentence_parts)
    manifest = {
        "format": FORMAT_VERSION,
        "embedder": embedder.name,
        "models": [{"name": m.name, "dimension": int(part.shape[1]),
                    "query_prefix": getattr(m, "query_prefix", settings.query_prefix),
                    "passage_prefix": getattr(m, "passage_prefix", settings.passage_prefix)}
                   for m, part in zip(members(embedder), chunk_parts)],
        "query_prefix": settings.query_prefix,
        "passage_prefix": settings.passage_prefix,
        "dimension": int(chunk_vectors.shape[1]),
        "corpus_fingerprint": fingerprint,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "documents": [d.id for d in documents],
        "document_hashes": hashes,
        "institutions": institutions_of(sources),
        "chunks": [c.to_dict() for c in chunks],
        "sentences": [[int(o), s] for o, s in zip(owners, sentences)],
    }
    write_index(settings.index_dir, {CHUNK_VECTORS: chunk_vectors, SENTENCE_VECTORS: sentence_vectors,
                                     SENTENCE_CONTEXT_VECTORS: combine(context_parts)}, manifest)
    for cache in caches:
        cache.save()
    return BuildSummary(len(documents), len(chunks), len(sentences), int(chunk_vectors.shape[1]),
                        time.perf_counter() - started, embedded=sum(c.embedded for c in caches),
                        passages=len(caches) * len({c.embedding_text() for c in chunks} | {*sentences, *in_context}),
                        changed=None if previous is None else sum(previous.get(i) != h for i, h in hashes.items()))


def _previous_hashes(index_dir: Path) -> dict[str, str] | None:
    """Each document's hash in the index being replaced, or None if there is none (or it predates them)."""
    try:
        version = current_version(index_dir)
        manifest = json.loads((version / MANIFEST).read_text(encoding="utf-8")) if version else {}
    except (OSError, ValueError, IndexMismatchError):
        return None
    hashes = manifest.get("document_hashes") if isinstance(manifest, dict) else None
    return hashes if isinstance(hashes, dict) else None


def load_index(settings: Settings, check_corpus: bool = True) -> Index:
    """The index in `settings.index_dir`, refused if missing, damaged or built from something else."""
    import faiss

    index_dir = Path(settings.index_dir)
    version = current_version(index_dir)
    if version is None:
        raise IndexMissingError(f"no index in {index_dir}: run `rag index --out {index_dir}` first")
    manifest_path = version / MANIFEST
    if not manifest_path.exists():
        raise IndexMissingError(f"no index in {index_dir}: run `rag index --out {index_dir}` first")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        assert isinstance(manifest, dict)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AssertionError):
        raise IndexMismatchError(f"the index manifest {manifest_path} is damaged: rebuild it with `rag index --out {index_dir}`") from None
    check_manifest(manifest, settings, index_dir, check_corpus)
    vectors = {}
    for name in VECTOR_FILES:
        path = version / name
        if not path.exists() or _sha256(path) != manifest.get("checksums", {}).get(name):
            raise IndexMismatchError(f"the index file {path} is missing or damaged: rebuild it with `rag index --out {index_dir}`")
        try:
            flat = faiss.read_index(str(path))
        except RuntimeError:
            raise IndexMismatchError(f"the index file {path} is damaged: rebuild it with `rag index --out {index_dir}`") from None
        # Every chunk is scored (the fusion needs all dense scores), so the vectors are read out once and
        # scored with one matrix product: 127 x 512, well under a millisecond.
        vectors[name] = (flat, flat.reconstruct_n(0, flat.ntotal))
    try:
        chunks = [Chunk(**c) for c in manifest["chunks"]]
        owners = np.array([o for o, _ in manifest["sentences"]], dtype=np.int64)
        sentences = [s for _, s in manifest["sentences"]]
    except (KeyError, TypeError, ValueError):
        raise IndexMismatchError(f"the index manifest {manifest_path} is damaged: rebuild it with `rag index --out {index_dir}`") from None
    chunk_vectors = vectors[CHUNK_VECTORS][1]
    if len(chunks) != chunk_vectors.shape[0] or any(len(sentences) != vectors[name][1].shape[0]
                                                    for name in (SENTENCE_VECTORS, SENTENCE_CONTEXT_VECTORS)):
        raise IndexMismatchError(f"the index in {index_dir} is inconsistent: rebuild it with `rag index --out {index_dir}`")
    return Index(chunks=chunks, chunk_vectors=chunk_vectors, sentences=sentences, sentence_chunk=owners,
                 sentence_vectors=vectors[SENTENCE_VECTORS][1], manifest=manifest,
                 sentence_context_vectors=vectors[SENTENCE_CONTEXT_VECTORS][1])


def check_manifest(manifest: dict, settings: Settings, index_dir: Path, check_corpus: bool = True) -> None:
    rebuild = f"rebuild it with `rag index --out {index_dir} --embedder {settings.embedder}`"
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(f"the index in {index_dir} has format {manifest.get('format')!r}, this version reads {FORMAT_VERSION}: {rebuild}")
    if manifest.get("embedder") != settings.embedder:
        raise IndexMismatchError(
            f"the index in {index_dir} was built with embedder {manifest.get('embedder')!r}, not {settings.embedder!r}: "
            f"{rebuild}, or ask with --embedder {manifest.get('embedder')}")
    if check_corpus and manifest.get("corpus_fingerprint") != corpus_fingerprint(settings.corpus_dir):
        raise IndexMismatchError(f"the corpus in {settings.corpus_dir} changed since the index in {index_dir} was built: {rebuild}")


def index_status(settings: Settings) -> str:
    """'ok', 'missing' or 'stale': what `rag serve` checks before deciding to rebuild."""
    try:
        version = current_version(settings.index_dir)
        if version is None:
            return "missing"
        manifest = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
        check_manifest(manifest, settings, settings.index_dir)
    except FileNotFoundError:
        return "stale"
    except (OSError, ValueError, IndexMismatchError):
        return "stale"
    return "ok"
