"""Stage 4: chunk and sentence vectors in FAISS, with a manifest, written atomically.

Layout of an index folder (`index/`):
- `CURRENT`: one line naming the complete version in use, e.g. `v-20261127T170312-4f1a`;
- `v-…/chunks.faiss`: one vector a chunk (inner product on unit vectors = cosine);
- `v-…/sentences.faiss`: one vector a sentence of a chunk, for sentence-level matching and answer extraction;
- `v-…/manifest.json`: format, embedder, dimension, corpus fingerprint, build time, file checksums, the chunk
  table and the sentence table (citations are look-ups into it).

A build writes a new version folder beside the current one and then switches `CURRENT` with a single
rename: a crash at any instant leaves the old index or the new one, never none. Only a folder that is
empty or already holds this project's index is ever written to; anything else is refused, and only the
version folders this program wrote are deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .chunking import Chunk, chunk_documents, split_sentences
from .corpus import corpus_fingerprint, document_hashes, institutions_of, load_corpus, read_sources
from .embedding import Embedder, make_embedder, members
from .errors import IndexBuildError, IndexMismatchError, IndexMissingError, IndexTargetError
from .settings import Settings

FORMAT_VERSION = 1
POINTER = "CURRENT"
LOCK = f".{POINTER}.lock"   # held by a build from its new version folder to the clean-up after the switch
VERSION_PREFIX = "v-"
# What write_index names a version folder (prefix, UTC stamp, tempfile's suffix): only such folders are
# ever deleted, so a user's own "v-notes" folder beside an index is left alone.
_VERSION_NAME = re.compile(r"v-\d{8}T\d{6}-[A-Za-z0-9_]+")
MANIFEST = "manifest.json"
CACHE = "cache"
EMBED_BATCH = 64   # e5 runs about ten times slower one passage at a time than in batches
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
    def models(self) -> list[tuple[str, int, int]]:
        """(model name, first column, end column) of each model's part of the stored vectors."""
        spans, start = [], 0
        for model in self.manifest.get("models") or [{"name": self.manifest.get("embedder", "?"), "dimension": self.dimension}]:
            spans.append((str(model["name"]), start, start + int(model["dimension"])))
            start += int(model["dimension"])
        return spans

    @cached_property
    def institutions(self) -> dict[str, re.Pattern]:
        """{institution: pattern of its names} from sources.json (its names and `institution_aliases`)."""
        from .corpus.sources import institution_patterns

        return institution_patterns(self.institution_info)

    @cached_property
    def institution_info(self) -> dict[str, dict]:
        """{institution: {"aliases", "contact"}} as recorded from sources.json, in its order (an index without
        them knows each institution by its name, its office by its link)."""
        from .corpus.sources import default_contact

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
    write_index(settings.index_dir, chunk_vectors, sentence_vectors, manifest)
    for cache in caches:
        cache.save()
    return BuildSummary(len(documents), len(chunks), len(sentences), int(chunk_vectors.shape[1]),
                        time.perf_counter() - started, embedded=sum(c.embedded for c in caches),
                        passages=len(caches) * (len(chunks) + len(sentences)),
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


class VectorCache:
    """Passage vectors of one model by content hash (`index/cache/<model>.npz`), so that rebuilding an unchanged
    corpus embeds nothing and a changed document re-embeds only its own passages. Saved holding only what
    the last build used, so it never grows past one corpus."""

    def __init__(self, folder: Path, model) -> None:
        self.model = model
        self.path = Path(folder) / (re.sub(r"[^A-Za-z0-9._-]+", "_", model.name) + ".npz")
        self.vectors: dict[bytes, np.ndarray] = {}
        self.used: set[bytes] = set()
        self.embedded = 0
        try:
            with np.load(self.path) as data:
                self.vectors = dict(zip(data["keys"].tolist(), data["vectors"]))
        except (OSError, ValueError, KeyError):
            pass   # no cache yet, or an unreadable one: everything is embedded again

    def key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.model.name}\x00{getattr(self.model, 'passage_prefix', '')}\x00{text}".encode()).hexdigest().encode()

    def encode(self, texts: list[str], what: str, progress: bool) -> np.ndarray:
        from tqdm import tqdm

        keys = [self.key(t) for t in texts]
        self.used.update(keys)
        missing = list(dict.fromkeys(k_t for k_t in zip(keys, texts) if k_t[0] not in self.vectors))
        with tqdm(total=len(missing), desc=f"{self.model.name}: {what}", unit=what[:-1], disable=not progress,
                  leave=False) as bar:
            for start in range(0, len(missing), EMBED_BATCH):
                batch = missing[start:start + EMBED_BATCH]
                vectors = self.model.encode_passages([t for _, t in batch])
                for (k, _), v in zip(batch, vectors):
                    self.vectors[k] = v
                bar.update(len(batch))
        self.embedded += len(missing)
        return np.ascontiguousarray(np.vstack([self.vectors[k] for k in keys]), dtype=np.float32)

    def save(self) -> None:
        keys = sorted(self.used)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(staging, "wb") as handle:
            np.savez(handle, keys=np.array(keys, dtype="S64"), vectors=np.vstack([self.vectors[k] for k in keys]))
        os.replace(staging, self.path)


