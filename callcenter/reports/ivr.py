"""The IVR report (语音导航报表): what callers did in the voice menus over a Beijing day or month.

From the stored visit paths (``ivr_visits``, one row per IVR visit): how many went on to a queue, were
served by the menus alone (a status read back, a message left, a callback booked), hung up in the
menus, or were restricted; which main-menu keys were pressed; how many came after hours.  The
counting is a pure function of the rows (:func:`summarise`), so it is tested without a database.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import select

from callcenter.reports.queries import Period

MENU = "main_menu"


@dataclass
class IvrFigures:
    visits: int = 0
    to_queue: int = 0                 # handed to an agents' queue
    served_in_ivr: int = 0            # ended in the menus after a read-back, message or callback
    hung_up: int = 0                  # the caller hung up in the menus without any of those
    other: int = 0                    # errors and anything else
    status_read_back: int = 0         # an order's status read to the caller
    messages: int = 0                 # messages recorded (each a draft work order)
    callbacks: int = 0                # callbacks booked
    restricted: int = 0               # restricted callers (限制呼入)
    after_hours: int = 0
    by_queue: Counter = field(default_factory=Counter)
    by_language: Counter = field(default_factory=Counter)
    menu_keys: Counter = field(default_factory=Counter)

    @property
    def containment(self) -> float | None:
        """The share of visits the menus served without an agent."""
        return self.served_in_ivr / self.visits if self.visits else None


def summarise(rows: Iterable[dict]) -> IvrFigures:
    """Count visits given as ``{"outcome", "queue", "lang", "path": [{"node", "kind", "keys", "result"}]}``."""
    f = IvrFigures()
    for row in rows:
        f.visits += 1
        steps = row.get("path") or []
        results = [(s.get("kind"), s.get("result") or "") for s in steps]
        read_back = any(k == "lookup" and r.startswith("found:") for k, r in results)
        message = any(k == "message" and r.startswith("recorded:") for k, r in results)
        callback = any(k == "callback" and r == "callback_booked" for k, r in results)
        f.status_read_back += read_back
        f.messages += message
        f.callbacks += callback
        f.restricted += any(k == "screen" and r == "restricted" for k, r in results)
        f.after_hours += any(k == "hours" and r == "closed" for k, r in results)
        f.by_language[row.get("lang") or "?"] += 1
        for step in steps:
            if step.get("node") == MENU and step.get("keys"):
                f.menu_keys[step["keys"][:1]] += 1
        outcome = row.get("outcome")
        if outcome == "transfer":
            f.to_queue += 1
            f.by_queue[row.get("queue") or "?"] += 1
        elif outcome in ("hangup", "caller_hangup") and (read_back or message or callback):
            f.served_in_ivr += 1
        elif outcome in ("hangup", "caller_hangup"):
            f.hung_up += 1
        else:
            f.other += 1
    return f


def ivr_report(engine, period: Period, flow: str = "hotline") -> IvrFigures:
    """The figures of ``flow``'s visits that started in ``period`` (blocking: run it in the pool)."""
    from ivr.store import ivr_visits as v

    stmt = (select(v.c.outcome, v.c.queue, v.c.lang, v.c.path)
            .where(v.c.flow == flow, v.c.started_at >= period.start, v.c.started_at < period.end))
    with engine.connect() as conn:
        return summarise({"outcome": r.outcome, "queue": r.queue, "lang": r.lang, "path": json.loads(r.path)}
                         for r in conn.execute(stmt))
