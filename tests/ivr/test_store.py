"""IVR visits persisted for reports (SQLite and PostgreSQL, schema from the migrations)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from callcenter.db import make_engine
from ivr.runner import IvrCall
from ivr.store import IvrVisitStore

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


def _call(n: int, outcome: str, queue: str | None = None) -> IvrCall:
    call = IvrCall(channel=f"PJSIP/trunk-{n}", uniqueid=f"1795421328.{n}", linkedid="x", caller="13812345678",
                   caller_name="", flow="hotline", started_at=T0 + timedelta(minutes=n), lang="zh")
    call.outcome, call.queue, call.ended_at = outcome, queue, call.started_at + timedelta(seconds=20)
    call.path = [{"node": "welcome", "kind": "play", "at": call.started_at.isoformat(), "keys": "", "result": ""},
                 {"node": "main_menu", "kind": "menu", "at": call.started_at.isoformat(), "keys": "1",
                  "result": "工单"}]
    return call


def test_visits_are_recorded_with_masked_caller_and_counted(db_url):
    """Each finished IVR visit is one row with its path; the number is stored masked; counts by outcome
    respect the time window and flow."""
    store = IvrVisitStore(make_engine(db_url))
    store.record(_call(1, "transfer", "hotline-urgent"))
    store.record(_call(2, "caller_hangup"))
    store.record(_call(90, "transfer", "hotline-general"))
    window = (T0, T0 + timedelta(hours=1))
    assert store.outcome_counts(*window) == {"transfer": 1, "caller_hangup": 1}
    assert store.outcome_counts(*window, flow="survey") == {}
    (latest, first) = store.visits(*window)
    assert first["caller"] == "138****5678" and first["queue"] == "hotline-urgent"
    assert first["path"][1] == {"node": "main_menu", "kind": "menu", "at": first["path"][1]["at"], "keys": "1",
                                "result": "工单"}
    assert latest["outcome"] == "caller_hangup" and latest["steps"] == 2
