"""The students' chat (Gradio): every answer with its own sources, thumbs and an optional comment on each
answer, and an interface in the language of the browser or of the student's choice (i18n.py's catalogue).

Rendering lives in render.py; the page's own behaviour (citations that open their card, Copy, labels of
Gradio's own buttons, the page's lang and dir) in chat_page.py.
"""


import logging
import uuid

from .. import i18n
from ..errors import InvalidQuestionError, RagError
from .chat_page import CSS, SET_LANGUAGE_JS
from .render import answer_html, notice_html, question_html, render_sources

__all__ = ["CSS", "build_chat", "chat_theme", "render_sources", "new_conversation"]

log = logging.getLogger("rag.web")

MAX_QUESTION_CHARS = 2000
FOLLOW_UP_TURNS = 2     # earlier questions passed with a new one (the assistant reads the last)


def new_conversation() -> dict:
    """A session's memory, kept on the server (gr.State): the questions asked, and for each bot message
    (by its index in the chat) the stored exchange it shows, the student's thumb and comment."""
    return {"session": uuid.uuid4().hex, "questions": [], "exchanges": {}, "ratings": {}, "comments": {},
            "rated": None}


def chat_theme():
    """The default theme with system fonts: the stock one has every student's browser fetch Google's fonts."""
    import gradio as gr

    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def _examples(language: str) -> list[list[str]]:
    return [[i18n.text(language, f"ui.example{k}")] for k in (1, 2, 3)]


def _answer_number(conversation: dict, index: int) -> int:
    """'answer 2' for the second bot message: how a student counts them."""
    return sorted(conversation["exchanges"]).index(index) + 1 if index in conversation["exchanges"] else 0


