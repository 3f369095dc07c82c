"""Store fixtures for both backends. PostgreSQL tests use RAG_TEST_DATABASE_URL (CI starts a throwaway
cluster: .ci/start-postgres); each test gets a fresh schema of its own, dropped afterwards. Without a
reachable server they are skipped, unless RAG_REQUIRE_ALL=1 (CI), where that is a failure."""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest

from conftest import REQUIRE_ALL, require


def _unavailable(why: str):
    if REQUIRE_ALL:
        pytest.fail(f"PostgreSQL is required here (RAG_REQUIRE_ALL=1): {why}")
    pytest.skip(why)


@pytest.fixture
def postgres_url():
    """A libpq URL whose search_path is a new, empty schema (so tests never see each other's rows)."""
    psycopg = require("psycopg")
    require("psycopg_pool")
    base = os.environ.get("RAG_TEST_DATABASE_URL")
    if not base:
        _unavailable("RAG_TEST_DATABASE_URL is not set (.ci/start-postgres prints one)")
    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        _unavailable(f"no PostgreSQL server at RAG_TEST_DATABASE_URL: {exc}")
    schema = f"rag_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request, tmp_path):
    """make_store(retention_days=90) -> a new store on the parametrised backend; closed after the test."""
    from rag.store import open_store

    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
    opened = []

    def make(retention_days: int = 90):
        store = open_store(tmp_path / "data", retention_days, url)
        opened.append(store)
        return store

    make.backend, make.url = request.param, url
    yield make
    for store in opened:
        store.close()
