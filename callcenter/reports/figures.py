"""Report figures from plain rows (no I/O): the definitions supervisors are judged by.

* answer rate = answered / offered (offered = every caller who left a queue);
* service level = answered within ``service_seconds`` (15 s, GB/T 33358) / offered;
* ASA = mean wait of answered calls; abandonment = abandoned / offered;
* AHT = (talk + wrap-up time) / handled calls, from the agent state log;
* 按时办结率 on-time completion = closed orders without a resolve-deadline breach / closed orders;
* first-contact resolution = orders resolved on the call / orders registered;
* reopen rate = orders reopened at least once / orders registered;
* 一次一评 = satisfied per-call ratings / ratings; 一事一评 = callback results ≥ 4 of 5 / rated orders.
A rate with nothing to divide is ``None`` (shown as "—"), never 0 or 100 %.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

SERVICE_SECONDS = 15.0
SATISFIED_AT_LEAST = 4
CLOSED = ("closed", "resolved_on_call")
HANDLING_STATES = ("on_call", "wrap_up")


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Figures:
    """All figures for one row of a report (a queue, agent, department or category)."""

    key: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_in_target: int = 0
    answered_wait: float = 0.0
    handled: int = 0
    handle_seconds: float = 0.0
    orders: int = 0
    closed: int = 0
    closed_on_time: int = 0
    resolved_on_call: int = 0
    reopened: int = 0
    ratings: int = 0
    ratings_satisfied: int = 0
    callbacks_rated: int = 0
    callbacks_satisfied: int = 0

    def as_dict(self) -> dict:
        return {
            "key": self.key, "offered": self.offered, "answered": self.answered, "abandoned": self.abandoned,
            "answer_rate": rate(self.answered, self.offered),
            "service_level": rate(self.answered_in_target, self.offered),
            "asa_seconds": self.answered_wait / self.answered if self.answered else None,
            "aht_seconds": self.handle_seconds / self.handled if self.handled else None,
            "abandon_rate": rate(self.abandoned, self.offered),
            "orders": self.orders, "closed": self.closed,
            "on_time_rate": rate(self.closed_on_time, self.closed),
            "fcr_rate": rate(self.resolved_on_call, self.orders),
            "reopen_rate": rate(self.reopened, self.orders),
            "call_satisfaction": rate(self.ratings_satisfied, self.ratings),
            "callback_satisfaction": rate(self.callbacks_satisfied, self.callbacks_rated),
        }


@dataclass
class Report:
    rows: dict[str, Figures] = field(default_factory=dict)

    def row(self, key) -> Figures:
        key = key or "—"
        if key not in self.rows:
            self.rows[key] = Figures(key)
        return self.rows[key]

    def total(self) -> Figures:
        out = Figures("total")
        for f in self.rows.values():
            for name, value in vars(f).items():
                if name != "key":
                    setattr(out, name, getattr(out, name) + value)
        return out

    def as_rows(self) -> list[dict]:
        return [self.rows[k].as_dict() for k in sorted(self.rows)]


def add_queue_call(fig: Figures, outcome: str, wait_seconds: float, service_seconds: float = SERVICE_SECONDS):
    """One caller leaving a queue.  Callers moved on (callback, overflow) count as offered, not abandoned."""
    fig.offered += 1
    if outcome == "answered":
        fig.answered += 1
        fig.answered_wait += wait_seconds
        if wait_seconds <= service_seconds:
            fig.answered_in_target += 1
    elif outcome == "abandoned":
        fig.abandoned += 1


def handle_times(changes) -> dict[str, tuple[int, float]]:
    """Per agent ``(handled calls, seconds on call or in wrap-up)`` from ``(agent, to_state, at)`` rows.

    Rows may come in any order; each state lasts until the agent's next change.
    A state still running at the end of the rows is not counted (its end is unknown).
    """
    by_agent = defaultdict(list)
    for agent, state, at in changes:
        by_agent[agent].append((at, state))
    out = {}
    for agent, items in by_agent.items():
        items.sort()
        calls = sum(1 for _, state in items if state == "on_call")
        seconds = sum((nxt[0] - cur[0]).total_seconds() for cur, nxt in zip(items, items[1:])
                      if cur[1] in HANDLING_STATES)
        out[agent] = (calls, seconds)
    return out


def add_order(fig: Figures, status: str, reopen_count: int, satisfaction: int | None, breached: bool) -> None:
    fig.orders += 1
    if status in CLOSED:
        fig.closed += 1
        if not breached:
            fig.closed_on_time += 1
    if status == "resolved_on_call":
        fig.resolved_on_call += 1
    if reopen_count:
        fig.reopened += 1
    if satisfaction is not None:
        fig.callbacks_rated += 1
        if satisfaction >= SATISFIED_AT_LEAST:
            fig.callbacks_satisfied += 1


def add_rating(fig: Figures, satisfied: bool) -> None:
    fig.ratings += 1
    if satisfied:
        fig.ratings_satisfied += 1
