"""Programs call the chat's two named Gradio endpoints with gradio_client and get JSON back."""

import socket
import threading
import time

import pytest

from conftest import require
from test_web import StubAssistant

from rag.store import ExchangeStore
from rag.web import create_app


@pytest.fixture
def served(tmp_path):
    uvicorn = require("uvicorn")
    store = ExchangeStore(tmp_path / "data")
    app = create_app(StubAssistant(), store)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/", store
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_gradio_client_gets_the_answer_object_from_ask_and_stores_feedback(served):
    client_module = require("gradio_client")
    url, store = served
    client = client_module.Client(url, verbose=False)
    answer = client.predict("How much is the Erasmus grant?", [], api_name="/ask")
    assert isinstance(answer, dict) and answer["citations"] and "abstained" in answer and answer["exchange_id"]
    assert client.predict(answer["exchange_id"], True, "clear", api_name="/feedback") == {"stored": True}
    assert any(row["feedback"] for row in store.recent())
    # The page's own events are not offered to programs: only the named endpoints are.
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names == {"/ask", "/feedback"}
