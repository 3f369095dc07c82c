"""The store on both backends (SQLite, and PostgreSQL when a server is reachable): masking, history kept
masked, filters, paging, exports, retention, bounded waits counted for /healthz."""

import csv
import datetime as dt
import io
import threading

import pytest

from conftest import require
from rag.settings import Settings
from rag.store import Filters, StoreError, open_store
from storage import make_store, postgres_url  # noqa: F401  (fixtures)


def answer(question, language="en", abstained=False, text="Montant : 210€ par mois [1]"):
    return {"question": question, "language": language, "abstained": abstained, "confidence": 0.6, "answer": text,
            "citations": [{"n": 1, "source": "uphf-faq"}], "quotes": [{"n": 1, "text": "Montant : 210€ (groupe 3)"}],
            "candidates": [{"chunk_id": "c", "source": "uphf-faq", "title": "Aides", "score": 0.6}]}


def shift_days(store, exchange_id, days):
    store._write("UPDATE exchanges SET created_at = created_at - ? WHERE id = ?", (days * 86400, exchange_id), 1000)


def test_record_masks_the_question_and_keeps_the_last_previous_questions_masked(make_store):
    store = make_store()
    store.record("jo@example.org", answer("and for Mermoz? call 06 12 34 56 78"),
                 history=["first", "I am jo@example.org", "How much is the Erasmus grant?"])
    row = store.recent()[0]
    assert row["question"] == "and for Mermoz? call [phone]" and row["session"] == "[email]"
    assert row["history"] == ["I am [email]", "How much is the Erasmus grant?"]
    assert row["quotes"] == [{"n": 1, "source": "uphf-faq", "text": "Montant : 210€ (groupe 3)"}]


def test_nul_characters_never_cost_a_write(make_store):
    store = make_store()
    store.record("s", answer("grant\x00?"))
    assert store.recent()[0]["question"] == "grant?" and store.failures == 0


def test_every_filter_narrows_the_rows(make_store):
    store = make_store()
    fr = store.record("s", answer("Combien pour la bourse ÉRASMUS ?", language="fr"))
    en = store.record("s", answer("Where is the library?", abstained=True))
    old = store.record("s", answer("An old question"))
    shift_days(store, old, 10)
    store.feedback(fr, True)
    store.feedback(en, False, "useless")
    store.review(fr, "correct")
    store.review(old, "wrong", "Relais Handicap")

    def ids(**filters):
        return {r["id"] for r in store.search(Filters(**filters), limit=100)}

    assert ids(language="fr") == {fr} and ids(abstained="yes") == {en} and ids(abstained="no") == {fr, old}
    assert ids(feedback="helpful") == {fr} and ids(feedback="not helpful") == {en} and ids(feedback="none") == {old}
    assert ids(verdict="correct") == {fr} and ids(verdict="wrong") == {old} and ids(verdict="unreviewed") == {en}
    today = dt.datetime.now(dt.timezone.utc).date()
    assert ids(date_from=today - dt.timedelta(days=1)) == {fr, en}
    assert ids(date_to=today - dt.timedelta(days=5)) == {old}
    assert ids(q="érasmus") == {fr}           # case folded beyond ASCII, on both backends
    assert ids(q="USELESS") == {en} and ids(q="relais") == {old} and ids(q="100%_") == set()
    assert ids(language="fr", verdict="wrong") == set()
    assert store.count(Filters(abstained="no")) == 2


def test_pages_follow_each_other_and_exports_read_every_row(make_store):
    store = make_store()
    made = [store.record("s", answer(f"question {i}")) for i in range(7)]
    pages = [store.search(Filters(), limit=3, offset=o) for o in (0, 3, 6)]
    seen = [r["id"] for page in pages for r in page]
    assert [len(p) for p in pages] == [3, 3, 1] and sorted(seen) == sorted(made)
    assert [r["id"] for r in store.iter_rows(Filters(), batch=2)] == seen   # newest first, no repeat, no loss
    rows = list(csv.DictReader(io.StringIO(store.to_csv(Filters(q="question")))))
    assert len(rows) == 7


