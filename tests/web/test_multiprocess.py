"""Two web processes on one PostgreSQL: sessions and live work-order pages work on either.

Each "process" is a full web root (its own work-order service, its own SSE streams, its own HTTP port)
with the production :class:`~callcenter.web.pgevents.WorkOrderEventBridge`; they share nothing but the
database, exactly as two ``serve`` processes do.
"""
from __future__ import annotations

import json

import pytest
import pytest_twisted
import treq

from tests.web.conftest import ORDER, signed_in, staff_for, start_server, stop_server_async

pytestmark = pytest.mark.postgres


async def eventually(predicate, timeout: float = 10.0, what: str = ""):
    """Wait on the real reactor (real sockets and a real database are involved)."""
    from twisted.internet import reactor, task

    deadline = reactor.seconds() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if reactor.seconds() > deadline:
            raise AssertionError(f"not reached in {timeout}s: {what}")
        await task.deferLater(reactor, 0.02, lambda: None)


class Reader:
    """An SSE reader on a real stream: the ``data`` of every frame, by event name."""

    def __init__(self):
        self.frames: list[tuple[str, dict]] = []
        self._buffer = bytearray()
        self._done = None

    async def open(self, base: str, path: str, cookies: dict) -> "Reader":
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        resp = await treq.get(base + path, headers={"Cookie": [cookie]}, unbuffered=True)
        assert resp.code == 200, resp.code
        assert resp.headers.getRawHeaders(b"content-type")[0].startswith(b"text/event-stream")
        self._done = treq.collect(resp, self._collect)
        self._done.addErrback(lambda _: None)
        return self

    def _collect(self, data: bytes) -> None:
        self._buffer.extend(data)
        while b"\n\n" in self._buffer:
            frame, _, rest = bytes(self._buffer).partition(b"\n\n")
            self._buffer[:] = rest
            event, body = "message", None
            for line in frame.decode().splitlines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    body = json.loads(line[6:])
            if body is not None:
                self.frames.append((event, body))

    def numbers(self) -> list[str]:
        return [n for event, body in self.frames if event == "changed" for n in body.get("numbers", [])]

    def close(self) -> None:
        if self._done is not None:
            self._done.cancel()


def bridged(server):
    from twisted.internet import reactor

    from callcenter.web.pgevents import WorkOrderEventBridge

    bridge = WorkOrderEventBridge(reactor, server.engine.url.render_as_string(hide_password=False),
                                  server.deps.workorders, server.engine)
    bridge.start()
    return bridge


@pytest_twisted.ensureDeferred
async def test_an_order_filed_on_process_a_reaches_a_console_stream_on_process_b_once_and_a_session_from_a_works_on_b(
        pg_url):
    """A dispatcher signs in on A; the same session cookie opens the console and its live stream on B.
    An order filed through A's API shows on B's stream (and on A's, exactly once: A's own notification
    comes back to it and is dropped, so nothing is doubled); dispatching it reaches both consoles and B's
    wallboard work-order figures."""
    a, b = start_server(pg_url), start_server(pg_url)
    bridges = [bridged(a), bridged(b)]
    readers: list[Reader] = []
    try:
        for bridge in bridges:
            await bridge.when_listening()
        staff = await staff_for(a)  # accounts live in the shared database
        browser_a = await signed_in(a, "disp1")
        browser_b = b.client()
        browser_b.cookies.update(browser_a.cookies)  # the same browser, sent to the other process
        page = await browser_b.get("/dispatch")
        assert page.status == 200, page.status
        assert (await b.client().get("/dispatch")).status in (302, 303)  # without the cookie: the sign-in page

        on_b = await Reader().open(b.base, "/dispatch/events", browser_a.cookies)
        on_a = await Reader().open(a.base, "/dispatch/events", browser_a.cookies)
        # B's wallboard re-reads its work-order figures only when told (its periodic re-read is stopped)
        feed_b = b.deps.extras["wallboard_feed"]
        await eventually(lambda: feed_b.current()["workorders"].get("open_total") == 0, what="B's first read")
        feed_b.stop()
        board_b = await Reader().open(b.base, "/wallboard/events", browser_a.cookies)
        readers += [on_a, on_b, board_b]
        created = await staff.agent.post("/api/v1/workorders", json=ORDER)
        assert created.status == 201, created.body
        number = created.json["number"]

        await eventually(lambda: number in on_b.numbers(), what="the order on B's console stream")
        await eventually(lambda: bridges[0].echoes >= 1, what="A hearing its own notification")
        await eventually(lambda: number in on_a.numbers(), what="the order on A's console stream")
        assert on_a.numbers().count(number) == 1 and on_b.numbers().count(number) == 1
        assert bridges[0].received == 0 and bridges[1].received >= 1

        # and back: dispatching it through B reaches A's stream
        resp = await (await signed_in(b, "disp1")).get("/dispatch")
        assert resp.status == 200
        done = await staff.dispatcher.post("/api/v1/dispatch/bulk-dispatch", json={"numbers": [number]})
        assert done.status == 200, done.body
        await eventually(lambda: on_b.numbers().count(number) >= 2 and on_a.numbers().count(number) >= 2,
                         what="the dispatch on both streams")
        await eventually(lambda: any((body.get("workorders") or {}).get("open_total") == 1
                                     for _, body in board_b.frames), what="the open order on B's wallboard")
    finally:
        for reader in readers:
            reader.close()
        for bridge in bridges:
            await bridge.stop()
        await stop_server_async(a)
        await stop_server_async(b)


