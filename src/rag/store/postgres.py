"""The shared backend: PostgreSQL (psycopg 3 and a small connection pool), so that several `rag serve`
replicas behind a load balancer keep one set of exchanges, feedback and verdicts.

The URL is libpq's (postgresql://user:password@host:port/dbname?options=...). Each statement waits at most
its busy time, for a pooled connection and then for locks (statement_timeout, local to its transaction).
Retention is a plain DELETE: PostgreSQL's own VACUUM reclaims the space."""

from __future__ import annotations

from .base import SCHEMA_TEMPLATE, BaseExchangeStore, StoreError

SCHEMA = SCHEMA_TEMPLATE.format(real="DOUBLE PRECISION")
POOL_SIZE = 8          # connections per replica at most: answers are computed on 4 threads by default
CONNECT_TIMEOUT_S = 10  # at start: an unreachable server is a clear error, not a hang


def _drivers():
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:   # the extra is optional: SQLite needs none of this
        raise StoreError("PostgreSQL storage needs psycopg: pip install 'rag[postgres]'") from exc
    return psycopg, psycopg_pool


class PostgresExchangeStore(BaseExchangeStore):
    def __init__(self, url: str, retention_days: int = 90, pool_size: int = POOL_SIZE) -> None:
        super().__init__(retention_days)
        psycopg, psycopg_pool = _drivers()
        from psycopg.rows import dict_row

        self._errors = (psycopg.Error, psycopg_pool.PoolTimeout)
        self.url = url
        try:
            # One plain connection first: an unreachable server or a refused login is one clear line at start.
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as db, db.transaction():
                # Two replicas starting together: one creates the table, the other waits for it.
                db.execute("SELECT pg_advisory_xact_lock(hashtext('rag.exchanges.schema'))")
                for statement in SCHEMA.split(";"):
                    db.execute(statement)
                for name in ("history", "quotes"):
                    db.execute(f"ALTER TABLE exchanges ADD COLUMN IF NOT EXISTS {name} TEXT NOT NULL DEFAULT '[]'")
        except psycopg.Error as exc:
            raise StoreError("cannot open the PostgreSQL database: " + " ".join(str(exc).split())) from exc
        self._pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=pool_size, open=True, kwargs={"row_factory": dict_row},
            # a connection broken by a server restart is replaced, not handed to a request
            check=psycopg_pool.ConnectionPool.check_connection, name="rag-store")
        self.purge()

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")   # the shared SQL's placeholders; values are never spliced into it

    def _run(self, sql: str, params: tuple, busy_ms: int | None):
        timeout_s = (busy_ms or 30_000) / 1000
        with self._pool.connection(timeout=timeout_s) as db:
            if busy_ms is not None:
                db.execute("SELECT set_config('statement_timeout', %s, true)", (str(int(busy_ms)),))
            cursor = db.execute(self._sql(sql), params)
            return cursor.rowcount, (cursor.fetchall() if cursor.description else [])

    def _write(self, sql: str, params: tuple, busy_ms: int) -> int:
        try:
            return self._run(sql, params, busy_ms)[0]
        except self._errors as exc:
            self.note_failure()
            raise StoreError(str(exc)) from exc

    def _read(self, sql: str, params: tuple) -> list[dict]:
        try:
            return self._run(sql, params, None)[1]
        except self._errors as exc:
            raise StoreError(str(exc)) from exc

    def close(self) -> None:
        self._pool.close()
