"""What a demo run did, read back from the database it wrote (and the run's own counters).

The numbers come from the stored traces wherever they exist — queue calls,
IVR visits, work orders and their history, SLA events — so the summary is
also a check that every stage persisted its work.
"""
from __future__ import annotations

import sqlalchemy as sa

SERVICE_LEVEL_SECONDS = 20


def _counts(conn, table: str, column: str) -> dict[str, int]:
    rows = conn.execute(sa.text(f"SELECT {column}, COUNT(*) FROM {table} GROUP BY {column}"))  # noqa: S608 (constants)
    return {str(k): int(n) for k, n in rows}


def stored_traces(engine) -> dict:
    """Counts per stage, straight from the tables."""
    with engine.connect() as conn:
        scalar = lambda sql: int(conn.execute(sa.text(sql)).scalar() or 0)  # noqa: E731
        return {
            "queue_calls": _counts(conn, "queue_calls", "outcome"),
            "ivr_visits": _counts(conn, "ivr_visits", "outcome"),
            "orders_by_status": _counts(conn, "work_orders", "status"),
            "history_actions": _counts(conn, "work_order_history", "action"),
            "sla_events": _counts(conn, "sla_events", "phase"),
            "callbacks_recorded": scalar("SELECT COUNT(*) FROM work_order_history WHERE action = 'callback-result'"),
            "callback_jobs": _counts(conn, "callback_jobs", "state"),
            "callback_results": _counts(conn, "callback_jobs WHERE result IS NOT NULL", "result"),
            "callbacks_dialled": scalar("SELECT SUM(attempts) FROM callback_jobs"),
            "satisfaction_scores": _counts(conn, "work_orders WHERE satisfaction IS NOT NULL", "satisfaction"),
            "reopened": scalar("SELECT COUNT(*) FROM work_order_history WHERE to_status = 'reopened'"),
            "agent_state_changes": scalar("SELECT COUNT(*) FROM agent_state_log"),
        }


def _sms_counts(engine) -> dict:
    """Messages to citizens by state (delivered, sent, pending, suppressed …) and by kind."""
    from sqlalchemy import func, select

    from callcenter.sms import outbox
    from callcenter.sms.tables import sms_messages

    with engine.connect() as conn:
        kinds = {k: n for k, n in conn.execute(select(sms_messages.c.kind, func.count())
                                               .group_by(sms_messages.c.kind))}
    return {"by_state": outbox.counts(engine), "by_kind": kinds}


def summarize(engine, world) -> dict:
    """The end-of-run summary (one JSON-able dict)."""
    traces = stored_traces(engine)
    s = world.stats
    offered = s["queued"]
    answered = s["answered"]
    statuses = traces["orders_by_status"]
    results = traces["callback_results"]   # what the callback worker and survey hook stored
    callbacks = {"satisfied": results.get("satisfied", 0) + results.get("basic", 0)
                 + results.get("basically_satisfied", 0),
                 "dissatisfied": results.get("dissatisfied", 0), "unreachable": results.get("unreachable", 0)}
    answered_cb = callbacks["satisfied"] + callbacks["dissatisfied"]
    return {
        "event": "summary",
        "simulated_minutes": round((world.clock.seconds() - world.started_at.timestamp()) / 60, 1),
        "calls": {
            "offered": s["calls"],
            "queued": offered,
            "answered": s["answered"],
            "abandoned": s["abandoned"],
            "callback_booked": s["callback_booked"],
            "ivr_outcomes": dict(world.ivr_outcomes),
        },
        "service_level": round(s["answered_in_sl"] / offered, 3) if offered else None,
        "service_level_seconds": SERVICE_LEVEL_SECONDS,
        "average_answer_seconds": round(s["wait_total_ms"] / 1000 / answered, 1) if answered else None,
        "orders": {
            "created": sum(statuses.values()),
            "filed_by_agents": s["orders_created"],
            "closed": statuses.get("closed", 0) + statuses.get("resolved_on_call", 0),
            "reopened": traces["reopened"],
            "by_status": statuses,
        },
        "sla_breaches": traces["sla_events"].get("breach", 0),
        "sla_warnings": traces["sla_events"].get("warning", 0),
        "callbacks": dict(callbacks, dialled=traces["callbacks_dialled"], jobs=traces["callback_jobs"]),
        "satisfaction": round(callbacks["satisfied"] / answered_cb, 3) if answered_cb else None,
        "citizens_web": {"reports": s["web_reports"], "photos": s["web_photos"], "tracked": s["web_tracked"],
                         "rated_online": s["web_rated"], "refused": s["web_refused"] + s["web_rating_refused"],
                         "no_code": s["web_no_code"], "errors": s["web_errors"]},
        "sms": _sms_counts(engine),
        "errors": s["errors"],
        "error_kinds": {k[6:]: n for k, n in s.items() if k.startswith("error:")},
        "retried_conflicts": s["retried_conflicts"],
        "traces": traces,
    }
