"""The staff review pages at /staff: HTTP Basic (UTF-8, constant time, failed logins throttled per user
name, no IP kept), a CSRF token in every form that changes data, exports (CSV cells made inert by the store)."""


import base64
import binascii
import functools
import hashlib
import hmac
import itertools
import logging
import secrets
import threading
import time
from typing import Annotated
from urllib.parse import parse_qsl, quote, urlencode

from pydantic import AfterValidator, Field, ValidationError

from ..store import Filters, StoreError
from ..store.evalexport import Corpus, eval_lines
from .security import validation_message
from .staff_page import PAGE_SIZES, render_staff_page

__all__ = ["add_staff_routes", "render_staff_page", "StaffQuery"]

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


def _page_size(n: int) -> int:
    if n not in PAGE_SIZES:
        raise ValueError(f"page size must be one of {', '.join(map(str, PAGE_SIZES))}")
    return n


class StaffQuery(Filters):
    """The staff page's query: the filters, the page and its size."""
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    per_page: Annotated[int, AfterValidator(_page_size)] = 50
    saved: str = ""

    def filters(self) -> Filters:
        return Filters.model_validate(self.model_dump(include=set(Filters.model_fields)))


def csrf_secret(staff_password: str | None) -> bytes:
    """The key of the staff forms' CSRF tokens, the same on every replica behind a load balancer (a form
    loaded from one is posted to another), derived from the staff password they share. scrypt: a token
    seen in a saved page must not make guessing the password offline cheap."""
    if not staff_password:
        return secrets.token_bytes(32)
    return hashlib.scrypt(staff_password.encode("utf-8", "surrogatepass"), salt=b"rag staff review csrf",
                          n=2**14, r=8, p=1, dklen=32)


def add_staff_routes(api, store, staff_user: str | None, staff_password: str | None, corpus_dir=None) -> None:
    """The staff routes on `api`; `corpus_dir` is the corpus evaluation lines are checked against."""
    from fastapi import Depends, HTTPException, Request
    from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, StreamingResponse

    @functools.cache
    def corpus() -> Corpus:   # read on the first export only: most servers never export
        from ..corpus import load_corpus
        from ..settings import Settings

        return Corpus(load_corpus(corpus_dir or Settings.from_env().corpus_dir))

    throttle = LoginThrottle()
    csrf_key = csrf_secret(staff_password)

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

    def query(request: Request) -> StaffQuery:
        try:
            return StaffQuery.model_validate(dict(request.query_params))
        except ValidationError as exc:
            raise HTTPException(status_code=422, detail=validation_message(exc.errors())) from None

    def readable(read):
        try:
            return read()
        except StoreError as exc:
            raise HTTPException(status_code=503, detail=f"the database cannot be read now: {exc}") from None

    @api.get("/staff", response_class=HTMLResponse)
    def staff_page(request: Request, user: str = Depends(staff)):
        q = query(request)
        filters = q.filters()
        total = readable(lambda: store.count(filters))
        page = min(q.page, max(1, -(-total // q.per_page)))
        rows = readable(lambda: store.search(filters, limit=q.per_page, offset=(page - 1) * q.per_page))
        return render_staff_page(rows, csrf_token(user), filters, page, q.per_page, total, saved=q.saved == "1")

    @api.get("/staff/export.csv")
    def staff_csv(request: Request, _user: str = Depends(staff)):
        filters = query(request).filters()
        lines = store.csv_lines(filters)
        first = readable(lambda: next(lines))   # a database that cannot be read is a 503, not a cut file
        return StreamingResponse(itertools.chain([first], lines), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": "attachment; filename=exchanges.csv"})

    @api.get("/staff/export.jsonl")
    def staff_jsonl(request: Request, _user: str = Depends(staff)):
        filters = query(request).filters()
        # Only reviewed rows can become evaluation lines: "unreviewed" selects none of them.
        rows = [] if filters.verdict == "unreviewed" else readable(lambda: [r for r in store.iter_rows(filters) if r["verdict"]])
        lines, skipped = eval_lines(reversed(rows), corpus())
        # JSON Lines has no comments: what was left out, and why, travels in headers (and the staff docs).
        headers = {"Content-Disposition": "attachment; filename=reviewed.jsonl", "X-Exported-Rows": str(len(lines)),
                   "X-Skipped-Rows": str(sum(skipped.values())),
                   "X-Skipped-Reasons": "; ".join(f"{n} {reason}" for reason, n in skipped.items())}
        return PlainTextResponse("".join(line + "\n" for line in lines), media_type="application/x-ndjson",
                                 headers=headers)

    @api.post("/staff/review")
    async def staff_review(request: Request, user: str = Depends(staff)):
        # CSRF: a page elsewhere can make a logged-in browser post here, but cannot read the token.
        form = await request.form()
        token = form.get("csrf")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode("utf-8", "replace"), csrf_token(user).encode()):
            return JSONResponse({"error": "missing or wrong form token: reload the staff page and try again"}, status_code=403)
        exchange_id = str(form.get("id", ""))
        try:
            ok = store.review(exchange_id, str(form.get("verdict", "")), str(form.get("correction", "")))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except StoreError as exc:
            return JSONResponse({"error": f"the verdict could not be saved now: {exc}"}, status_code=503)
        if not ok:
            return JSONResponse({"error": "no such exchange"}, status_code=404)
        # Back to the list the form was on, its filters re-validated (never a redirect to another site).
        try:
            back = StaffQuery.model_validate(dict(parse_qsl(str(form.get("back", "")))))
        except ValidationError:
            back = StaffQuery()
        target = urlencode({**back.filters().query(), "per_page": back.per_page, "page": back.page, "saved": 1})
        return RedirectResponse(f"/staff?{target}#x-{quote(exchange_id)}", status_code=303)

    return staff, csrf_token   # for staff routes kept elsewhere (admin.py: the index reload)
