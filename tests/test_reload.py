"""Hot index swap (reload.py, web/admin.py): a served app picks up a newly built index while it answers,
refuses a bad one and keeps answering, and staff can ask for a reload. Small corpus, keyword encoder."""

import asyncio
import base64
import json
import os
import threading
import time

import pytest

from conftest import KeywordEncoder, require, served_on_loopback, write_corpus

require("fastapi")
httpx = require("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from rag.assistant import Assistant  # noqa: E402
from rag.index import build_index, current_version, load_index  # noqa: E402
from rag.reload import IndexReloader  # noqa: E402
from rag.store import ExchangeStore  # noqa: E402
from rag.web import create_app  # noqa: E402

NEW_QUESTION = "À quelle heure ouvre la cafétéria ?"   # only the second corpus answers it
QUESTIONS = [NEW_QUESTION, "How much is the Erasmus grant?", "Combien de partenariats Erasmus à l'UPJV ?",
             "Qui contacter pour la mission handicap ?"]


def second_corpus(folder):
    """The small corpus plus one new passage: what a staff member adds before rebuilding."""
    corpus = write_corpus(folder)
    (corpus / "cafe.txt").write_text("La cafétéria du campus ouvre à 7h30 du lundi au vendredi.\n", encoding="utf-8")
    sources = json.loads((corpus / "sources.json").read_text(encoding="utf-8"))
    sources.append({"id": "uphf-cafe", "file": "cafe.txt", "title": "Cafétéria", "institution": "UPHF",
                    "language": "fr", "url": "https://www.uphf.fr", "checked_on": "2026-11-27"})
    (corpus / "sources.json").write_text(json.dumps(sources, ensure_ascii=False), encoding="utf-8")
    return corpus


def served_app(settings, tmp_path, poll_s, **kwargs):
    """The index in `settings.index_dir` (a folder of its own, as `rag serve --index` gives), its reloader and app."""
    build_index(settings, embedder=KeywordEncoder())
    reloader = IndexReloader(Assistant(load_index(settings), KeywordEncoder(), settings), poll_s=poll_s)
    return reloader, create_app(reloader.assistant, ExchangeStore(tmp_path / "data"), reloader=reloader, **kwargs)


def cites_new_passage(answer: dict) -> bool:
    return any(c["source"] == "uphf-cafe" for c in answer["citations"])


def test_a_new_index_is_picked_up_under_load_without_a_failed_request(small_settings, tmp_path):
    reloader, app = served_app(small_settings, tmp_path, poll_s=0.2, ask_threads=4)
    old_version = current_version(small_settings.index_dir).name
    outcomes, errors = [], []
    swapped_at, build_started = {}, []
    old_answers_seen = threading.Event()   # the rebuild starts once the old index has answered the new question

    async def drive(url):
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            stop_at = time.monotonic() + 60   # bounded; normally ends 1.5 s after the swap is seen

            async def client(number):
                i = number
                while time.monotonic() < stop_at and not ("t" in swapped_at and time.monotonic() > swapped_at["t"] + 1.5):
                    question = QUESTIONS[i % len(QUESTIONS)]
                    i += 1
                    started = time.monotonic()
                    try:
                        response = await http.post("/api/ask", json={"question": question})
                        if response.status_code != 200:
                            errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                            continue
                        outcomes.append((started, time.monotonic(), question, response.json()))
                        if sum(q == NEW_QUESTION for _, _, q, _ in outcomes) >= 5:
                            old_answers_seen.set()
                    except httpx.HTTPError as exc:
                        errors.append(repr(exc))

            async def watch_health():
                while time.monotonic() < stop_at and "t" not in swapped_at:
                    health = (await http.get("/healthz")).json()
                    if health["index"]["version"] != old_version:
                        swapped_at["t"], swapped_at["health"] = time.monotonic(), health
                    await asyncio.sleep(0.1)

            await asyncio.gather(*(client(n) for n in range(20)), watch_health())

    def rebuild():   # the real write path: a second index written into the same folder, CURRENT renamed
        old_answers_seen.wait(timeout=30)
        time.sleep(0.5)
        build_started.append(time.monotonic())
        build_index(small_settings.replace(corpus_dir=second_corpus(tmp_path / "corpus2")), embedder=KeywordEncoder())

    with served_on_loopback(app) as url:
        builder = threading.Thread(target=rebuild)
        builder.start()
        asyncio.run(drive(url))
        builder.join()
        after = httpx.post(url + "/api/ask", json={"question": NEW_QUESTION}).json()

    new_version = current_version(small_settings.index_dir).name
    assert errors == []
    assert len(outcomes) >= 40, len(outcomes)   # ~270 on an idle 2-core machine
    assert "health" in swapped_at, "the new index was never picked up"
    health = swapped_at["health"]
    assert health["status"] == "ok" and health["index"]["version"] == new_version != old_version
    assert health["index"]["built_at"] and health["index"]["reloads"] == {"ok": 1, "failed": 0}
    # Answered before the build began: no passage about the cafeteria; asked after /healthz showed the new
    # version: the new passage answers.
    new_answers = [(start, end, a) for start, end, q, a in outcomes if q == NEW_QUESTION]
    before = [a for start, end, a in new_answers if end < build_started[0]]
    after_swap = [a for start, end, a in new_answers if start > swapped_at["t"]]
    assert before and after_swap, (len(before), len(after_swap))
    assert not any(cites_new_passage(a) for a in before) and all(cites_new_passage(a) for a in after_swap)
    assert cites_new_passage(after) and "7h30" in after["answer"]


class OtherEncoder(KeywordEncoder):
    name = "other-test"   # an index built with another embedder than the server's


def test_a_mismatched_index_is_refused_and_the_old_one_keeps_answering(small_settings, tmp_path, caplog):
    reloader, app = served_app(small_settings, tmp_path, poll_s=0.1)
    old_version = current_version(small_settings.index_dir).name
    with TestClient(app) as client:
        build_index(small_settings, embedder=OtherEncoder())
        bad_version = current_version(small_settings.index_dir).name
        deadline = time.monotonic() + 10
        while not client.get("/healthz").json()["index"].get("reload_failed") and time.monotonic() < deadline:
            time.sleep(0.05)
        health = client.get("/healthz").json()
        answer = client.post("/api/ask", json={"question": "How much is the Erasmus grant?"})
        time.sleep(0.5)   # a few more looks at the unchanged pointer: no second attempt, no second log line

    assert health["status"] == "degraded" and health["index"]["version"] == old_version
    refused = health["index"]["reload_failed"]
    assert refused["version"] == bad_version and "built with embedder 'other-test'" in refused["error"]
    assert answer.status_code == 200 and answer.json()["citations"][0]["source"] == "uphf-faq"
    assert reloader.reloads == {"ok": 0, "failed": 1}
    assert [r.levelname for r in caplog.records if r.name == "rag.reload"] == ["ERROR"]


def auth(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_staff_reload_needs_the_login_and_the_token_and_swaps_the_index(small_settings, tmp_path):
    reloader, app = served_app(small_settings, tmp_path, poll_s=0, staff_user="staff", staff_password="s3cret")
    with TestClient(app) as client:
        build_index(small_settings.replace(corpus_dir=second_corpus(tmp_path / "corpus2")), embedder=KeywordEncoder())
        assert client.post("/staff/reload-index").status_code == 401
        assert client.post("/staff/reload-index", headers=auth("staff", "s3cret")).status_code == 403
        assert client.post("/staff/reload-index", headers={**auth("staff", "s3cret"), "X-CSRF-Token": "0" * 64}).status_code == 403
        time.sleep(0.3)
        assert not cites_new_passage(client.post("/api/ask", json={"question": NEW_QUESTION}).json())   # no watch: unchanged

        token = client.get("/staff/reload-index", headers=auth("staff", "s3cret")).json()["csrf"]
        done = client.post("/staff/reload-index", data={"csrf": token}, headers=auth("staff", "s3cret"))
        assert done.status_code == 200 and done.json()["result"] == "reloaded"
        assert done.json()["index"]["version"] == current_version(small_settings.index_dir).name
        assert cites_new_passage(client.post("/api/ask", json={"question": NEW_QUESTION}).json())

        # A damaged new version is refused with 409; answers go on from the one in use.
        build_index(small_settings, embedder=OtherEncoder())
        refused = client.post("/staff/reload-index", headers={**auth("staff", "s3cret"), "X-CSRF-Token": token})
        assert refused.status_code == 409 and "other-test" in refused.json()["index"]["reload_failed"]["error"]
        assert cites_new_passage(client.post("/api/ask", json={"question": NEW_QUESTION}).json())


def test_index_poll_setting_is_checked(monkeypatch):
    from rag.errors import InvalidSettingError
    from rag.reload import poll_seconds_from_env

    monkeypatch.setenv("RAG_INDEX_POLL_S", "nan")
    with pytest.raises(InvalidSettingError, match="RAG_INDEX_POLL_S"):
        poll_seconds_from_env()
    monkeypatch.setenv("RAG_INDEX_POLL_S", "0")
    assert poll_seconds_from_env() == 0


def test_a_build_that_lands_while_the_server_starts_is_not_missed_and_a_touched_pointer_loads_nothing(small_settings, tmp_path):
    build_index(small_settings, embedder=KeywordEncoder())
    assistant = Assistant(load_index(small_settings), KeywordEncoder(), small_settings)
    build_index(small_settings.replace(corpus_dir=second_corpus(tmp_path / "corpus2")), embedder=KeywordEncoder())
    reloader = IndexReloader(assistant, poll_s=0)   # created after the switch: its first look still sees it
    assert reloader.check() == "reloaded" and cites_new_passage(reloader.assistant.ask(NEW_QUESTION).to_dict())
    pointer = small_settings.index_dir / "CURRENT"
    later = pointer.stat().st_mtime + 5
    os.utime(pointer, (later, later))
    assert reloader.check() == "unchanged" and reloader.reloads == {"ok": 1, "failed": 0}


def test_a_version_deleted_by_a_newer_build_while_loading_is_not_reported_as_refused(small_settings, tmp_path, monkeypatch):
    import rag.reload
    from rag.errors import IndexMissingError

    build_index(small_settings, embedder=KeywordEncoder())
    reloader = IndexReloader(Assistant(load_index(small_settings), KeywordEncoder(), small_settings), poll_s=0)
    reloader.check()
    build_index(small_settings, embedder=KeywordEncoder())
    real_load = rag.reload.load_index

    def overtaken(settings, **kwargs):   # the build after this one lands (and deletes it) mid-load
        monkeypatch.setattr(rag.reload, "load_index", real_load)
        build_index(small_settings.replace(corpus_dir=second_corpus(tmp_path / "corpus2")), embedder=KeywordEncoder())
        raise IndexMissingError("the version folder vanished")

    monkeypatch.setattr(rag.reload, "load_index", overtaken)
    assert reloader.check() == "superseded" and reloader.failure is None
    assert reloader.check() == "reloaded" and reloader.reloads == {"ok": 1, "failed": 0}
    assert cites_new_passage(reloader.assistant.ask(NEW_QUESTION).to_dict())
