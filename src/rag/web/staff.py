"""The staff review pages at /staff: HTTP Basic (UTF-8, constant time, failed logins throttled per user
name, no IP kept), a CSRF token in every form that changes data, exports (CSV cells made inert by the store)."""


import base64
import binascii
import hashlib
import hmac
import html
import logging
import secrets
import sqlite3
import threading
import time

log = logging.getLogger("rag.web")

FREE_FAILURES = 5       # failed logins for a user name before each further try must wait
MAX_DELAY_S = 300       # the wait doubles with each failure, up to 5 minutes


class LoginThrottle:
    """Failed logins counted per user name, in memory. Only two names are tracked, the configured one and
    "any other", so a stream of invented names cannot grow the table; no IP address is kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[int, float]] = {}   # key -> (failures, not before this time)

    def wait_s(self, key: str) -> float:
        with self._lock:
            _, not_before = self._state.get(key, (0, 0.0))
        return max(0.0, not_before - time.monotonic())

    def failed(self, key: str) -> None:
        with self._lock:
            failures = self._state.get(key, (0, 0.0))[0] + 1
            delay = min(2.0 ** (failures - FREE_FAILURES), MAX_DELAY_S) if failures >= FREE_FAILURES else 0.0
            self._state[key] = (failures, time.monotonic() + delay)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._state.pop(key, None)


def _digest(text: str) -> bytes:
    # Fixed-length digests, so compare_digest does not even reveal the length of the secret.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """User name and password of an `Authorization: Basic` header, read as UTF-8 (browsers send non-ASCII
    passwords so), else as Latin-1."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    user, sep, password = text.partition(":")
    return (user, password) if sep else None


def add_staff_routes(api, store, staff_user: str | None, staff_password: str | None) -> None:
    from fastapi import Depends, HTTPException, Request
    from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

    throttle = LoginThrottle()
    csrf_key = secrets.token_bytes(32)   # per server start: a restart only asks staff to reload the page

    def csrf_token(user: str) -> str:
        return hmac.new(csrf_key, b"staff-review:" + user.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def staff(request: Request) -> str:
        if not staff_user or not staff_password:
            raise HTTPException(status_code=404, detail="the staff page is off: set RAG_STAFF_USER and RAG_STAFF_PASSWORD")
        credentials = basic_credentials(request.headers.get("authorization"))
        if credentials is None:
            raise HTTPException(status_code=401, detail="staff login required", headers={"WWW-Authenticate": 'Basic charset="UTF-8"'})
        user, password = credentials
        user_ok = hmac.compare_digest(_digest(user), _digest(staff_user))
        key = "staff" if user_ok else "other"
        wait = throttle.wait_s(key)
        if wait > 0:   # refused without checking the password: guessing is as slow as the delay
            raise HTTPException(status_code=429, detail=f"too many failed logins: try again in {int(wait) + 1} s",
                                headers={"Retry-After": str(int(wait) + 1)})
        password_ok = hmac.compare_digest(_digest(password), _digest(staff_password))
        if not (user_ok and password_ok):
            throttle.failed(key)
            raise HTTPException(status_code=401, detail="staff login required", headers={"WWW-Authenticate": 'Basic charset="UTF-8"'})
        throttle.succeeded(key)
        return user

    def filtered(abstained: str | None, not_helpful: str | None, language: str | None) -> list[dict]:
        try:
            return store.recent(abstained={"yes": True, "no": False}.get(abstained or ""), not_helpful=not_helpful == "yes",
                                language=(language or None) and language[:16])
        except sqlite3.Error as exc:
            raise HTTPException(status_code=503, detail=f"the database cannot be read now: {exc}") from None

    @api.get("/staff", response_class=HTMLResponse)
    def staff_page(abstained: str | None = None, not_helpful: str | None = None, language: str | None = None,
                   user: str = Depends(staff)):
        return render_staff_page(filtered(abstained, not_helpful, language), csrf_token(user))

    @api.get("/staff/export.csv")
    def staff_csv(abstained: str | None = None, not_helpful: str | None = None, language: str | None = None,
                  _user: str = Depends(staff)):
        return Response(store.to_csv(filtered(abstained, not_helpful, language)), media_type="text/csv",
                        headers={"Content-Disposition": "attachment; filename=exchanges.csv"})

    @api.get("/staff/export.jsonl")
    def staff_jsonl(_user: str = Depends(staff)):
        return PlainTextResponse(store.to_eval_jsonl(), headers={"Content-Disposition": "attachment; filename=reviewed.jsonl"})

    @api.post("/staff/review")
    async def staff_review(request: Request, user: str = Depends(staff)):
        # CSRF: a page elsewhere can make a logged-in browser post here, but cannot read the token.
        form = await request.form()
        token = form.get("csrf")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode("utf-8", "replace"), csrf_token(user).encode()):
            return JSONResponse({"error": "missing or wrong form token: reload the staff page and try again"}, status_code=403)
        try:
            ok = store.review(str(form.get("id", "")), str(form.get("verdict", "")), str(form.get("correction", "")))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except sqlite3.Error as exc:
            return JSONResponse({"error": f"the verdict could not be saved now: {exc}"}, status_code=503)
        if not ok:
            return JSONResponse({"error": "no such exchange"}, status_code=404)
        return HTMLResponse("<p>Saved. <a href='/staff'>Back to the list</a></p>")

    return staff, csrf_token   # for staff routes kept elsewhere (admin.py: the index reload)


def render_staff_page(rows: list[dict], csrf: str = "") -> str:
    body = []
    token = html.escape(csrf, quote=True)
    for r in rows:
        candidates = "<br>".join(f"{html.escape(c['title'][:60])} ({c['score']:.2f})" for c in r["candidates"][:10])
        body.append(
            "<tr>"
            f"<td>{html.escape(r['question'])}</td><td>{html.escape(r['language'])}</td>"
            f"<td style='white-space:pre-line'>{html.escape(r['answer'])}</td><td>{'yes' if r['abstained'] else 'no'}</td>"
            f"<td>{(r['top_score'] or 0):.2f}</td><td>{candidates}</td>"
            f"<td>{html.escape(r['feedback'] or '')} {html.escape(r['comment'] or '')}</td>"
            f"<td><form method='post' action='/staff/review'><input type='hidden' name='id' value='{html.escape(r['id'], quote=True)}'>"
            f"<input type='hidden' name='csrf' value='{token}'>"
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
