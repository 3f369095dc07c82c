"""The web edge: a Gradio chat for students, a staff review page, and the REST API, in one server.

gradio and fastapi are imported here only; the answering core never imports the UI. `create_app` takes
any object with `ask(question, history=...)` returning an Answer, so tests use a stub assistant.
"""


import asyncio
import html
import logging
import os
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor

from .errors import RagError
from .settings import Settings
from .store import ExchangeStore

log = logging.getLogger("rag.web")

ASK_THREADS = int(os.environ.get("RAG_ASK_THREADS", "4"))
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
           "examples": "Exemples", "relevance": "pertinence", "nothing": "Posez d'abord une question."},
    "en": {"title": "International students' assistant — UPHF, UPJV, Université de Lille",
           "intro": "Ask in your own language. Answers cite the universities' own texts.",
           "box": "Your question", "send": "Send", "helpful": "Helpful", "not_helpful": "Not helpful",
           "comment": "Comment (optional)", "thanks": "Thank you for your feedback.", "sources": "Sources",
           "examples": "Examples", "relevance": "relevance", "nothing": "Ask a question first."},
}
CSS = """
.source-card {border: 1px solid #8a8a8a; border-radius: 8px; padding: 10px 12px; margin: 8px 0; background: #fff; color: #1a1a1a;}
.source-card h3 {font-size: 1rem; margin: 0 0 4px 0;}
.source-card .meta {font-size: .85rem; color: #3d3d3d;}
.source-card mark {background: #ffe58a; color: #1a1a1a;}
.source-card p {white-space: pre-line; margin: 6px 0 0 0;}
#send, #send:hover {background: #1d4ed8; border-color: #1d4ed8; color: #fff;}
"""


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
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        if isinstance(content, str) and content.strip():
            questions.append(html.unescape(content))
    return questions


def create_app(assistant, store: ExchangeStore, staff_user: str | None = None, staff_password: str | None = None,
               ask_threads: int = ASK_THREADS):
    """The FastAPI server with the Gradio chat mounted at /, the staff pages at /staff and the API at /api."""
    import gradio as gr
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from fastapi.security import HTTPBasic, HTTPBasicCredentials

    api = FastAPI(title="International students' assistant")
    # Answers are computed on a few threads, not on the 40 of the default pool: on 2 cores, more threads
    # only queue on the GIL and on each other (see README "Under load").
    answering = ThreadPoolExecutor(max_workers=ask_threads, thread_name_prefix="answer")
    basic = HTTPBasic(auto_error=False)

    def ask_and_record(question: str, history: list[str], session: str) -> dict:
        answer = assistant.ask(question, history=history).to_dict()
        answer["exchange_id"] = store.record(session, answer)
        return answer

    @api.get("/healthz")
    def healthz():
        index = getattr(assistant, "index", None)
        return {"status": "ok", "index_loaded": index is not None, "chunks": len(index.chunks) if index is not None else 0}

    @api.post("/api/ask")
    async def api_ask(request: Request):
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body must be JSON: {\"question\": \"...\"}"}, status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("question"), str):
            return JSONResponse({"error": "a \"question\" string is required"}, status_code=400)
        history = [h if isinstance(h, str) else h.get("content", "") for h in body.get("history") or []
                   if isinstance(h, str) or (isinstance(h, dict) and h.get("role", "user") == "user")]
        try:
            return await asyncio.get_running_loop().run_in_executor(
                answering, ask_and_record, body["question"], history, body.get("session") or uuid.uuid4().hex)
        except RagError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    @api.post("/api/feedback")
    async def api_feedback(request: Request):
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("exchange_id"), str) or not isinstance(body.get("helpful"), bool):
            return JSONResponse({"error": "expected {\"exchange_id\": str, \"helpful\": bool, \"comment\": str}"}, status_code=400)
        if not await asyncio.get_running_loop().run_in_executor(answering, store.feedback, body["exchange_id"], body["helpful"], str(body.get("comment") or "")):
            return JSONResponse({"error": "no such exchange"}, status_code=404)
        return {"status": "saved"}

    def staff(credentials: HTTPBasicCredentials | None = Depends(basic)) -> str:
        if not staff_user or not staff_password:
            raise HTTPException(status_code=404, detail="the staff page is off: set RAG_STAFF_USER and RAG_STAFF_PASSWORD")
        if credentials is None or not (secrets.compare_digest(credentials.username.encode(), staff_user.encode())
                                       and secrets.compare_digest(credentials.password.encode(), staff_password.encode())):
            raise HTTPException(status_code=401, detail="staff login required", headers={"WWW-Authenticate": "Basic"})
        return credentials.username

    def filtered(abstained: str | None, not_helpful: str | None, language: str | None) -> list[dict]:
        return store.recent(abstained={"yes": True, "no": False}.get(abstained or ""), not_helpful=not_helpful == "yes",
                            language=language or None)

    @api.get("/staff", response_class=HTMLResponse)
    def staff_page(abstained: str | None = None, not_helpful: str | None = None, language: str | None = None,
                   _user: str = Depends(staff)):
        return render_staff_page(filtered(abstained, not_helpful, language))

    @api.get("/staff/export.csv")
    def staff_csv(abstained: str | None = None, not_helpful: str | None = None, language: str | None = None,
                  _user: str = Depends(staff)):
        return Response(store.to_csv(filtered(abstained, not_helpful, language)), media_type="text/csv",
                        headers={"Content-Disposition": "attachment; filename=exchanges.csv"})

    @api.get("/staff/export.jsonl")
    def staff_jsonl(_user: str = Depends(staff)):
        return PlainTextResponse(store.to_eval_jsonl(), headers={"Content-Disposition": "attachment; filename=reviewed.jsonl"})

    @api.post("/staff/review")
    async def staff_review(request: Request, _user: str = Depends(staff)):
        form = await request.form()
        try:
            ok = store.review(str(form.get("id", "")), str(form.get("verdict", "")), str(form.get("correction", "")))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if not ok:
            return JSONResponse({"error": "no such exchange"}, status_code=404)
        return HTMLResponse("<p>Saved. <a href='/staff'>Back to the list</a></p>")

    demo = build_chat(assistant, store, ask_and_record)
    return gr.mount_gradio_app(api, demo, path="/", css=CSS, footer_links=[])


