"""Programs call the chat's two named Gradio endpoints with gradio_client and get JSON back."""

from conftest import require, served_on_loopback
from test_web import StubAssistant

from rag.store import ExchangeStore
from rag.web import create_app


def test_gradio_client_gets_the_answer_object_from_ask_and_stores_feedback(tmp_path):
    client_module = require("gradio_client")
    store = ExchangeStore(tmp_path / "data")
    with served_on_loopback(create_app(StubAssistant(), store)) as url:
        client = client_module.Client(url + "/", verbose=False)
        answer = client.predict("How much is the Erasmus grant?", [], api_name="/ask")
        assert isinstance(answer, dict) and answer["citations"] and "abstained" in answer and answer["exchange_id"]
        assert client.predict(answer["exchange_id"], True, "clear", api_name="/feedback") == {"stored": True}
        assert any(row["feedback"] for row in store.recent())
        # The page's own events are not offered to programs: only the named endpoints are.
        names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
        assert names == {"/ask", "/feedback"}
