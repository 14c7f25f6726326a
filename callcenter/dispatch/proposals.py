"""Intake's proposal for an order already registered: what the caller said, read again by
:mod:`ticketing.intake`, to show the dispatcher where the words point and how sure intake is.

The text is the order's summary, description and address plus the transcripts of its
calls (an IVR message is only a recording until it is transcribed).  A
proposal is kept per (order, version), so the inbox does not re-read an
unchanged order.  "Needs a dispatcher" means intake is unsure of the
category or the district, or points at another department than the order's.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from ticketing.domain.workorder import WorkOrder
from ticketing.intake.errors import InvalidText

DEFAULT_THRESHOLD = 0.6


class Proposals:
    """Proposals of registered orders; ``extractor_factory`` builds the (slow to load) intake extractor."""

    max_cached = 5000

    def __init__(self, extractor_factory: Callable[[], Any], *, threshold: float = DEFAULT_THRESHOLD,
                 transcripts: Callable[[list[str]], list[str]] | None = None):
        if not 0 < threshold < 1:
            raise ValueError("dispatch.confidence_threshold must be between 0 and 1")
        self._factory = extractor_factory
        self._extractor = None
        self._lock = threading.Lock()
        self.threshold = threshold
        self.transcripts = transcripts or (lambda call_ids: [])
        self._cache: dict[tuple[str, int], dict] = {}

    def extractor(self):
        with self._lock:
            if self._extractor is None:
                self._extractor = self._factory()
            return self._extractor

    def text_of(self, order: WorkOrder) -> str:
        parts = [order.summary or "", order.description or "", order.address or ""]
        parts.extend(self.transcripts(list(order.call_ids)))
        return "\n".join(p for p in parts if p).strip()

    def proposal(self, order: WorkOrder) -> dict:
        """The proposal as a dict with ``needs_dispatcher``, ``doubts`` (why) and ``text``; cached."""
        key = (order.number, order.version)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        text = self.text_of(order)
        try:
            proposal = self.extractor().propose(text[:4000]) if text else None
        except InvalidText:  # punctuation only, or nothing intake can read: a person decides (never a 400 inbox)
            proposal = None
        result = self._judge(order, proposal, text)
        if len(self._cache) >= self.max_cached:
            self._cache.clear()
        self._cache[key] = result
        return result

    def _judge(self, order: WorkOrder, proposal, text: str) -> dict:
        if proposal is None:
            return {"needs_dispatcher": True, "doubts": ["no_text"], "text": text, "proposal": None, "score": 0.0}
        conf = proposal.confidence
        doubts = []
        if (conf.get("category") or 0) < self.threshold or not proposal.category:
            doubts.append("category_unsure")
        if (conf.get("district") or 0) < self.threshold or not proposal.district:
            doubts.append("district_unsure")
        if proposal.department and order.department and proposal.department != order.department:
            doubts.append("department_differs")
        if getattr(proposal, "needs_dispatcher", False):  # intake's own calibrated doubt about the department
            doubts.append("department_unsure")
        score = round(min(conf.get("category") or 0, conf.get("district") or 0), 3)
        return {"needs_dispatcher": bool(doubts), "doubts": doubts, "text": text, "score": score,
                "proposal": proposal.as_dict(), "_proposal": proposal}

    def public(self, result: dict) -> dict:
        return {k: v for k, v in result.items() if not k.startswith("_")}
