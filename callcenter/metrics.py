"""The one Prometheus registry of the service.

Every feature registers its collectors on :data:`REGISTRY` (never on
prometheus-client's global default, so tests and several apps in one process
do not collide) and ``/metrics`` exposes exactly this registry.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "hotline_http_requests_total",
    "HTTP requests served, by area (first segment of the route), matched route template "
    "(``unmatched`` for paths no route serves), method and status.  Labels never come from the raw path, "
    "so requests for unknown paths cannot grow the exposition.",
    ["area", "route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "hotline_http_request_seconds",
    "Time from request received to response finished, by area (first segment of the matched route).",
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

# -- calls, queues and work orders (fed by callcenter.wallboard.feed) ---------------
CALLS_WAITING = Gauge(
    "hotline_calls_waiting", "Callers waiting for an agent now, by queue.", ["queue"], registry=REGISTRY)
CALL_WAIT_SECONDS = Histogram(
    "hotline_call_wait_seconds",
    "How long callers waited in queue before answer, abandon or callback booking, by queue.",
    ["queue"], registry=REGISTRY,
    buckets=(5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600),
)
CALLS_TOTAL = Counter(
    "hotline_calls_total", "Queued calls finished, by queue and disposition (answered, abandoned, "
    "callback_booked).", ["queue", "disposition"], registry=REGISTRY)
SERVICE_LEVEL = Gauge(
    "hotline_queue_service_level_ratio",
    "Today's service level by queue and rule: gbt_15s (answered within 15 s), sla_80_20 (within 20 s), "
    "connection (answered / (answered + abandoned)).", ["queue", "rule"], registry=REGISTRY)
WORKORDERS_OPEN = Gauge(
    "hotline_workorders_open", "Open work orders, by lead department.", ["department"], registry=REGISTRY)
WORKORDERS_AT_RISK = Gauge(
    "hotline_workorders_sla_at_risk", "Open work orders by SLA level (yellow: warned, red: overdue).",
    ["level"], registry=REGISTRY)
HOT_TOPIC_SURGE = Gauge(
    "hotline_hot_topic_surge", "Work orders today in a category or place that is surging (突增预警; "
    "[reports] surge_* thresholds); the series exists only while it surges.", ["dimension", "key"], registry=REGISTRY)
HOT_TOPIC_SURGES = Gauge(
    "hotline_hot_topic_surges", "Categories and places surging today.", registry=REGISTRY)
WORKORDERS_SLA_BREACHES = Counter(
    "hotline_workorders_sla_breaches_total", "SLA breaches fired by the SLA worker, by deadline kind.",
    ["kind"], registry=REGISTRY)
WORKORDER_EVENTS_LISTENING = Gauge(
    "hotline_workorder_events_listening", "1 while this process hears other processes' work-order events "
    "(PostgreSQL LISTEN, callcenter.web.pgevents); 0 while it reconnects.", registry=REGISTRY)
WORKORDER_EVENTS_RECEIVED = Counter(
    "hotline_workorder_events_received_total", "Work-order events heard from other processes.", registry=REGISTRY)
CALLS_RELAY_LISTENING = Gauge(
    "hotline_calls_relay_listening", "1 while this process hears the calls relay's notifications (PostgreSQL "
    "LISTEN, callcenter.web.pgcalls: the leader its relayed requests, a web process the leader's frames and "
    "answers); 0 while it reconnects.", registry=REGISTRY)
CALLS_RELAY_REQUESTS = Counter(
    "hotline_calls_relay_requests_total", "Calls-page requests relayed by this web process to the process "
    "driving the calls, by outcome (answered, unavailable: withdrawn after no controller claimed it, timeout).",
    ["outcome"], registry=REGISTRY)
CALLS_RELAY_FRAMES = Counter(
    "hotline_calls_relay_frames_total", "Live-page frames the leader wrote for other web processes (out) and "
    "this web process read from it (in).", ["direction"], registry=REGISTRY)
ASR_REALTIME_FACTOR = Gauge(
    "hotline_asr_realtime_factor",
    "Decoding time over audio time of the latest live-speech chunk (above 1: falling behind).",
    registry=REGISTRY)
WALLBOARD_CLIENTS = Gauge(
    "hotline_wallboard_clients", "Wallboard screens connected by server-sent events.", registry=REGISTRY)


class AmiCollector:
    """``hotline_ami_connected`` read from the client at scrape time (1 logged in, 0 not)."""

    def __init__(self, client) -> None:
        self.client = client

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily("hotline_ami_connected", "1 while the AMI session is logged in and in sync.")
        family.add_metric([], 1.0 if getattr(self.client, "ready", False) else 0.0)
        return [family]


_AMI_COLLECTOR: AmiCollector | None = None


def register_ami(client, registry=None) -> AmiCollector:
    """Expose ``client``'s connection state (on the service's registry by default, where a later
    client replaces the earlier one: one AMI connection per process)."""
    global _AMI_COLLECTOR
    if registry is None and _AMI_COLLECTOR is not None:
        _AMI_COLLECTOR.client = client
        return _AMI_COLLECTOR
    collector = AmiCollector(client)
    (registry or REGISTRY).register(collector)
    if registry is None:
        _AMI_COLLECTOR = collector
    return collector


def exposition() -> tuple[bytes, str]:
    """The text exposition of :data:`REGISTRY` and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
