"""Passage vectors cached by content hash, per model, so that an unchanged corpus rebuilds in seconds."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

CACHE = "cache"


EMBED_BATCH = 64   # e5 runs about ten times slower one passage at a time than in batches


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
