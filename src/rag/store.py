"""What the web app keeps of an exchange, for staff review: SQLite in WAL mode, personal data masked.

Kept: the question with e-mail addresses and phone numbers masked, its language, the answer (quoted from
the corpus, so the offices' addresses stay readable), whether it abstained, the candidate passages and
their scores, feedback (comment masked) and staff verdicts, a random session id (masked too: a client may
send anything there) and the time. Not kept: IP addresses, user agents, names, the conversation history.
Rows older than `retention_days` are deleted at start and then on a timer (`purge`, called by the web app
every PURGE_EVERY_S), with secure_delete and a WAL checkpoint so that their text is gone from the files.

Storage is best effort for answers: `record` waits at most RECORD_BUSY_MS for a lock; a failed write is
counted (`failures`, `last_failure`) so that /healthz can say "degraded", and the caller still answers.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import sqlite3
import threading
import time
import unicodedata
import uuid
from pathlib import Path

import phonenumbers

log = logging.getLogger("rag.store")

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Safety net behind phonenumbers: long digit runs it does not know as a number (10+ digits, or + / 00).
_PHONE = re.compile(r"(?<!\w)(?:\+|00)?\d[\d .\-/()]{7,}\d(?!\w)")
_DIGITS = re.compile(r"\d")
PURGE_EVERY_S = 600     # the web app's retention timer: at start, then every 10 minutes
MIN_PHONE_DIGITS = 10   # French numbers have 10; a 9-digit code (Erasmus 999884537) is kept
MIN_NATIONAL_DIGITS = 9  # a number phonenumbers finds without + must have 9 digits: '2024-2025' is a year span
# Regions whose national formats are tried (FR first: most numbers students write are French ones);
# numbers written with + or 00 are recognised whatever the region.
PHONE_REGIONS = ("FR", "BE", "CH", "DE", "ES", "IT", "GB", "MA", "DZ", "TN", "SN", "CN", "IN", "BR", "US")
RECORD_BUSY_MS = 250    # an answer waits at most this long for the database lock (then it is sent unstored)
WRITE_BUSY_MS = 5000    # feedback and staff verdicts: worth waiting for, but never blocking a thread for long
DEGRADED_FOR_S = 60     # /healthz says "degraded" this long after the last failed write
MAX_SESSION_CHARS = 64

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
    """'write to jean.dupont@gmail.com or +33 6 12 34 56 78' -> 'write to [email] or [phone]'

    NFKC first: full-width ＠ becomes @, no-break and narrow no-break spaces become spaces, so
    'jean＠gmail.com' and '06 12 34 56 78' written with U+202F are masked like their plain forms."""
    text = unicodedata.normalize("NFKC", text)
    text = _EMAIL.sub("[email]", text)
    if len(_DIGITS.findall(text)) >= 6:   # most questions hold no number: skip the matcher's cost
        for region in PHONE_REGIONS:
            spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
                     if m.raw_string.startswith(("+", "00")) or len(_DIGITS.findall(m.raw_string)) >= MIN_NATIONAL_DIGITS]
            for start, end in reversed(spans):
                text = text[:start] + "[phone]" + text[end:]

    def phone(match: re.Match) -> str:
        number = match.group(0)
        international = number.startswith(("+", "00"))
        return "[phone]" if international or sum(ch.isdigit() for ch in number) >= MIN_PHONE_DIGITS else number

    return _PHONE.sub(phone, text)


def _private_file(path: Path) -> None:
    """Create `path` readable by its owner only (SQLite gives -wal and -shm the database file's mode)."""
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if p.exists():
            os.chmod(p, 0o600)   # also tightens a database made world-readable by an older version


def _inert_cell(value):
    """A CSV cell a spreadsheet shows as text: '=HYPERLINK(...)' or '+33...' would run as a formula."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


class ExchangeStore:
    def __init__(self, data_dir: Path, retention_days: int = 90) -> None:
        self.path = Path(data_dir) / "exchanges.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _private_file(self.path)
        self.retention_days = retention_days
        self.failures = 0                 # failed writes since start (answers sent without being stored)
        self.last_failure: float | None = None
        self._local = threading.local()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        self.purge()

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=WRITE_BUSY_MS / 1000, isolation_level=None)
            # WAL + NORMAL: a commit survives the app crashing; only a power cut can lose the last ones.
            db.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten with zeros, not left in free pages (retention, see purge()).
            db.execute("PRAGMA secure_delete=ON")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    def _write(self, sql: str, params: tuple, busy_ms: int) -> sqlite3.Cursor:
        """One statement that writes; a failure is counted (for /healthz) and raised as sqlite3.Error."""
        db = self._connect()
        try:
            db.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            return db.execute(sql, params)
        except sqlite3.Error:
            self.note_failure()
            raise

    def note_failure(self) -> None:
        self.failures += 1
        self.last_failure = time.time()

    @property
    def degraded(self) -> bool:
        return self.last_failure is not None and time.time() - self.last_failure < DEGRADED_FOR_S

    def purge(self) -> int:
        """Delete the rows older than the retention period; their text is then gone from the files:
        secure_delete zeroes it in the database, and a TRUNCATE checkpoint empties the WAL that held it."""
        cutoff = time.time() - self.retention_days * 86400
        deleted = self._write("DELETE FROM exchanges WHERE created_at < ?", (cutoff,), WRITE_BUSY_MS).rowcount
        if deleted:
            self.checkpoint()
        return deleted

    def checkpoint(self) -> None:
        self._connect().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    def record(self, session: str, answer_dict: dict) -> str:
        """Store one exchange; returns its id (what feedback refers to). Raises sqlite3.Error, after at most
        RECORD_BUSY_MS of waiting for a lock, when the database cannot be written."""
        exchange_id = uuid.uuid4().hex
        candidates = answer_dict.get("candidates") or []
        self._write(
            "INSERT INTO exchanges (id, session, created_at, question, language, answer, abstained, top_score, candidates) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (exchange_id, mask_personal_data(str(session))[:MAX_SESSION_CHARS], time.time(),
             mask_personal_data(answer_dict["question"]), answer_dict["language"],
             answer_dict["answer"], int(answer_dict["abstained"]), answer_dict.get("confidence"),
             json.dumps(candidates, ensure_ascii=False)), RECORD_BUSY_MS)
        return exchange_id

    def feedback(self, exchange_id: str, helpful: bool, comment: str = "") -> bool:
        cursor = self._write("UPDATE exchanges SET feedback = ?, comment = ? WHERE id = ?",
                             ("helpful" if helpful else "not helpful", mask_personal_data(comment or "")[:2000], exchange_id),
                             WRITE_BUSY_MS)
        return cursor.rowcount == 1

    def review(self, exchange_id: str, verdict: str, correction: str = "") -> bool:
        if verdict not in ("correct", "wrong"):
            raise ValueError(f"verdict must be 'correct' or 'wrong', not {verdict!r}")
        cursor = self._write("UPDATE exchanges SET verdict = ?, correction = ? WHERE id = ?",
                             (verdict, (correction or "")[:5000], exchange_id), WRITE_BUSY_MS)
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
            row = {**row, "created_at": time.strftime("%Y-%m-%d %H:%M", time.gmtime(row["created_at"]))}
            writer.writerow({k: _inert_cell(v) for k, v in row.items()})
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