def check_index_target(index_dir: Path) -> None:
    """Refuse to write an index where something else lives: `rag index --out ~/Documents` must not touch it."""
    index_dir = Path(index_dir)
    if not index_dir.exists() and not index_dir.is_symlink():
        return
    if not index_dir.is_dir():
        raise IndexTargetError(f"{index_dir} is a file, not an index folder: choose another --out (nothing was changed)")
    if (index_dir / POINTER).is_file():
        return
    if all(_is_ours(path) for path in index_dir.iterdir()):
        return   # empty, or only what an interrupted build of ours left (the cache, a version folder)
    if _is_legacy_index(index_dir):
        return
    raise IndexTargetError(f"{index_dir} is not empty and holds no index of this program: choose an empty or new "
                           f"folder for --out (nothing was changed)")


def _is_ours(path: Path) -> bool:
    return (path.name == CACHE and path.is_dir()) or (_is_version(path)) or path.name == LOCK or \
        (path.name.startswith(f".{POINTER}.") and path.name.endswith(".tmp"))


def _is_version(path: Path) -> bool:
    return bool(_VERSION_NAME.fullmatch(path.name)) and path.is_dir() and not path.is_symlink()


def _is_legacy_index(index_dir: Path) -> bool:
    """An index of the first format, files directly in the folder: upgraded in place, its own files only."""
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "corpus_fingerprint" in manifest and "chunks" in manifest


def current_version(index_dir: Path) -> Path | None:
    """The folder holding the index in use, or None. A pointer naming anything but a version folder of
    this index is treated as damage, never followed."""
    index_dir = Path(index_dir)
    try:
        name = (index_dir / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return index_dir if _is_legacy_index(index_dir) else None
    except (OSError, UnicodeDecodeError):
        raise IndexMismatchError(f"the index pointer {index_dir / POINTER} is unreadable: rebuild it with "
                                 f"`rag index --out {index_dir}`") from None
    if not _VERSION_NAME.fullmatch(name):
        raise IndexMismatchError(f"the index pointer {index_dir / POINTER} is damaged: rebuild it with `rag index --out {index_dir}`")
    return index_dir / name


def write_index(index_dir: Path, chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, manifest: dict) -> Path:
    """Write a new version folder inside `index_dir`, then point `CURRENT` at it with one atomic rename."""
    index_dir = Path(index_dir)
    check_index_target(index_dir)
    for name, vectors in (("chunk", chunk_vectors), ("sentence", sentence_vectors)):
        if not np.isfinite(vectors).all():
            raise IndexBuildError(f"the embedder returned non-finite {name} vectors: the index was not written")
    index_dir.mkdir(parents=True, exist_ok=True)
    with _one_writer(index_dir):
        return _write_version(index_dir, chunk_vectors, sentence_vectors, manifest)


@contextmanager
def _one_writer(index_dir: Path):
    """One build at a time writes, switches and cleans up: two replicas starting on a stale index build at
    once, and the first one's clean-up would delete the other's new version, even after the pointer named it."""
    import fcntl

    with open(index_dir / LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)   # released when the file is closed, also if the process dies
        yield


def _write_version(index_dir: Path, chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, manifest: dict) -> Path:
    import faiss

    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    staging = Path(tempfile.mkdtemp(prefix=f"{VERSION_PREFIX}{stamp}-", dir=index_dir))
    try:
        checksums = {}
        for name, vectors in ((CHUNK_VECTORS, chunk_vectors), (SENTENCE_VECTORS, sentence_vectors)):
            flat = faiss.IndexFlatIP(vectors.shape[1])
            flat.add(vectors)
            faiss.write_index(flat, str(staging / name))
            checksums[name] = _sha256(staging / name)
        manifest = dict(manifest, checksums=checksums, version=staging.name)
        (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        for path in staging.iterdir():
            _fsync(path)
        _fsync(staging)
        pointer = index_dir / f".{POINTER}.{os.getpid()}.tmp"
        pointer.write_text(staging.name + "\n", encoding="utf-8")
        _fsync(pointer)
        os.replace(pointer, index_dir / POINTER)   # the one step that switches versions
        _fsync(index_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_retired(index_dir, keep=staging.name)
    return staging


def _remove_retired(index_dir: Path, keep: str) -> None:
    """Delete what earlier builds of this program wrote: other version folders, stray pointer files and the
    first format's three files. Nothing else in the folder is touched."""
    for path in index_dir.iterdir():
        if path.name == keep:
            continue
        if _is_version(path):
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.name.startswith(f".{POINTER}.") and path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)
    if (index_dir / MANIFEST).is_file():   # first-format files, superseded by the version folder
        for name in (MANIFEST, CHUNK_VECTORS, SENTENCE_VECTORS):
            (index_dir / name).unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    for name in (CHUNK_VECTORS, SENTENCE_VECTORS):
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


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
