"""Students and a staff member in a real browser: Debian's Chromium, headless, driven by Playwright.

The app runs in this process (uvicorn on a free loopback port, a thread) on the real corpus and the real
default embedder. The screenshots the README shows go to docs/screenshots/ (committed), the others to
tests/screenshots/. Without /usr/bin/chromium the tests are skipped, unless RAG_REQUIRE_BROWSER=1 (CI
sets it), where a missing browser is a failure.
"""

import json
import os
import re
from pathlib import Path

import pytest

from conftest import require, served_on_loopback

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("RAG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
AXE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(__file__).parent / "screenshots"
README_SHOTS = Path(__file__).parents[1] / "docs" / "screenshots"
STAFF = ("staff", "correct horse battery staple")
SOURCE_URLS = {s["url"] for s in json.loads((Path(__file__).parents[1] / "corpus" / "sources.json").read_text())}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True}

# What a student sees in each language the journeys use.
WORDS = {
    "en": {"box": "Your question", "send": "Send", "clear": "Clear", "helpful": "Helpful", "not_helpful": "Not helpful",
           "thanks": "Thank you for your feedback.", "sources": "Sources", "copy": "Copy", "placeholder": "Type, then press Enter",
           "example": "How much is the Erasmus grant per month?", "comment": "Comment on answer {n} (optional)"},
    "fr": {"box": "Votre question", "send": "Envoyer", "clear": "Effacer", "helpful": "Utile", "not_helpful": "Pas utile",
           "thanks": "Merci pour votre avis.", "sources": "Sources", "copy": "Copier", "placeholder": "Tapez, puis Entrée",
           "example": "Où candidater en master 1 ?", "comment": "Commentaire sur la réponse {n} (facultatif)"},
    "ar": {"box": "سؤالك", "send": "إرسال", "clear": "مسح", "helpful": "مفيد", "not_helpful": "غير مفيد",
           "thanks": "شكرًا على رأيك.", "sources": "المصادر", "copy": "نسخ", "placeholder": "اكتب ثم اضغط Enter",
           "example": "كم تبلغ منحة إيراسموس شهريًا؟", "comment": "تعليق على الإجابة {n} (اختياري)"},
}


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
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # Whatever the browser fetches outside the app, and what the Content-Security-Policy blocked.
    page.outside, page.csp_errors = [], []
    page.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:")) else page.outside.append(r.url))
    page.on("console", lambda m: page.csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(url, wait_until="load")
    page.get_by_label(WORDS[locale[:2]]["box"]).wait_for(timeout=30_000)   # the browser's language, once loaded
    page.wait_for_function("document.documentElement.dir !== ''", timeout=10_000)
    return context, page, dialogs


def answers(page):
    return page.locator("#chat [data-testid='bot'] .answer")


def ask(page, question: str) -> None:
    """Type the question, press Enter (the keyboard alone), wait for the new answer."""
    before = answers(page).count()
    box = page.locator("#question textarea")
    box.click()
    box.fill(question)
    box.press("Enter")
    answers(page).nth(before).wait_for(timeout=30_000)
    page.wait_for_timeout(300)


def tab_to(page, script: str, key: str = "Tab", limit: int = 40) -> int:
    """Press `key` until `script` (about document.activeElement) holds; how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press(key)
        if page.evaluate(f"(() => {{ const e = document.activeElement; return !!e && ({script}); }})()"):
            return presses
    raise AssertionError(f"{script!r} never focused with {key} ({limit} presses)")


def on_first_screen(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1")


def axe_serious(page) -> list:
    _require(AXE.exists(), f"{AXE} not found: npm ci --prefix tests/browser")
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in results["violations"] if v["impact"] in ("serious", "critical")]


def clipboard_after_copy(page, answer) -> str:
    answer.locator("button.copy-answer").click()
    page.wait_for_timeout(200)
    return page.evaluate("navigator.clipboard.readText()")


def shot(page, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    assert path.stat().st_size < 200_000, f"{path} is {path.stat().st_size} bytes"


JOURNEYS = {
    "desktop-english": ("en-GB", DESKTOP, "How much is the Erasmus grant per month?", "desktop-english-answer-sources.png"),
    # (the Erasmus grant asked in French leads with another grant's amount: a known gap, test_end_to_end.py)
    "phone-french": ("fr-FR", PHONE, "Quel est le montant de la bourse Mermoz par mois ?", "phone-french.png"),
    "arabic": ("ar", DESKTOP, "كم تبلغ منحة إيراسموس شهريًا؟", "arabic-answer-rtl.png"),
}


@pytest.mark.parametrize("journey", list(JOURNEYS))
def test_a_student_asks_with_the_keyboard_reads_the_sources_and_rates_the_answer(server, browser, journey):
    url, store = server
    locale, device, question, picture = JOURNEYS[journey]
    words = WORDS[locale[:2]]
    context, page, dialogs = open_chat(browser, url, locale, **device)

    # The page speaks the browser's language: labels, placeholder, buttons, examples, <html lang dir>.
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == \
        [locale[:2], "rtl" if locale == "ar" else "ltr"]
    assert page.get_by_label(words["box"]).get_attribute("placeholder") == words["placeholder"]
    assert page.get_by_role("button", name=words["send"], exact=True).is_visible()
    assert page.get_by_role("button", name=words["clear"], exact=True).is_visible()
    assert words["example"] in page.locator("#examples").inner_text()
    # The question box and Send are on the first screen, and nothing is wider than it.
    assert on_first_screen(page, "#question textarea") and on_first_screen(page, "#send")
    assert no_sideways_scroll(page)

    # The keyboard alone: Tab to the question box, type, Enter sends.
    tab_to(page, "e.closest('#question') !== null")
    page.locator("[role=listbox]").wait_for(state="detached", timeout=2_000)   # the language menu Tab crossed is closed
    page.keyboard.type(question)
    page.keyboard.press("Enter")
    answers(page).first.wait_for(timeout=30_000)
    page.wait_for_timeout(300)
    answer = answers(page).first
    assert on_first_screen(page, "#question textarea") and on_first_screen(page, "#send") and no_sideways_scroll(page)

    # The answer leads with the line holding an amount, [1] after it; the message says which language it is
    # in and where its framing reads from; the quote carries its own (French) language.
    lead = answer.locator("p.lead")
    assert re.search(r"\d ?€", lead.inner_text()) and lead.inner_text().strip().endswith("[1]")
    assert answer.get_attribute("lang") == locale[:2] and lead.get_attribute("lang") == "fr"
    assert answer.evaluate("e => getComputedStyle(e).direction") == ("rtl" if locale == "ar" else "ltr")
    assert lead.evaluate("e => getComputedStyle(e).direction") == "ltr"   # a French quote stays left to right
    assert "<" not in (answer.locator("xpath=ancestor::*[@data-testid='bot']").get_attribute("aria-label") or "")
    question_bubble = page.locator("#chat [data-testid='user'] .question").first
    assert question_bubble.get_attribute("dir") == "auto"
    assert question_bubble.evaluate("e => getComputedStyle(e).direction") == ("rtl" if locale == "ar" else "ltr")

    # Its sources are under it, closed; [1] opens them and highlights card 1: institution, title, section,
    # the document's own link, the quoted sentence marked, and no score.
    sources = answer.locator("details.sources")
    assert sources.locator("summary").inner_text().startswith(words["sources"])
    assert not sources.evaluate("d => d.open")
    if journey != "desktop-english":   # the README shows these as the student first sees them
        shot(page, README_SHOTS / picture)
    answer.locator("a.cite", has_text="[1]").first.focus()
    page.keyboard.press("Enter")
    card = answer.locator(".source-card").first
    assert sources.evaluate("d => d.open") and "highlighted" in card.get_attribute("class")
    assert card.evaluate("c => document.activeElement === c") and card.is_visible()
    text = card.inner_text()
    assert "UPHF" in text and card.locator(".source-title strong").inner_text().strip()
    assert card.locator(".meta").inner_text().strip() != "UPHF"   # the section is named too
    assert card.locator("a.source-link").get_attribute("href") in SOURCE_URLS
    assert card.locator("mark").inner_text().strip() in lead.inner_text()
    assert not re.search(r"\b[01][.,]\d{2}\b|relevance|pertinence", text), text
    if journey == "desktop-english":
        shot(page, README_SHOTS / picture)

    # Copy puts plain text on the clipboard: the answer, then its sources with their links; no markup.
    copied = clipboard_after_copy(page, answer)
    assert copied.split("\n")[0] == lead.inner_text().strip()
    assert "[1]" in copied and f"\n\n{words['sources']}:\n[1] " in copied and "https://www.uphf.fr" in copied
    assert not re.search(r"<[a-z/]|&[#a-z0-9]+;|\*\*", copied), copied

    # Shift+Tab from the box reaches the answer's thumbs; Enter rates it, stored against that exchange.
    tab_to(page, "e.closest('#question') !== null")
    tab_to(page, f"e.getAttribute('aria-label') === {json.dumps(words['helpful'])}", key="Shift+Tab", limit=15)
    page.keyboard.press("Enter")
    page.get_by_text(words["thanks"]).wait_for(timeout=10_000)
    assert page.get_by_label(words["comment"].format(n=1)).is_visible()
    row = next(r for r in store.recent() if r["question"] == question)
    assert row["feedback"] == "helpful"

    assert axe_serious(page) == [], json.dumps(axe_serious(page), indent=1)
    assert dialogs == [] and page.outside == [] and page.csp_errors == [], (page.outside, page.csp_errors)
    context.close()


def test_every_answer_keeps_its_sources_and_its_own_thumb_and_comment_and_clear_forgets_all(server, browser):
    url, store = server
    context, page, _ = open_chat(browser, url, "en-GB", **DESKTOP)
    ask(page, "How much is the Erasmus grant per month?")
    ask(page, "Who should I email about incoming exchange mobility?")
    first, second = answers(page).nth(0), answers(page).nth(1)
    # [1] of the second answer opens the second answer's card, not the first's.
    second.locator("a.cite").first.click()
    assert second.locator("details.sources").evaluate("d => d.open")
    assert not first.locator("details.sources").evaluate("d => d.open")
    assert "@" in second.locator(".source-card").first.inner_text()
    # The first answer still has its own cards after the second came.
    first.locator("details.sources summary").click()
    assert "€" in first.locator(".source-card").first.inner_text()

    # Thumbs down on the first answer (a comment typed before goes with it), up on the second with a comment
    # sent after: each stored against its own exchange.
    thumbs = page.locator("#chat .message-buttons")
    page.get_by_label("Comment (optional)").fill("I asked for the Erasmus amount")
    thumbs.nth(0).get_by_role("button", name="Not helpful").click()
    page.get_by_text("Thank you for your feedback.").wait_for(timeout=10_000)
    page.wait_for_function("document.querySelector('#comment textarea').value === ''", timeout=10_000)
    thumbs.nth(1).get_by_role("button", name="Helpful", exact=True).click()
    page.get_by_label("Comment on answer 2 (optional)").fill("the right address, thanks")
    page.get_by_role("button", name="Send comment").click()
    page.wait_for_function("document.querySelector('#comment textarea').value === ''", timeout=10_000)
    rows = {}
    for row in store.recent(limit=100):   # newest first: other tests asked the same questions
        rows.setdefault(row["question"], row)
    erasmus = rows["How much is the Erasmus grant per month?"]
    assert erasmus["feedback"] == "not helpful" and erasmus["comment"] == "I asked for the Erasmus amount"
    incoming = rows["Who should I email about incoming exchange mobility?"]
    assert incoming["feedback"] == "helpful" and incoming["comment"] == "the right address, thanks"
    shot(page, SHOTS / "two-answers-each-with-its-sources.png")

    # Clear: no message, no source card, no comment, no rating left; the next question starts afresh.
    page.get_by_role("button", name="Clear", exact=True).click()
    page.wait_for_function("document.querySelectorAll('#chat .answer').length === 0", timeout=10_000)
    assert page.locator(".source-card").count() == 0 and page.locator("#comment textarea").input_value() == ""
    assert page.get_by_label("Comment (optional)").is_visible()
    page.get_by_role("button", name="Send comment").click()   # nothing rated since the clear
    page.get_by_text("Rate an answer with 👍 or 👎 first.").wait_for(timeout=10_000)
    page.locator("#question textarea").press("Enter")   # an empty box asks nothing
    page.wait_for_timeout(500)
    assert page.locator("#chat [data-testid='user']").count() == 0
    ask(page, "thanks!")
    assert answers(page).count() == 1
    context.close()


def test_switching_the_interface_language_changes_every_label_and_example(server, browser):
    url, _ = server
    context, page, _ = open_chat(browser, url, "en-GB", **DESKTOP)
    ask(page, "How much is the Erasmus grant per month?")
    # A follow-up is read with the previous question: Mermoz, in the grants' context.
    ask(page, "And for Mermoz?")
    answers(page).last.locator("a.cite").first.click()
    assert "Mermoz" in answers(page).last.locator(".source-card").first.inner_text()
    page.locator("#page-language input").click()
    page.get_by_role("option", name="Français").click()
    page.get_by_label("Votre question").wait_for(timeout=10_000)
    fr = WORDS["fr"]
    assert page.locator("#heading h1").inner_text().startswith("Assistant international")
    assert page.get_by_label("Votre question").get_attribute("placeholder") == fr["placeholder"]
    for name in (fr["send"], fr["clear"], "Envoyer le commentaire", fr["helpful"], fr["not_helpful"]):
        assert page.get_by_role("button", name=name, exact=True).first.is_visible(), name
    assert page.get_by_label("Commentaire (facultatif)").is_visible() and page.get_by_label("Langue").is_visible()
    examples = page.locator("#examples").inner_text()
    assert fr["example"] in examples and "Erasmus grant" not in examples and "Examples" not in examples
    assert page.evaluate("document.documentElement.lang") == "fr"
    # No English label is left on screen (the answer itself keeps the language it was asked in).
    outside_chat = page.evaluate("""[...document.querySelectorAll('label, button, [placeholder], h1, #examples')]
        .filter(e => !e.closest('#chat .message-wrap') && e.checkVisibility())
        .map(e => (e.innerText || '') + ' ' + (e.getAttribute('aria-label') || '') + ' ' + (e.getAttribute('placeholder') || ''))
        .join(' ')""")
    for english in ("Your question", "Send", "Clear", "Helpful", "Comment", "Examples", "Language", "Type, then"):
        assert not re.search(rf"\b{english}\b", outside_chat), english

    page.locator("#page-language input").click()
    page.get_by_role("option", name="العربية").click()
    page.get_by_label("سؤالك").wait_for(timeout=10_000)
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
    assert page.get_by_role("button", name="إرسال", exact=True).is_visible() and WORDS["ar"]["example"] in page.locator("#examples").inner_text()
    assert no_sideways_scroll(page)
    context.close()


def test_an_arabic_question_the_texts_do_not_answer_is_refused_in_arabic(server, browser):
    url, _ = server
    context, page, _ = open_chat(browser, url, "ar", **PHONE)
    ask(page, "ما هو سعر تذكرة القطار من باريس إلى طوكيو؟")
    answer = answers(page).first
    text = answer.locator("p").first.inner_text()
    assert "لا تجيب" in text and "international_in@uphf.fr" in text
    # One language: beyond addresses and the universities' names, no Latin-script word.
    assert not re.findall(r"[A-Za-z]{3,}", re.sub(r"\S+@\S+|https?://\S+|UPHF|UPJV", "", text)), text
    assert answer.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert on_first_screen(page, "#send") and no_sideways_scroll(page)
    context.close()


def test_html_in_a_question_is_shown_never_run_and_staff_find_the_feedback(server, browser):
    url, store = server
    context, page, dialogs = open_chat(browser, url, "fr-FR", **DESKTOP)
    ask(page, "Combien touche-t-on par mois avec la bourse Mermoz ?")
    page.locator("#chat .message-buttons").first.get_by_role("button", name="Utile", exact=True).click()
    page.get_by_label("Commentaire sur la réponse 1 (facultatif)").fill("clair, merci ; écrivez-moi à etu@example.org")
    page.get_by_role("button", name="Envoyer le commentaire").click()
    page.wait_for_function("document.querySelector('#comment textarea').value === ''", timeout=10_000)

    # HTML in a question is shown as text, never run.
    ask(page, "<img src=x onerror=alert(1)> weather tomorrow?")
    page.wait_for_timeout(500)
    assert dialogs == []
    assert page.locator("#chat img[src='x']").count() == 0
    assert "<img src=x onerror=alert(1)>" in page.locator("#chat").inner_text()
    # A markdown image in a question is shown as text: the browser fetches nothing from that host.
    ask(page, "![pixel](http://192.0.2.1/pixel.png) bourse Erasmus ?")
    page.wait_for_timeout(500)
    assert "![pixel](http://192.0.2.1/pixel.png)" in page.locator("#chat").inner_text()
    assert page.outside == [] and page.csp_errors == [], (page.outside, page.csp_errors)
    shot(page, SHOTS / "html-question-and-abstention.png")
    context.close()

    # The exchange reached the store with the e-mail masked, and staff find it behind the login.
    french = next(r for r in store.recent() if r["question"].startswith("Combien touche-t-on par mois avec la bourse Mermoz"))
    assert french["feedback"] == "helpful" and "[email]" in french["comment"] and "example.org" not in french["comment"]

    # A student without the login gets a 401 (Chromium then asks for credentials), not the data.
    anonymous = browser.new_context()
    response = anonymous.request.get(url + "/staff")
    assert response.status == 401 and "Combien" not in response.text()
    assert anonymous.request.get(url + "/staff/export.csv").status == 401
    anonymous.close()

    staff = browser.new_context(http_credentials={"username": STAFF[0], "password": STAFF[1]})
    staff_page = staff.new_page()
    # other tests of this module ask the same question: the filters find the one with the student's feedback
    assert staff_page.goto(url + "/staff?feedback=helpful&q=bourse+Mermoz").status == 200
    row = staff_page.locator("tr[id^='x-']", has_text="Combien touche-t-on par mois avec la bourse Mermoz")
    assert row.count() >= 1 and all("helpful" in text for text in row.all_inner_texts())
    staff_page.screenshot(path=str(SHOTS / "staff-review.png"), full_page=True)
    staff.close()
