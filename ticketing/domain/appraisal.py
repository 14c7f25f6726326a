"""Department appraisal (考核): a month's figures per handling department, a weighted score, a rank.

Pure: it reads work-order history entries and SLA breach firings handed in
as plain tuples.  Each figure is credited to the department that held the
order (the lead) at the moment it happened, by replaying the order's own
assignments (dispatch, and re-dispatch after an approved return):

* assigned — orders given to the department (派单, 改派) in the month;
* 按时签收 ack on time = 1 − acknowledge-deadline breaches in the month / assigned;
* 按时办结 resolved on time = replies in the month with no resolve-deadline breach since the order was
  assigned / replies;
* 退单 returns accepted / rejected (a rejected return was a duty the department tried to avoid);
  return score = 1 − rejected / assigned;
* 重办率 reopen rate = reopens (dissatisfied callback, or reopened by the centre) / replies;
* 满意率 satisfaction = callback ratings ≥ 4 of 5 / rated callbacks (as in the reports' 一事一评);
* 督办 supervisions in the month; supervision score = 1 − supervised / assigned.

Score = 100 × Σ wᵢ·cᵢ / Σ wᵢ over the components that have data (a department
with no replies is not scored on reopen or resolution); ranked by score, ties
by code; the score has one decimal, halves up.  A rate with nothing to divide is None, never 0 or 100 %.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

SATISFIED_AT_LEAST = 4
DEFAULT_WEIGHTS: dict[str, float] = {
    "ack_on_time": 0.15, "resolved_on_time": 0.30, "returns": 0.10, "reopen": 0.15, "satisfaction": 0.25,
    "supervision": 0.05,
}
ASSIGNING = ("dispatch", "review-return")


@dataclass(frozen=True)
class Entry:
    """One history entry of an order (``details`` as stored)."""

    order: Any
    at: datetime
    action: str
    details: dict


@dataclass(frozen=True)
class Breach:
    order: Any
    kind: str  # acknowledge | resolve | callback
    fired_at: datetime


@dataclass
class DepartmentMonth:
    department: str
    assigned: int = 0
    ack_breaches: int = 0
    replies: int = 0
    replies_on_time: int = 0
    returns: int = 0
    returns_accepted: int = 0
    returns_rejected: int = 0
    reopens: int = 0
    rated: int = 0
    satisfied: int = 0
    supervised: int = 0
    components: dict[str, float | None] = field(default_factory=dict)
    score: float | None = None
    rank: int | None = None

    def as_dict(self) -> dict:
        return {
            "department": self.department, "assigned": self.assigned, "ack_breaches": self.ack_breaches,
            "ack_on_time_rate": self.components.get("ack_on_time"), "replies": self.replies,
            "replies_on_time": self.replies_on_time, "resolved_on_time_rate": self.components.get("resolved_on_time"),
            "returns": self.returns, "returns_accepted": self.returns_accepted,
            "returns_rejected": self.returns_rejected, "reopens": self.reopens,
            "reopen_rate": _rate(self.reopens, self.replies), "rated": self.rated, "satisfied": self.satisfied,
            "satisfaction_rate": self.components.get("satisfaction"), "supervised": self.supervised,
            "components": dict(self.components), "score": self.score, "rank": self.rank,
        }


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def one_decimal(value: float) -> float:
    """To one decimal, halves up (61.25 → 61.3), whatever float error the sum picked up on the way."""
    return float(Decimal(repr(round(value, 6))).quantize(Decimal("0.1"), ROUND_HALF_UP))


def check_weights(weights: dict) -> dict[str, float]:
    """Weights for each component (unknown names or negative values refused); at least one positive."""
    if not isinstance(weights, dict):
        raise ValueError("appraisal weights must be a table")
    unknown = sorted(set(weights) - set(DEFAULT_WEIGHTS))
    if unknown:
        raise ValueError(f"unknown appraisal weights {unknown}; expected {sorted(DEFAULT_WEIGHTS)}")
    out = dict(DEFAULT_WEIGHTS)
    for name, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"appraisal weight {name} must be a number >= 0")
        out[name] = float(value)
    if not any(out.values()):
        raise ValueError("at least one appraisal weight must be positive")
    return out


def tally(entries: Iterable[Entry], breaches: Iterable[Breach], start: datetime, end: datetime,
          ) -> dict[str, DepartmentMonth]:
    """The month's counts per department.  ``entries`` must hold each order's whole history (earlier
    assignments say who held it); only what happened in ``[start, end)`` is counted."""
    by_order: dict[Any, list[Entry]] = defaultdict(list)
    for e in entries:
        by_order[e.order].append(e)
    breach_by_order: dict[Any, list[Breach]] = defaultdict(list)
    for b in breaches:
        breach_by_order[b.order].append(b)
    out: dict[str, DepartmentMonth] = {}

    def row(dept: str) -> DepartmentMonth:
        if dept not in out:
            out[dept] = DepartmentMonth(dept)
        return out[dept]

    for order, history in by_order.items():
        history.sort(key=lambda e: e.at)
        holders: list[tuple[datetime, str]] = []  # (since, department)
        lead, since = None, None
        for e in history:
            inside = start <= e.at < end
            if e.action == "return" and lead and inside:
                row(lead).returns += 1
            if e.action == "review-return" and inside:
                returning = lead
                if returning:
                    if e.details.get("approved"):
                        row(returning).returns_accepted += 1
                    else:
                        row(returning).returns_rejected += 1
            if e.action in ASSIGNING and (e.action == "dispatch" or e.details.get("approved")) \
                    and e.details.get("department"):
                lead, since = e.details["department"], e.at
                holders.append((since, lead))
                if inside:
                    row(lead).assigned += 1
                continue
            if not lead or not inside:
                continue
            if e.action == "reply":
                fig = row(lead)
                fig.replies += 1
                late = any(b.kind == "resolve" and since <= b.fired_at <= e.at for b in breach_by_order[order])
                if not late:
                    fig.replies_on_time += 1
            elif e.action == "reopen" or (e.action == "callback-result" and e.details.get("outcome") == "dissatisfied"):
                row(lead).reopens += 1
            elif e.action == "supervise":
                row(lead).supervised += 1
            if e.action == "callback-result" and e.details.get("satisfaction") is not None:
                fig = row(lead)
                fig.rated += 1
                if e.details["satisfaction"] >= SATISFIED_AT_LEAST:
                    fig.satisfied += 1
        for b in breach_by_order[order]:
            if b.kind != "acknowledge" or not start <= b.fired_at < end:
                continue
            held = [d for at, d in holders if at <= b.fired_at]
            if held:
                row(held[-1]).ack_breaches += 1
    return out


def appraise(figures: dict[str, DepartmentMonth], weights: dict[str, float] | None = None) -> list[DepartmentMonth]:
    """Components, score and rank for each department (best first)."""
    weights = check_weights(weights or {})
    for fig in figures.values():
        ack = max(0.0, 1 - fig.ack_breaches / fig.assigned) if fig.assigned else None
        reopen = _rate(fig.reopens, fig.replies)
        fig.components = {
            "ack_on_time": ack,
            "resolved_on_time": _rate(fig.replies_on_time, fig.replies),
            "returns": max(0.0, 1 - fig.returns_rejected / fig.assigned) if fig.assigned else None,
            "reopen": max(0.0, 1 - reopen) if reopen is not None else None,
            "satisfaction": _rate(fig.satisfied, fig.rated),
            "supervision": max(0.0, 1 - fig.supervised / fig.assigned) if fig.assigned else None,
        }
        used = [(weights[k], v) for k, v in fig.components.items() if v is not None and weights[k] > 0]
        total = sum(w for w, _ in used)
        fig.score = one_decimal(100 * sum(w * v for w, v in used) / total) if total else None
    ranked = sorted(figures.values(), key=lambda f: (f.score is None, -(f.score or 0), f.department))
    for i, fig in enumerate(ranked, 1):
        fig.rank = i if fig.score is not None else None
    return ranked
