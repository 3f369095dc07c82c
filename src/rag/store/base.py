"""What both backends share: the row's fields, the staff filters as SQL, writes counted for /healthz,
CSV export. A backend supplies `_write` (one statement, bounded wait) and `_read` (rows as dicts)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
import uuid
from typing import Annotated, Iterator, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .masking import inert_cell, mask_personal_data

PURGE_EVERY_S = 600     # the web app's retention timer: at start, then every 10 minutes
RECORD_BUSY_MS = 250    # an answer waits at most this long for the database (then it is sent unstored)
WRITE_BUSY_MS = 5000    # feedback and staff verdicts: worth waiting for, but never blocking a thread for long
DEGRADED_FOR_S = 60     # /healthz says "degraded" this long after the last failed write
MAX_SESSION_CHARS = 64
HISTORY_KEPT = 2        # previous questions kept with an exchange: the assistant reads the last one only
EXPORT_BATCH = 500      # rows per query while streaming an export
CSV_FIELDS = ["id", "created_at", "language", "question", "history", "answer", "abstained", "top_score", "feedback",
              "comment", "verdict", "correction"]
VERDICTS = ("correct", "wrong")



# The one table, in the SQL both backends speak; {real} is each one's floating-point type.
SCHEMA_TEMPLATE = """
CREATE TABLE IF NOT EXISTS exchanges (
    id TEXT PRIMARY KEY,
    session TEXT NOT NULL,
    created_at {real} NOT NULL,
    question TEXT NOT NULL,
    language TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    top_score {real},
    candidates TEXT NOT NULL,
    feedback TEXT,
    comment TEXT,
    verdict TEXT,
    correction TEXT,
    history TEXT NOT NULL DEFAULT '[]',
    quotes TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS exchanges_created ON exchanges(created_at)
"""

class StoreError(Exception):
    """The database could not be read or written now (locked, full, unreachable)."""


def _blank_to_none(value):
    return None if isinstance(value, str) and not value.strip() else value


def _none_to_blank(value):
    return "" if value is None else value


Blank = BeforeValidator(_none_to_blank)
Day = Annotated[dt.date | None, BeforeValidator(_blank_to_none)]   # an empty date box is no filter


class Filters(BaseModel):
    """The staff filters, the same for the table and both exports. Dates are whole UTC days, both included."""
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    language: Annotated[str, Field(max_length=16)] = ""
    abstained: Annotated[Literal["", "yes", "no"], Blank] = ""
    feedback: Annotated[Literal["", "helpful", "not helpful", "none"], Blank] = ""
    verdict: Annotated[Literal["", "correct", "wrong", "unreviewed"], Blank] = ""
    date_from: Day = None
    date_to: Day = None
    q: Annotated[str, Field(max_length=200)] = ""   # free text in the question, answer, comment or correction

    def query(self) -> dict[str, str]:
        """The non-empty filters as URL query parameters (links carry them)."""
        return {k: str(v) for k, v in self.model_dump().items() if v not in ("", None)}


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _day_start(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()


def clean(text: str) -> str:
    """Masked, and without NUL characters (PostgreSQL text cannot hold them)."""
    return mask_personal_data(text).replace("\x00", "")


class BaseExchangeStore:
    lower = "LOWER"   # SQL function folding case for the free-text filter

    def __init__(self, retention_days: int = 90) -> None:
        self.retention_days = retention_days
        self.failures = 0                 # failed writes since start (answers sent without being stored)
        self.last_failure: float | None = None

    # --- what a backend supplies ------------------------------------------------------------------
    def _write(self, sql: str, params: tuple, busy_ms: int) -> int:
        """Run one writing statement ('?' placeholders), waiting at most `busy_ms`; returns the row count.
        A failure is counted (note_failure) and raised as StoreError."""
        raise NotImplementedError

    def _read(self, sql: str, params: tuple) -> list[dict]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    # --- shared -----------------------------------------------------------------------------------
    def note_failure(self) -> None:
        self.failures += 1
        self.last_failure = time.time()

    @property
    def degraded(self) -> bool:
        return self.last_failure is not None and time.time() - self.last_failure < DEGRADED_FOR_S

    def purge(self) -> int:
        """Delete the rows older than the retention period (with their history, feedback and verdicts)."""
        cutoff = time.time() - self.retention_days * 86400
        return self._write("DELETE FROM exchanges WHERE created_at < ?", (cutoff,), WRITE_BUSY_MS)

    def record(self, session: str, answer_dict: dict, history: list[str] | None = None) -> str:
        """Store one exchange; returns its id (what feedback refers to). `history`: the student's earlier
        questions, of which the last HISTORY_KEPT are kept, masked. Raises StoreError, after at most
        RECORD_BUSY_MS of waiting, when the database cannot be written."""
        exchange_id = uuid.uuid4().hex
        candidates = answer_dict.get("candidates") or []
        sources = {c.get("n"): c.get("source") for c in answer_dict.get("citations") or [] if isinstance(c, dict)}
        quotes = [{"n": q.get("n"), "source": sources.get(q.get("n")), "text": q.get("text") or ""}
                  for q in answer_dict.get("quotes") or [] if isinstance(q, dict)]
        previous = [clean(h) for h in (history or []) if isinstance(h, str) and h.strip()][-HISTORY_KEPT:]
        self._write(
            "INSERT INTO exchanges (id, session, created_at, question, language, answer, abstained, top_score, "
            "candidates, history, quotes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (exchange_id, clean(str(session))[:MAX_SESSION_CHARS], time.time(), clean(answer_dict["question"]),
             answer_dict["language"], answer_dict["answer"].replace("\x00", ""), int(answer_dict["abstained"]),
             answer_dict.get("confidence"), json.dumps(candidates, ensure_ascii=False),
             json.dumps(previous, ensure_ascii=False), json.dumps(quotes, ensure_ascii=False)), RECORD_BUSY_MS)
        return exchange_id

    def feedback(self, exchange_id: str, helpful: bool, comment: str = "") -> bool:
        return self._write("UPDATE exchanges SET feedback = ?, comment = ? WHERE id = ?",
                           ("helpful" if helpful else "not helpful", clean(comment or "")[:2000], exchange_id),
                           WRITE_BUSY_MS) == 1

    def review(self, exchange_id: str, verdict: str, correction: str = "") -> bool:
        """A staff verdict, 'correct' or 'wrong'; 'unreviewed' takes a verdict back."""
        if verdict not in (*VERDICTS, "unreviewed"):
            raise ValueError(f"verdict must be 'correct', 'wrong' or 'unreviewed', not {verdict!r}")
        return self._write("UPDATE exchanges SET verdict = ?, correction = ? WHERE id = ?",
                           (None if verdict == "unreviewed" else verdict, (correction or "").replace("\x00", "")[:5000],
                            exchange_id), WRITE_BUSY_MS) == 1

    def _where(self, f: Filters) -> tuple[str, list]:
        clauses, params = [], []
        if f.language:
            clauses.append("language = ?")
            params.append(f.language)
        if f.abstained:
            clauses.append("abstained = ?")
            params.append(int(f.abstained == "yes"))
        if f.feedback == "none":
            clauses.append("feedback IS NULL")
        elif f.feedback:
            clauses.append("feedback = ?")
            params.append(f.feedback)
        if f.verdict == "unreviewed":
            clauses.append("verdict IS NULL")
        elif f.verdict:
            clauses.append("verdict = ?")
            params.append(f.verdict)
        if f.date_from:
            clauses.append("created_at >= ?")
            params.append(_day_start(f.date_from))
        if f.date_to:
            clauses.append("created_at < ?")
            params.append(_day_start(f.date_to + dt.timedelta(days=1)))
        if f.q:
            columns = ("question", "answer", "comment", "correction")
            clauses.append("(" + " OR ".join(f"{self.lower}({c}) LIKE ? ESCAPE '\\'" for c in columns) + ")")
            params += [_like(f.q)] * len(columns)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    @staticmethod
    def _decode(row: dict) -> dict:
        row = dict(row)
        for name in ("candidates", "history", "quotes"):
            row[name] = json.loads(row.get(name) or "[]")
        return row

    def count(self, filters: Filters | None = None) -> int:
        where, params = self._where(filters or Filters())
        return int(self._read("SELECT COUNT(*) AS n FROM exchanges" + where, tuple(params))[0]["n"])

    def search(self, filters: Filters | None = None, limit: int = 50, offset: int = 0) -> list[dict]:
        """The matching rows, newest first (ties by id, so pages never overlap)."""
        where, params = self._where(filters or Filters())
        rows = self._read(f"SELECT * FROM exchanges{where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                          (*params, int(limit), int(offset)))
        return [self._decode(r) for r in rows]

    def iter_rows(self, filters: Filters | None = None, batch: int = EXPORT_BATCH) -> Iterator[dict]:
        """Every matching row, newest first, read in batches after the last one seen (rows recorded meanwhile
        are newer, so they neither shift nor repeat the ones still to come)."""
        where, params = self._where(filters or Filters())
        after: tuple | None = None
        while True:
            extra, more = "", []
            if after is not None:
                extra = (" AND " if where else " WHERE ") + "(created_at < ? OR (created_at = ? AND id < ?))"
                more = [after[0], after[0], after[1]]
            rows = self._read(f"SELECT * FROM exchanges{where}{extra} ORDER BY created_at DESC, id DESC LIMIT ?",
                              (*params, *more, int(batch)))
            yield from (self._decode(r) for r in rows)
            if len(rows) < batch:
                return
            after = (rows[-1]["created_at"], rows[-1]["id"])

    def recent(self, limit: int = 200, abstained: bool | None = None, not_helpful: bool = False,
               language: str | None = None) -> list[dict]:
        """The newest rows (kept for scripts and tests; the staff page uses search)."""
        filters = Filters(abstained={True: "yes", False: "no"}.get(abstained, ""),
                          feedback="not helpful" if not_helpful else "", language=language or "")
        return self.search(filters, limit=limit)

    def csv_lines(self, filters: Filters | None = None) -> Iterator[str]:
        """The CSV export, a few lines at a time: every matching row, formula cells made inert."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for number, row in enumerate(self.iter_rows(filters), start=1):
            when = dt.datetime.fromtimestamp(row["created_at"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            row = {**row, "created_at": when, "history": " | ".join(row["history"])}
            writer.writerow({k: inert_cell(v) for k, v in row.items()})
            if number % 100 == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    def to_csv(self, filters: Filters | None = None) -> str:
        return "".join(self.csv_lines(filters))
