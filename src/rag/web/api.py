"""The FastAPI server: the REST API (/api/ask, /api/feedback, /healthz), the staff pages and the Gradio
chat at /, with limits on what a request may hold and storage that never costs a student an answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr, model_validator

from ..errors import InvalidSettingError, RagError
from ..reload import version_of
from ..store import PURGE_EVERY_S, BaseExchangeStore, StoreError
from .admin import add_reload_routes
from .chat import CSS, build_chat, chat_theme
from .metrics import Metrics, MetricsMiddleware, add_metrics_route
from .security import SecurityMiddleware, install_error_handlers
from .staff import add_staff_routes

log = logging.getLogger("rag.web")

MAX_QUESTION_CHARS = 2000        # as Settings.max_question_chars: longer questions are refused, not cut
MAX_HISTORY_TURNS = 20
MAX_HISTORY_CHARS = 8000         # all turns together
MAX_SESSION_CHARS = 64
MAX_COMMENT_CHARS = 2000


def _unicode(value: str) -> str:
    # JSON may carry lone surrogates ("\ud800"): not text, and SQLite cannot store them.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text (a lone surrogate)") from None
    return value


Text = Annotated[StrictStr, AfterValidator(_unicode)]


class Turn(BaseModel):
    """One earlier message, as in CONTRACT.md; only the student's own turns are passed to the assistant."""
    model_config = ConfigDict(extra="ignore")
    role: Literal["user", "assistant"]
    content: Annotated[Text, Field(max_length=MAX_HISTORY_CHARS)]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    question: Annotated[Text, Field(max_length=MAX_QUESTION_CHARS)]
    # Earlier turns, oldest first: plain strings (the student's questions) or {"role", "content"} objects.
    history: Annotated[list[Annotated[Text, Field(max_length=MAX_HISTORY_CHARS)] | Turn] | None,
                       Field(max_length=MAX_HISTORY_TURNS)] = None
    session: Annotated[Text, Field(max_length=MAX_SESSION_CHARS)] | None = None

    @model_validator(mode="after")
    def _history_size(self):
        total = sum(len(t if isinstance(t, str) else t.content) for t in self.history or [])
        if total > MAX_HISTORY_CHARS:
            raise ValueError(f"history holds {total} characters; at most {MAX_HISTORY_CHARS} in all")
        return self

    def questions(self) -> list[str]:
        return [t if isinstance(t, str) else t.content for t in self.history or []
                if isinstance(t, str) or t.role == "user"]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    exchange_id: Annotated[Text, Field(max_length=64)]
    helpful: StrictBool
    comment: Annotated[Text, Field(max_length=MAX_COMMENT_CHARS)] | None = None


def ask_threads_from_env() -> int:
    raw = os.environ.get("RAG_ASK_THREADS", "4")
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 64:
        raise InvalidSettingError(f"RAG_ASK_THREADS={raw!r} is not a whole number from 1 to 64")
    return int(raw)


def _retention_timer(store: BaseExchangeStore, stop: threading.Event, every_s: float) -> None:
    """Delete expired rows at start and then every `every_s`, whether or not anyone asks anything."""
    while True:
        try:
            store.purge()
        except StoreError as exc:
            log.warning("retention purge failed: %s", exc)
        if stop.wait(every_s):
            return


def create_app(assistant, store: BaseExchangeStore, staff_user: str | None = None, staff_password: str | None = None,
               ask_threads: int | None = None, purge_every_s: float = PURGE_EVERY_S, reloader=None,
               metrics_token: str | None = None, corpus_dir=None):
    """The FastAPI server with the Gradio chat mounted at /, the staff pages at /staff and the API at /api.
    `assistant` is any object with `ask(question, history=...)` returning an Answer (tests pass a stub).
    With a `reloader` (reload.IndexReloader), each request answers from the assistant it holds at that
    moment, and its watch runs while the app does; `metrics_token` puts /metrics behind a bearer token.
    `corpus_dir`: the corpus the staff's evaluation export is checked against (default: the assistant's)."""
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    # Answers are computed on a few threads, not on the 40 of the default pool: on 2 cores, more threads
    # only queue on the GIL and on each other (see docs/figures.md "Under load").
    answering = ThreadPoolExecutor(max_workers=ask_threads or ask_threads_from_env(), thread_name_prefix="answer")
    # One attribute read: the index swap replaces `reloader.assistant` whole, and a request keeps what it read.
    current = (lambda: reloader.assistant) if reloader is not None else (lambda: assistant)
    metrics = Metrics(store, current, reloader)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        stop = threading.Event()
        timer = threading.Thread(target=_retention_timer, args=(store, stop, purge_every_s), name="retention", daemon=True)
        timer.start()
        if reloader is not None:
            reloader.start()
        try:
            yield
        finally:
            stop.set()
            timer.join(timeout=5)
            if reloader is not None:
                reloader.stop()

    # No /docs, /redoc or /openapi.json: the schema is for the tests (api.openapi()), not the public.
    api = FastAPI(title="International students' assistant", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    api.add_middleware(SecurityMiddleware)
    api.add_middleware(MetricsMiddleware, metrics=metrics)   # added last: outermost, times everything
    install_error_handlers(api)

    def ask_and_record(question: str, history: list[str], session: str) -> dict:
        answer = current().ask(question, history=history).to_dict()
        metrics.answered(answer)
        try:
            answer["exchange_id"] = store.record(session, answer, history)
        except StoreError as exc:   # best effort: the student gets the answer; /healthz says degraded
            log.warning("exchange not stored (%d failures so far): %s", store.failures, exc)
            answer["exchange_id"] = None
        return answer

    @api.get("/healthz")
    def healthz():
        index = getattr(current(), "index", None)
        refused = reloader is not None and reloader.failure is not None   # an older index answers
        return {"status": "degraded" if store.degraded or refused else "ok", "index_loaded": index is not None,
                "chunks": len(index.chunks) if index is not None else 0, "storage_failures": store.failures,
                "index": reloader.status() if reloader is not None else version_of(current())}

    @api.post("/api/ask")
    async def api_ask(body: AskRequest):
        try:
            return await asyncio.get_running_loop().run_in_executor(
                answering, ask_and_record, body.question, body.questions(), body.session or uuid.uuid4().hex)
        except RagError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    @api.post("/api/feedback")
    async def api_feedback(body: FeedbackRequest):
        try:
            saved = await asyncio.get_running_loop().run_in_executor(
                answering, store.feedback, body.exchange_id, body.helpful, body.comment or "")
        except StoreError:
            return JSONResponse({"error": "the feedback could not be saved now; try again later"}, status_code=503)
        if not saved:
            return JSONResponse({"error": "no such exchange"}, status_code=404)
        return {"status": "saved"}

    corpus_dir = corpus_dir or getattr(getattr(assistant, "settings", None), "corpus_dir", None)
    staff_auth = add_staff_routes(api, store, staff_user, staff_password, corpus_dir)
    add_reload_routes(api, reloader, *staff_auth)
    add_metrics_route(api, metrics, metrics_token)
    demo = build_chat(store, ask_and_record)
    # No run history (it keeps every question in the browser), no node server, no MCP or monitoring routes.
    return gr.mount_gradio_app(api, demo, path="/", css=CSS, theme=chat_theme(), footer_links=[], run_history=False,
                               ssr_mode=False, mcp_server=False, enable_monitoring=False, pwa=False, show_error=False)