def build_chat(assistant, store: ExchangeStore, ask_and_record):
    import gradio as gr

    words = UI["en"]
    with gr.Blocks(title=words["title"]) as demo:
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
        comment = gr.Textbox(label=words["comment"], lines=1, elem_id="comment")
        status = gr.Markdown(elem_id="feedback-status")
        examples = gr.Dataset(components=[question], samples=[[q] for q in EXAMPLES["en"] + EXAMPLES["fr"]],
                              label=words["examples"], elem_id="examples")

        def respond(text, history, session_id):
            history = history or []
            try:
                answer = ask_and_record(text, _history_questions(history)[-2:], session_id)
            except RagError as exc:
                return history + [{"role": "user", "content": html.escape(text or "")}, {"role": "assistant", "content": html.escape(str(exc))}], "", "", "", ""
            reply = html.escape(answer["answer"])
            history = history + [{"role": "user", "content": html.escape(text)}, {"role": "assistant", "content": reply}]
            return history, "", render_sources(answer, answer["language"]), answer["exchange_id"], ""

        def give_feedback(is_helpful, exchange_id, note, page_lang):
            lang = "fr" if page_lang == "Français" else "en"
            if not exchange_id:
                return UI[lang]["nothing"], note
            store.feedback(exchange_id, is_helpful, note or "")
            return UI[lang]["thanks"], ""

        def switch(page_lang):
            lang = "fr" if page_lang == "Français" else "en"
            w = UI[lang]
            return (f"# {w['title']}\n{w['intro']}", gr.update(label=w["box"], placeholder=EXAMPLES[lang][0]),
                    gr.update(value=w["send"]), gr.update(value=w["helpful"]), gr.update(value=w["not_helpful"]),
                    gr.update(label=w["comment"]))

        answered = [chat, question, sources, last_exchange, status]
        send.click(respond, [question, chat, session], answered)
        question.submit(respond, [question, chat, session], answered)
        examples.click(lambda sample: sample[0], [examples], [question])
        helpful.click(lambda e, n, p: give_feedback(True, e, n, p), [last_exchange, comment, page_language], [status, comment])
        not_helpful.click(lambda e, n, p: give_feedback(False, e, n, p), [last_exchange, comment, page_language], [status, comment])
        page_language.change(switch, [page_language], [title, question, send, helpful, not_helpful, comment])
        demo.load(None, None, [page_language],
                  js="() => (navigator.language || 'en').toLowerCase().startsWith('fr') ? 'Français' : 'English'")
    return demo


