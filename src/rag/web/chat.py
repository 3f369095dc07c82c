"""The students' chat (Gradio) and the source cards it shows under an answer."""

from __future__ import annotations

import html
import logging
import re
import uuid

from ..errors import RagError

log = logging.getLogger("rag.web")

EXAMPLES = {
    "fr": ["Où candidater en master 1 ?", "Combien touche-t-on par mois avec la bourse Erasmus ?",
           "Je suis en situation de handicap, qui dois-je contacter ?"],
    "en": ["How much is the Erasmus grant per month?", "Who should I email about incoming exchange mobility?",
           "Which language certifications can I take at UPHF?"],
}
UI = {
    "fr": {"title": "Assistant international — UPHF, UPJV, Université de Lille",
           "intro": "Posez votre question dans votre langue. Les réponses citent les textes des universités.",
           "box": "Votre question", "send": "Envoyer", "helpful": "Utile", "not_helpful": "Pas utile",
           "comment": "Commentaire (facultatif)", "thanks": "Merci pour votre avis.", "sources": "Sources",
           "examples": "Exemples", "relevance": "pertinence", "nothing": "Posez d'abord une question.",
           "not_saved": "Votre avis n'a pas pu être enregistré, réessayez plus tard."},
    "en": {"title": "International students' assistant — UPHF, UPJV, Université de Lille",
           "intro": "Ask in your own language. Answers cite the universities' own texts.",
           "box": "Your question", "send": "Send", "helpful": "Helpful", "not_helpful": "Not helpful",
           "comment": "Comment (optional)", "thanks": "Thank you for your feedback.", "sources": "Sources",
           "examples": "Examples", "relevance": "relevance", "nothing": "Ask a question first.",
           "not_saved": "Your feedback could not be saved; please try again later."},
}
CSS = """
.source-card {border: 1px solid #8a8a8a; border-radius: 8px; padding: 10px 12px; margin: 8px 0; background: #fff; color: #1a1a1a;}
.source-card h3 {font-size: 1rem; margin: 0 0 4px 0;}
.source-card .meta {font-size: .85rem; color: #3d3d3d;}
.source-card mark {background: #ffe58a; color: #1a1a1a;}
.source-card p {white-space: pre-line; margin: 6px 0 0 0;}
#send, #send:hover {background: #1d4ed8; border-color: #1d4ed8; color: #fff;}
"""
# '![alt](https://host/x.png)' in a message would make every reader's browser fetch that address.
_MD_IMAGE = re.compile(r"!\[")


def chat_text(text: str) -> str:
    """A message as the chat shows it: HTML escaped (shown, never run), markdown images made inert text."""
    return _MD_IMAGE.sub(r"!\\[", html.escape(text))


def render_sources(answer: dict, language: str) -> str:
    """Source cards as HTML, every text escaped: a passage or question holding HTML is shown, never run."""
    words = UI.get(language, UI["en"])
    if not answer.get("citations"):
        return ""
    cards = [f"<h2 style='font-size:1.05rem'>{html.escape(words['sources'])}</h2>"]
    for c in answer["citations"]:
        text = html.escape(c["text"])
        highlight = html.escape(c.get("highlight") or "")
        if highlight and highlight in text:
            text = text.replace(highlight, f"<mark>{highlight}</mark>", 1)
        url = html.escape(c["url"], quote=True)
        cards.append(
            f"<article class='source-card' aria-label='[{c['n']}] {html.escape(c['title'], quote=True)}'>"
            f"<h3>[{c['n']}] {html.escape(c['title'])}</h3>"
            f"<div class='meta'>{html.escape(c['institution'])} · <a href='{url}' target='_blank' rel='noopener'>{url}</a>"
            f" · {html.escape(words['relevance'])} {c['score']:.2f}</div><p style='white-space:pre-line'>{text}</p></article>")
    return "\n".join(cards)


def _history_questions(history: list) -> list[str]:
    """The student's earlier questions in a Chatbot history, as typed (the chat shows them escaped)."""
    questions = []
    for message in history or []:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):  # Gradio 6 sends [{"type": "text", "text": ...}]
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict)
                               and isinstance(part.get("text", ""), str))
        if isinstance(content, str) and content.strip():
            questions.append(html.unescape(content.replace("!\\[", "![")))
    return questions


