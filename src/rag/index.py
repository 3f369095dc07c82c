"""Stage 4: chunk and sentence vectors in FAISS, with a manifest, written atomically.

Layout of an index folder:
- `chunks.faiss`: one vector a chunk (inner product on unit vectors = cosine);
- `sentences.faiss`: one vector a sentence of a chunk, for sentence-level matching and answer extraction;
- `manifest.json`: format, embedder, dimension, corpus fingerprint, build time, file checksums, the chunk
  table and the sentence table (citations are look-ups into it).

A build is written to a sibling temporary folder and swapped in only when complete, so an interrupted
or failed build never replaces a good index.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .chunking import Chunk, chunk_documents, split_sentences
from .corpus import corpus_fingerprint, load_corpus
from .embedding import Embedder, make_embedder
from .errors import IndexMismatchError, IndexMissingError
from .settings import Settings

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK_VECTORS = "chunks.faiss"
SENTENCE_VECTORS = "sentences.faiss"


@dataclass
class Index:
    chunks: list[Chunk]
    chunk_vectors: np.ndarray          # (n_chunks, dim), unit rows
    sentences: list[str]
    sentence_chunk: np.ndarray         # (n_sentences,), chunk position of each sentence
    sentence_vectors: np.ndarray       # (n_sentences, dim), unit rows
    manifest: dict

    @property
    def dimension(self) -> int:
        return int(self.chunk_vectors.shape[1])

    @cached_property
    def chunk_sentences(self) -> list[np.ndarray]:
        """Rows of `sentences` belonging to each chunk, computed once instead of on every answer."""
        return [np.flatnonzero(self.sentence_chunk == position) for position in range(len(self.chunks))]


@dataclass(frozen=True)
class BuildSummary:
    documents: int
    chunks: int
    sentences: int
    dimension: int
    seconds: float

    def line(self) -> str:
        return (f"indexed {self.documents} documents: {self.chunks} chunks, {self.sentences} sentences, "
                f"{self.dimension} dimensions, {self.seconds:.1f} s")


def build_index(settings: Settings, embedder: Embedder | None = None, progress: bool = False) -> BuildSummary:
    started = time.perf_counter()
    fingerprint = corpus_fingerprint(settings.corpus_dir)
    documents = load_corpus(settings.corpus_dir)
    chunks = chunk_documents(documents, settings.chunk_size, settings.chunk_overlap)
    assert chunks, "the corpus produced no chunks"
    sentences, owners = [], []
    for position, chunk in enumerate(chunks):
        for sentence in split_sentences(chunk.text):
            sentences.append(sentence)
            owners.append(position)
    embedder = embedder or make_embedder(settings)
    chunk_vectors = _encode_with_progress(embedder, [c.embedding_text() for c in chunks], "chunks", progress)
    sentence_vectors = _encode_with_progress(embedder, sentences, "sentences", progress)
    manifest = {
        "format": FORMAT_VERSION,
        "embedder": embedder.name,
        "query_prefix": settings.query_prefix,
        "passage_prefix": settings.passage_prefix,
        "dimension": int(chunk_vectors.shape[1]),
        "corpus_fingerprint": fingerprint,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "documents": [d.id for d in documents],
        "chunks": [c.to_dict() for c in chunks],
        "sentences": [[int(o), s] for o, s in zip(owners, sentences)],
    }
    write_index(settings.index_dir, chunk_vectors, sentence_vectors, manifest)
    return BuildSummary(len(documents), len(chunks), len(sentences), int(chunk_vectors.shape[1]),
                        time.perf_counter() - started)


def _encode_with_progress(embedder: Embedder, texts: list[str], what: str, progress: bool) -> np.ndarray:
    from tqdm import tqdm

    batch = 64
    parts = []
    with tqdm(total=len(texts), desc=f"embedding {what}", unit=what[:-1], disable=not progress, leave=False) as bar:
        for start in range(0, len(texts), batch):
            parts.append(embedder.encode_passages(texts[start:start + batch]))
            bar.update(len(texts[start:start + batch]))
    return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


def write_index(index_dir: Path, chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, manifest: dict) -> None:
    """Write everything into a temporary sibling folder, then swap it in place of `index_dir`."""
    import faiss

    index_dir = Path(index_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.building-", dir=index_dir.parent))
    try:
        checksums = {}
        for name, vectors in ((CHUNK_VECTORS, chunk_vectors), (SENTENCE_VECTORS, sentence_vectors)):
            flat = faiss.IndexFlatIP(vectors.shape[1])
            flat.add(vectors)
            faiss.write_index(flat, str(staging / name))
            checksums[name] = _sha256(staging / name)
        manifest = dict(manifest, checksums=checksums)
        (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        for path in staging.iterdir():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        retired = index_dir.parent / f".{index_dir.name}.old-{os.getpid()}"
        if index_dir.exists():
            os.replace(index_dir, retired)
        os.replace(staging, index_dir)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load_index(settings: Settings, check_corpus: bool = True) -> Index:
    """The index in `settings.index_dir`, refused if missing, damaged or built from something else."""
    import faiss

    index_dir = Path(settings.index_dir)
    manifest_path = index_dir / MANIFEST
    if not manifest_path.exists():
        raise IndexMissingError(f"no index in {index_dir}: run `rag index --out {index_dir}` first")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        assert isinstance(manifest, dict)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AssertionError):
        raise IndexMismatchError(f"the index manifest {manifest_path} is damaged: rebuild it with `rag index --out {index_dir}`") from None
    check_manifest(manifest, settings, index_dir, check_corpus)
    vectors = {}
    for name in (CHUNK_VECTORS, SENTENCE_VECTORS):
        path = index_dir / name
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
    if len(chunks) != chunk_vectors.shape[0] or len(sentences) != vectors[SENTENCE_VECTORS][1].shape[0]:
        raise IndexMismatchError(f"the index in {index_dir} is inconsistent: rebuild it with `rag index --out {index_dir}`")
    return Index(chunks=chunks, chunk_vectors=chunk_vectors, sentences=sentences, sentence_chunk=owners,
                 sentence_vectors=vectors[SENTENCE_VECTORS][1], manifest=manifest)


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
        manifest = json.loads((Path(settings.index_dir) / MANIFEST).read_text(encoding="utf-8"))
        check_manifest(manifest, settings, settings.index_dir)
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError, IndexMismatchError):
        return "stale"
    return "ok"


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