def test_csv_cells_cannot_run_as_formulas(make_store):
    store = make_store()
    store.record("s", answer("=HYPERLINK(\"http://evil\")"))
    assert next(csv.DictReader(io.StringIO(store.to_csv())))["question"].startswith("'=")


def test_review_can_be_taken_back_and_rejects_other_verdicts(make_store):
    store = make_store()
    exchange = store.record("s", answer("q"))
    assert store.review(exchange, "wrong", "fix") and store.recent()[0]["verdict"] == "wrong"
    assert store.review(exchange, "unreviewed") and store.recent()[0]["verdict"] is None
    with pytest.raises(ValueError):
        store.review(exchange, "maybe")
    assert not store.review("no-such-id", "correct")


def test_retention_deletes_old_rows_with_their_history(make_store):
    store = make_store(retention_days=1)
    old = store.record("s", answer("old"), history=["a previous question"])
    store.record("s", answer("new"))
    shift_days(store, old, 3)
    assert store.purge() == 1 and [r["question"] for r in store.recent()] == ["new"]


def test_concurrent_feedback_loses_nothing(make_store):
    store = make_store()
    ids = [store.record("s", answer(f"q{i}")) for i in range(30)]
    threads = [threading.Thread(target=store.feedback, args=(i, True, "ok")) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count(Filters(feedback="helpful")) == 30


def test_a_locked_postgres_table_fails_a_record_quickly_and_counts_it(postgres_url):
    import time

    import psycopg

    store = open_store(None, 90, postgres_url)
    try:
        with psycopg.connect(postgres_url) as other:
            other.execute("LOCK TABLE exchanges IN ACCESS EXCLUSIVE MODE")   # held until this block ends
            started = time.monotonic()
            with pytest.raises(StoreError):
                store.record("s", answer("q"))
            assert time.monotonic() - started < 3
        assert store.failures == 1 and store.degraded
        store.record("s", answer("q"))   # the lock gone, writes work again
    finally:
        store.close()


def test_the_database_url_setting_selects_the_backend(tmp_path, monkeypatch):
    assert Settings.from_env({"RAG_DATABASE_URL": "postgresql://u@db/rag"}).database_url == "postgresql://u@db/rag"
    assert Settings().database_url == ""
    store = open_store(tmp_path / "d", 90, "")
    assert store.path.name == "exchanges.sqlite3"
    with pytest.raises(StoreError, match="postgresql://") as refused:
        open_store(tmp_path / "d", 90, "mysql://secret@host/db")
    assert "secret" not in str(refused.value)   # a URL may hold a password: never echoed


def test_an_unreachable_postgres_server_is_a_clear_error(monkeypatch):
    require("psycopg")
    import rag.store.postgres as pg

    monkeypatch.setattr(pg, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(StoreError, match="cannot open the PostgreSQL database"):
        open_store(None, 90, "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1")


def test_a_database_made_by_the_previous_version_gains_the_new_columns(tmp_path):
    import sqlite3

    folder = tmp_path / "data"
    folder.mkdir()
    with sqlite3.connect(folder / "exchanges.sqlite3") as old:
        old.execute("CREATE TABLE exchanges (id TEXT PRIMARY KEY, session TEXT NOT NULL, created_at REAL NOT NULL, "
                    "question TEXT NOT NULL, language TEXT NOT NULL, answer TEXT NOT NULL, abstained INTEGER NOT NULL, "
                    "top_score REAL, candidates TEXT NOT NULL, feedback TEXT, comment TEXT, verdict TEXT, correction TEXT)")
        old.execute("INSERT INTO exchanges VALUES ('old', 's', strftime('%s','now'), 'kept question', 'en', 'a', 0, 0.5, "
                    "'[]', NULL, NULL, 'wrong', '400€')")
    store = open_store(folder, 90, "")
    store.record("s", answer("new question"), history=["before"])
    rows = {r["question"]: r for r in store.recent()}
    assert rows["kept question"]["history"] == [] and rows["kept question"]["verdict"] == "wrong"
    assert rows["new question"]["history"] == ["before"]
