"""Callback figures on the shared Prometheus registry, refreshed from the database.

The worker recomputes them (off the reactor thread) every few ticks, so every
process reports the same figures from the one source of truth."""
from __future__ import annotations

from collections import defaultdict

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select

from callcenter.callbacks.tables import callback_jobs, callback_webhooks
from callcenter.metrics import REGISTRY

J = callback_jobs.c
CALLBACK_JOBS = Gauge("hotline_callback_jobs", "Callback jobs by state.", ["state"], registry=REGISTRY)
CALLBACK_RATE = Gauge("hotline_callback_rate_ratio",
                      "Share of settled callbacks in which the citizen gave an answer (done / settled), "
                      "by department.", ["department"], registry=REGISTRY)
REACHABILITY = Gauge("hotline_callback_reachability_ratio",
                     "Callbacks reached / (reached + unreachable), by department.", ["department"], registry=REGISTRY)
SATISFACTION = Gauge("hotline_callback_satisfaction_ratio",
                     "Satisfied or basically satisfied / answered callbacks, by department and category.",
                     ["department", "category"], registry=REGISTRY)
REOPEN_RATE = Gauge("hotline_callback_reopen_ratio",
                    "Dissatisfied (reopened, 重办) / answered callbacks, by department.", ["department"],
                    registry=REGISTRY)
WEBHOOK_DEAD = Counter("hotline_webhook_dead", "Webhook notifications given up after the last attempt "
                       "(listed on /callbacks, where they can be sent again).", registry=REGISTRY)
WEBHOOK_OUTBOX = Gauge("hotline_webhook_outbox", "Webhook notifications by state (pending, sending, "
                       "delivered, dead).", ["state"], registry=REGISTRY)


def figures(engine) -> dict:
    """Counts per state, and per department/category: answered, satisfied, dissatisfied, unreachable, skipped."""
    q = (select(J.department, J.category, J.state, J.result, func.count())
         .group_by(J.department, J.category, J.state, J.result))
    states: dict[str, int] = defaultdict(int)
    cells: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with engine.connect() as conn:
        for dept, cat, state, result, n in conn.execute(q):
            states[state] += n
            cell = cells[(dept or "-", cat)]
            if state == "done":
                cell["answered"] += n
                cell["satisfied" if result in ("satisfied", "basic") else "dissatisfied"] += n
            elif state in ("unreachable", "skipped"):
                cell[state] += n
        webhooks = {s: n for s, n in conn.execute(select(callback_webhooks.c.state, func.count())
                                                   .group_by(callback_webhooks.c.state))}
    return {"states": dict(states), "cells": {k: dict(v) for k, v in cells.items()}, "webhooks": webhooks}


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def publish(data: dict) -> None:
    """Set the gauges from :func:`figures` output."""
    for state in ("scheduled", "dialing", "done", "unreachable", "skipped"):
        CALLBACK_JOBS.labels(state).set(data["states"].get(state, 0))
    for state in ("pending", "sending", "delivered", "dead"):
        WEBHOOK_OUTBOX.labels(state).set(data.get("webhooks", {}).get(state, 0))
    per_dept: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (dept, cat), cell in data["cells"].items():
        SATISFACTION.labels(dept, cat).set(_ratio(cell.get("satisfied", 0), cell.get("answered", 0)))
        for key, n in cell.items():
            per_dept[dept][key] += n
    for dept, c in per_dept.items():
        answered, unreachable, skipped = c.get("answered", 0), c.get("unreachable", 0), c.get("skipped", 0)
        CALLBACK_RATE.labels(dept).set(_ratio(answered, answered + unreachable + skipped))
        REACHABILITY.labels(dept).set(_ratio(answered, answered + unreachable))
        REOPEN_RATE.labels(dept).set(_ratio(c.get("dissatisfied", 0), answered))


def refresh(engine) -> dict:
    data = figures(engine)
    publish(data)
    return data