def render_staff_page(rows: list[dict]) -> str:
    body = []
    for r in rows:
        candidates = "<br>".join(f"{html.escape(c['title'][:60])} ({c['score']:.2f})" for c in r["candidates"][:10])
        body.append(
            "<tr>"
            f"<td>{html.escape(r['question'])}</td><td>{html.escape(r['language'])}</td>"
            f"<td style='white-space:pre-line'>{html.escape(r['answer'])}</td><td>{'yes' if r['abstained'] else 'no'}</td>"
            f"<td>{(r['top_score'] or 0):.2f}</td><td>{candidates}</td>"
            f"<td>{html.escape(r['feedback'] or '')} {html.escape(r['comment'] or '')}</td>"
            f"<td><form method='post' action='/staff/review'><input type='hidden' name='id' value='{html.escape(r['id'])}'>"
            f"<label>Verdict <select name='verdict'><option value='correct'>correct</option><option value='wrong'>wrong</option></select></label>"
            f"<label>Right answer or passage <input name='correction' value='{html.escape(r['correction'] or '', quote=True)}'></label>"
            f"<button type='submit'>Save</button></form>{html.escape(r['verdict'] or '')}</td></tr>")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Staff review</title><style>body{{font-family:sans-serif;margin:1rem}} table{{border-collapse:collapse}} td,th{{border:1px solid #999;padding:4px;vertical-align:top}}</style></head>
<body><main><h1>Recent exchanges</h1>
<form method="get" action="/staff"><label>Abstained <select name="abstained"><option value="">any</option><option>yes</option><option>no</option></select></label>
<label>Not helpful only <select name="not_helpful"><option value="">no</option><option>yes</option></select></label>
<label>Language <input name="language" size="3"></label> <button type="submit">Filter</button></form>
<p><a href="/staff/export.csv">Export CSV</a> · <a href="/staff/export.jsonl">Export reviewed questions (evaluation format)</a></p>
<table><thead><tr><th>Question</th><th>Language</th><th>Answer</th><th>Abstained</th><th>Top score</th><th>Candidates</th><th>Feedback</th><th>Review</th></tr></thead>
<tbody>{''.join(body)}</tbody></table></main></body></html>"""


def prepare_assistant(settings: Settings):
    """Load the index, building it first when it is missing, stale or damaged."""
    from .assistant import Assistant
    from .errors import IndexMismatchError, IndexMissingError
    from .index import build_index, index_status

    status = index_status(settings)
    if status != "ok":
        print(f"rag: index {status}, building it from {settings.corpus_dir} ...", flush=True)
        print(build_index(settings, progress=True).line(), flush=True)
    try:
        assistant = Assistant.load(settings=settings)
    except (IndexMissingError, IndexMismatchError):
        print("rag: index damaged, rebuilding it ...", flush=True)
        print(build_index(settings, progress=True).line(), flush=True)
        assistant = Assistant.load(settings=settings)
    assistant.ask("warm up: how much is the Erasmus grant?")  # models loaded before the first student waits
    return assistant


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    # One BLAS thread per request: the server answers requests on many threads at once, and OpenBLAS
    # threads of concurrent calls fight over the 2 cores (50 clients: p95 1050 ms -> see README "Under load").
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    assistant = prepare_assistant(settings)
    store = ExchangeStore(settings.data_dir, settings.retention_days)
    app = create_app(assistant, store, os.environ.get("RAG_STAFF_USER"), os.environ.get("RAG_STAFF_PASSWORD"))
    host = host or os.environ.get("RAG_HOST", "127.0.0.1")
    port = port or int(os.environ.get("RAG_PORT", "7860"))
    print(f"rag: serving on http://{host}:{port} (staff page {'on' if os.environ.get('RAG_STAFF_USER') else 'off'})", flush=True)
    # access_log off: uvicorn's access log would write client IP addresses.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
