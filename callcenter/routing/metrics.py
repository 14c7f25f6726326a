"""The ACD's figures: :class:`Figures` (``snapshot``, a part of the queue controller) and their
Prometheus view, read from :meth:`QueueController.snapshot` at scrape time.

A collector rather than gauges updated on every change: the numbers are
computed only when Prometheus asks, and cannot drift from the controller.
Register it once per controller (``register_metrics(acd)``) on the service's
one registry; ``unregister`` when the controller stops.
"""
from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from callcenter.routing.agent import AgentState
from callcenter.routing.queued import CallState

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


class Figures:
    """Live figures for wallboards and /metrics (a part of the queue controller)."""

    def waiting(self, queue: str | None = None) -> int:
        return self.router.waiting_count(queue)

    def snapshot(self) -> dict:
        """Live figures for wallboards: per queue waiting and longest wait, agents by state."""
        now = self._now()
        by_state: dict[str, int] = {state.value: 0 for state in AgentState}
        for session in self.sessions.values():
            by_state[session.state.value] += 1
        return {
            "queues": {name: {"waiting": self.router.waiting_count(name),
                              "longest_wait": round(self.router.longest_wait(name, now), 1)}
                       for name in self.router.queue_names()},
            "agents": by_state,
            "callbacks_waiting": sum(1 for qc in self.calls.values() if qc.state is CallState.CALLBACK_WAIT),
            "stats": dict(self.stats),
        }
