"""The web edge with a stub assistant: no model, no server process (FastAPI's test client)."""

import base64
import re
import threading

import pytest

from conftest import require

fastapi = require("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from rag.web import create_app, render_sources  # noqa: E402
from rag.store import ExchangeStore, mask_personal_data  # noqa: E402


class StubAnswer:
    def __init__(self, question, history):
        self.question, self.history = question, history

    def to_dict(self):
        return {"question": self.question, "language": "en", "abstained": False, "confidence": 0.7,
                "answer": "Here is what the texts say:\n\n- 210€ per month [1]",
                "citations": [{"n": 1, "source": "uphf-faq", "title": "Les aides <b>financières</b>", "institution": "UPHF",
                               "url": "https://www.uphf.fr", "text": "Montant : 210€ <img src=x onerror=alert(1)>", "score": 0.7,
                               "highlight": "Montant : 210€"}],
                "candidates": [{"chunk_id": "abc", "source": "uphf-faq", "title": "Les aides financières", "score": 0.7}],
                "timings_ms": {"total": 1.0}}


class StubAssistant:
    index = None

    def __init__(self):
        self.calls = []

    def ask(self, question, history=None, **_):
        from rag.errors import InvalidQuestionError

        if not question.strip():
            raise InvalidQuestionError("the question is empty")
        self.calls.append((question, history))
        return StubAnswer(question, history)


def auth(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def client(tmp_path):
    assistant = StubAssistant()
    store = ExchangeStore(tmp_path / "data")
    app = create_app(assistant, store, staff_user="staff", staff_password="s3cret")
    with TestClient(app) as c:
        c.assistant, c.store = assistant, store
        yield c


def test_api_ask_returns_the_answer_object(client):
    response = client.post("/api/ask", json={"question": "How much is the Erasmus grant?"})
    data = response.json()
    assert response.status_code == 200 and data["citations"][0]["n"] == 1 and data["exchange_id"]


def test_api_ask_passes_the_conversation_history(client):
    client.post("/api/ask", json={"question": "and for Mermoz?", "history": ["How much is the Erasmus grant?"]})
    assert client.assistant.calls[-1] == ("and for Mermoz?", ["How much is the Erasmus grant?"])


def test_api_ask_rejects_a_bad_body_with_a_message(client):
    missing = client.post("/api/ask", json={"q": 1})
    assert missing.status_code == 422 and "question" in missing.json()["error"]
    response = client.post("/api/ask", json={"question": "  "})
    assert response.status_code == 400 and "empty" in response.json()["error"]


def test_healthz(client):
    assert client.get("/healthz").json()["status"] == "ok"


def test_questions_are_stored_masked_without_ip(client):
    client.post("/api/ask", json={"question": "I am jean.dupont@gmail.com, call +33 6 12 34 56 78"})
    row = client.store.recent()[0]
    assert "gmail" not in row["question"] and "[email]" in row["question"] and "[phone]" in row["question"]
    assert not any("testclient" in str(v) for v in row.values())


def test_feedback_is_stored(client):
    exchange = client.post("/api/ask", json={"question": "grant?"}).json()["exchange_id"]
    assert client.post("/api/feedback", json={"exchange_id": exchange, "helpful": False, "comment": "wrong amount"}).status_code == 200
    assert client.store.recent(not_helpful=True)[0]["comment"] == "wrong amount"


def test_staff_page_needs_a_login(client):
    assert client.get("/staff").status_code == 401
    assert client.get("/staff", headers=auth("staff", "wrong")).status_code == 401
    client.post("/api/ask", json={"question": "Erasmus code?"})
    page = client.get("/staff", headers=auth("staff", "s3cret"))
    assert page.status_code == 200 and "Erasmus code?" in page.text


def test_staff_page_is_off_without_configured_credentials(tmp_path):
    app = create_app(StubAssistant(), ExchangeStore(tmp_path / "d"), None, None)
    with TestClient(app) as c:
        assert c.get("/staff").status_code == 404
        assert c.get("/staff/export.csv", headers=auth("", "")).status_code == 404


def test_staff_review_and_exports(client):
    exchange = client.post("/api/ask", json={"question": "Erasmus code?"}).json()["exchange_id"]
    page = client.get("/staff", headers=auth("staff", "s3cret")).text
    token = re.search(r"name='csrf' value='([0-9a-f]+)'", page).group(1)
    saved = client.post("/staff/review", data={"id": exchange, "verdict": "wrong", "correction": "999884537", "csrf": token},
                        headers=auth("staff", "s3cret"))
    assert saved.status_code == 200
    csv_text = client.get("/staff/export.csv", headers=auth("staff", "s3cret")).text
    assert "Erasmus code?" in csv_text and "wrong" in csv_text
    jsonl = client.get("/staff/export.jsonl", headers=auth("staff", "s3cret")).text
    assert '"needles": ["999884537"]' in jsonl and '"answerable": true' in jsonl


def test_source_cards_show_html_as_text():
    rendered = render_sources(StubAnswer("q", []).to_dict(), "en")
    assert "<img" not in rendered and "&lt;img src=x" in rendered and "<b>" not in rendered
    assert "<mark>Montant : 210€</mark>" in rendered


def test_mask_personal_data():
    assert mask_personal_data("mail me: a.b@c.fr or 03 27 51 10 23") == "mail me: [email] or [phone]"
    assert mask_personal_data("Erasmus code 999884537?") == "Erasmus code 999884537?"
    assert mask_personal_data("+33 6 12 34 56 78") == "[phone]"


def test_concurrent_feedback_loses_nothing(tmp_path):
    store = ExchangeStore(tmp_path / "data")
    ids = [store.record("s", StubAnswer(f"q{i}", []).to_dict()) for i in range(50)]
    threads = [threading.Thread(target=store.feedback, args=(i, True, "ok")) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["feedback"] == "helpful" for r in store.recent(limit=100)) == 50


def test_retention_deletes_old_rows(tmp_path):
    store = ExchangeStore(tmp_path / "data", retention_days=1)
    store.record("s", StubAnswer("old", []).to_dict())
    store._connect().execute("UPDATE exchanges SET created_at = created_at - 3 * 86400")
    assert store.purge() == 1 and store.recent() == []


def test_staff_see_the_office_addresses_of_an_answer_but_not_the_students(tmp_path):
    store = ExchangeStore(tmp_path / "data")
    store.record("s", {"question": "write me at jo@example.org", "language": "en", "abstained": True,
                       "answer": "Please contact international_in@uphf.fr", "confidence": 0.1, "candidates": []})
    row = store.recent()[0]
    assert row["question"] == "write me at [email]"
    assert row["answer"] == "Please contact international_in@uphf.fr"
