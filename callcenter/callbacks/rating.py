"""一次一评: the one-key rating the caller gives right after the agent hangs up.

The rating flow (``AGI(agi:async,rating)`` on ``hotline-connect``) reports
``rating`` = satisfied/basic/dissatisfied through the IVR runner's
``on_outcome``; :class:`RatingHook` stores it with the call's id and the
agent who took it (``call_ratings``, read by the reports) off the reactor.
"""
from __future__ import annotations

import logging
from typing import Callable

from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool

from callcenter.clock import now_from

log = logging.getLogger(__name__)
DIGITS = {"satisfied": "1", "basic": "2", "dissatisfied": "3"}


def acd_lookup(acd) -> Callable[[str], tuple[str | None, str | None]]:
    """``(queue, agent_id)`` of a call the ACD connected (it keeps ended calls for the rating)."""
    def lookup(call_id: str):
        qc = acd.calls.get(call_id)
        if qc is None:
            return None, None
        return getattr(qc.caller, "queue", None), qc.agent_id or None
    return lookup


class RatingHook:
    def __init__(self, engine, *, reactor, pool, agent_of: Callable[[str], tuple] = lambda call_id: (None, None),
                 now: Callable | None = None):
        self.engine = engine
        self.reactor = reactor
        self.pool = pool
        self.agent_of = agent_of
        self.now = now or (lambda: now_from(reactor))

    def on_outcome(self, call, name: str, value) -> defer.Deferred | None:
        if name != "rating" or value not in DIGITS:
            return None
        from callcenter.reports.ratings import record_rating

        call_id = (getattr(call, "vars", None) or {}).get("HOTLINE_CALLID") or call.uniqueid
        queue, agent_id = self.agent_of(call_id)
        d = deferToThreadPool(self.reactor, self.pool, record_rating, self.engine, call_id, DIGITS[value],
                              self.now(), queue=queue, agent_id=agent_id)
        d.addErrback(lambda f: log.error("rating of %s not stored: %s", call_id, f.getErrorMessage()))
        return d


def outcome_hooks(*hooks: Callable) -> Callable:
    """One ``on_outcome`` for the IVR runner from several (survey, rating, …): each sees every
    outcome and ignores the ones not meant for it; the runner waits for all of them."""
    def on_outcome(call, name, value):
        results = [r for r in (hook(call, name, value) for hook in hooks if hook is not None) if r is not None]
        return defer.gatherResults(results, consumeErrors=True) if results else None
    return on_outcome