def chat_theme():
    """The default theme with system fonts: the stock one has every student's browser fetch Google's fonts."""
    import gradio as gr

    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def build_chat(store, ask_and_record):
    import gradio as gr

    words = UI["en"]
    # analytics_enabled=False: no usage report to outside hosts (GRADIO_ANALYTICS_ENABLED is also off).
    with gr.Blocks(title=words["title"], analytics_enabled=False) as demo:
        session = gr.State(lambda: uuid.uuid4().hex)
        last_exchange = gr.State("")
        page_language = gr.Radio(["English", "Français"], value="English", label="Language / Langue", elem_id="page-language")
        title = gr.Markdown(f"# {words['title']}\n{words['intro']}")
        chat = gr.Chatbot(label="Chat", height=420, elem_id="chat", buttons=["copy"])
        question = gr.Textbox(label=words["box"], placeholder=EXAMPLES["en"][0], lines=1, elem_id="question", max_length=2000)
        send = gr.Button(words["send"], variant="primary", elem_id="send")
        sources = gr.HTML(elem_id="sources")
        with gr.Row():
            helpful = gr.Button(words["helpful"], elem_id="helpful")
            not_helpful = gr.Button(words["not_helpful"], elem_id="not-helpful")
        comment = gr.Textbox(label=words["comment"], lines=1, elem_id="comment", max_length=2000)
        status = gr.Markdown(elem_id="feedback-status")
        examples = gr.Dataset(components=[question], samples=[[q] for q in EXAMPLES["en"] + EXAMPLES["fr"]],
                              label=words["examples"], elem_id="examples")

        def respond(text, history, session_id):
            history = history if isinstance(history, list) else []
            text = text if isinstance(text, str) else ""
            try:
                answer = ask_and_record(text, _history_questions(history)[-2:], session_id)
            except RagError as exc:
                return history + [{"role": "user", "content": chat_text(text)}, {"role": "assistant", "content": chat_text(str(exc))}], "", "", "", ""
            history = history + [{"role": "user", "content": chat_text(text)}, {"role": "assistant", "content": chat_text(answer["answer"])}]
            return history, "", render_sources(answer, answer["language"]), answer["exchange_id"] or "", ""

        def give_feedback(is_helpful, exchange_id, note, page_lang):
            lang = "fr" if page_lang == "Français" else "en"
            if not exchange_id:
                return UI[lang]["nothing"], note
            try:
                store.feedback(exchange_id, is_helpful, (note or "")[:2000])
            except Exception as exc:  # storage is best effort: say so, keep the comment in the box
                log.warning("feedback not stored: %s", type(exc).__name__)
                return UI[lang]["not_saved"], note
            return UI[lang]["thanks"], ""

        def switch(page_lang):
            lang = "fr" if page_lang == "Français" else "en"
            w = UI[lang]
            return (f"# {w['title']}\n{w['intro']}", gr.update(label=w["box"], placeholder=EXAMPLES[lang][0]),
                    gr.update(value=w["send"]), gr.update(value=w["helpful"]), gr.update(value=w["not_helpful"]),
                    gr.update(label=w["comment"]))

        # The page's own events are private: programs use the two named endpoints below, which return JSON.
        private = {"api_visibility": "private"}
        answered = [chat, question, sources, last_exchange, status]
        send.click(respond, [question, chat, session], answered, **private)
        question.submit(respond, [question, chat, session], answered, **private)
        examples.click(lambda sample: sample[0], [examples], [question], **private)
        helpful.click(lambda e, n, p: give_feedback(True, e, n, p), [last_exchange, comment, page_language], [status, comment], **private)
        not_helpful.click(lambda e, n, p: give_feedback(False, e, n, p), [last_exchange, comment, page_language], [status, comment], **private)
        page_language.change(switch, [page_language], [title, question, send, helpful, not_helpful, comment], **private)

        def ask(question: str, history: list[str] | None = None) -> dict:
            """The answer object of CONTRACT.md (with exchange_id), or {"error": ...}."""
            if not isinstance(question, str):
                return {"error": "the question must be text"}
            turns = [t for t in (history or []) if isinstance(t, str)][-20:]
            try:
                return ask_and_record(question, turns, uuid.uuid4().hex)
            except RagError as exc:
                return {"error": str(exc)}

        def feedback(exchange_id: str, helpful: bool, comment: str = "") -> dict:
            """Stores a student's verdict on an answer: {"stored": true} or {"error": ...}."""
            if not isinstance(exchange_id, str) or not exchange_id:
                return {"error": "exchange_id is required"}
            try:
                store.feedback(exchange_id, bool(helpful), (comment or "")[:2000] if isinstance(comment, str) else "")
            except Exception as exc:  # storage is best effort
                log.warning("feedback not stored: %s", type(exc).__name__)
                return {"error": "feedback could not be stored now"}
            return {"stored": True}

        gr.api(ask, api_name="ask")
        gr.api(feedback, api_name="feedback")
        demo.load(None, None, [page_language], api_visibility="private",
                  js="() => (navigator.language || 'en').toLowerCase().startsWith('fr') ? 'Français' : 'English'")
    for fn in demo.fns.values():   # what Gradio adds by itself (the session State's initial value) stays private too
        if fn.api_name not in ("ask", "feedback"):
            fn.api_visibility = "private"
    return demo
