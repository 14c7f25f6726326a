"""WallboardFeed with the real ACD on a task.Clock: bursts coalesce into one frame within the publish
interval, screens get the live figures, cached metric children count each call once."""
from __future__ import annotations

import json

from callcenter import metrics
from callcenter.routing.acd import CallHandle
from callcenter.wallboard.feed import WallboardFeed
from callcenter.wallboard.projection import Wallboard
from callcenter.web.sse import EventStream
from tests.routing.test_acd import make
from tests.web.test_sse import _open


def _frames(request) -> list[dict]:
    out = []
    for chunk in request.written:
        for line in chunk.decode().splitlines():
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
    return out


def test_burst_of_acd_events_becomes_one_frame_within_the_interval():
    """Three callers queued in one instant produce a single frame 0.1 s later showing 3 waiting;
    an abandon counts once in hotline_calls_total with its wait in the histogram."""
    pbx, acd, _ = make()
    stream = EventStream(pbx.clock)
    feed = WallboardFeed(Wallboard(), stream, pbx.clock, acd=acd)
    feed.start()
    screen = _open(stream)
    pbx.clock.advance(1.0)
    baseline = len(_frames(screen))
    for n in range(3):
        acd.enqueue(CallHandle(f"call-{n}", f"PJSIP/trunk-0000000{n}", "13800000000"), "hotline-general")
    assert len(_frames(screen)) == baseline
    pbx.clock.advance(feed.publish_interval)
    frames = _frames(screen)
    assert len(frames) == baseline + 1
    assert frames[-1]["totals"]["waiting"] == 3 and frames[-1]["totals"]["offered"] == 3

    labels = {"queue": "hotline-general", "disposition": "abandoned"}
    before = metrics.REGISTRY.get_sample_value("hotline_calls_total", labels) or 0
    pbx.clock.advance(12)
    pbx.hangup("PJSIP/trunk-00000000", "1795420800.50", "call-0")
    pbx.clock.advance(feed.publish_interval)
    assert metrics.REGISTRY.get_sample_value("hotline_calls_total", labels) == before + 1
    last = _frames(screen)[-1]
    assert last["totals"]["abandoned"] == 1 and last["totals"]["waiting"] == 2
    assert metrics.REGISTRY.get_sample_value("hotline_calls_waiting", {"queue": "hotline-general"}) == 2
    feed.stop()
    stream.close()
