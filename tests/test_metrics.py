"""/metrics (web/metrics.py): what an operator's Prometheus scrapes, parsed as Prometheus parses it."""

import pytest

from conftest import KeywordEncoder, require

require("fastapi")
parser = require("prometheus_client.parser")
from fastapi.testclient import TestClient  # noqa: E402

from rag.assistant import Assistant  # noqa: E402
from rag.index import build_index, current_version, load_index  # noqa: E402
from rag.reload import IndexReloader  # noqa: E402
from rag.store import ExchangeStore  # noqa: E402
from rag.web import create_app  # noqa: E402

ANSWERABLE = ["How much is the Erasmus grant?", "Combien de partenariats Erasmus à l'UPJV ?", "Qui contacter pour le PAEH ?"]
OUT_OF_SCOPE = "What is the weather in Tokyo?"


@pytest.fixture
def served(small_settings, tmp_path):
    build_index(small_settings, embedder=KeywordEncoder())
    reloader = IndexReloader(Assistant(load_index(small_settings), KeywordEncoder(), small_settings), poll_s=0)
    store = ExchangeStore(tmp_path / "data")
    return reloader, store


def samples(text: str) -> dict:
    """{(sample name, sorted labels): value} of a scrape, as Prometheus reads it."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in parser.text_string_to_metric_families(text) for s in family.samples}


def labels(**names) -> tuple:
    return tuple(sorted(names.items()))


def test_metrics_count_requests_answers_abstentions_and_show_the_index(served, small_settings):
    reloader, store = served
    with TestClient(create_app(reloader.assistant, store, reloader=reloader)) as client:
        for question in ANSWERABLE + [OUT_OF_SCOPE]:
            assert client.post("/api/ask", json={"question": question}).status_code == 200
        assert client.post("/api/ask", json={"question": "  "}).status_code == 400
        client.get("/api/nothing/here/12345")
        client.get("/gradio_api/upload")   # closed by the security middleware, before any routing
        store.note_failure()               # as a failed database write counts it
        response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert response.headers["x-content-type-options"] == "nosniff"   # the security headers are still added
    got = samples(response.text)
    ask = {"method": "POST", "route": "/api/ask"}
    assert got[("rag_http_requests_total", labels(**ask, status="2xx"))] == 4
    assert got[("rag_http_requests_total", labels(**ask, status="4xx"))] == 1
    assert got[("rag_http_request_duration_seconds_count", labels(**ask, status="2xx"))] == 4
    assert got[("rag_answers_total", ())] == 4 and got[("rag_abstentions_total", ())] == 1
    assert got[("rag_storage_failures_total", ())] == 1
    version = current_version(small_settings.index_dir).name
    info = [labels for name, labels in got if name == "rag_index_info"]
    assert len(info) == 1 and ("version", version) in info[0]
    assert got[("rag_index_reloads_total", labels(result="failed"))] == 0
    # Routes are templates, never raw paths: an invented path adds no series of its own.
    routes = {dict(labels).get("route") for name, labels in got if name == "rag_http_requests_total"}
    assert not any("12345" in r or "upload" in r for r in routes), routes
    assert "(unrouted)" in routes


def test_metrics_token_when_configured(served):
    reloader, store = served
    with TestClient(create_app(reloader.assistant, store, reloader=reloader, metrics_token="s3cret-token")) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200 and "rag_answers_total" in ok.text