@pytest_twisted.ensureDeferred
async def test_a_listener_whose_connection_is_killed_reconnects_resyncs_and_hears_the_other_process_again(pg_url):
    """PostgreSQL ends the listening session (as a restart or a cut network would): the bridge listens
    again on a new session, publishes one ``resync`` to its pages, and later orders from the other
    process arrive."""
    from sqlalchemy import text

    a, b = start_server(pg_url), start_server(pg_url)
    bridges = [bridged(a), bridged(b)]
    heard: list[dict] = []
    b.deps.workorders.subscribe(heard.extend)
    try:
        for bridge in bridges:
            bridge.listener.reconnect_initial = 0.05
            await bridge.when_listening()
        old_pid = bridges[1].backend_pid
        with a.engine.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": old_pid}).scalar()
        await eventually(lambda: any(e["event"] == "resync" for e in heard), what="the resync after reconnecting")
        assert bridges[1].listening and bridges[1].backend_pid not in (None, old_pid)

        staff = await staff_for(a)
        created = await staff.agent.post("/api/v1/workorders", json=ORDER)
        assert created.status == 201, created.body
        number = created.json["number"]
        await eventually(lambda: any(e.get("number") == number and e.get("remote") for e in heard),
                         what="A's order heard on B after the reconnect")
    finally:
        for bridge in bridges:
            await bridge.stop()
        await stop_server_async(a)
        await stop_server_async(b)


def test_notify_payloads_are_split_below_the_limit_and_carry_only_event_names_and_numbers():
    """A bulk of many orders becomes several payloads, each under the byte limit; remote events are
    never sent out again; what a receiver parses is marked remote."""
    from callcenter.web.pgevents import parse, payloads

    events = [{"event": "created", "number": f"2026120700{i:04d}", "at": "x", "caller_phone": "13812341234"}
              for i in range(300)] + [{"event": "dispatched", "number": "N1", "remote": True}]
    texts = payloads("origin1", events, 1000)
    assert len(texts) > 1 and all(len(t.encode()) <= 1000 for t in texts)
    assert "13812341234" not in "".join(texts)
    got = [e for t in texts for e in parse(t)[1]]
    assert [e["number"] for e in got] == [e["number"] for e in events[:300]]
    assert all(e["remote"] and e["event"] == "created" for e in got)
    assert parse("not json") is None and parse('{"o": 1, "e": []}') is None


@pytest_twisted.ensureDeferred
async def test_serve_listens_for_other_processes_on_postgresql_and_not_on_sqlite(pg_url, sqlite_url):
    """The composition root builds the bridge (and it listens, shown in /metrics) when the database is
    PostgreSQL; on SQLite (one process) it is switched off."""
    from twisted.internet import reactor

    from callcenter.app import _live_events, Hotline
    from callcenter.metrics import REGISTRY, generate_latest
    from callcenter.web.pgevents import WorkOrderEventBridge
    from tests.web.conftest import test_config

    def exposed() -> str:
        return generate_latest(REGISTRY).decode()

    for url, expected in ((pg_url, WorkOrderEventBridge), (sqlite_url, type(None))):
        hotline = await Hotline(reactor, test_config(url)).open()
        try:
            part = _live_events(hotline)
            assert type(part.service) is expected
            if part.start is not None:
                part.start()
                await part.service.when_listening()
                assert part.service.listening
                assert "hotline_workorder_events_listening 1.0" in exposed()
                await part.stop()
                assert "hotline_workorder_events_listening 0.0" in exposed()
        finally:
            hotline.engine.dispose()
