"""The one PostgreSQL LISTEN loop (:mod:`callcenter.web.pglisten`) shared by work-order events and the calls pages.

The loop's pure parts run in the test's own thread: a fake connection stands in for psycopg and the
reactor is a :class:`task.Clock` whose ``callFromThread`` queues a call, so each test sees exactly what is
handed to the reactor and in which order.  The last tests run the real loop against PostgreSQL.
"""
from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer, task

from callcenter.web.pglisten import PgListener, next_delay

URL = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # never connected to by the fakes


class HandOver(task.Clock):
    """A reactor for the listening thread: ``callFromThread`` queues the call until :meth:`advance`."""

    def callFromThread(self, f, *args):  # noqa: N802 - the reactor's name
        self.callLater(0, f, *args)

    def getThreadPool(self):  # noqa: N802 - the reactor's name
        return None


class Gauge:
    def __init__(self):
        self.values: list[float] = []

    def set(self, value) -> None:
        self.values.append(value)


class Note:
    def __init__(self, channel: str, payload: str):
        self.channel, self.payload = channel, payload


class Lost(Exception):
    pass


class Conn:
    """A listening connection: ``batches`` are what successive ``notifies()`` calls yield; an exception
    in their place is the connection breaking there."""

    def __init__(self, batches):
        self.batches = list(batches)
        self.executed: list = []
        self.closed = False

    def execute(self, statement):
        self.executed.append(statement)

    def notifies(self, timeout):
        batch = self.batches.pop(0) if self.batches else Lost("server closed the connection")
        if isinstance(batch, Exception):
            raise batch
        yield from batch

    def close(self):
        self.closed = True


class Done(Exception):
    """Ends a scripted loop from its last pause (without setting the stop flag, which the hand-over heeds)."""


class Scripted(PgListener):
    """The real loop with its I/O scripted: each ``_connect`` takes the next of ``connects`` (a
    :class:`Conn`, or an exception to raise); the pauses are recorded, and :meth:`run` ends after ``pauses``."""

    def __init__(self, reactor, connects, *, pauses: int, **kw):
        super().__init__(reactor, URL, kw.pop("channels", ("one",)), kw.pop("on_notify", lambda c, p: None), **kw)
        self.connects = list(connects)
        self.paused: list[float] = []
        self.max_pauses = pauses

    def _connect(self):
        step = self.connects.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    def _pause(self, seconds):
        self.paused.append(seconds)
        if len(self.paused) >= self.max_pauses:
            raise Done()

    def run(self) -> None:
        """The listening thread's loop, in this thread."""
        try:
            self._run()
        except Done:
            pass


def test_next_delay_doubles_from_half_a_second_and_stops_at_thirty():
    delays = [PgListener.reconnect_initial]
    for _ in range(8):
        delays.append(next_delay(delays[-1], PgListener.reconnect_max))
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_a_database_that_cannot_be_reached_is_retried_after_pauses_doubling_to_thirty_seconds_and_nothing_is_handed_over():
    clock = HandOver()
    listener = Scripted(clock, [OSError("connection refused")] * 9, pauses=9, gauge=Gauge())
    listener.run()
    assert listener.paused == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert clock.getDelayedCalls() == [] and listener.gauge.values == []


def test_after_a_successful_listen_the_next_pause_starts_again_at_half_a_second():
    clock = HandOver()
    refused = OSError("connection refused")
    listener = Scripted(clock, [refused, refused, Conn([Lost("terminated")]), refused], pauses=4)
    listener.run()
    assert listener.paused == [0.5, 1.0, 0.5, 1.0]


def test_listen_runs_on_every_channel_and_notifications_reach_the_reactor_in_order_after_the_listening_state():
    from psycopg import sql

    clock = HandOver()
    heard: list[tuple] = []
    conn = Conn([[Note("frames", "1"), Note("replies", "2")], [Note("frames", "3")], Lost("terminated")])
    listener = Scripted(clock, [conn], pauses=1, channels=("frames", "replies"), gauge=Gauge(),
                        on_notify=lambda c, p: heard.append(("notify", c, p)),
                        on_listening=lambda reconnected: heard.append(("listening", reconnected)))
    ready = listener.when_listening()
    listener.run()
    assert heard == [] and not ready.called  # handed over, not run in the listening thread
    assert conn.executed == [sql.SQL("LISTEN {}").format(sql.Identifier(ch)) for ch in ("frames", "replies")]
    assert conn.closed
    clock.advance(0)
    assert heard == [("listening", False), ("notify", "frames", "1"), ("notify", "replies", "2"),
                     ("notify", "frames", "3")]
    assert ready.called
    assert listener.gauge.values == [1, 0] and not listener.listening  # listening, then the loss


def test_each_listen_after_the_first_is_handed_over_as_a_reconnect():
    clock = HandOver()
    seen: list[bool] = []
    listener = Scripted(clock, [Conn([Lost("a")]), OSError("refused"), Conn([Lost("b")])], pauses=3,
                        on_listening=seen.append)
    listener.run()
    clock.advance(0)
    assert seen == [False, True]


