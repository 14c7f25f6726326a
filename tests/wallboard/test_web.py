"""/wallboard over real HTTP: roles, the page with figures in zh/en, the SSE stream, the JSON snapshot,
and /metrics exporting the wallboard's series after real ACD events."""
from __future__ import annotations

import json

import pytest_twisted
import treq
from callcenter.routing.acd import CallHandle
from tests.routing.test_acd import CALLID, dial, expect_ring, ready
from tests.wallboard.server import CALLER, eventually, start_floor, stop_floor


@pytest_twisted.ensureDeferred
async def test_page_stream_and_metrics_follow_real_acd_events(db_url):
    """A call queued, answered and a second abandoned in the real ACD show on /wallboard, in the SSE stream
    within a second, in /api/v1/wallboard and in /metrics; agents and anonymous users are kept apart."""
    from twisted.internet import reactor

    floor = start_floor(db_url)
    try:
        server, pbx, acd = floor.server, floor.pbx, floor.acd
        server.add_user("sup1", "supervisor")
        server.add_user("dept1", "department", department=sorted(server.deps.workorders.taxonomy.departments)[0])
        anonymous = server.client()
        assert (await anonymous.get("/wallboard")).status == 303
        dept = server.client()
        await dept.login("dept1")
        assert (await dept.get("/wallboard")).status == 403

        browser = server.client()
        await browser.login("sup1")
        page = await browser.get("/wallboard")
        assert page.status == 200 and "热线实时大屏" in page.text and 'id="wb-initial"' in page.text
        assert "Hotline live wallboard" in (await browser.get("/wallboard?lang=en")).text

        # an SSE reader on the real stream
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        resp = await treq.get(server.base + "/wallboard/events", headers={"Cookie": [cookie]}, unbuffered=True)
        assert resp.code == 200 and resp.headers.getRawHeaders(b"content-type")[0].startswith(b"text/event-stream")
        frames: list[dict] = []
        buffer = bytearray()

        def collect(data: bytes) -> None:
            buffer.extend(data)
            while b"\n\n" in buffer:
                frame, _, rest = bytes(buffer).partition(b"\n\n")
                buffer[:] = rest
                for line in frame.decode().splitlines():
                    if line.startswith("data: "):
                        frames.append(json.loads(line[6:]))

        done = treq.collect(resp, collect)
        ready(acd, "1001")
        acd.enqueue(CallHandle(CALLID, CALLER, "13812341234"), "hotline-general")
        expect_ring(pbx, "PJSIP/1001")
        pbx.clock.advance(8)
        dial(pbx, "ANSWER")
        started = reactor.seconds()
        snap = await eventually(lambda: next((f for f in frames if f["totals"]["answered"] == 1), None), 2.0)
        assert reactor.seconds() - started < 1.0
        assert snap["totals"]["offered"] == 1 and snap["agents"]["by_state"]["on_call"] == 1

        acd.enqueue(CallHandle("c2", "PJSIP/trunk-00000009", "13900001111"), "hotline-general")
        pbx.clock.advance(30)
        pbx.hangup("PJSIP/trunk-00000009", "1795420800.9", "c2")
        snap = await eventually(lambda: next((f for f in frames if f["totals"]["abandoned"] == 1), None), 2.0)
        assert snap["totals"]["connection_rate"] == 0.5 and snap["totals"]["connection_status"] == "red"
        assert "13900001111" not in json.dumps(snap)

        api = await browser.get("/api/v1/wallboard")
        assert api.status == 200 and api.json["totals"]["answered"] == 1
        metrics = (await browser.get("/metrics")).text
        assert 'hotline_calls_total{disposition="answered",queue="hotline-general"}' in metrics
        assert 'hotline_calls_total{disposition="abandoned",queue="hotline-general"}' in metrics
        assert 'hotline_call_wait_seconds_bucket{le="10.0",queue="hotline-general"}' in metrics
        assert 'hotline_queue_service_level_ratio{queue="hotline-general",rule="connection"} 0.5' in metrics
        assert "hotline_ami_connected 1.0" in metrics  # the ACD's AMI client is logged in
        done.addErrback(lambda _: None)  # the stream ends when the server closes below
        done.cancel()
    finally:
        await stop_floor(floor)
