"""What every request and response goes through: size limits, closed routes, security headers, and
JSON errors ({"error": ...}, never a traceback)."""

from __future__ import annotations

import json
import re

MAX_API_BODY_BYTES = 64 * 1024       # /api and /staff: a question, a short history, a comment
MAX_BODY_BYTES = 1024 * 1024         # the Gradio chat sends its whole conversation with each question
# Gradio's upload routes store any file, unauthenticated, and never delete it; the chat uploads nothing.
# The API documentation pages would publish every route and schema.
_CLOSED = re.compile(r"^(?:/gradio_api)?/upload(?:_progress)?/?$|^(?:/gradio_api)?/(?:docs|redoc|openapi\.json)(?:/.*)?$")
CSP = ("default-src 'self'; "
       # Gradio's page runs inline scripts and compiles templates at run time.
       "script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       # data:/blob: only: no image, font or media from another host (a markdown image would leak readers).
       "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; "
       "connect-src 'self'; worker-src 'self' blob:; frame-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]


class SecurityMiddleware:
    """Plain ASGI, so that it wraps the mounted Gradio app too, and limits bodies before anything reads them."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *[(k, v) for k, v in HEADERS if k not in names]]
            await send(message)

        path = scope.get("path", "")
        if _CLOSED.match(path):
            return await _json(send_with_headers, 404, "not found")
        limit = MAX_API_BODY_BYTES if path.startswith(("/api/", "/staff")) else MAX_BODY_BYTES
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return await _json(send_with_headers, 400, "invalid Content-Length")
            if int(length) > limit:
                return await _json(send_with_headers, 413, f"the request body is larger than {limit} bytes")
        else:
            # No length announced (chunked): read up to the limit here, then hand the body on.
            body, more = b"", True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > limit:
                    return await _json(send_with_headers, 413, f"the request body is larger than {limit} bytes")
            replayed = False

            async def receive_body():
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            return await self.app(scope, receive_body, send_with_headers)
        await self.app(scope, receive, send_with_headers)


async def _json(send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def validation_message(errors) -> str:
    """Pydantic's errors as one line: 'question: String should have at most 2000 characters'."""
    parts = []
    for error in list(errors)[:3]:
        loc = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(api) -> None:
    """Errors of the API and staff routes as {"error": ...}; a bad JSON body is a 400, a wrong shape a 422."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    @api.exception_handler(RequestValidationError)
    async def invalid(_request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"error": "the body is not valid JSON"}, status_code=400)
        return JSONResponse({"error": validation_message(errors)}, status_code=422)

    @api.exception_handler(HTTPException)
    async def http_error(_request, exc: HTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(Exception)
    async def unexpected(_request, exc: Exception):   # a bug: a plain message, the traceback stays in the log
        return JSONResponse({"error": "internal error"}, status_code=500)
