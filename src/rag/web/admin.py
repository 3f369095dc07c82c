"""The staff's index reload, behind the staff login and CSRF token of staff.py; kept apart from the staff
review pages so each can change without the other.

GET /staff/reload-index: the index in use, the last refused one if any, and the form token.
POST /staff/reload-index with that token (form field `csrf` or header `X-CSRF-Token`): loads the version
`index/CURRENT` names now, off the request path, and swaps it in; 409 if it is refused (the old one keeps
answering). A page on another site cannot read the token (same-origin policy), so it cannot post here even
with a logged-in browser.
"""

# No `from __future__ import annotations`: FastAPI must see the route parameters' real types (Request).
import asyncio
import hmac


def add_reload_routes(api, reloader, staff, csrf_token) -> None:
    """`staff` is the staff login dependency and `csrf_token(user)` the form token, both from add_staff_routes."""
    from fastapi import Depends, Request
    from fastapi.responses import JSONResponse

    @api.get("/staff/reload-index")
    def reload_status(user: str = Depends(staff)):
        if reloader is None:
            return JSONResponse({"error": "this server has no index reloader"}, status_code=404)
        return {"index": reloader.status(), "csrf": csrf_token(user)}

    @api.post("/staff/reload-index")
    async def reload_index(request: Request, user: str = Depends(staff)):
        token = request.headers.get("x-csrf-token")
        if token is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            token = (await request.form()).get("csrf")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode("utf-8", "replace"), csrf_token(user).encode()):
            return JSONResponse({"error": "missing or wrong token: GET /staff/reload-index gives it (field csrf)"},
                                status_code=403)
        if reloader is None:
            return JSONResponse({"error": "this server has no index reloader"}, status_code=404)
        # Loading takes a second or more with the real models: on a worker thread, never the event loop.
        result = await asyncio.get_running_loop().run_in_executor(None, reloader.reload)
        body = {"result": result, "index": reloader.status()}
        return JSONResponse(body, status_code=409 if result == "failed" else 200)
