"""一次一评: the rating flow's outcome is stored on the call and its agent (call_ratings), once."""
from __future__ import annotations

import pytest_twisted
from sqlalchemy import select
from twisted.internet import threads

from callcenter.callbacks.rating import RatingHook, outcome_hooks
from callcenter.db import make_engine
from callcenter.reports.ratings import call_ratings
from ivr.runner import IvrCall
from tests.callbacks.helpers import MONDAY


@pytest_twisted.inlineCallbacks
def test_rating_is_stored_with_call_and_agent(db_url):
    """Key 3 after the call is stored as score 3 (dissatisfied) for the HOTLINE_CALLID and the agent the
    ACD connected; a second rating of the same call and non-rating outcomes change nothing."""
    from twisted.internet import reactor

    engine = make_engine(db_url)
    try:
        connected = {"1700000000.42": ("hotline-general", "1001")}
        hook = RatingHook(engine, reactor=reactor, pool=reactor.getThreadPool(), now=lambda: MONDAY,
                          agent_of=lambda call_id: connected.get(call_id, (None, None)))
        call = IvrCall(channel="PJSIP/trunk-1", uniqueid="1700000000.50", linkedid="1700000000.42",
                       caller="13800000001", caller_name="", flow="rating", started_at=MONDAY,
                       vars={"HOTLINE_CALLID": "1700000000.42"})
        seen = []
        combined = outcome_hooks(lambda c, n, v: seen.append((n, v)), hook.on_outcome)
        yield combined(call, "rating", "dissatisfied")
        yield hook.on_outcome(call, "rating", "satisfied")
        assert seen == [("rating", "dissatisfied")] and combined(call, "other", "x") is None
        assert hook.on_outcome(call, "survey", "satisfied") is None
        assert hook.on_outcome(call, "rating", "7") is None

        def rows():
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(
                    select(call_ratings.c.call_id, call_ratings.c.queue, call_ratings.c.agent_id,
                           call_ratings.c.score, call_ratings.c.satisfied))]
        assert (yield threads.deferToThread(rows)) == [("1700000000.42", "hotline-general", "1001", 3, False)]
    finally:
        engine.dispose()
