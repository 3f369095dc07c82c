"""The staff review page as staff use it, on both backends: filters narrow the table and both exports
alike, pages follow each other, the stored verdict is what the form shows, and reviewed answers become an
evaluation file that `rag eval --dataset` scores. Two servers on one PostgreSQL database see each other's
exchanges and verdicts."""

import csv
import io
import json
import re

import pytest

from conftest import KeywordEncoder, require, served_on_loopback
from storage import make_store, postgres_url  # noqa: F401  (fixtures)
from test_web import StubAssistant, auth

require("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from rag.web import create_app  # noqa: E402

STAFF = ("staff", "s3cret")


class VariedAssistant(StubAssistant):
    """French for 'bourse' questions, an abstention for 'parking': enough to tell filters apart."""

    def ask(self, question, history=None, **kw):
        answer = super().ask(question, history, **kw)
        data = answer.to_dict()
        if "bourse" in question:
            data["language"] = "fr"
        if "parking" in question:
            data.update(abstained=True, answer="I cannot find this in the universities' texts.", citations=[])
        answer.to_dict = lambda: data
        return answer


@pytest.fixture
def staff_client(make_store):
    store = make_store()
    with TestClient(create_app(VariedAssistant(), store, *STAFF)) as c:
        c.store = store
        yield c


def ask(client, question, **body):
    return client.post("/api/ask", json={"question": question, **body}).json()["exchange_id"]


def page(client, **query):
    response = client.get("/staff", params=query, headers=auth(*STAFF))
    assert response.status_code == 200, response.text
    return response.text


def review(client, exchange_id, verdict, correction="", back=""):
    token = re.search(r"name='csrf' value='([0-9a-f]+)'", page(client)).group(1)
    return client.post("/staff/review", data={"id": exchange_id, "verdict": verdict, "correction": correction,
                                              "csrf": token, "back": back}, headers=auth(*STAFF))


def shown_verdict(html, exchange_id):
    row = html[html.index(f"id='x-{exchange_id}'"):]
    return re.search(r"<option value='(\w+)' selected>", row[row.index("name='verdict'"):]).group(1)


def csv_questions(client, **query):
    text = client.get("/staff/export.csv", params=query, headers=auth(*STAFF)).text
    return [row["question"] for row in csv.DictReader(io.StringIO(text))]


def test_filters_narrow_the_table_and_both_exports_alike(staff_client):
    fr = ask(staff_client, "Combien pour la bourse Erasmus ?")
    parking = ask(staff_client, "Is there parking on campus?")
    grant = ask(staff_client, "How much is the Erasmus grant?")
    staff_client.post("/api/feedback", json={"exchange_id": grant, "helpful": False, "comment": "wrong amount"})
    for exchange in (fr, parking, grant):
        review(staff_client, exchange, "correct")

    html = page(staff_client, language="fr")
    assert "bourse Erasmus" in html and "parking" not in html and "Erasmus grant" not in html
    assert "export.csv?language=fr" in html and "export.jsonl?language=fr" in html   # the links carry the filters
    assert csv_questions(staff_client, language="fr") == ["Combien pour la bourse Erasmus ?"]
    jsonl = staff_client.get("/staff/export.jsonl", params={"language": "fr"}, headers=auth(*STAFF)).text
    assert [json.loads(line)["question"] for line in jsonl.splitlines()] == ["Combien pour la bourse Erasmus ?"]

    assert csv_questions(staff_client, abstained="yes") == ["Is there parking on campus?"]
    assert staff_client.get("/staff/export.jsonl", params={"verdict": "unreviewed"}, headers=auth(*STAFF)).text == ""
    abstentions = staff_client.get("/staff/export.jsonl", params={"abstained": "yes"}, headers=auth(*STAFF)).text
    assert [json.loads(line)["answerable"] for line in abstentions.splitlines()] == [False]
    assert csv_questions(staff_client, feedback="not helpful") == ["How much is the Erasmus grant?"]
    assert csv_questions(staff_client, q="GRANT") == ["How much is the Erasmus grant?"]
    assert sorted(csv_questions(staff_client, feedback="none")) == ["Combien pour la bourse Erasmus ?", "Is there parking on campus?"]
    html = page(staff_client, abstained="yes", q="parking")
    assert "parking on campus" in html and "of 1," in html
    assert "selected>yes</option>" in html   # the form shows the filters in force
    assert staff_client.get("/staff", params={"verdict": "maybe"}, headers=auth(*STAFF)).status_code == 422


def test_page_two_shows_the_next_rows_and_the_csv_every_row(staff_client):
    for i in range(30):
        staff_client.store.record("s", {"question": f"question number {i:02d}", "language": "en", "abstained": False,
                                        "answer": "a", "confidence": 0.5, "candidates": []})
    first = page(staff_client, per_page=25)
    assert "Rows 1–25 of 30, page 1 of 2" in first and "question number 29" in first and "question number 04" not in first
    next_link = re.search(r"<a rel='next' href='([^']+)'", first).group(1).replace("&amp;", "&")
    second = staff_client.get(next_link, headers=auth(*STAFF)).text
    assert "Rows 26–30 of 30, page 2 of 2" in second and "question number 04" in second and "question number 05" not in second
    assert "rel='prev'" in second and "rel='next'" not in second
    assert len(csv_questions(staff_client)) == 30   # no silent cap
    assert len(csv_questions(staff_client, q="number 1")) == 10


def test_the_form_shows_the_stored_verdict_and_saving_again_keeps_it(staff_client):
    exchange = ask(staff_client, "How much is the Erasmus grant?")
    assert shown_verdict(page(staff_client), exchange) == "unreviewed"   # never a default "correct"
    saved = review(staff_client, exchange, "wrong", "400€", back="language=en&per_page=25&page=1")
    assert saved.status_code == 200 and "Verdict saved." in saved.text
    assert "language=en" in str(saved.url) and "per_page=25" in str(saved.url)   # back to the list it was on
    html = page(staff_client)
    assert shown_verdict(html, exchange) == "wrong" and "value='400€'" in html
    # Saving the row again as the page shows it does not flip the verdict.
    review(staff_client, exchange, shown_verdict(html, exchange), "400€")
    assert shown_verdict(page(staff_client), exchange) == "wrong"
    review(staff_client, exchange, "unreviewed")
    assert shown_verdict(page(staff_client), exchange) == "unreviewed"


def test_dates_are_iso_utc_for_the_local_time_script(staff_client):
    ask(staff_client, "How much is the Erasmus grant?")
    html = page(staff_client)
    assert re.search(r"<time datetime='\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ'>\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", html)
    assert "toLocaleString" in html and "<link" not in html and "src=" not in html   # inline only (CSP)


def test_a_redirect_after_review_never_leaves_the_staff_page(staff_client):
    exchange = ask(staff_client, "q?")
    saved = review(staff_client, exchange, "correct", back="//evil.example/x?page=https://evil")
    assert saved.history[0].headers["location"].startswith("/staff?")


def test_reviewed_answers_export_as_a_dataset_rag_eval_scores(small_settings, small_assistant, tmp_path, monkeypatch, capsys):
    """Exchanges through the real API on a small index, reviewed through the staff form, exported with a
    filter, then run as-is through `rag eval --dataset FILE`."""
    from rag.cli import main
    from rag.store import ExchangeStore

    store = ExchangeStore(small_settings.data_dir)
    with TestClient(create_app(small_assistant, store, *STAFF)) as client:
        mermoz = ask(client, "montant bourse Mermoz")
        follow_up = ask(client, "et la bourse Erasmus par mois ?", history=["montant bourse Mermoz"])
        unanswerable = ask(client, "Where can I park my car tonight?")
        contact = ask(client, "contact accords Erasmus+")
        invented = ask(client, "Erasmus code?")
        for exchange in (mermoz, follow_up, unanswerable):
            assert review(client, exchange, "correct").status_code == 200
        review(client, contact, "wrong", "erasmus@uphf.fr")
        review(client, invented, "wrong", "a code no text of the corpus holds")

        everything = client.get("/staff/export.jsonl", headers=auth(*STAFF))
        assert everything.headers["x-exported-rows"] == "4" and everything.headers["x-skipped-rows"] == "1"
        assert "correction not in the corpus" in everything.headers["x-skipped-reasons"]
        exported = client.get("/staff/export.jsonl", params={"verdict": "correct"}, headers=auth(*STAFF))
    lines = [json.loads(line) for line in exported.text.splitlines()]
    by_question = {line["question"]: line for line in lines}
    assert len(lines) == 3 and {line["split"] for line in lines} == {"reviewed"}
    assert by_question["montant bourse Mermoz"]["needles"] == ["400€"]
    assert by_question["montant bourse Mermoz"]["source"] == "uphf-faq"
    assert by_question["et la bourse Erasmus par mois ?"]["history"] == ["montant bourse Mermoz"]
    assert by_question["Where can I park my car tonight?"] == {**by_question["Where can I park my car tonight?"],
                                                              "answerable": False, "needles": []}
    dataset = tmp_path / "reviewed.jsonl"
    dataset.write_text(exported.text, encoding="utf-8")

    monkeypatch.setenv("RAG_CORPUS_DIR", str(small_settings.corpus_dir))
    monkeypatch.setenv("RAG_INDEX_DIR", str(small_settings.index_dir))
    monkeypatch.setenv("RAG_EMBEDDER", KeywordEncoder.name)
    monkeypatch.setenv("RAG_ABSTAIN_THRESHOLD", str(small_settings.abstain_threshold))
    monkeypatch.setattr("rag.assistant.make_embedder", lambda settings: KeywordEncoder())
    capsys.readouterr()
    assert main(["eval", "--dataset", str(dataset), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)["by_split"]["reviewed"]
    assert scored["questions"] == 3 and scored["answerable"] == 2 and scored["unanswerable"] == 1
    assert scored["hit@5"] == 1.0 and scored["answer_accuracy"] == 1.0 and scored["abstention_accuracy"] == 1.0


def test_two_servers_on_one_postgres_database_share_exchanges_and_verdicts(postgres_url):
    httpx = require("httpx")
    from rag.store import open_store

    stores = [open_store(None, 90, postgres_url) for _ in range(2)]
    try:
        with served_on_loopback(create_app(StubAssistant(), stores[0], *STAFF)) as one, \
                served_on_loopback(create_app(StubAssistant(), stores[1], *STAFF)) as two, \
                httpx.Client(headers=auth(*STAFF), timeout=30) as http:
            exchange = http.post(f"{one}/api/ask", json={"question": "Asked on server one?"}).json()["exchange_id"]
            listed = http.get(f"{two}/staff").text
            assert "Asked on server one?" in listed
            assert "Asked on server one?" in http.get(f"{two}/staff/export.csv").text
            # The form comes from one replica and is posted to the other, as behind a load balancer.
            token = re.search(r"name='csrf' value='([0-9a-f]+)'", http.get(f"{one}/staff").text).group(1)
            saved = http.post(f"{two}/staff/review", data={"id": exchange, "verdict": "wrong", "correction": "999884537",
                                                           "csrf": token}, follow_redirects=False)
            assert saved.status_code == 303
            assert shown_verdict(http.get(f"{one}/staff").text, exchange) == "wrong"   # seen from the other server
            assert "999884537" in http.get(f"{one}/staff/export.jsonl").text
    finally:
        for store in stores:
            store.close()


@pytest.mark.browser
def test_the_staff_page_fits_a_phone_and_shows_local_times(tmp_path):
    """375x667 in headless Chromium: no sideways page scroll, even with long unbroken texts; dates rewritten
    into the reader's time zone by the inline script (the CSP allows no other)."""
    from test_browser import AXE, CHROMIUM, CHROMIUM_ARGS, README_SHOTS, _require
    from pathlib import Path

    _require(Path(CHROMIUM).exists(), f"{CHROMIUM} not found: apt-get install chromium")
    sync_api = require("playwright.sync_api")
    from rag.store import ExchangeStore

    store = ExchangeStore(tmp_path / "data")
    for i in range(3):
        store.record("s", {"question": f"https://www.example-university.fr/{'very-long-path-' * 8}{i}", "language": "en",
                           "abstained": False, "answer": "Write to international_in@uphf.fr " + "x" * 120, "confidence": 0.5,
                           "candidates": [{"title": "Aides", "score": 0.5}]})
    with served_on_loopback(create_app(StubAssistant(), store, *STAFF)) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 375, "height": 667}, timezone_id="Asia/Tokyo", locale="en-GB",
                                          http_credentials={"username": STAFF[0], "password": STAFF[1]})
            page = context.new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{url}/staff")
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            shown = page.locator("time").first.inner_text()
            assert "UTC" not in shown and shown != ""
            assert page.locator("select[name=verdict]").first.is_visible()
            assert page.locator("form.filters button").is_visible()
            README_SHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(README_SHOTS / "staff-phone.png"))   # the README shows it
            _require(AXE.exists(), f"{AXE} not found: npm ci --prefix tests/browser")
            page.add_script_tag(path=str(AXE))
            found = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")["violations"]
            serious = [(v["id"], v["help"]) for v in found if v["impact"] in ("serious", "critical")]
            assert serious == []
            assert errors == []
        finally:
            browser.close()
