"""The one Prometheus registry of the service.

Every feature registers its collectors on :data:`REGISTRY` (never on
prometheus-client's global default, so tests and several apps in one process
do not collide) and ``/metrics`` exposes exactly this registry.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "hotline_http_requests_total",
    "HTTP requests served, by area (first path segment), method and status.",
    ["area", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "hotline_http_request_seconds",
    "Time from request received to response finished, by area.",
    ["area"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LOGINS = Counter(
    "hotline_logins_total",
    "Log-in attempts on pages and the token endpoint, by result.",
    ["result"],
    registry=REGISTRY,
)
SSE_CLIENTS = Counter(
    "hotline_sse_disconnects_total",
    "Server-sent-event clients dropped, by reason (closed, slow).",
    ["reason"],
    registry=REGISTRY,
)


def exposition() -> tuple[bytes, str]:
    """The text exposition of :data:`REGISTRY` and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
