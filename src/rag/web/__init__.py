"""The web edge: a Gradio chat for students, a staff review page, and the REST API, in one server.

gradio and fastapi are imported by this package only; the answering core never imports the UI.
`create_app` takes any object with `ask(question, history=...)` returning an Answer, so tests use a stub
assistant. Modules: api (the server and its limits), chat (Gradio), staff (review routes), staff_page (their
HTML), security (middleware: body limits, closed routes, headers, JSON errors).
"""

import os

# Before anything imports gradio: no usage reports and no version check to outside hosts.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import socket  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from ..errors import InvalidSettingError  # noqa: E402
from ..settings import Settings  # noqa: E402
from ..store import StoreError, open_store  # noqa: E402
from .api import create_app  # noqa: E402
from .chat import render_sources  # noqa: E402
from .staff import render_staff_page  # noqa: E402

__all__ = ["create_app", "serve", "prepare_assistant", "render_sources", "render_staff_page"]


def prepare_assistant(settings: Settings):
    """Load the index, building it first when it is missing, stale or damaged."""
    from ..assistant import Assistant
    from ..errors import IndexMismatchError, IndexMissingError
    from ..index import build_index, index_status
    from ..language import warm as warm_language_tables
    from ..retrieval.names import warm_word_lists

    status = index_status(settings)
    if status != "ok":
        print(f"rag: index {status}, building it from {settings.corpus_dir} ...", flush=True)
        print(build_index(settings, progress=sys.stderr.isatty()).line(), flush=True)
    try:
        assistant = Assistant.load(settings=settings)
    except (IndexMissingError, IndexMismatchError):
        print("rag: index damaged, rebuilding it ...", flush=True)
        print(build_index(settings, progress=sys.stderr.isatty()).line(), flush=True)
        assistant = Assistant.load(settings=settings)
    assistant.ask("warm up: how much is the Erasmus grant?")  # models loaded before the first student waits
    for name, warm in (("name-check-words", warm_word_lists), ("language-words", warm_language_tables)):
        threading.Thread(target=warm, name=f"warm-{name}", daemon=True).start()
    return assistant


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound before minutes of index building: a busy port or a bad host is a
    one-line error (InvalidSettingError) at once, and no other program can take the port meanwhile."""
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidSettingError(f"port must be a whole number from 1 to 65535, not {port!r}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidSettingError(f"cannot listen on host {host!r}: {exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as uvicorn does; a live listener still conflicts
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InvalidSettingError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; is another server using it? "
                                  "Choose another port with --port") from None
    return sock


def _port_from_env() -> int:
    raw = os.environ.get("RAG_PORT", "7860")
    if not raw.strip().isdigit():
        raise InvalidSettingError(f"RAG_PORT={raw!r} is not a port number (1 to 65535)")
    return int(raw)


def _log_lines() -> None:
    """The app's own log (index swaps and refusals, storage failures) as 'rag: ...' lines on standard error;
    other libraries' loggers are left as they are."""
    import logging

    logger = logging.getLogger("rag")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("rag: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    # One BLAS thread per request: the server answers requests on many threads at once, and OpenBLAS
    # threads of concurrent calls fight over the 2 cores (50 clients: p95 1050 ms -> see docs/figures.md "Under load").
    from threadpoolctl import threadpool_limits

    from ..reload import IndexReloader, poll_seconds_from_env
    from .api import ask_threads_from_env

    host = host or os.environ.get("RAG_HOST", "127.0.0.1")
    port = port if port is not None else _port_from_env()
    threads = ask_threads_from_env()
    poll_s = poll_seconds_from_env()
    sock = listening_socket(host, port)
    try:
        threadpool_limits(1, user_api="blas")   # e5 keeps its own OpenMP threads
        # The database first: a wrong RAG_DATABASE_URL is a one-line error at once, not after the index build.
        try:
            store = open_store(settings.data_dir, settings.retention_days, settings.database_url)
        except (StoreError, OSError) as exc:
            where = "RAG_DATABASE_URL" if settings.database_url else f"{settings.data_dir} (RAG_DATA_DIR)"
            raise InvalidSettingError(f"cannot open the database in {where}: {exc}") from None
        assistant = prepare_assistant(settings)
        _log_lines()
        # The watch looks at the index folder this server was given (--index or RAG_INDEX_DIR).
        app = create_app(assistant, store, os.environ.get("RAG_STAFF_USER"), os.environ.get("RAG_STAFF_PASSWORD"),
                         ask_threads=threads, reloader=IndexReloader(assistant, poll_s),
                         metrics_token=os.environ.get("RAG_METRICS_TOKEN") or None)
        print(f"rag: serving on http://{host}:{port} (staff page {'on' if os.environ.get('RAG_STAFF_USER') else 'off'})", flush=True)
        # access_log off: uvicorn's access log would write client IP addresses.
        uvicorn.Server(uvicorn.Config(app, access_log=False, log_level="warning")).run(sockets=[sock])
    finally:
        sock.close()
