"""Prometheus view of the ACD, read from :meth:`QueueController.snapshot` at scrape time.

A collector rather than gauges updated on every change: the numbers are
computed only when Prometheus asks, and cannot drift from the controller.
Register it once per controller (``register_metrics(acd)``) on the service's
one registry; ``unregister`` when the controller stops.
"""
from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

OUTCOMES = ("answered", "abandoned", "no_answer", "bridge_failed", "callbacks_booked", "callbacks_placed",
            "overflows")


class AcdCollector:
    def __init__(self, acd) -> None:
        self.acd = acd

    def collect(self):
        snap = self.acd.snapshot()
        waiting = GaugeMetricFamily("hotline_queue_waiting", "Callers waiting for an agent, by queue.",
                                    labels=["queue"])
        longest = GaugeMetricFamily("hotline_queue_longest_wait_seconds",
                                    "How long the longest-waiting caller has waited, by queue.", labels=["queue"])
        for name, figures in sorted(snap["queues"].items()):
            waiting.add_metric([name], figures["waiting"])
            longest.add_metric([name], figures["longest_wait"])
        agents = GaugeMetricFamily("hotline_agents", "Agents by state.", labels=["state"])
        for state, count in sorted(snap["agents"].items()):
            agents.add_metric([state], count)
        callbacks = GaugeMetricFamily("hotline_queue_callbacks_waiting",
                                      "Callers who hung up keeping their place for a callback.")
        callbacks.add_metric([], snap["callbacks_waiting"])
        events = CounterMetricFamily("hotline_acd_events", "Queue events since start, by kind.", labels=["kind"])
        for kind in OUTCOMES:
            events.add_metric([kind], snap["stats"].get(kind, 0))
        return [waiting, longest, agents, callbacks, events]


def register_metrics(acd, registry=None) -> AcdCollector:
    """Expose ``acd`` on ``registry`` (the service's :data:`callcenter.metrics.REGISTRY` by default)."""
    if registry is None:
        from callcenter.metrics import REGISTRY as registry
    collector = AcdCollector(acd)
    registry.register(collector)
    return collector