def build_chat(store, ask_and_record):
    import gradio as gr

    t = i18n.text
    en = i18n.DEFAULT
    # analytics_enabled=False: no usage report to outside hosts (GRADIO_ANALYTICS_ENABLED is also off).
    with gr.Blocks(title=t(en, "ui.title"), analytics_enabled=False) as demo:
        conversation = gr.State(new_conversation)
        with gr.Row(elem_id="top"):
            heading = gr.Markdown(f"# {t(en, 'ui.title')}\n{t(en, 'ui.intro')}", elem_id="heading")
            page_language = gr.Dropdown([(name, code) for code, name in i18n.LANGUAGES.items()], value=en,
                                        label=t(en, "ui.language"), elem_id="page-language", scale=0,
                                        min_width=128)
        # render_markdown=False: messages are HTML built by render.py with every text escaped; the sanitiser
        # stays on. No built-in copy button: it would copy that HTML (ours copies plain text).
        chat = gr.Chatbot(label=t(en, "ui.chat"), elem_id="chat", height="min(440px, calc(100dvh - 300px))",
                          min_height=180, buttons=[], render_markdown=False, latex_delimiters=[],
                          feedback_options=("Like", "Dislike"), autoscroll=False)   # chat_page.py scrolls
        with gr.Row(elem_id="ask-row"):
            question = gr.Textbox(label=t(en, "ui.box"), placeholder=t(en, "ui.placeholder"), lines=1, max_lines=4,
                                  elem_id="question", max_length=MAX_QUESTION_CHARS, scale=1, min_width=160)
            send = gr.Button(t(en, "ui.send"), variant="primary", elem_id="send", scale=0, min_width=80)
        with gr.Row(elem_id="comment-row"):
            comment = gr.Textbox(label=t(en, "ui.comment"), lines=1, elem_id="comment", max_length=2000, scale=1,
                                 min_width=160)
            with gr.Column(scale=0, min_width=110, elem_id="tools"):
                send_comment = gr.Button(t(en, "ui.send_comment"), elem_id="send-comment", size="sm")
                clear = gr.Button(t(en, "ui.clear"), elem_id="clear", size="sm")
        status = gr.Markdown(elem_id="feedback-status")
        examples = gr.Dataset(components=[question], samples=_examples(en), label=t(en, "ui.examples"),
                              elem_id="examples")

        def respond(text, history, memory, language):
            history = list(history) if isinstance(history, list) else []
            text = text if isinstance(text, str) else ""
            memory = dict(memory or new_conversation())
            if not text.strip():   # Enter in an empty box: nothing to ask
                return history, "", memory
            try:
                answer = ask_and_record(text, memory["questions"][-FOLLOW_UP_TURNS:], memory["session"])
            except InvalidQuestionError:
                reply, asked_in = notice_html(t(language, "ui.bad_question", max=MAX_QUESTION_CHARS), language), None
            except RagError as exc:
                reply, asked_in = notice_html(str(exc), "en"), None
            else:
                reply, asked_in = answer_html(answer), answer.get("language")
                memory["questions"] = memory["questions"] + [text]
                if answer.get("exchange_id"):
                    memory["exchanges"] = {**memory["exchanges"], len(history) + 1: answer["exchange_id"]}
            history += [{"role": "user", "content": question_html(text, asked_in)},
                        {"role": "assistant", "content": reply}]
            return history, "", memory

        def rate(data: gr.LikeData, memory, note, language):
            """A thumb on one answer: stored against that answer's exchange, with its comment if any."""
            memory = dict(memory or new_conversation())
            index = data.index if isinstance(data.index, int) else data.index[0]
            exchange = memory["exchanges"].get(index)
            if exchange is None or data.liked not in (True, False):   # a thumb taken back: nothing to store
                return memory, gr.update(), gr.update()
            memory["ratings"] = {**memory["ratings"], index: bool(data.liked)}
            memory["rated"] = index
            typed = (note or "").strip()[:2000]   # a comment typed before the thumb goes with it
            if typed:
                memory["comments"] = {**memory["comments"], index: typed}
            label = t(language, "ui.comment_on", n=_answer_number(memory, index))
            if not _store(exchange, bool(data.liked), memory["comments"].get(index, "")):
                return memory, t(language, "ui.not_saved"), gr.update(label=label)
            return memory, t(language, "ui.thanks"), gr.update(label=label, value="" if typed else note)

        def send_note(note, memory, language):
            memory = dict(memory or new_conversation())
            index = memory.get("rated")
            if index is None:
                return memory, t(language, "ui.rate_first"), note
            memory["comments"] = {**memory["comments"], index: (note or "")[:2000]}
            if not _store(memory["exchanges"][index], memory["ratings"][index], note or ""):
                return memory, t(language, "ui.not_saved"), note   # keep the comment in the box
            return memory, t(language, "ui.thanks"), ""

        def _store(exchange_id, helpful, note) -> bool:
            try:
                store.feedback(exchange_id, helpful, (note or "")[:2000])
            except Exception as exc:  # storage is best effort: say so
                log.warning("feedback not stored: %s", type(exc).__name__)
                return False
            return True

        def forget(language):
            """Clear: the conversation, its sources (they live in its messages) and the session's memory."""
            return [], new_conversation(), "", gr.update(value="", label=t(language, "ui.comment"))

        def switch(language, memory):
            language = i18n.supported(language)
            rated = (memory or {}).get("rated")
            comment_label = (t(language, "ui.comment_on", n=_answer_number(memory, rated)) if rated is not None
                             else t(language, "ui.comment"))
            return (f"# {t(language, 'ui.title')}\n{t(language, 'ui.intro')}",
                    gr.update(label=t(language, "ui.language")), gr.update(label=t(language, "ui.chat")),
                    gr.update(label=t(language, "ui.box"), placeholder=t(language, "ui.placeholder")),
                    gr.update(value=t(language, "ui.send")), gr.update(value=t(language, "ui.clear")),
                    gr.update(label=comment_label), gr.update(value=t(language, "ui.send_comment")),
                    gr.Dataset(samples=_examples(language), label=t(language, "ui.examples")), "")

        def browser_language(request: gr.Request):
            return i18n.choose(request.headers.get("accept-language") if request else None)

        # The page's own events are private: programs use the two named endpoints below, which return JSON.
        private = {"api_visibility": "private"}
        asked = ([question, chat, conversation, page_language], [chat, question, conversation])
        send.click(respond, *asked, **private)
        question.submit(respond, *asked, **private)
        examples.click(lambda sample: sample[0], [examples], [question], **private)
        chat.like(rate, [conversation, comment, page_language], [conversation, status, comment], **private)
        send_comment.click(send_note, [comment, conversation, page_language], [conversation, status, comment], **private)
        comment.submit(send_note, [comment, conversation, page_language], [conversation, status, comment], **private)
        clear.click(forget, [page_language], [chat, conversation, status, comment], **private)
        chat.clear(lambda language: forget(language)[1:], [page_language], [conversation, status, comment], **private)
        page_language.change(switch, [page_language, conversation],
                             [heading, page_language, chat, question, send, clear, comment, send_comment, examples, status],
                             **private).then(None, [page_language], None, js=SET_LANGUAGE_JS, **private)

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
        # The interface speaks the browser's language (Accept-Language) until the student picks another.
        demo.load(browser_language, None, [page_language], **private).then(
            None, [page_language], None, js=SET_LANGUAGE_JS, **private)
    for fn in demo.fns.values():   # what Gradio adds by itself (the session State's initial value) stays private too
        if fn.api_name not in ("ask", "feedback"):
            fn.api_visibility = "private"
    return demo
