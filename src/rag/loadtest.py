"""`rag load`: the served app under load, as a benchmark (not a test).

Starts `rag serve` on a free loopback port in a child process, with its own throw-away data folder, then
drives `POST /api/ask` with N concurrent clients (each waits for its answer before asking again) for a fixed
time, then has N clients submit feedback at the same moment and counts the feedback rows that reached the
database. Prints requests per second, latency percentiles and errors. Bounded: it stops by itself.
With `--swap-at S`, the server answers from a throw-away copy of the index, which is rebuilt S seconds into
the run (the real write path; the vector cache makes it embed nothing): the server's watch picks it up, and
the figures of the requests around the swap are printed beside the others.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .errors import RagError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(settings, port: int, data_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, RAG_DATA_DIR=str(data_dir), RAG_INDEX_DIR=str(settings.index_dir),
               RAG_CORPUS_DIR=str(settings.corpus_dir), RAG_EMBEDDER=str(settings.embedder))
    env.pop("RAG_STAFF_USER", None)
    env["RAG_DATABASE_URL"] = ""   # its own SQLite file, counted below: never a shared production database
    # The server's output goes to a file: an unread pipe fills up and blocks the server mid-request.
    # Its own session, as a deployed server has, not the client's (one scheduling autogroup on Linux): in the
    # client's session 13 of 18 runs of 60 s had a 1.2-2.2 s stall and 7 had 1-6 ReadErrors (several
    # connections closed at one instant); in its own session 3 of 16 stalled and 2 had ReadErrors, and
    # throughput rose from ~235 to ~263 req/s. What stalls is not known yet (not fsync; gc.freeze() did not help).
    with open(data_dir / "server.log", "w") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_until_ready(url: str, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RagError(f"the server exited with status {process.returncode}: {log.read_text()[-500:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).json().get("index_loaded"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    raise RagError(f"the server did not answer {url}/healthz within {timeout:.0f} s")


def resident_mb(pid: int) -> dict:
    """The process's resident memory now and at its peak, in MB (Linux's /proc; empty elsewhere)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {name: round(int(fields[key].split()[0]) / 1024) for name, key in (("now", "VmRSS"), ("peak", "VmHWM"))
            if key in fields}


def copy_index(settings, folder: Path):
    """Settings pointing at a copy of the index in use (version folder, pointer, vector cache) in `folder`,
    so that a swap under load never writes into the real index folder."""
    from .index import CACHE, POINTER, current_version

    source = current_version(settings.index_dir)
    if source is None or source == Path(settings.index_dir):
        raise RagError(f"--swap-at needs an index built by this version in {settings.index_dir}: run `rag index` first")
    target = folder / "index"
    shutil.copytree(source, target / source.name)
    (target / POINTER).write_text(source.name + "\n", encoding="utf-8")
    if (Path(settings.index_dir) / CACHE).is_dir():
        shutil.copytree(Path(settings.index_dir) / CACHE, target / CACHE)
    return settings.replace(index_dir=target)


async def swap_index(url: str, rebuild, at: float, stop_at: float) -> dict:
    """Rebuild the served index `at` seconds in, then look at /healthz until the server answers from it."""
    import httpx

    # A connection of its own: in the clients' pool, /healthz would wait behind their questions.
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await asyncio.sleep(at)
        before = (await http.get("/healthz")).json().get("index", {}).get("version")
        began = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(None, rebuild)
        built = time.perf_counter()
        while time.perf_counter() < stop_at:
            index = (await http.get("/healthz")).json().get("index", {})
            if index.get("version") != before:
                return {"began": began, "built": built, "seen": time.perf_counter(), "load_s": index.get("load_s")}
            await asyncio.sleep(0.2)
    return {"began": began, "built": built, "seen": None}


async def drive(url: str, questions: list[str], clients: int, duration: float, swap=None) -> dict:
    import httpx

    latencies: list[float] = []
    started_at: list[float] = []      # when each answered request was sent, for the figures around a swap
    errors: list[str] = []
    error_at: list[float] = []
    exchange_ids: list[str] = []
    stop_at = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        async def client(number: int) -> None:
            i = number
            while time.perf_counter() < stop_at:
                question = questions[i % len(questions)]
                i += clients
                started = time.perf_counter()
                try:
                    response = await http.post("/api/ask", json={"question": question, "session": f"load-{number}"})
                    elapsed = time.perf_counter() - started
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}")
                        error_at.append(started)
                        continue
                    exchange_ids.append(response.json()["exchange_id"])
                    latencies.append(elapsed)
                    started_at.append(started)
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    errors.append(type(exc).__name__)
                    error_at.append(started)

        began = time.perf_counter()
        tasks = [client(n) for n in range(clients)] + ([swap_index(url, *swap, stop_at)] if swap else [])
        outcomes = await asyncio.gather(*tasks)
        swapped = outcomes[-1] if swap else None
        wall = time.perf_counter() - began

        # Feedback: every client at once, each on its own exchange.
        targets = exchange_ids[-clients:]
        responses = await asyncio.gather(*(http.post("/api/feedback", json={"exchange_id": e, "helpful": n % 2 == 0,
                                                                             "comment": f"load test {n}"})
                                           for n, e in enumerate(targets)), return_exceptions=True)
        feedback_ok = sum(1 for r in responses if not isinstance(r, Exception) and r.status_code == 200)
    return {"latencies": latencies, "errors": errors, "wall": wall, "feedback_targets": targets, "feedback_ok": feedback_ok,
            "started_at": started_at, "error_at": error_at, "swap": swapped}


