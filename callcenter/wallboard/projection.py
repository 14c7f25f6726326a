"""``Wallboard``: today's queue figures, folded from ACD events (pure; ``now`` passed in).

Why a projection and not queries: the big screen must change within a second
of a call event, for hundreds of screens, without touching the database.  The
ACD stays the source of truth for what is live (waiting callers, agents by
state) and hands it over with :meth:`Wallboard.set_live`; the projection adds
what only history knows (offered/answered/abandoned today, waits, handle
times).  Work-order figures come from the database (see ``workorders.py``)
and are merged in with :meth:`Wallboard.set_workorders`.

Service level is reported two ways:

* GB/T 33358 (热线服务): share of calls answered by an agent within 15 s,
  and the connection rate (接通率 = answered / (answered + abandoned)),
  coloured green at or above ``connection_green`` (95 %), amber at or above
  ``connection_amber``, red below;
* the classic 80/20: share answered within 20 s, target 80 %.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from callcenter.errors import HotlineError

UTC = timezone.utc
MAX_ABANDONED_LIST = 50


class WallboardConfigError(HotlineError, ValueError):
    """A bad ``[wallboard]`` value: ``error_id`` and the offending key."""

    error_id = "wallboard.bad_config"

    def __init__(self, key: str, value, expected: str):
        self.message = f"[wallboard] {key} = {value!r}: expected {expected} / 大屏配置 {key} 无效"
        Exception.__init__(self, self.message)
        self.details = {"key": key, "value": value, "expected": expected}


@dataclass(frozen=True)
class Thresholds:
    """Targets and colour limits, from ``[wallboard]`` in the configuration."""

    answer_within_seconds: float = 15.0       # GB/T 33358: answered within 15 s
    connection_green: float = 0.95            # 接通率 ≥ 95 % is green
    connection_amber: float = 0.85
    sl_green: float = 0.80                    # 80/20 and 15 s service level colours
    sl_amber: float = 0.70
    sl80_seconds: float = 20.0
    abandon_amber: float = 0.05
    abandon_red: float = 0.10
    longest_wait_amber: float = 60.0
    longest_wait_red: float = 180.0
    timezone: str = "Asia/Shanghai"

    @classmethod
    def from_section(cls, section: dict | None) -> "Thresholds":
        section = dict(section or {})
        known = {k: v for k, v in cls.__dataclass_fields__.items()}
        values = {}
        for key, value in section.items():
            if key in ("publish_interval", "refresh_seconds", "at_risk_limit", "supervisor_device"):
                continue
            if key not in known:
                raise WallboardConfigError(key, value, f"one of {sorted(known)}")
            if key == "timezone":
                try:
                    ZoneInfo(str(value))
                except Exception:  # noqa: BLE001 - any lookup failure is a config error
                    raise WallboardConfigError(key, value, "an IANA time zone such as Asia/Shanghai") from None
                values[key] = str(value)
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise WallboardConfigError(key, value, "a non-negative number")
            values[key] = float(value)
        t = cls(**values)
        for low, high in (("connection_amber", "connection_green"), ("sl_amber", "sl_green")):
            if getattr(t, low) > getattr(t, high) or getattr(t, high) > 1:
                raise WallboardConfigError(low, getattr(t, low), f"≤ {high} ≤ 1")
        for low, high in (("abandon_amber", "abandon_red"), ("longest_wait_amber", "longest_wait_red")):
            if getattr(t, low) > getattr(t, high):
                raise WallboardConfigError(low, getattr(t, low), f"≤ {high}")
        return t

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone)


def colour_high_good(value: float | None, green: float, amber: float) -> str:
    """green/amber/red for a rate where higher is better (no calls yet: green)."""
    if value is None or value >= green:
        return "green"
    return "amber" if value >= amber else "red"


def colour_low_good(value: float | None, amber: float, red: float) -> str:
    if value is None or value < amber:
        return "green"
    return "amber" if value < red else "red"


def ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class QueueDay:
    """One queue's counters for one (local) day."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    callbacks_booked: int = 0
    answered_in_target: int = 0   # within answer_within_seconds (15 s)
    answered_in_sl80: int = 0     # within sl80_seconds (20 s)
    wait_answered_total: float = 0.0
    handled: int = 0
    talk_total: float = 0.0
    wrap_total: float = 0.0

    def add(self, other: "QueueDay") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def figures(self, t: Thresholds) -> dict:
        finished = self.answered + self.abandoned
        connection = ratio(self.answered, finished)
        sl15 = ratio(self.answered_in_target, finished)
        sl80 = ratio(self.answered_in_sl80, finished)
        abandonment = ratio(self.abandoned, finished)
        return {
            "offered": self.offered, "answered": self.answered, "abandoned": self.abandoned,
            "callbacks_booked": self.callbacks_booked,
            "connection_rate": connection,
            "connection_status": colour_high_good(connection, t.connection_green, t.connection_amber),
            "service_level_15s": sl15,
            "service_level_15s_status": colour_high_good(sl15, t.sl_green, t.sl_amber),
            "service_level_80_20": sl80,
            "service_level_80_20_status": colour_high_good(sl80, t.sl_green, t.sl_amber),
            "abandonment_rate": abandonment,
            "abandonment_status": colour_low_good(abandonment, t.abandon_amber, t.abandon_red),
            "asa_seconds": round(self.wait_answered_total / self.answered, 1) if self.answered else None,
            "aht_seconds": round((self.talk_total + self.wrap_total) / self.handled, 1) if self.handled else None,
        }


