"""Hot index swap: a running server picks up a newly built index without a restart.

`rag index` writes a new version folder and switches `index/CURRENT` with one rename (index/versions.py). The
`IndexReloader` holds the assistant in use; a background thread stats the pointer every few seconds (a
stat only: nothing is read while the index is unchanged) and, when it changed, loads the new version off
the request path, warms it up, and swaps one reference. Requests read `reloader.assistant` once and keep
that object to the end, so requests in flight finish on the old index and the old one is freed when the
last of them is done; there is no lock on the request path. A version that fails to load (damaged, built
with another embedder) is refused: the old index keeps answering, one line is logged and `status()` (shown
by /healthz) says what was refused and why. Staff can also ask for a reload (POST /staff/reload-index).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from .index import MANIFEST, POINTER, current_version, load_index

log = logging.getLogger("rag.reload")

DEFAULT_POLL_S = 5.0
_UNSEEN = object()   # the pointer's state before the first look (None means: no pointer at all)
WARM_UP = "warm up: how much is the Erasmus grant?"


def poll_seconds_from_env() -> float:
    """RAG_INDEX_POLL_S: seconds between two looks at the index pointer; 0 turns the watch off (staff can
    still reload)."""
    from .errors import InvalidSettingError

    raw = os.environ.get("RAG_INDEX_POLL_S", str(DEFAULT_POLL_S))
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:   # NaN fails this too
        raise InvalidSettingError(f"RAG_INDEX_POLL_S={raw!r} is not a number of seconds from 0 to 3600")
    return value


def version_of(assistant) -> dict:
    """The version folder name and build time of an assistant's index (from its manifest)."""
    manifest = getattr(getattr(assistant, "index", None), "manifest", None) or {}
    return {"version": manifest.get("version"), "built_at": manifest.get("built_at")}


def _signature(index_dir: Path):
    """What changes when a build switches versions: the pointer file's identity (a rename gives a new
    inode) and time. A first-format index has no pointer: its manifest stands in."""
    for name in (POINTER, MANIFEST):
        try:
            st = os.stat(Path(index_dir) / name)
        except OSError:
            continue
        return name, st.st_ino, st.st_mtime_ns, st.st_size
    return None


class IndexReloader:
    def __init__(self, assistant, poll_s: float = DEFAULT_POLL_S) -> None:
        self.assistant = assistant             # read by every request: one attribute read, swapped whole
        self.settings = assistant.settings     # index_dir as `rag serve --index` or RAG_INDEX_DIR gave it
        self.poll_s = poll_s
        self.loaded_at = time.time()
        self.load_s: float | None = None       # how long the last swap took to load and warm up
        self.reloads = {"ok": 0, "failed": 0}
        self.failure: dict | None = None       # the last refused version, until a later one loads
        self._seen = _UNSEEN                   # the first look reads the pointer once: a build may have
        self._lock = threading.Lock()          # switched it while the server started. Serialises loads.
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- what the web app shows
    def status(self) -> dict:
        state = dict(version_of(self.assistant), loaded_at=_iso(self.loaded_at), reloads=dict(self.reloads))
        if self.load_s is not None:
            state["load_s"] = round(self.load_s, 2)
        if self.failure:
            state["reload_failed"] = dict(self.failure)
        return state

    # --- the watch
    def start(self) -> None:
        if self.poll_s <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="index-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.check()
            except Exception as exc:   # the watch must outlive anything odd on the disk
                log.error("index watch: %s", exc)

    def check(self) -> str:
        """Reload if the pointer changed since the last look: 'unchanged', 'reloaded', 'failed', or 'superseded'
        (a newer build replaced the version while it loaded: the next look takes the newer one)."""
        signature = _signature(self.settings.index_dir)
        if signature == self._seen:
            return "unchanged"
        with self._lock:
            self._seen = signature
            try:
                name = self._pointed_version()
            except Exception as exc:
                return self._refuse(None, exc)
            in_use = version_of(self.assistant)["version"]
            refused = self.failure and self.failure.get("version")
            if name == in_use or (name is not None and name == refused):
                return "unchanged"   # a touched pointer, or a version already refused (staff can retry it)
            return self._load(name)

    def reload(self) -> str:
        """The staff action: load whatever the pointer names now, even a version refused before."""
        with self._lock:
            self._seen = _signature(self.settings.index_dir)
            try:
                name = self._pointed_version()
            except Exception as exc:
                return self._refuse(None, exc)
            return self._load(name)

    def _pointed_version(self) -> str | None:
        folder = current_version(self.settings.index_dir)
        return None if folder is None or folder == Path(self.settings.index_dir) else folder.name

    def _load(self, name: str | None) -> str:
        from .assistant import Assistant

        old = self.assistant
        started = time.perf_counter()
        try:
            # The corpus folder is not compared: the index carries its passages, and the one built last is
            # the one to serve (replicas may not share the builder's corpus folder). The embedder is: the
            # models already loaded are reused, so a swap never holds two copies of them.
            index = load_index(self.settings, check_corpus=False)
            fresh = Assistant(index, old.embedder, self.settings)
            fresh.ask(WARM_UP)   # first-call costs paid here, not by the next student
        except Exception as exc:
            if _signature(self.settings.index_dir) != self._seen:
                # Another build switched the pointer (and deleted this version) while it loaded: not a
                # damaged index; the next look loads the newer one.
                log.info("index %s replaced while loading; the next look loads the newer one", name)
                self._seen = _UNSEEN
                return "superseded"
            return self._refuse(name, exc)
        self.assistant = fresh    # the swap: new requests answer from here; requests in flight keep `old`
        self.loaded_at, self.load_s = time.time(), time.perf_counter() - started
        self.reloads["ok"] += 1
        self.failure = None
        log.info("now answering from index %s (built %s), loaded in %.1f s", version_of(fresh)["version"],
                 version_of(fresh)["built_at"], self.load_s)
        return "reloaded"

    def _refuse(self, name: str | None, exc: Exception) -> str:
        self.reloads["failed"] += 1
        message = " ".join(str(exc).split()) or type(exc).__name__
        self.failure = {"version": name, "error": message, "at": _iso(time.time())}
        log.error("index %s refused, still answering from %s: %s", name or "?", version_of(self.assistant)["version"],
                  message)
        return "failed"


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
