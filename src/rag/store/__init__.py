"""What the web app keeps of an exchange, for staff review, personal data masked: an embedded SQLite file
(the default) or a shared PostgreSQL database (RAG_DATABASE_URL=postgresql://..., docs/storage.md).

Kept: the question with e-mail addresses and phone numbers masked, the student's previous questions in the
same conversation (at most HISTORY_KEPT, masked the same way: a follow-up such as "and for Mermoz?" means
nothing without them, and the staff export replays them), its language, the answer and its quotes (from the
corpus, so the offices' addresses stay readable), whether it abstained, the candidate passages and their
scores, feedback (comment masked) and staff verdicts, a random session id (masked too: a client may send
anything there) and the time. Not kept: IP addresses, user agents, names, the assistant's earlier answers.
Rows older than `retention_days` are deleted, previous questions included, at start and then on a timer
(`purge`, called by the web app every PURGE_EVERY_S). SQLite: with secure_delete and a WAL checkpoint so
that their text is gone from the files, which are readable by their owner only (0600).

Storage is best effort for answers: `record` waits at most RECORD_BUSY_MS for a lock; a failed write is
counted (`failures`, `last_failure`) so that /healthz can say "degraded", and the caller still answers.
Every failure is raised as StoreError (for SQLite also a sqlite3.Error).

Modules: masking (what is masked), base (the backend-neutral API, the staff filters, CSV export), sqlite,
postgres, evalexport (reviewed exchanges as evaluation lines).
"""

from __future__ import annotations

from pathlib import Path

from .base import (DEGRADED_FOR_S, HISTORY_KEPT, PURGE_EVERY_S, RECORD_BUSY_MS, WRITE_BUSY_MS, BaseExchangeStore,
                   Filters, StoreError)
from .masking import inert_cell, mask_personal_data
from .sqlite import SQLiteExchangeStore

# The name the rest of the code and older scripts know: the embedded store under a data folder.
ExchangeStore = SQLiteExchangeStore
_inert_cell = inert_cell   # the old private name

__all__ = ["open_store", "ExchangeStore", "BaseExchangeStore", "SQLiteExchangeStore", "Filters", "StoreError",
           "mask_personal_data", "inert_cell", "PURGE_EVERY_S", "RECORD_BUSY_MS", "WRITE_BUSY_MS", "DEGRADED_FOR_S",
           "HISTORY_KEPT"]


def open_store(data_dir: Path, retention_days: int = 90, database_url: str = "") -> BaseExchangeStore:
    """The store `database_url` names: '' (or sqlite:) is the embedded file under `data_dir`;
    postgresql://... (or postgres://...) a shared PostgreSQL database."""
    url = (database_url or "").strip()
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresExchangeStore

        return PostgresExchangeStore(url, retention_days)
    if url in ("", "sqlite:", "sqlite://"):
        return SQLiteExchangeStore(data_dir, retention_days)
    raise StoreError("RAG_DATABASE_URL must be empty (SQLite under RAG_DATA_DIR) or start with postgresql://, "
                     f"not {url.split(':', 1)[0]!r}...")
