"""Prometheus metrics at /metrics (prometheus-client, text format): requests and latency per route,
answers and abstentions, storage failures, the index in use and its reloads.

Routes are labelled by their template ("/api/ask", "/gradio_api/queue/join"), never the raw path, and
status codes by class ("2xx"), so that no client can grow the number of series. One registry per app
(not the library's global one): tests and `rag load` build several apps in one process.
No question text, session or address is ever a label.
"""

# No `from __future__ import annotations`: FastAPI must see the route parameters' real types (Request).
import hmac
import time

# generate_latest writes the classic text format, version 0.0.4 (CONTENT_TYPE_LATEST names 1.0.0 in
# recent prometheus-client releases, which generate_latest does not write).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: an answer takes ~20 ms alone, seconds in a queue under load (docs/figures.md "Under load").
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNROUTED = "(unrouted)"   # no route matched, or answered before routing (a closed route, a body over the limit)


class Metrics:
    def __init__(self, store, current_assistant, reloader=None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("rag_http_requests", "HTTP requests answered, by route template, method and status class",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("rag_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
                                 ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.answers = Counter("rag_answers", "Answers given (API and chat), abstentions included", registry=self.registry)
        self.abstentions = Counter("rag_abstentions", "Answers that abstained (the texts do not answer); "
                                   "abstention rate = rate(rag_abstentions_total) / rate(rag_answers_total)",
                                   registry=self.registry)
        self.registry.register(_StateCollector(store, current_assistant, reloader))

    def answered(self, answer: dict) -> None:
        self.answers.inc()
        if answer.get("abstained"):
            self.abstentions.inc()

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _StateCollector:
    """Values read at scrape time from their owners, so nothing has to remember to update them: the store's
    failure count, the index in use, the reloads."""

    def __init__(self, store, current_assistant, reloader) -> None:
        self.store, self.current_assistant, self.reloader = store, current_assistant, reloader

    def describe(self):
        return []   # collected on every scrape; no fixed names to reserve

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

        from ..reload import version_of

        failures = CounterMetricFamily("rag_storage_failures", "Database writes that failed since start "
                                       "(answers sent without being stored)")
        failures.add_metric([], float(getattr(self.store, "failures", 0) or 0))
        yield failures
        degraded = GaugeMetricFamily("rag_storage_degraded", "1 while /healthz says degraded after a failed write")
        degraded.add_metric([], 1.0 if getattr(self.store, "degraded", False) else 0.0)
        yield degraded
        version = version_of(self.current_assistant())
        info = InfoMetricFamily("rag_index", "The index answering now: version folder and build time")
        info.add_metric([], {"version": version["version"] or "", "built_at": version["built_at"] or ""})
        yield info
        if self.reloader is not None:
            reloads = CounterMetricFamily("rag_index_reloads", "Index reloads since start, by result", labels=["result"])
            for result, count in sorted(self.reloader.reloads.items()):
                reloads.add_metric([result], float(count))
            yield reloads
            failed = GaugeMetricFamily("rag_index_reload_failed", "1 while the newest index is refused and an older one answers")
            failed.add_metric([], 1.0 if self.reloader.failure else 0.0)
            yield failed


class MetricsMiddleware:
    """Plain ASGI (outermost), so that it times the whole response, the Gradio app's routes included."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router writes the matched route into the scope as it goes; the innermost one wins.
            labels = (_route_label(scope.get("route")), scope.get("method", "?"), f"{status // 100}xx")
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)


def _route_label(route) -> str:
    if route is None:
        return UNROUTED
    from starlette.routing import Mount

    path = getattr(route, "path", "") or ""
    return f"{path}/*" if isinstance(route, Mount) else (path or "/")   # a mount's unmatched paths are one series


def add_metrics_route(api, metrics: Metrics, token: str | None = None) -> None:
    """GET /metrics, open unless RAG_METRICS_TOKEN is set (then `Authorization: Bearer <token>`): operators
    usually scrape from an internal network, and the reverse proxy need not publish it (docs/deployment.md)."""
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response

    @api.get("/metrics", include_in_schema=False)
    def scrape(request: Request):
        if token:
            sent = request.headers.get("authorization", "")
            if not hmac.compare_digest(sent.encode("utf-8", "replace"), f"Bearer {token}".encode("utf-8", "replace")):
                return JSONResponse({"error": "metrics need Authorization: Bearer <RAG_METRICS_TOKEN>"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)
