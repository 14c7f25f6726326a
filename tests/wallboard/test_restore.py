"""The wallboard's "today" survives a restart: at start the feed folds today's stored queue calls
(offered, answered within 15 s, abandoned with their list, callbacks) into the board; yesterday's and
those after start are left out (the latter arrive as ACD events, so nothing is counted twice)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from callcenter.wallboard.feed import WallboardFeed
from callcenter.wallboard.projection import Wallboard
from callcenter.web.sse import EventStream
from tests.routing.test_acd import make

CST = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 15, 0, tzinfo=CST)   # the process (re)starts at 15:00


def _stored(store, call_id, outcome, enqueued_at, wait, queue="hotline-general"):
    enqueued_at = enqueued_at.astimezone(timezone.utc)   # stored in UTC, as the ACD stores them
    store.record_queue_call(call_id=call_id, queue=queue, skill="general", priority=0, number="13800001111",
                            enqueued_at=enqueued_at, left_at=enqueued_at + timedelta(seconds=wait), outcome=outcome)


def test_restart_shows_the_day_so_far_from_the_stored_queue_calls(db_url):
    pbx, acd, store = make(db_url)
    pbx.clock.advance(START.timestamp() - pbx.clock.seconds())
    morning = START.replace(hour=9)
    _stored(store, "a1", "answered", morning, 10)                        # within 15 s
    _stored(store, "a2", "answered", morning, 40)
    _stored(store, "b1", "abandoned", morning + timedelta(hours=1), 70)
    _stored(store, "c1", "overflow", morning, 30, queue="hotline-urgent")  # went on in another queue
    _stored(store, "c1", "callback", morning + timedelta(seconds=30), 90)
    _stored(store, "y1", "answered", morning - timedelta(days=1), 5)    # yesterday
    _stored(store, "l1", "answered", START + timedelta(minutes=5), 5)   # after the restart: an ACD event
    feed = WallboardFeed(Wallboard(), EventStream(pbx.clock), pbx.clock, acd=acd, engine=store.engine)
    feed.start()
    try:
        snap = feed.current()
        q = next(x for x in snap["queues"] if x["name"] == "hotline-general")
        assert (q["offered"], q["answered"], q["abandoned"], q["callbacks_booked"]) == (4, 2, 1, 1)
        assert round(snap["totals"]["service_level_15s"], 2) == 0.33   # 1 of 3 finished within 15 s
        assert [c["call_id"] for c in feed.wallboard.abandoned_calls] == ["b1"]   # the supervisor page's list
        assert feed.wallboard.abandoned_calls[0]["waited_seconds"] == 70
        assert all(x["offered"] == 0 for x in snap["queues"] if x["name"] == "hotline-urgent")
    finally:
        feed.stop()
        acd.stopService()
