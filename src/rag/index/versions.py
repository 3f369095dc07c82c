"""An index folder on disk: versions written beside each other, `CURRENT` switched by one rename.

Layout of an index folder (`index/`):
- `CURRENT`: one line naming the complete version in use, e.g. `v-20261127T170312-4f1a`;
- `v-…/chunks.faiss`: one vector a chunk (inner product on unit vectors = cosine);
- `v-…/sentences.faiss`: one vector a sentence of a chunk, for sentence-level matching and answer extraction;
- `v-…/sentences_in_context.faiss`: one vector a sentence read after its page title and section (which line
  answers: a bare list item carries its topic);
- `v-…/manifest.json`: format, embedder, dimension, corpus fingerprint, build time, file checksums, the chunk
  table and the sentence table (citations are look-ups into it);
- `.CURRENT.lock`: held by a build while it writes, switches and cleans up (one build at a time);
- `cache/`: passage vectors by content hash (cache.py).

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
from pathlib import Path

import numpy as np

from ..errors import IndexBuildError, IndexMismatchError, IndexTargetError
from .cache import CACHE

POINTER = "CURRENT"


LOCK = f".{POINTER}.lock"   # held by a build from its new version folder to the clean-up after the switch


VERSION_PREFIX = "v-"


# What write_index names a version folder (prefix, UTC stamp, tempfile's suffix): only such folders are
# ever deleted, so a user's own "v-notes" folder beside an index is left alone.
_VERSION_NAME = re.compile(r"v-\d{8}T\d{6}-[A-Za-z0-9_]+")


MANIFEST = "manifest.json"


CHUNK_VECTORS = "chunks.faiss"


SENTENCE_VECTORS = "sentences.faiss"


SENTENCE_CONTEXT_VECTORS = "sentences_in_context.faiss"


VECTOR_FILES = (CHUNK_VECTORS, SENTENCE_VECTORS, SENTENCE_CONTEXT_VECTORS)


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


def write_index(index_dir: Path, vectors: dict[str, np.ndarray], manifest: dict) -> Path:
    """Write a new version folder inside `index_dir` holding `vectors` ({file name: rows}, VECTOR_FILES),
    then point `CURRENT` at it with one atomic rename."""
    index_dir = Path(index_dir)
    check_index_target(index_dir)
    for name, rows in vectors.items():
        if not np.isfinite(rows).all():
            raise IndexBuildError(f"the embedder returned non-finite vectors for {name}: the index was not written")
    index_dir.mkdir(parents=True, exist_ok=True)
    with _one_writer(index_dir):
        return _write_version(index_dir, vectors, manifest)


@contextmanager
def _one_writer(index_dir: Path):
    """One build at a time writes, switches and cleans up: two replicas starting on a stale index build at
    once, and the first one's clean-up would delete the other's new version, even after the pointer named it."""
    import fcntl

    with open(index_dir / LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)   # released when the file is closed, also if the process dies
        yield


def _write_version(index_dir: Path, vectors: dict[str, np.ndarray], manifest: dict) -> Path:
    import faiss

    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    staging = Path(tempfile.mkdtemp(prefix=f"{VERSION_PREFIX}{stamp}-", dir=index_dir))
    try:
        checksums = {}
        for name, rows in vectors.items():
            flat = faiss.IndexFlatIP(rows.shape[1])
            flat.add(rows)
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
        for name in (MANIFEST, *VECTOR_FILES):
            (index_dir / name).unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
