"""Learning from the floor: retrain intake from corrections, promote only a model no worse.

Corrections come from two places on the floor:

- agents' edits of a draft on the desk (stored as they happen, ``intake_correction``);
- returns accepted with a corrected department: a department returned an order as not
  theirs, the dispatcher approved it and re-dispatched it elsewhere (``work_order_history``
  rows ``review-return`` → ``dispatched``): the caller's words and the department that
  finally took it (:func:`corrections_from_returns`).

:func:`retrain` trains a candidate on the training split plus those corrections and scores
it and the current model on the gate set (the frozen blind set when it is there, else the
held-back split); the candidate replaces the current model only if it is no worse
(:func:`no_worse`).  :class:`RetrainJob` runs that on a schedule from the reactor, the work
in a thread.  Nothing here reads the gate set's rows except to score them.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Sequence

from ticketing.intake.dataset import Example
from ticketing.intake.training import Correction, validate_correction

log = logging.getLogger(__name__)

# "No worse": department and type accuracy and urgent recall at least the current model's.
GATE_FIELDS = ("department", "type")


def corrections_from_returns(engine, *, since: datetime | None = None, departments: Iterable[str] | None = None
                             ) -> list[Correction]:
    """Accepted returns re-dispatched to another department, as department corrections of the
    order's description (what the caller said), oldest first."""
    from sqlalchemy import and_, select

    from ticketing.persistence.tables import work_order_history as h
    from ticketing.persistence.tables import work_orders as w

    query = (select(w.c.description, w.c.summary, h.c.details, h.c.at)
             .select_from(h.join(w, h.c.order_id == w.c.id))
             .where(and_(h.c.action == "review-return", h.c.to_status == "dispatched"))
             .order_by(h.c.at, h.c.id))
    if since is not None:
        query = query.where(h.c.at >= since)
    out = []
    with engine.connect() as conn:
        for description, summary, details, _at in conn.execute(query):
            details = details if isinstance(details, dict) else json.loads(details or "{}")
            department = details.get("department")
            text = description or summary
            if not details.get("approved") or not department or not text:
                continue
            try:
                out.append(validate_correction(text, "department", department, "misrouted", (), departments))
            except Exception:  # a department this intake model cannot learn (renamed since): skip it
                continue
    return out


def score(extractor, examples: Sequence[Example]) -> dict:
    """Accuracy per gated field and urgent recall."""
    right = {f: 0 for f in GATE_FIELDS}
    urgent = caught = 0
    for e in examples:
        p = extractor.propose(e.text, e.lang)
        for f in GATE_FIELDS:
            right[f] += getattr(p, f) == getattr(e, f)
        if e.urgency == "urgent":
            urgent += 1
            caught += p.urgency == "urgent"
    n = max(1, len(examples))
    out = {f: round(right[f] / n, 4) for f in GATE_FIELDS}
    out["urgent_recall"] = round(caught / urgent, 4) if urgent else None
    out["examples"] = len(examples)
    return out


def no_worse(candidate: dict, current: dict) -> bool:
    """True when the candidate scores at least the current model on every gated figure."""
    for key in (*GATE_FIELDS, "urgent_recall"):
        if current.get(key) is not None and (candidate.get(key) or 0.0) < current[key]:
            return False
    return True


@dataclass
class RetrainResult:
    promoted: bool
    gate: str
    candidate: dict
    current: dict
    corrections: int
    model_path: str | None = None
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"promoted": self.promoted, "gate": self.gate, "candidate": self.candidate, "current": self.current,
                "corrections": self.corrections, "model_path": self.model_path}


def gate_set() -> tuple[str, list[Example]]:
    """The frozen blind set when present, else the hand-written held-back split."""
    from ticketing.intake.resources import held_back_sets, load_blind

    blind = load_blind()
    if blind:
        return "blind", blind
    return "held-back", held_back_sets()["hand-written"]


def retrain(extractor, corrections: Sequence[Correction], *, model_path: str | Path, gate=None,
            train_examples: Sequence[Example] | None = None, calibrate: bool = True) -> RetrainResult:
    """Train a candidate with ``corrections``; write it to ``model_path`` only if no worse than
    ``extractor``'s current model on the gate set."""
    from ticketing.intake.dataset import split
    from ticketing.intake.normalize import clean
    from ticketing.intake.resources import load_examples, save_model
    from ticketing.intake.training import train_model

    gate_name, gate_examples = gate or gate_set()
    if train_examples is None:
        train_examples, _held = split(load_examples())
    protected = {clean(e.text) for e in gate_examples}
    usable = [c for c in corrections if clean(c.text) not in protected]  # never learn the gate's own texts
    model = train_model(extractor.with_model(None), train_examples, usable, calibrate=calibrate)
    candidate = extractor.with_model(model)
    cand, cur = score(candidate, gate_examples), score(extractor, gate_examples)
    promoted = no_worse(cand, cur)
    if promoted:
        model["meta"]["promoted_by"] = {"gate": gate_name, "candidate": cand, "previous": cur}
        save_model(model, model_path)
    log.info("intake retrain", extra={"fields": {"promoted": promoted, "gate": gate_name, "candidate": cand,
                                                 "current": cur, "corrections": len(usable)}})
    return RetrainResult(promoted, gate_name, cand, cur, len(usable), str(model_path) if promoted else None)


class RetrainJob:
    """Retrains on a schedule (``[intake] retrain_hours``) in a thread; a promoted model is
    loaded by the next :func:`~ticketing.intake.resources.default_extractor` call."""

    def __init__(self, reactor, *, engine, model_path, interval_seconds: float, taxonomy=None, clock=None,
                 threadpool=None):
        self.reactor = reactor
        self.clock = clock if clock is not None else reactor
        self.threadpool = threadpool
        self.engine = engine
        self.model_path = model_path
        self.interval = interval_seconds
        self.taxonomy = taxonomy
        self.results: list[RetrainResult] = []
        self._loop = None
        self._running = False

    def start(self):
        from twisted.internet.task import LoopingCall

        self._loop = LoopingCall(self.run_once)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=False).addErrback(
            lambda f: log.error("intake retrain schedule stopped: %s", f.getErrorMessage()))

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def run_once(self):
        """One retraining in a thread; overlapping runs are skipped.  Fires with the result (or None)."""
        from twisted.internet.threads import deferToThreadPool

        if self._running:
            return None
        self._running = True
        d = deferToThreadPool(self.reactor, self.threadpool or self.reactor.getThreadPool(), self._work)

        def done(result):
            self._running = False
            if result is not None:
                self.results.append(result)
            return result

        def failed(failure):
            self._running = False
            log.error("intake retrain failed: %s", failure.getErrorMessage())
            return None

        return d.addCallbacks(done, failed)

    def _work(self) -> RetrainResult:
        from ticketing.intake.corrections import CorrectionStore
        from ticketing.intake.resources import default_extractor, reset_default

        departments = list(self.taxonomy.departments) if self.taxonomy is not None else None
        corrections = CorrectionStore(self.engine, categories=()).all()
        corrections += corrections_from_returns(self.engine, departments=departments)
        current = default_extractor(self.model_path if Path(self.model_path).exists() else None)
        result = retrain(current, corrections, model_path=self.model_path)
        if result.promoted:
            reset_default(self.model_path)
        return result
