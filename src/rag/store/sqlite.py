"""The embedded backend: one SQLite file under data_dir, WAL mode, readable by its owner only."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from .base import SCHEMA_TEMPLATE, WRITE_BUSY_MS, BaseExchangeStore, StoreError

SCHEMA = SCHEMA_TEMPLATE.format(real="REAL") + ";"
# Columns added after the first release: a database made by an older version gains them at start.
ADDED_COLUMNS = {"history": "TEXT NOT NULL DEFAULT '[]'", "quotes": "TEXT NOT NULL DEFAULT '[]'"}


class SQLiteError(StoreError, sqlite3.Error):
    """A StoreError that is also the sqlite3.Error it wraps (callers written for the old store catch that)."""


def _private_file(path: Path) -> None:
    """Create `path` readable by its owner only (SQLite gives -wal and -shm the database file's mode)."""
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if p.exists():
            os.chmod(p, 0o600)   # also tightens a database made world-readable by an older version


def _fold(text):
    # SQLite's LOWER folds ASCII only: 'É' must match 'é' in the staff search as it does in PostgreSQL.
    return text.lower() if isinstance(text, str) else text


class SQLiteExchangeStore(BaseExchangeStore):
    lower = "py_lower"

    def __init__(self, data_dir: Path, retention_days: int = 90) -> None:
        super().__init__(retention_days)
        self.path = Path(data_dir) / "exchanges.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _private_file(self.path)
        self._local = threading.local()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            present = {row["name"] for row in db.execute("PRAGMA table_info(exchanges)")}
            for name, kind in ADDED_COLUMNS.items():
                if name not in present:
                    db.execute(f"ALTER TABLE exchanges ADD COLUMN {name} {kind}")
        self.purge()

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=WRITE_BUSY_MS / 1000, isolation_level=None)
            # WAL + NORMAL: a commit survives the app crashing; only a power cut can lose the last ones.
            db.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten with zeros, not left in free pages (retention, see purge()).
            db.execute("PRAGMA secure_delete=ON")
            db.create_function("py_lower", 1, _fold, deterministic=True)
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    def _write(self, sql: str, params: tuple, busy_ms: int) -> int:
        db = self._connect()
        try:
            db.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            return db.execute(sql, params).rowcount
        except sqlite3.Error as exc:
            self.note_failure()
            raise SQLiteError(str(exc)) from exc

    def _read(self, sql: str, params: tuple) -> list[dict]:
        try:
            return [dict(row) for row in self._connect().execute(sql, params).fetchall()]
        except sqlite3.Error as exc:
            raise SQLiteError(str(exc)) from exc

    def purge(self) -> int:
        """As BaseExchangeStore.purge; the text is then gone from the files too: secure_delete zeroes it in
        the database, and a TRUNCATE checkpoint empties the WAL that held it."""
        deleted = super().purge()
        if deleted:
            self.checkpoint()
        return deleted

    def checkpoint(self) -> None:
        self._connect().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
