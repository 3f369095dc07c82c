"""What the web app keeps of an exchange, for staff review: SQLite in WAL mode, personal data masked.

Kept: the question with e-mail addresses and phone numbers masked, its language, the answer (quoted from
the corpus, so the offices' addresses stay readable), whether it
abstained, the candidate passages and their scores, feedback and staff verdicts, a random session id
and the time. Not kept: IP addresses, user agents, names. Rows older than `retention_days` are deleted
on start and then at most once a minute, on a write.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import threading
import time
import uuid
from pathlib import Path

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)(?:\+|00)?\d[\d .\-/()]{7,}\d(?!\w)")
PURGE_EVERY_S = 60       # expired rows are deleted on start and at most once a minute while writing
MIN_PHONE_DIGITS = 10  # French numbers have 10; a 9-digit code (Erasmus 999884537) is kept

SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (
    id TEXT PRIMARY KEY,
    session TEXT NOT NULL,
    created_at REAL NOT NULL,
    question TEXT NOT NULL,
    language TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    top_score REAL,
    candidates TEXT NOT NULL,
    feedback TEXT,
    comment TEXT,
    verdict TEXT,
    correction TEXT
);
CREATE INDEX IF NOT EXISTS exchanges_created ON exchanges(created_at);
"""


def mask_personal_data(text: str) -> str:
    """'write to jean.dupont@gmail.com or +33 6 12 34 56 78' -> 'write to [email] or [phone]'"""
    def phone(match: re.Match) -> str:
        number = match.group(0)
        international = number.startswith(("+", "00"))
        return "[phone]" if international or sum(ch.isdigit() for ch in number) >= MIN_PHONE_DIGITS else number

    return _PHONE.sub(phone, _EMAIL.sub("[email]", text))


class ExchangeStore:
    def __init__(self, data_dir: Path, retention_days: int = 90) -> None:
        self.path = Path(data_dir) / "exchanges.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention_days = retention_days
        self._local = threading.local()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        self.purge()

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA busy_timeout=30000")
            # WAL + NORMAL: a commit survives the app crashing; only a power cut can lose the last ones.
            db.execute("PRAGMA synchronous=NORMAL")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    def purge(self) -> int:
        self._last_purge = time.monotonic()
        cutoff = time.time() - self.retention_days * 86400
        return self._connect().execute("DELETE FROM exchanges WHERE created_at < ?", (cutoff,)).rowcount

    def record(self, session: str, answer_dict: dict) -> str:
        """Store one exchange; returns its id (what feedback refers to)."""
        exchange_id = uuid.uuid4().hex
        candidates = answer_dict.get("candidates") or []
        self._connect().execute(
            "INSERT INTO exchanges (id, session, created_at, question, language, answer, abstained, top_score, candidates) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (exchange_id, session, time.time(), mask_personal_data(answer_dict["question"]), answer_dict["language"],
             answer_dict["answer"], int(answer_dict["abstained"]), answer_dict.get("confidence"),
             json.dumps(candidates, ensure_ascii=False)))
        if time.monotonic() - self._last_purge > PURGE_EVERY_S:
            self.purge()
        return exchange_id

    def feedback(self, exchange_id: str, helpful: bool, comment: str = "") -> bool:
        cursor = self._connect().execute("UPDATE exchanges SET feedback = ?, comment = ? WHERE id = ?",
                                         ("helpful" if helpful else "not helpful", mask_personal_data(comment or "")[:2000], exchange_id))
        return cursor.rowcount == 1

    def review(self, exchange_id: str, verdict: str, correction: str = "") -> bool:
        if verdict not in ("correct", "wrong"):
            raise ValueError(f"verdict must be 'correct' or 'wrong', not {verdict!r}")
        cursor = self._connect().execute("UPDATE exchanges SET verdict = ?, correction = ? WHERE id = ?",
                                         (verdict, (correction or "")[:5000], exchange_id))
        return cursor.rowcount == 1

    def recent(self, limit: int = 200, abstained: bool | None = None, not_helpful: bool = False,
               language: str | None = None) -> list[dict]:
        where, params = [], []
        if abstained is not None:
            where.append("abstained = ?")
            params.append(int(abstained))
        if not_helpful:
            where.append("feedback = 'not helpful'")
        if language:
            where.append("language = ?")
            params.append(language)
        sql = "SELECT * FROM exchanges" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created_at DESC LIMIT ?"
        rows = self._connect().execute(sql, (*params, limit)).fetchall()
        return [dict(row) | {"candidates": json.loads(row["candidates"])} for row in rows]

    def to_csv(self, rows: list[dict]) -> str:
        out = io.StringIO()
        fields = ["id", "created_at", "language", "question", "answer", "abstained", "top_score", "feedback", "comment", "verdict", "correction"]
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "created_at": time.strftime("%Y-%m-%d %H:%M", time.gmtime(row["created_at"]))})
        return out.getvalue()

    def to_eval_jsonl(self) -> str:
        """Reviewed exchanges in the evaluation set's format: wrong ones with a correction become answerable
        items whose needle is the correction; correct abstentions become unanswerable items."""
        lines = []
        for row in self._connect().execute("SELECT * FROM exchanges WHERE verdict IS NOT NULL ORDER BY created_at"):
            correction = (row["correction"] or "").strip()
            if row["verdict"] == "wrong" and correction:
                item = {"answerable": True, "needles": [correction]}
            elif row["verdict"] == "correct" and row["abstained"]:
                item = {"answerable": False, "needles": []}
            else:
                continue
            lines.append(json.dumps({"id": f"staff-{row['id'][:8]}", "question": row["question"], "lang": row["language"],
                                     **item, "split": "dev"}, ensure_ascii=False))
        return "\n".join(lines) + ("\n" if lines else "")