def swap_figures(result: dict, percentile) -> dict:
    """The requests sent from the rebuild's start to 1 s after the server was seen answering from the new index."""
    swap = result["swap"]
    if swap["seen"] is None:
        return {"picked_up": False, "build_s": round(swap["built"] - swap["began"], 2)}
    end = swap["seen"] + 1.0
    during = sorted(lat * 1000 for lat, t in zip(result["latencies"], result["started_at"]) if swap["began"] <= t <= end)
    return {"picked_up": True, "build_s": round(swap["built"] - swap["began"], 2),
            "seen_after_build_s": round(swap["seen"] - swap["built"], 2), "server_load_s": swap["load_s"],
            "requests_during": len(during),
            "p95_ms_during": round(percentile(during, 95), 1) if during else None,
            "max_ms_during": round(max(during), 1) if during else None,
            "errors_during": sum(1 for t in result["error_at"] if swap["began"] <= t <= end)}


MAX_DURATION_S = 3600   # a load test is bounded in time and stops by itself


def _stop_on_sigterm(*_):
    raise SystemExit(143)   # unwinds through run_load's `finally`, which stops the server it started


def run_load(args, settings) -> int:
    from .evaluation import DEFAULT_DATASET, load_dataset, percentile

    if args.clients < 1 or not 0 < args.duration <= MAX_DURATION_S:   # NaN and inf fail this too
        raise RagError(f"--clients must be at least 1 and --duration a number of seconds between 0 and {MAX_DURATION_S}")
    swap_at = getattr(args, "swap_at", None)
    if swap_at is not None and not 0 < swap_at < args.duration:
        raise RagError("--swap-at must be a number of seconds inside the run (between 0 and --duration)")
    questions = [item.question for item in load_dataset(Path(args.dataset or DEFAULT_DATASET))]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="rag-load-") as data_dir:
        swap = None
        if swap_at is not None:
            settings = copy_index(settings, Path(data_dir))
            # `rag index` in its own process, as an operator runs it (and not on the clients' interpreter lock).
            rebuild = [sys.executable, "-m", "rag.cli", "index", "--out", str(settings.index_dir),
                       "--corpus", str(settings.corpus_dir), "--embedder", str(settings.embedder)]
            swap = (lambda: subprocess.run(rebuild, check=True, capture_output=True), swap_at)
        process = start_server(settings, port, Path(data_dir))
        try:
            wait_until_ready(url, process, Path(data_dir) / "server.log")
            ready = resident_mb(process.pid)
            print(f"server up on {url}; {args.clients} clients for {args.duration:.0f} s ...", flush=True)
            result = asyncio.run(drive(url, questions, args.clients, args.duration, swap))
            after = resident_mb(process.pid)   # what an operator's monitor would see after the load
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        with sqlite3.connect(Path(data_dir) / "exchanges.sqlite3") as db:
            placeholders = ",".join("?" * len(result["feedback_targets"]))
            stored = db.execute(f"SELECT COUNT(*) FROM exchanges WHERE feedback IS NOT NULL AND id IN ({placeholders})",
                                result["feedback_targets"]).fetchone()[0]
            exchanges = db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
        # The server's own lines about the swap ("now answering from index ...", or why it was refused).
        server_says = [line for line in (Path(data_dir) / "server.log").read_text(errors="replace").splitlines()
                       if "index" in line and line.startswith("rag: ") and "serving on" not in line]

    lat = sorted(x * 1000 for x in result["latencies"])
    summary = {
        "clients": args.clients, "duration_s": round(result["wall"], 1), "requests": len(lat),
        "requests_per_s": round(len(lat) / result["wall"], 1) if result["wall"] else 0.0,
        "p50_ms": round(statistics.median(lat), 1) if lat else None, "p95_ms": round(percentile(lat, 95), 1),
        "p99_ms": round(percentile(lat, 99), 1), "max_ms": round(max(lat), 1) if lat else None,
        "errors": len(result["errors"]), "error_kinds": sorted(set(result["errors"])),
        "exchanges_stored": exchanges,
        "feedback_sent": len(result["feedback_targets"]), "feedback_acknowledged": result["feedback_ok"],
        "feedback_stored": stored,
        "server_memory_mb": {"ready": ready.get("now"), "after": after.get("now"), "peak": after.get("peak")},
    }
    if result["swap"] is not None:
        summary["swap"] = dict(swap_figures(result, percentile), server_log=server_says)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"requests {summary['requests']} in {summary['duration_s']} s: {summary['requests_per_s']} req/s; "
              f"latency p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms, "
              f"max {summary['max_ms']} ms; errors {summary['errors']} {summary['error_kinds'] or ''}")
        print(f"exchanges stored {exchanges} of {summary['requests']}; feedback: {summary['feedback_sent']} sent at once, "
              f"{summary['feedback_acknowledged']} acknowledged, {stored} stored")
        memory = summary["server_memory_mb"]
        if memory["after"] is not None:
            print(f"server resident memory: {memory['ready']} MB when ready, {memory['after']} MB after the load "
                  f"(peak {memory['peak']} MB)")
        if "swap" in summary:
            print(f"index swap: {summary['swap']}")
    lost = summary["feedback_sent"] - stored + summary["requests"] - exchanges
    return 1 if summary["errors"] or lost or not summary.get("swap", {"picked_up": True})["picked_up"] else 0
