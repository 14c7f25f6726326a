"""Work-order events refresh the wallboard's figures at most once per ``min_refresh_interval``."""
from __future__ import annotations

from twisted.internet import defer
from twisted.internet.task import Clock

from callcenter.wallboard.feed import WallboardFeed
from callcenter.wallboard.projection import Wallboard
from callcenter.web.sse import EventStream


def _feed():
    clock = Clock()
    clock.advance(1_000_000)
    reads = []

    def runner(fn, *args):
        reads.append(clock.seconds())
        return defer.maybeDeferred(fn, *args)

    feed = WallboardFeed(Wallboard(), EventStream(clock), clock, callbacks_source=lambda: 0, db_runner=runner)
    return feed, clock, reads


def test_a_burst_of_workorder_events_reads_the_figures_once_more_after_the_interval():
    """A quiet feed refreshes on the first event at once; fifty more events within the interval cause
    exactly one further read, when the interval since the first has passed — not one read per event."""
    feed, clock, reads = _feed()
    feed.on_workorder_events([{"event": "created", "number": "A1"}])
    assert reads == [clock.seconds()]
    first = clock.seconds()
    for i in range(50):
        clock.advance(0.01)
        feed.on_workorder_events([{"event": "created", "number": f"B{i}"}])
    assert len(reads) == 1
    clock.advance(first + feed.min_refresh_interval - clock.seconds() - 0.001)
    assert len(reads) == 1
    clock.advance(0.001)
    assert reads == [first, first + feed.min_refresh_interval]


def test_an_event_after_the_interval_refreshes_at_once_and_stop_cancels_a_pending_refresh():
    """Once the interval has passed an event reads at once; a refresh still waiting when the feed
    stops never runs."""
    feed, clock, reads = _feed()
    feed.on_workorder_events([{"event": "created", "number": "A1"}])
    clock.advance(feed.min_refresh_interval + 0.5)
    feed.on_workorder_events([{"event": "created", "number": "A2"}])
    assert len(reads) == 2 and reads[-1] == clock.seconds()
    feed.on_workorder_events([{"event": "created", "number": "A3"}])
    feed.stop()
    clock.advance(10 * feed.min_refresh_interval)
    assert len(reads) == 2