def test_a_listen_that_reaches_the_reactor_after_stop_changes_nothing():
    clock = HandOver()
    seen: list[bool] = []
    listener = Scripted(clock, [Conn([Lost("a")])], pauses=1, gauge=Gauge(), on_listening=seen.append)
    ready = listener.when_listening()
    listener.run()
    listener.stop()
    clock.advance(0)
    assert seen == [] and not ready.called and not listener.listening
    assert 1 not in listener.gauge.values  # never shown as listening


def test_a_connection_lost_while_stopping_is_not_reported_as_lost():
    clock = HandOver()

    class StopsThenBreaks(Conn):
        def notifies(self, timeout):
            listener._stop.set()
            raise Lost("closed under us")

    listener = Scripted(clock, [StopsThenBreaks([])], pauses=99, gauge=Gauge())
    listener.run()
    clock.advance(0)
    assert listener.paused == []  # stopped: no reconnect either
    assert listener.gauge.values == []  # the listen was handed over but arrived after stop; no loss reported


@pytest_twisted.ensureDeferred
async def test_stop_ends_the_listening_thread_and_closes_its_connection():
    from twisted.internet import reactor

    class Waits(Conn):
        def notifies(self, timeout):
            listener._stop.wait(timeout)
            return iter(())

    conn = Waits([])
    listener = Scripted(reactor, [conn], pauses=99)
    listener.wait_timeout = 0.05
    listener.start()
    await listener.when_listening()
    thread = listener._thread
    assert thread.is_alive() and listener.listening
    await listener.stop()
    assert not thread.is_alive() and conn.closed and not listener.listening


# -- against PostgreSQL ---------------------------------------------------------------------------------


async def eventually(predicate, timeout: float = 10.0, what: str = ""):
    from twisted.internet import reactor

    deadline = reactor.seconds() + timeout
    while not predicate():
        if reactor.seconds() > deadline:
            raise AssertionError(f"not reached in {timeout}s: {what}")
        await task.deferLater(reactor, 0.02, lambda: None)


def _notify(engine, channel: str, payload: str) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload})


def _terminate(engine, pid: int) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()


@pytest.mark.postgres
@pytest_twisted.ensureDeferred
async def test_a_listener_whose_session_is_ended_listens_again_on_a_new_one_says_so_and_hears_both_channels(pg_url):
    from twisted.internet import reactor

    from callcenter.db import make_engine

    engine = make_engine(pg_url)
    heard: list[tuple[str, str]] = []
    listening: list[bool] = []
    gauge = Gauge()
    listener = PgListener(reactor, pg_url, ("test_listen_a", "test_listen_b"), lambda c, p: heard.append((c, p)),
                          on_listening=listening.append, gauge=gauge, label="test", name="pglisten-test")
    listener.reconnect_initial = 0.05
    listener.start()
    try:
        await listener.when_listening()
        _notify(engine, "test_listen_a", "1")
        _notify(engine, "test_listen_b", "2")
        await eventually(lambda: len(heard) == 2, what="both notifications")
        assert heard == [("test_listen_a", "1"), ("test_listen_b", "2")]

        old = listener.backend_pid
        _terminate(engine, old)
        await eventually(lambda: listening == [False, True], what="the reconnect handed over")
        assert listener.listening and listener.backend_pid not in (None, old)
        assert gauge.values == [1, 0, 1]
        _notify(engine, "test_listen_b", "3")
        await eventually(lambda: ("test_listen_b", "3") in heard, what="a notification after the reconnect")
    finally:
        await listener.stop()
        engine.dispose()
    assert gauge.values[-1] == 0 and listener.backend_pid is None


@pytest.mark.postgres
@pytest_twisted.ensureDeferred
async def test_a_calls_relay_whose_listening_session_is_ended_reads_on_from_its_last_frame(pg_url):
    """Frames the leader writes while the relay is not listening (their NOTIFY heard by nobody) reach the
    relay's stream after it listens again, in order, none skipped and none twice."""
    from twisted.internet import reactor

    from callcenter.db import make_engine
    from callcenter.web.pgcalls import CallsHost, CallsRelay

    engine = make_engine(pg_url)
    host = CallsHost(reactor, engine, group="listen-test", secret=b"k", web_address=lambda: ("127.0.0.1", 1))
    relay = CallsRelay(reactor, engine, group="listen-test", secret=b"k")
    relay.listener.reconnect_initial = 1.0  # long enough to write frames while it is not listening
    got: list[int] = []
    relay.stream("wallboard").mirror = lambda event, data: got.append(data["n"])
    host.start()
    relay.start()
    try:
        await relay.when_listening()
        await eventually(lambda: relay.last_frame is not None, what="the relay's first read")
        host.frame("wallboard", "tick", {"n": 1})
        await eventually(lambda: got == [1], what="a frame while listening")

        _terminate(engine, relay.listener.backend_pid)
        await eventually(lambda: not relay.listener.listening, what="the loss noticed")
        for n in (2, 3, 4):
            host.frame("wallboard", "tick", {"n": n})
        await eventually(lambda: host.frames_written == 4, what="frames written while the relay is away")
        assert got == [1]
        await eventually(lambda: got == [1, 2, 3, 4], what="the missed frames read on after the reconnect")
        await relay.listener.when_listening()
    finally:
        await relay.stop()
        await host.stop()
        engine.dispose()
