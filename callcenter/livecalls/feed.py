"""``LiveCalls``: the process's :class:`CallTracker` as the web reads it, and the push to open pages.

Open ``/supervisor/calls`` pages get a ``calls`` event on the app's SSE
stream: within ``soon`` of a call starting or ending (the tracker's hooks),
and every ``publish_interval`` otherwise while the rows changed (a phase
moved, a wait grew).  Nothing is computed while no page is open, so the AMI
hot path pays one list append per call start and end, nothing per event.
"""
from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from twisted.internet.task import LoopingCall

from callcenter.clock import now_from
from callcenter.livecalls.view import acd_entry, detail, summary, visible_to


class LiveCalls:
    publish_interval = 1.0
    soon = 0.1
    #: rows sent to a page (the API returns every call)
    max_rows = 500

    def __init__(self, stream, clock, *, tz: tzinfo | str = "Asia/Shanghai") -> None:
        self.stream = stream
        self.clock = clock
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self.tracker = None
        self.time_source = clock
        self.acd = None
        self._loop: LoopingCall | None = None
        self._pending = None
        self._last: list | None = None

    # -- lifecycle -----------------------------------------------------------------
    @property
    def attached(self) -> bool:
        return self.tracker is not None

    def attach(self, tracker, *, time_source=None, acd=None) -> None:
        """Serve ``tracker`` (stamped on ``time_source``'s time); start pushing to open pages."""
        if self.tracker is tracker:
            return
        if self.tracker is not None:
            raise ValueError("live calls already follow another tracker")
        self.tracker = tracker
        self.time_source = time_source or self.clock
        self.acd = acd
        tracker.on_call_started.append(self._changed)
        tracker.on_call_ended.append(self._changed)
        self._loop = LoopingCall(self.publish)
        self._loop.clock = self.clock
        self._loop.start(self.publish_interval, now=False)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        self._pending = None
        if self.tracker is not None:
            for hooks in (self.tracker.on_call_started, self.tracker.on_call_ended):
                if self._changed in hooks:
                    hooks.remove(self._changed)

    # -- reading --------------------------------------------------------------------
    def now(self) -> datetime:
        return now_from(self.time_source)

    def rows(self, user=None) -> list[dict]:
        """Live calls, oldest first; only those ``user`` may see when given."""
        now = self.now()
        calls = sorted(self.tracker.live_calls(), key=lambda c: c.started_at)
        rows = [summary(c, now, acd_entry(self.acd, c)) for c in calls]
        if user is not None:
            rows = [r for r in rows if visible_to(user, r)]
        return rows

    def detail(self, linkedid: str, user=None) -> dict | None:
        """One call (live or recently ended) with its timeline; None when unknown or not ``user``'s."""
        call = self.tracker.call(linkedid)
        if call is None:
            return None
        body = detail(call, self.now(), acd_entry(self.acd, call))
        if user is not None and not visible_to(user, body):
            return None
        return body

    def local(self, iso: str | None) -> str:
        """An ISO instant as the hotline's wall-clock time (``HH:MM:SS``) for pages."""
        if not iso:
            return ""
        return datetime.fromisoformat(iso).astimezone(self.tz).strftime("%H:%M:%S")

    def snapshot(self) -> dict:
        """What a page shows: the rows (capped), their total and local start times."""
        rows = self.rows()
        shown = [dict(r, started_local=self.local(r["started_at"])) for r in rows[:self.max_rows]]
        return {"at": self.local(self.now().isoformat()), "total": len(rows), "calls": shown}

    # -- pushing ----------------------------------------------------------------------
    def _changed(self, _call=None) -> None:
        if self._pending is None or not self._pending.active():
            self._pending = self.clock.callLater(self.soon, self.publish)

    def publish(self) -> None:
        """Send the rows to open pages if they changed since the last send."""
        if self.tracker is None or not (self.stream.clients or getattr(self.stream, "mirror", None) is not None):
            self._last = None
            return
        snap = self.snapshot()
        if snap["calls"] == self._last:
            return
        self._last = snap["calls"]
        self.stream.publish("calls", snap)
