"""Server-sent events for live pages (wallboard, agent desk).

:class:`EventStream` is a leaf resource: each ``GET`` becomes a client with
its own bounded queue.  The client is registered as a push producer on its
request, so when a browser reads slowly the transport pauses it, events queue
up to ``max_queue`` and, beyond that, the client is dropped (it reconnects and
catches up from ``Last-Event-ID`` out of the replay ring) instead of letting
one slow reader grow the server's memory.  Heartbeat comments keep proxies
from closing idle streams; a closed connection removes its client at once.

Authorisation belongs to the route that returns the stream: a Klein handler
checks the role, then ``return stream``.
"""
from __future__ import annotations

import json
from collections import deque

from twisted.internet.task import LoopingCall
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer
from twisted.internet.interfaces import IPushProducer

from callcenter.metrics import SSE_CLIENTS


def format_event(event_id: int, event: str, data) -> bytes:
    """One SSE frame; ``data`` is JSON-encoded, multi-line safe, never CR/LF-injectable."""
    if any(c in event for c in "\r\n:") or not event:
        raise ValueError(f"bad event name {event!r}")
    body = json.dumps(data, ensure_ascii=False, default=str)  # JSON has no raw newlines
    return f"id: {event_id}\nevent: {event}\ndata: {body}\n\n".encode("utf-8")


@implementer(IPushProducer)
class _Client:
    def __init__(self, stream: "EventStream", request):
        self.stream = stream
        self.request = request
        self.paused = False
        self.queue: deque[bytes] = deque()
        self.closed = False

    def send(self, frame: bytes) -> None:
        if self.closed:
            return
        if self.paused:
            if len(self.queue) >= self.stream.max_queue:
                self.stream._drop(self, "slow")
                return
            self.queue.append(frame)
            return
        self.request.write(frame)

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        while self.queue and not self.paused and not self.closed:
            self.request.write(self.queue.popleft())

    def stopProducing(self) -> None:
        self.stream._drop(self, "closed")


class EventStream(Resource):
    """A broadcast channel of named JSON events to any number of browsers."""

    isLeaf = True
    heartbeat_interval = 15.0
    max_queue = 200
    max_clients = 1000
    replay_size = 100
    retry_ms = 3000

    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        #: ``fn(event, data)`` also given every frame (the call-driving process copies its live streams
        #: to the other web processes: :mod:`callcenter.web.pgcalls`)
        self.mirror = None
        self.clients: set[_Client] = set()
        self._last_id = 0
        self._recent: deque[tuple[int, bytes]] = deque(maxlen=self.replay_size)
        self._heartbeat: LoopingCall | None = None

    def publish(self, event: str, data) -> int:
        """Send ``data`` as event ``event`` to every client; returns its id."""
        self._last_id += 1
        frame = format_event(self._last_id, event, data)
        if self.mirror is not None:
            self.mirror(event, data)
        self._recent.append((self._last_id, frame))
        for client in list(self.clients):
            client.send(frame)
        return self._last_id

    def render_GET(self, request):
        if len(self.clients) >= self.max_clients:
            request.setResponseCode(503)
            request.setHeader(b"Content-Type", b"application/json; charset=utf-8")
            request.setHeader(b"Retry-After", b"5")
            return json.dumps({"error_id": "sse.too_many_clients",
                               "message": "too many live viewers / 在线连接过多",
                               "details": {"max_clients": self.max_clients}}).encode()
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-store")
        request.setHeader(b"X-Accel-Buffering", b"no")
        client = _Client(self, request)
        self.clients.add(client)
        request.registerProducer(client, True)
        request.notifyFinish().addBoth(lambda _: self._drop(client, "closed"))
        request.write(f"retry: {self.retry_ms}\n\n".encode())
        for event_id, frame in self._replay_after(request.getHeader(b"last-event-id")):
            client.send(frame)
        self._ensure_heartbeat()
        return NOT_DONE_YET

    def _replay_after(self, header: bytes | None):
        if not header:
            return []
        try:
            last = int(header)
        except ValueError:
            return []
        return [item for item in self._recent if item[0] > last]

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None or not self._heartbeat.running:
            self._heartbeat = LoopingCall(self._beat)
            self._heartbeat.clock = self.clock
            self._heartbeat.start(self.heartbeat_interval, now=False)

    def _beat(self) -> None:
        for client in list(self.clients):
            client.send(b": heartbeat\n\n")
        if not self.clients and self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()

    def _drop(self, client: _Client, reason: str) -> None:
        if client.closed:
            return
        client.closed = True
        client.queue.clear()
        self.clients.discard(client)
        SSE_CLIENTS.labels(reason).inc()
        if reason != "closed":
            try:
                client.request.unregisterProducer()
                client.request.finish()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass

    def close(self) -> None:
        """End every stream (service shutdown)."""
        for client in list(self.clients):
            self._drop(client, "shutdown")
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
