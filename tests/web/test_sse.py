"""EventStream: delivery over real HTTP, heartbeats, replay, slow-client and disconnect cleanup."""
from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer, protocol
from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from callcenter.web.sse import EventStream, format_event


class StreamingRequest(DummyRequest):
    """Twisted's DummyRequest, but holding a push producer the way HTTPChannel does."""

    producer = None

    def registerProducer(self, producer, streaming):
        self.producer = producer

    def unregisterProducer(self):
        self.producer = None


def _open(stream: EventStream, headers=None) -> DummyRequest:
    request = StreamingRequest([b""])
    for name, value in (headers or {}).items():
        request.requestHeaders.setRawHeaders(name, [value])
    stream.render_GET(request)
    return request


def test_frames_are_json_and_event_names_cannot_inject_lines():
    """A frame is id/event/data with JSON data; CR/LF in an event name is refused."""
    frame = format_event(7, "queue", {"text": "第一行\n第二行"})
    assert frame == 'id: 7\nevent: queue\ndata: {"text": "第一行\\n第二行"}\n\n'.encode()
    with pytest.raises(ValueError):
        format_event(8, "queue\ndata: evil", {})


def test_heartbeats_follow_the_clock_and_stop_when_nobody_listens():
    """Each client gets a comment heartbeat per interval; with no clients the timer stops."""
    clock = Clock()
    stream = EventStream(clock)
    request = _open(stream)
    before = len(request.written)
    clock.advance(stream.heartbeat_interval)
    assert request.written[before:] == [b": heartbeat\n\n"]
    request.processingFailed(Exception("gone"))  # the browser went away
    assert not stream.clients
    clock.advance(stream.heartbeat_interval)
    assert not stream._heartbeat.running


def test_slow_client_is_buffered_then_dropped_past_its_bound():
    """While paused a client queues events; past max_queue it is dropped, others are unaffected."""
    clock = Clock()
    stream = EventStream(clock)
    stream.max_queue = 3
    slow, fast = _open(stream), _open(stream)
    slow_client = next(c for c in stream.clients if c.request is slow)
    slow_client.pauseProducing()
    for i in range(3):
        stream.publish("tick", {"i": i})
    assert len(slow_client.queue) == 3 and slow_client in stream.clients
    slow_client.resumeProducing()
    assert not slow_client.queue and sum(b"event: tick" in w for w in slow.written) == 3
    slow_client.pauseProducing()
    for i in range(4):
        stream.publish("tick", {"i": i})
    assert slow_client not in stream.clients and slow.finished
    assert sum(b"event: tick" in w for w in fast.written) == 7


def test_reconnecting_client_gets_missed_events_from_last_event_id():
    """Last-Event-ID replays only the events after it, from the bounded ring."""
    stream = EventStream(Clock())
    ids = [stream.publish("n", {"i": i}) for i in range(5)]
    request = _open(stream, {b"Last-Event-ID": str(ids[2]).encode()})
    body = b"".join(request.written)
    assert b'"i": 3' in body and b'"i": 4' in body and b'"i": 2' not in body


@pytest_twisted.inlineCallbacks
def test_events_reach_a_browser_over_http_and_disconnect_cleans_up(sqlite_url):
    """A mounted stream delivers published events over TCP; closing the socket removes the client."""
    from twisted.internet import reactor

    from tests.web.conftest import start_server, stop_server_async

    server = start_server(sqlite_url, features=("callcenter.web.health",))
    stream = EventStream(reactor)
    server.root.app.mount("events", stream)
    received = defer.Deferred()
    chunks = []

    class Reader(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")

        def dataReceived(self, data):
            chunks.append(data)
            if b"event: board" in b"".join(chunks) and not received.called:
                received.callback(None)

    try:
        port = server._port.getHost().port
        proto = yield protocol.ClientCreator(reactor, Reader).connectTCP("127.0.0.1", port)
        for _ in range(50):
            if stream.clients:
                break
            yield _sleep(reactor, 0.02)
        assert len(stream.clients) == 1
        stream.publish("board", {"waiting": 3})
        yield received
        text = b"".join(chunks)
        assert b"text/event-stream" in text and b'data: {"waiting": 3}' in text
        proto.transport.loseConnection()
        for _ in range(50):
            if not stream.clients:
                break
            yield _sleep(reactor, 0.02)
        assert not stream.clients
    finally:
        stream.close()
        yield defer.ensureDeferred(stop_server_async(server))


def _sleep(reactor, seconds):
    d = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d
