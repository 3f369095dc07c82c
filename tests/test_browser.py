"""A student and a staff member in a real browser: Debian's Chromium, headless, driven by Playwright.

The app runs in this process (uvicorn on a free loopback port, a thread) on the real corpus and the real
default embedder. Screenshots go to tests/screenshots/. Without /usr/bin/chromium the tests are skipped,
unless RAG_REQUIRE_BROWSER=1 (CI sets it), where a missing browser is a failure.
"""

import json
import os
from pathlib import Path

import pytest

from conftest import require, served_on_loopback

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("RAG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
AXE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(__file__).parent / "screenshots"
STAFF = ("staff", "correct horse battery staple")


def _require(condition: bool, why: str) -> None:
    if not condition:
        if os.environ.get("RAG_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="module")
def server(real_assistant, tmp_path_factory):
    """The real app on http://127.0.0.1:<free port>, with a staff login configured."""
    from rag.store import ExchangeStore
    from rag.web import create_app

    store = ExchangeStore(tmp_path_factory.mktemp("browser-data"))
    with served_on_loopback(create_app(real_assistant, store, *STAFF)) as url:
        yield url, store


@pytest.fixture(scope="module")
def browser():
    _require(Path(CHROMIUM).exists(), f"{CHROMIUM} not found: apt-get install chromium")
    sync_api = require("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_chat(browser, url: str, locale: str, **context_options):
    context = browser.new_context(locale=locale, **context_options)
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # Whatever the browser fetches outside the app, and what the Content-Security-Policy blocked.
    page.outside, page.csp_errors = [], []
    page.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:")) else page.outside.append(r.url))
    page.on("console", lambda m: page.csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(url, wait_until="load")
    box_label = "Votre question" if locale.startswith("fr") else "Your question"
    page.get_by_label(box_label).wait_for(timeout=30_000)
    return context, page, dialogs


def ask(page, question: str, answers_before: int) -> None:
    """Type the question, press Enter (the keyboard alone), wait for the new answer."""
    box = page.locator("#question textarea")
    box.click()
    box.fill(question)
    box.press("Enter")
    page.locator("#chat [data-testid='bot']").nth(answers_before).wait_for(timeout=30_000)
    page.wait_for_timeout(300)


def last_answer(page) -> str:
    return page.locator("#chat [data-testid='bot']").last.inner_text()


def test_a_student_asks_in_french_and_english_gives_feedback_and_staff_find_it(server, browser):
    url, store = server
    SHOTS.mkdir(exist_ok=True)
    context, page, dialogs = open_chat(browser, url, "fr-FR")
    # The page follows the browser's language.
    assert page.get_by_role("button", name="Envoyer").is_visible()

    ask(page, "Combien touche-t-on par mois avec la bourse Erasmus ?", 0)
    answer = last_answer(page)
    first_line = answer.strip().split("\n")[0]
    assert first_line.endswith("[1]") and "€" in first_line   # it leads with the line holding an amount
    cards = page.locator(".source-card")
    assert cards.count() >= 1
    assert "UPHF" in cards.first.inner_text()
    assert page.locator(".source-card mark").count() >= 1   # the quoted sentence is highlighted
    page.screenshot(path=str(SHOTS / "1-french-question.png"), full_page=True)

    page.get_by_label("Commentaire (facultatif)").fill("clair, merci ; écrivez-moi à etu@example.org")
    page.get_by_role("button", name="Utile", exact=True).click()
    page.get_by_text("Merci pour votre avis.").wait_for(timeout=10_000)

    ask(page, "How much is the Erasmus grant per month?", 1)
    answer = last_answer(page)
    assert answer.strip().split("\n")[0].endswith("[1]")
    assert any(amount in page.locator("#sources").inner_text() for amount in ("210", "261", "312"))
    page.screenshot(path=str(SHOTS / "2-english-question.png"), full_page=True)

    # A follow-up is read with the previous question: Mermoz, in the grants' context.
    ask(page, "And for Mermoz?", 2)
    assert "Mermoz" in page.locator(".source-card").first.inner_text()
    page.screenshot(path=str(SHOTS / "3-follow-up.png"), full_page=True)

    # HTML in a question is shown as text, never run.
    ask(page, "<img src=x onerror=alert(1)> weather tomorrow?", 3)
    page.wait_for_timeout(500)
    assert dialogs == []
    assert page.locator("#chat img[src='x']").count() == 0
    assert "<img src=x onerror=alert(1)>" in page.locator("#chat").inner_text()
    page.screenshot(path=str(SHOTS / "4-html-question-and-abstention.png"), full_page=True)

    # A markdown image in a question is shown as text: the browser fetches nothing from that host.
    ask(page, "![pixel](http://192.0.2.1/pixel.png) bourse Erasmus ?", 4)
    page.wait_for_timeout(500)
    assert "![pixel](http://192.0.2.1/pixel.png)" in page.locator("#chat").inner_text()
    assert page.outside == [] and page.csp_errors == [], (page.outside, page.csp_errors)
    context.close()

    # The exchange reached the store with the e-mail masked, and staff find it behind the login.
    rows = store.recent()
    french = next(r for r in rows if r["question"].startswith("Combien touche-t-on"))
    assert french["feedback"] == "helpful" and "[email]" in french["comment"] and "example.org" not in french["comment"]

    # A student without the login gets a 401 (Chromium then asks for credentials), not the data.
    anonymous = browser.new_context()
    response = anonymous.request.get(url + "/staff")
    assert response.status == 401 and "Combien" not in response.text()
    assert anonymous.request.get(url + "/staff/export.csv").status == 401
    anonymous.close()

    staff = browser.new_context(http_credentials={"username": STAFF[0], "password": STAFF[1]})
    staff_page = staff.new_page()
    assert staff_page.goto(url + "/staff").status == 200
    row = staff_page.locator("tr", has_text="Combien touche-t-on par mois")
    assert row.count() == 1 and "helpful" in row.inner_text()
    staff_page.screenshot(path=str(SHOTS / "5-staff-review.png"), full_page=True)
    staff.close()


def test_the_chat_has_no_serious_accessibility_violations_and_fits_a_phone(server, browser):
    _require(AXE.exists(), f"{AXE} not found: npm ci --prefix tests/browser")
    url, _ = server
    context, page, _ = open_chat(browser, url, "en-GB", viewport={"width": 390, "height": 844},
                                 device_scale_factor=2, is_mobile=True, has_touch=True)
    ask(page, "Who should I email about incoming exchange mobility?", 0)
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"]][:5]}
               for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps(serious, indent=1)
    # Readable on a phone: nothing wider than the screen.
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(SHOTS / "6-phone.png"), full_page=True)
    context.close()