@dataclass
class _Waiting:
    queue: str
    since: datetime
    number: str = ""


@dataclass
class _Talking:
    queue: str
    since: datetime
    agent_id: str = ""


@dataclass
class Wallboard:
    """The projection.  Feed it with :meth:`on_acd_event`; read :meth:`snapshot`."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    day: str = ""
    queues: dict[str, QueueDay] = field(default_factory=dict)
    waiting: dict[str, _Waiting] = field(default_factory=dict)
    talking: dict[str, _Talking] = field(default_factory=dict)
    wrap_since: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    abandoned_calls: list[dict] = field(default_factory=list)
    live: dict = field(default_factory=dict)
    agents: list[dict] = field(default_factory=list)
    workorders: dict = field(default_factory=dict)
    callbacks_pending: int = 0
    version: int = 0

    # -- days -------------------------------------------------------------------
    def local_day(self, now: datetime) -> str:
        return now.astimezone(self.thresholds.zone).date().isoformat()

    def day_start(self, now: datetime) -> datetime:
        """Midnight of ``now``'s local day, as an aware UTC instant."""
        local = now.astimezone(self.thresholds.zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)

    def _roll(self, now: datetime) -> None:
        day = self.local_day(now)
        if day != self.day:
            self.day = day
            self.queues.clear()
            self.abandoned_calls.clear()
            # calls whose end we never heard of (AMI outage) must not pile up day after day
            stale = now - timedelta(hours=12)
            for table in (self.waiting, self.talking):
                for call_id in [c for c, entry in table.items() if entry.since < stale]:
                    del table[call_id]
            self.wrap_since = {a: v for a, v in self.wrap_since.items() if v[0] >= stale}

    def _queue(self, name: str) -> QueueDay:
        q = self.queues.get(name)
        if q is None:
            q = self.queues[name] = QueueDay()
        return q

    # -- events -------------------------------------------------------------------
    def on_acd_event(self, kind: str, data: dict, now: datetime, number: str = "") -> dict | None:
        """Fold one ACD listener event; returns what a metric hook needs (or None).

        The returned dict is ``{"queue", "disposition", "wait"}`` for answered,
        abandoned and callback-booked calls.
        """
        self._roll(now)
        self.version += 1
        if kind == "agent":
            return self._on_agent(data, now)
        if kind != "call":
            return None
        call_id, state = data.get("call_id", ""), data.get("state")
        if state == "queued":
            queue = data.get("queue") or "unknown"
            if call_id not in self.waiting:  # a re-queue keeps the original arrival
                self.waiting[call_id] = _Waiting(queue, now, number)
                self._queue(queue).offered += 1
            return None
        if state == "overflow" and call_id in self.waiting and data.get("queue"):
            self.waiting[call_id].queue = data["queue"]
            return None
        if state == "connected":
            w = self.waiting.pop(call_id, None)
            if w is None:
                return None
            wait = max(0.0, (now - w.since).total_seconds())
            q = self._queue(w.queue)
            q.answered += 1
            q.wait_answered_total += wait
            q.answered_in_target += wait <= self.thresholds.answer_within_seconds
            q.answered_in_sl80 += wait <= self.thresholds.sl80_seconds
            self.talking[call_id] = _Talking(w.queue, now, data.get("agent_id", ""))
            return {"queue": w.queue, "disposition": "answered", "wait": wait}
        if state == "ended":
            t = self.talking.pop(call_id, None)
            if t is not None:
                q = self._queue(t.queue)
                q.handled += 1
                q.talk_total += max(0.0, (now - t.since).total_seconds())
                if t.agent_id:
                    self.wrap_since[t.agent_id] = (now, t.queue)
            return None
        if state in ("abandoned", "callback_booked"):
            w = self.waiting.pop(call_id, None)
            queue = (w.queue if w else data.get("queue")) or "unknown"
            wait = max(0.0, (now - w.since).total_seconds()) if w else 0.0
            q = self._queue(queue)
            if state == "abandoned":
                q.abandoned += 1
                self.abandoned_calls.insert(0, {"call_id": call_id, "queue": queue, "at": now.isoformat(),
                                                "waited_seconds": round(wait, 1),
                                                "number": w.number if w else number})
                del self.abandoned_calls[MAX_ABANDONED_LIST:]
            else:
                q.callbacks_booked += 1
            return {"queue": queue, "disposition": state, "wait": wait}
        return None

    def _on_agent(self, data: dict, now: datetime) -> None:
        agent_id = data.get("agent_id", "")
        if data.get("state") != "wrap_up" and agent_id in self.wrap_since:
            since, queue = self.wrap_since.pop(agent_id)
            if queue in self.queues:
                self.queues[queue].wrap_total += max(0.0, (now - since).total_seconds())
        return None

    def restore(self, rows, now: datetime) -> None:
        """Today's queue figures from the stored queue calls (``queue_calls`` rows left before ``now``),
        so a restarted process shows the day so far rather than zero.  Talk and wrap-up times are not
        stored per call: the average handling time counts the calls after the restart only."""
        self._roll(now)
        for row in rows:
            if row["outcome"] == "overflow":   # the call went on in another queue: counted there
                continue
            q = self._queue(row["queue"])
            q.offered += 1
            wait = max(0.0, float(row["wait_seconds"] or 0.0))
            if row["outcome"] == "answered":
                q.answered += 1
                q.wait_answered_total += wait
                q.answered_in_target += wait <= self.thresholds.answer_within_seconds
                q.answered_in_sl80 += wait <= self.thresholds.sl80_seconds
            elif row["outcome"] == "abandoned":
                q.abandoned += 1
                left = row["left_at"] if row["left_at"].tzinfo else row["left_at"].replace(tzinfo=UTC)
                self.abandoned_calls.append({"call_id": row["call_id"], "queue": row["queue"],
                                             "at": left.astimezone(UTC).isoformat(), "waited_seconds": round(wait, 1),
                                             "number": row["number"] or ""})
            elif row["outcome"] == "callback":
                q.callbacks_booked += 1
        self.abandoned_calls.sort(key=lambda c: c["at"], reverse=True)
        del self.abandoned_calls[MAX_ABANDONED_LIST:]
        self.version += 1

    def forget_abandoned(self, call_id: str) -> None:
        """A supervisor has called this caller back: take them off the list."""
        self.abandoned_calls = [c for c in self.abandoned_calls if c["call_id"] != call_id]
        self.version += 1

    # -- live state from the sources of truth ----------------------------------------
    def set_live(self, snapshot: dict, agents: list[dict]) -> None:
        """The ACD's :meth:`~QueueController.snapshot` plus per-agent rows."""
        self.live = snapshot
        self.agents = agents

    def set_workorders(self, figures: dict) -> None:
        self.workorders = figures
        self.version += 1

    def set_callbacks_pending(self, count: int) -> None:
        """Satisfaction callbacks waiting (the ACD's own queue callbacks come with ``set_live``)."""
        self.callbacks_pending = int(count)

    # -- reading ----------------------------------------------------------------------
    def snapshot(self, now: datetime) -> dict:
        """Everything the big screen shows, JSON-ready."""
        self._roll(now)
        t = self.thresholds
        live_queues = self.live.get("queues", {})
        names = sorted(set(live_queues) | set(self.queues))
        total = QueueDay()
        queues = []
        longest_all = 0.0
        for name in names:
            day = self.queues.get(name, QueueDay())
            total.add(day)
            live = live_queues.get(name, {})
            longest = float(live.get("longest_wait", 0.0))
            longest_all = max(longest_all, longest)
            queues.append({"name": name, "waiting": int(live.get("waiting", 0)), "longest_wait": longest,
                           "longest_wait_status": colour_low_good(longest, t.longest_wait_amber, t.longest_wait_red),
                           **day.figures(t)})
        by_state = dict(self.live.get("agents", {}))
        paused: dict[str, int] = {}
        for row in self.agents:
            if row.get("state") == "paused":
                reason = row.get("reason") or "other"
                paused[reason] = paused.get(reason, 0) + 1
        return {
            "day": self.day, "at": now.isoformat(), "version": self.version,
            "totals": {"waiting": sum(q["waiting"] for q in queues), "longest_wait": longest_all,
                       "longest_wait_status": colour_low_good(longest_all, t.longest_wait_amber, t.longest_wait_red),
                       **total.figures(t)},
            "queues": queues,
            "agents": {"by_state": by_state, "paused_by_reason": dict(sorted(paused.items()))},
            "callbacks_pending": self.callbacks_pending + int(self.live.get("callbacks_waiting", 0)),
            "callbacks": {"queue": int(self.live.get("callbacks_waiting", 0)), "satisfaction": self.callbacks_pending},
            "workorders": self.workorders,
            "thresholds": {"answer_within_seconds": t.answer_within_seconds,
                           "connection_green": t.connection_green, "sl_green": t.sl_green},
        }
