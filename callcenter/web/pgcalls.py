"""The pages fed by the calls, on every web process: PostgreSQL ``LISTEN``/``NOTIFY`` and two tables.

The ACD (:class:`~callcenter.routing.acd.QueueController`), the call tracker and the agent desk's live
side live in the one process that drives a PBX's calls (the failover leader of ``[failover] group``).
Web processes that do not drive calls (``[serve] role = "web"``, and a standby while it waits) serve the
same pages through this module; nothing but PostgreSQL stands between them:

* **live streams (read side)** — the leader's :class:`CallsHost` copies every frame its live streams
  publish (each agent's desk stream, the wallboard, the live-calls list) into ``calls_frames`` (one
  transaction per batch of at most :attr:`CallsHost.flush_interval`) and sends ``NOTIFY hotline_calls``
  with ``{"g": group, "f": last frame id}`` — a reference, never personal data (payloads show in the
  server's logs).  Each web process's :class:`CallsRelay` reads the new rows and publishes them on its own
  local :class:`~callcenter.web.sse.EventStream` of the same name, so its browsers get exactly the frames
  the leader's get (masked by the same code, :mod:`callcenter.personal_data`), and one frame costs the
  leader one row whatever the number of viewers.  After its listening connection comes back it reads on
  from the last frame it had (frames are kept :attr:`CallsHost.keep_seconds`), so nothing is skipped.
* **requests (pages and commands)** — a request for an ACD-fed route (:data:`RELAYED`: the desk's page,
  screen and actions, the supervisor's page and listen/whisper/barge, the wallboard page and API, the
  live-calls pages and API) is stored in ``calls_relay_requests`` as it came (method, path, headers with
  the session cookie, body) and announced with ``NOTIFY hotline_calls_requests`` (its id).  The leader
  claims it with a guarded ``UPDATE … WHERE state = 'pending'`` — so it runs once — runs it against its
  own web port (the same code, session and roles as a browser on the leader), stores the response and
  notifies ``hotline_calls_replies``.  The relay answers its browser with that response and deletes the
  row (cookies do not stay at rest).  If no controller claims it within :attr:`CallsRelay.claim_timeout`
  the relay withdraws it with a guarded ``DELETE … WHERE state = 'pending'``: nothing was done, and the
  browser gets 503 ``calls.controller_unavailable``.  A claimed request not answered within
  :attr:`CallsRelay.answer_timeout` (the leader died while running it) is 504 ``calls.controller_timeout``.
  Nothing addresses the leader, so after a failover the relay follows the new one by itself.

The leader knows relayed requests by ``X-Hotline-Relay`` (an HMAC of ``web.secret_key``, which every
process shares anyway for its sessions): only then does it take the browser's address and scheme from
``X-Hotline-Relay-Client``/``-Https`` (the same-origin check and audit records see the real client).
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import (BigInteger, Column, DateTime, Index, Integer, LargeBinary, String, Table, Text, delete, func,
                        insert, select, text, update)
from twisted.internet import defer, task
from twisted.internet.threads import deferToThreadPool
from twisted.web.server import NOT_DONE_YET

from callcenter.db import metadata
from callcenter.errors import HotlineError
from callcenter.metrics import CALLS_RELAY_FRAMES, CALLS_RELAY_LISTENING, CALLS_RELAY_REQUESTS
from callcenter.web.i18n import CATALOGUE
from callcenter.web.http import relay_token
from callcenter.web.pglisten import PgListener, first_line
from callcenter.web.sse import EventStream

log = logging.getLogger(__name__)

FRAMES = "hotline_calls"
REQUESTS = "hotline_calls_requests"
REPLIES = "hotline_calls_replies"

BigId = BigInteger().with_variant(Integer(), "sqlite")

calls_frames = Table(
    "calls_frames", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("grp", String(64), nullable=False),
    Column("stream", String(96), nullable=False),
    Column("event", String(32), nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_calls_frames_grp_id", "grp", "id"),
)

calls_relay_requests = Table(
    "calls_relay_requests", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("grp", String(64), nullable=False),
    Column("state", String(12), nullable=False),          # pending → running → done
    Column("method", String(8), nullable=False),
    Column("path", Text, nullable=False),
    Column("headers", Text, nullable=False),              # JSON [[name, value], …]
    Column("body", LargeBinary, nullable=True),
    Column("status", Integer, nullable=True),
    Column("response_headers", Text, nullable=True),
    Column("response_body", LargeBinary, nullable=True),
    Column("executed_by", String(128), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_calls_relay_requests_grp_state", "grp", "state"),
)

#: (method, route template) served by the process that drives the calls; the live streams of these pages
#: (``/agent/events``, ``/wallboard/events``, ``/supervisor/calls/events``) are served locally from frames
RELAYED = frozenset({
    ("GET", "/agent"), ("GET", "/agent/api/screen"), ("POST", "/agent/api/state"), ("POST", "/agent/api/order"),
    ("POST", "/agent/api/transfer"), ("POST", "/agent/api/hangup"),
    ("GET", "/supervisor"), ("POST", "/supervisor/agents/<agent_id>/<mode>"),
    ("POST", "/supervisor/abandoned/<call_id>/callback"), ("POST", "/supervisor/orders/<number>/<action_name>"),
    ("GET", "/wallboard"), ("GET", "/api/v1/wallboard"),
    ("GET", "/api/v1/calls"), ("GET", "/api/v1/calls/<linkedid>"),
    ("GET", "/supervisor/calls"), ("GET", "/supervisor/calls/<linkedid>"),
})

#: request headers never passed on (hop-by-hop, recomputed, or ours to set)
_DROP_REQUEST = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"te", b"upgrade",
                           b"proxy-connection", b"x-forwarded-for", b"x-forwarded-proto", b"x-hotline-relay",
                           b"x-hotline-relay-client", b"x-hotline-relay-https"})
#: response headers not copied back (the relay's own site sets them)
_DROP_RESPONSE = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"date",
                            b"server"})

TEXT = {
    "error.controller_unavailable": {
        "zh": "话务控制进程暂不可用（可能正在主备切换），请稍后重试",
        "en": "The call controller is not available right now (a failover may be under way); try again shortly"},
    "error.relay_failed": {
        "zh": "无法把请求转交话务控制进程（数据库不可用？），未执行任何操作，请稍后重试",
        "en": "The request could not be passed to the call controller (database unavailable?); nothing was done: "
              "try again shortly"},
    "error.controller_timeout": {
        "zh": "话务控制进程未在时限内答复，操作可能已执行，请刷新查看",
        "en": "The call controller did not answer in time; the action may have been done: reload to see"},
}
CATALOGUE.update(TEXT)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _GroupEnd:
    """What both ends of one group's relay hold: the shared database, a thread pool, a name (shown in
    ``pg_stat_activity`` and on claimed requests) and the listening thread on this end's channels."""

    def __init__(self, reactor, engine, *, group: str, secret: bytes | None, pool, name: str,
                 channels: tuple[str, ...], on_listening: Callable[[bool], None]):
        self.reactor = reactor
        self.engine = engine
        self.group = group
        self.secret = secret
        self.pool = pool if pool is not None else reactor.getThreadPool()
        self.name = name
        #: the one LISTEN loop (shared with pgevents): reconnects, then ``on_listening(reconnected)``
        self.listener = PgListener(reactor, engine.url.render_as_string(hide_password=False), channels,
                                   self._notified, on_listening=on_listening, gauge=CALLS_RELAY_LISTENING,
                                   label="calls relay", application="hotline-calls", name=name, pool=self.pool)

    def when_listening(self) -> defer.Deferred:
        return self.listener.when_listening()

    def _notified(self, channel: str, payload: str) -> None:
        raise NotImplementedError


class CallsHost(_GroupEnd):
    """On the process that drives the calls: copy live frames out, run relayed requests (module docs)."""

    #: seconds frames gather before one transaction writes them (and one NOTIFY announces them)
    flush_interval = 0.05
    #: seconds frames and finished requests are kept (a relay that lost its connection reads on from there)
    keep_seconds = 60.0
    prune_interval = 10.0
    #: seconds between looks for pending requests whose notification was missed
    poll_interval = 1.0
    #: seconds a relayed request may take on the local web port
    execute_timeout = 20.0

    def __init__(self, reactor, engine, *, group: str, secret: bytes | None, web_address: Callable[[], tuple],
                 pool=None, name: str = ""):
        super().__init__(reactor, engine, group=group, secret=secret, pool=pool,
                         name=name or f"host-{uuid.uuid4().hex[:8]}", channels=(REQUESTS,),
                         on_listening=lambda _: self._poll())  # requests whose notification was missed
        #: () -> (host, port) of this process's own web server
        self.web_address = web_address
        self.frames_written = 0
        self.executed = 0
        self._batch: list[tuple[str, str, str]] = []
        self._flushing: defer.Deferred | None = None
        self._flush_call = None
        self._running: set[int] = set()
        self._loops: list[task.LoopingCall] = []
        self._stopped = True

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._stopped = False
        self.listener.start()
        for interval, fn in ((self.poll_interval, self._poll), (self.prune_interval, self._prune)):
            loop = task.LoopingCall(fn)
            loop.clock = self.reactor
            loop.start(interval, now=False)
            self._loops.append(loop)

    @defer.inlineCallbacks
    def stop(self):
        self._stopped = True
        for loop in self._loops:
            if loop.running:
                loop.stop()
        self._loops.clear()
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        yield self.listener.stop()
        if self._batch:
            yield self._flush()
        elif self._flushing is not None:
            yield self._flushing

    # -- frames out ----------------------------------------------------------------------------
    def sink(self, stream: str) -> Callable[[str, Any], None]:
        """A stream's ``mirror``: ``fn(event, data)`` copies each frame it publishes."""
        return lambda event, data: self.frame(stream, event, data)

    def desk_frame(self, agent_id: str, event: str, data: Any) -> None:
        """The desk's ``mirror``: one agent's desk stream is ``desk:<agent id>``."""
        self.frame(f"desk:{agent_id}", event, data)

    def frame(self, stream: str, event: str, data: Any) -> None:
        if self._stopped:
            return
        self._batch.append((stream[:96], event, json.dumps(data, ensure_ascii=False, default=str)))
        if self._flushing is None and (self._flush_call is None or not self._flush_call.active()):
            self._flush_call = self.reactor.callLater(self.flush_interval, self._flush)

    def _flush(self) -> defer.Deferred:
        if self._flushing is not None:
            return self._flushing
        batch, self._batch = self._batch, []
        if not batch:
            return defer.succeed(None)
        d = self._flushing = deferToThreadPool(self.reactor, self.pool, self._write_frames, batch)
        d.addErrback(lambda f: log.warning("calls relay: %d live frames not written: %s", len(batch),
                                           f.getErrorMessage()))

        def done(_):
            self._flushing = None
            if self._batch and not self._stopped:
                self._flush_call = self.reactor.callLater(0, self._flush)

        return d.addBoth(done)

    def _write_frames(self, batch: list[tuple[str, str, str]]) -> None:
        now = _now()
        with self.engine.begin() as conn:
            ids = conn.execute(insert(calls_frames).returning(calls_frames.c.id),
                               [{"grp": self.group, "stream": s, "event": e, "data": d, "created_at": now}
                                for s, e, d in batch]).scalars().all()
            conn.execute(text("SELECT pg_notify(:c, :p)"),
                         {"c": FRAMES, "p": json.dumps({"g": self.group, "f": max(ids)})})
        self.frames_written += len(batch)
        CALLS_RELAY_FRAMES.labels("out").inc(len(batch))

    def _prune(self) -> defer.Deferred:
        def prune():
            cutoff = _now() - timedelta(seconds=self.keep_seconds)
            with self.engine.begin() as conn:
                conn.execute(delete(calls_frames).where(calls_frames.c.grp == self.group,
                                                        calls_frames.c.created_at < cutoff))
                conn.execute(delete(calls_relay_requests).where(calls_relay_requests.c.grp == self.group,
                                                                calls_relay_requests.c.created_at < cutoff))

        return deferToThreadPool(self.reactor, self.pool, prune).addErrback(
            lambda f: log.warning("calls relay: pruning failed: %s", f.getErrorMessage()))

    # -- requests in ------------------------------------------------------------------------------
    def _notified(self, channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
            group, rid = data["g"], int(data["r"])
        except (ValueError, KeyError, TypeError):
            return
        if group == self.group:
            self._claim(rid)

    def _poll(self):
        if self._stopped:
            return None

        def pending():
            with self.engine.connect() as conn:
                return conn.execute(select(calls_relay_requests.c.id).where(
                    calls_relay_requests.c.grp == self.group, calls_relay_requests.c.state == "pending")
                    .order_by(calls_relay_requests.c.id).limit(100)).scalars().all()

        d = deferToThreadPool(self.reactor, self.pool, pending)
        d.addCallback(lambda ids: [self._claim(rid) for rid in ids])
        return d.addErrback(lambda f: log.warning("calls relay: pending requests not read: %s", f.getErrorMessage()))

    def _claim(self, rid: int) -> None:
        if self._stopped or rid in self._running:
            return
        self._running.add(rid)
        d = deferToThreadPool(self.reactor, self.pool, self._take, rid)
        d.addCallback(lambda row: self._execute(rid, row) if row is not None else None)
        d.addErrback(lambda f: log.error("calls relay: request %s failed: %s", rid, f.getErrorMessage()))
        d.addBoth(lambda _: self._running.discard(rid))

    def _take(self, rid: int):
        """The guarded claim: only one controller ever moves a request from pending to running."""
        t = calls_relay_requests
        with self.engine.begin() as conn:
            return conn.execute(update(t).where(t.c.id == rid, t.c.grp == self.group, t.c.state == "pending")
                                .values(state="running", executed_by=self.name[:128])
                                .returning(t.c.method, t.c.path, t.c.headers, t.c.body)).first()

    @defer.inlineCallbacks
    def _execute(self, rid: int, row):
        import treq

        host, port = self.web_address()
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}{row.path}"
        headers: dict[bytes, list[bytes]] = {}
        for name, value in json.loads(row.headers):
            headers.setdefault(name.encode("latin-1"), []).append(value.encode("latin-1"))
        headers[b"x-hotline-relay"] = [relay_token(self.secret).encode("ascii")]
        try:
            response = yield treq.request(row.method, url, headers=headers, data=row.body or None,
                                          timeout=self.execute_timeout, reactor=self.reactor, persistent=False,
                                          allow_redirects=False)
            body = yield treq.content(response)
            status = response.code
            out = [[k.decode("latin-1"), v.decode("latin-1")] for k, values in response.headers.getAllRawHeaders()
                   for v in values if k.lower() not in _DROP_RESPONSE]
        except Exception as exc:  # noqa: BLE001 - the local web port failed: the caller hears why
            log.error("calls relay: running a relayed request failed", extra={"fields": {
                "request": rid, "error": first_line(exc)}})
            status = 502
            out = [["Content-Type", "application/json; charset=utf-8"]]
            body = json.dumps({"error_id": "calls.controller_failed",
                               "message": "话务控制进程处理失败 / the call controller failed to run the request",
                               "details": {}}, ensure_ascii=False).encode("utf-8")
        self.executed += 1
        yield deferToThreadPool(self.reactor, self.pool, self._answer, rid, status, out, body)

    def _answer(self, rid: int, status: int, headers: list, body: bytes) -> None:
        t = calls_relay_requests
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == rid, t.c.state == "running").values(
                state="done", status=status, response_headers=json.dumps(headers), response_body=body,
                finished_at=_now()))
            conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": REPLIES, "p": json.dumps({"g": self.group, "r": rid})})


class RelayRefusal(HotlineError):
    """A relayed request the relay answers itself; the message is ``TEXT[message_key]`` in both languages."""

    def __init__(self, group: str):
        text_ = TEXT[self.message_key()]
        super().__init__(f"{text_['zh']} / {text_['en']}", group=group)

    @classmethod
    def message_key(cls) -> str:
        """``error.<what>`` of ``calls.<what>``: the catalogue entry of the message (and of the error page)."""
        return "error." + cls.error_id.split(".", 1)[1]


class ControllerUnavailable(RelayRefusal):
    """No controller claimed a relayed request (it was withdrawn: nothing was done)."""

    error_id = "calls.controller_unavailable"
    http_status = 503


class ControllerTimeout(RelayRefusal):
    """A controller claimed a relayed request and did not answer in time (it may have been done)."""

    error_id = "calls.controller_timeout"
    http_status = 504


class RelayFailed(RelayRefusal):
    """The request could not be stored for the controller (the database failed): nothing was done."""

    error_id = "calls.relay_failed"
    http_status = 503


class CallsRelay(_GroupEnd):
    """On a web process that does not drive the calls: relayed requests and mirrored streams (module docs)."""

    #: seconds a request waits for a controller to claim it; then it is withdrawn (503, nothing done)
    claim_timeout = 3.0
    #: seconds a claimed request may take before the browser hears 504
    answer_timeout = 20.0
    #: seconds between looks at a request's row (notifications wake it sooner)
    poll_interval = 0.5
    #: frames read per query (a live-calls frame may be large: hundreds of rows)
    read_limit = 200

    def __init__(self, reactor, engine, *, group: str, secret: bytes | None, pool=None, name: str = ""):
        super().__init__(reactor, engine, group=group, secret=secret, pool=pool,
                         name=name or f"relay-{uuid.uuid4().hex[:8]}", channels=(FRAMES, REPLIES),
                         on_listening=self._listening)
        self.streams: dict[str, EventStream] = {}
        self.last_frame: int | None = None
        self.frames_read = 0
        self.relayed = 0
        self.refused = 0
        self._reading: defer.Deferred | None = None
        self._read_again = False
        self._waiters: dict[int, list[defer.Deferred]] = {}
        #: this process's requests in flight, and those of them whose answer was announced
        self._inflight: set[int] = set()
        self._answered: set[int] = set()
        self._stopped = True

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._stopped = False
        self.listener.start()

    @defer.inlineCallbacks
    def stop(self):
        self._stopped = True
        yield self.listener.stop()
        for stream in self.streams.values():
            stream.close()

    # -- streams ------------------------------------------------------------------------------
    def stream(self, name: str) -> EventStream:
        """This process's copy of the leader's stream ``name`` (``wallboard``, ``livecalls``, ``desk:<agent>``)."""
        stream = self.streams.get(name)
        if stream is None:
            stream = self.streams[name] = EventStream(self.reactor)
        return stream

    def _listening(self, reconnected: bool) -> None:
        self._read_frames()  # the first time from now on; after a reconnect from the last frame read

    def _notified(self, channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
        except ValueError:
            return
        if not isinstance(data, dict) or data.get("g") != self.group:
            return
        if channel == FRAMES:
            self._read_frames()
        elif channel == REPLIES:
            try:
                rid = int(data.get("r"))
            except (TypeError, ValueError):
                return
            if rid in self._inflight:  # the answer may come before its waiter: remember it
                self._answered.add(rid)
            for d in self._waiters.pop(rid, []):
                if not d.called:
                    d.callback(None)

    def _read_frames(self) -> defer.Deferred | None:
        if self._stopped:
            return None
        if self._reading is not None:
            self._read_again = True
            return self._reading
        d = self._reading = deferToThreadPool(self.reactor, self.pool, self._select_frames, self.last_frame)
        d.addCallback(self._deliver)
        d.addErrback(lambda f: log.warning("calls relay: live frames not read: %s", f.getErrorMessage()))

        def done(_):
            self._reading = None
            if self._read_again:
                self._read_again = False
                self._read_frames()

        return d.addBoth(done)

    def _select_frames(self, after: int | None):
        t = calls_frames
        with self.engine.connect() as conn:
            if after is None:  # starting: only what comes from now on
                last = conn.execute(select(func.max(t.c.id)).where(t.c.grp == self.group)).scalar()
                return last or 0, []
            rows = conn.execute(select(t.c.id, t.c.stream, t.c.event, t.c.data)
                                .where(t.c.grp == self.group, t.c.id > after).order_by(t.c.id)
                                .limit(self.read_limit)).all()
            return (rows[-1].id if rows else after), rows

    def _deliver(self, result) -> None:
        last, rows = result
        if len(rows) >= self.read_limit:
            self._read_again = True
        self.last_frame = last
        if rows:
            CALLS_RELAY_FRAMES.labels("in").inc(len(rows))
        for row in rows:
            self.frames_read += 1
            stream = self.streams.get(row.stream)
            if stream is None:  # nobody here watches it
                continue
            try:
                stream.publish(row.event, json.loads(row.data))
            except ValueError:
                log.warning("calls relay: a malformed frame was skipped")

    # -- requests -----------------------------------------------------------------------------
    def wants(self, request) -> bool:
        method = request.method.decode("ascii", "replace")
        return (method, getattr(request, "hotline_route", "")) in RELAYED

    def render(self, request):
        """Relay ``request`` to the controller (a Klein-free resource render)."""
        d = defer.ensureDeferred(self._relay(request))
        d.addErrback(lambda f: log.error("calls relay failed", exc_info=f.value))
        return NOT_DONE_YET

    async def _relay(self, request) -> None:
        finished = []
        request.notifyFinish().addBoth(lambda _: finished.append(True))
        try:
            status, headers, body = await self.forward(request, request.method.decode("ascii"),
                                                       request.uri.decode("latin-1"), self._body(request))
        except RelayRefusal as exc:
            if finished:
                return
            body = self._refusal(request, exc)
            request.write(body)
            request.finish()
            return
        except Exception as exc:  # noqa: BLE001 - a bug of ours: the browser still gets an answer
            from callcenter.web.app import _error_response

            if not finished:
                request.write(_error_response(request, exc))
                request.finish()
            return
        if finished:
            return
        request.setResponseCode(status)
        for name, value in headers:
            request.responseHeaders.removeHeader(name)
        for name, value in headers:
            request.responseHeaders.addRawHeader(name, value)
        request.write(body)
        request.finish()

    def _refusal(self, request, exc: RelayRefusal) -> bytes:
        from callcenter.web.app import json_response
        from callcenter.web.errors import error_payload

        self.refused += 1
        path = request.path.decode("utf-8", "replace")
        request.setHeader(b"Retry-After", b"5")
        if request.method == b"GET" and not path.startswith(("/api/", "/agent/api/")):  # a page: say it in words
            return request.hotline_deps.templates.render(
                request, "error.html", status=exc.http_status, message_key=exc.message_key(),
                detail=exc.error_id, back=path)
        log.warning("calls relay: %s", exc.error_id, extra={"fields": {"path": path[:200], "group": self.group}})
        status, body = error_payload(exc)
        return json_response(request, body, status)

    @staticmethod
    def _body(request) -> bytes:
        content = getattr(request, "content", None)
        if content is None:
            return b""
        content.seek(0)
        return content.read()

    async def ask(self, request, path: str) -> tuple[int, dict]:
        """A GET of ``path`` on the controller as ``request``'s browser (its cookie): status and JSON body."""
        status, _, body = await self.forward(request, "GET", path, b"")
        try:
            return status, json.loads(body or b"{}")
        except ValueError:
            return status, {}

    async def forward(self, request, method: str, path: str, body: bytes) -> tuple[int, list, bytes]:
        """Store the request, wait for the controller's response (see module docs)."""
        headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, values in request.requestHeaders.getAllRawHeaders()
                   for v in values if k.lower() not in _DROP_REQUEST]
        client = getattr(request, "hotline_client", None) or getattr(request.getClientAddress(), "host", "") or ""
        headers += [["X-Hotline-Relay-Client", str(client)[:64]],
                    ["X-Hotline-Relay-Https", "1" if request.isSecure() else "0"]]
        try:
            rid = await deferToThreadPool(self.reactor, self.pool, self._submit, method, path, headers, body)
        except Exception as exc:  # noqa: BLE001 - not stored, so not done: the browser hears it
            log.error("calls relay: request not stored", extra={"fields": {"error": first_line(exc)}})
            CALLS_RELAY_REQUESTS.labels("failed").inc()
            raise RelayFailed(self.group) from None
        self.relayed += 1
        self._inflight.add(rid)
        try:
            try:
                answer = await self._answer_of(rid)
            except HotlineError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database failed while we waited: it may have run
                log.error("calls relay: lost track of a request", extra={"fields": {"error": first_line(exc)}})
                raise ControllerTimeout(self.group) from None
        except ControllerUnavailable:
            CALLS_RELAY_REQUESTS.labels("unavailable").inc()
            raise
        except ControllerTimeout:
            CALLS_RELAY_REQUESTS.labels("timeout").inc()
            raise
        else:
            CALLS_RELAY_REQUESTS.labels("answered").inc()
            return answer
        finally:
            self._inflight.discard(rid)
            self._answered.discard(rid)

    async def _answer_of(self, rid: int) -> tuple[int, list, bytes]:
        started = self.reactor.seconds()
        while True:
            row = await deferToThreadPool(self.reactor, self.pool, self._look, rid)
            if row is None:
                raise ControllerTimeout(self.group)  # pruned under us: treat as not answered
            if row.state == "done":
                await deferToThreadPool(self.reactor, self.pool, self._forget, rid)
                out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(row.response_headers or "[]")]
                return int(row.status), out, bytes(row.response_body or b"")
            waited = self.reactor.seconds() - started
            if row.state == "pending" and waited >= self.claim_timeout:
                withdrawn = await deferToThreadPool(self.reactor, self.pool, self._withdraw, rid)
                if withdrawn:
                    raise ControllerUnavailable(self.group)
                continue  # claimed meanwhile: wait for its answer
            if waited >= self.answer_timeout:
                await deferToThreadPool(self.reactor, self.pool, self._forget, rid)
                raise ControllerTimeout(self.group)
            if rid in self._answered:
                self._answered.discard(rid)
                continue  # announced while we were reading: read again at once
            limit = self.claim_timeout if row.state == "pending" else self.answer_timeout
            await self._wait(rid, max(0.01, min(self.poll_interval, limit - waited)))

    def _wait(self, rid: int, seconds: float) -> defer.Deferred:
        d = defer.Deferred()
        self._waiters.setdefault(rid, []).append(d)
        timer = self.reactor.callLater(seconds, lambda: d.called or d.callback(None))

        def cleanup(result):
            if timer.active():
                timer.cancel()
            waiting = self._waiters.get(rid)
            if waiting and d in waiting:
                waiting.remove(d)
                if not waiting:
                    del self._waiters[rid]
            return result

        return d.addBoth(cleanup)

    # blocking parts (thread pool)
    def _submit(self, method: str, path: str, headers: list, body: bytes) -> int:
        with self.engine.begin() as conn:
            rid = conn.execute(insert(calls_relay_requests).returning(calls_relay_requests.c.id).values(
                grp=self.group, state="pending", method=method[:8], path=path, headers=json.dumps(headers),
                body=body or None, created_at=_now())).scalar_one()
            conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": REQUESTS, "p": json.dumps({"g": self.group, "r": rid})})
        return rid

    def _look(self, rid: int):
        t = calls_relay_requests
        with self.engine.connect() as conn:
            return conn.execute(select(t.c.state, t.c.status, t.c.response_headers, t.c.response_body)
                                .where(t.c.id == rid)).first()

    def _withdraw(self, rid: int) -> bool:
        """The guarded withdrawal: true when no controller had claimed it (and now none ever will)."""
        t = calls_relay_requests
        with self.engine.begin() as conn:
            return conn.execute(delete(t).where(t.c.id == rid, t.c.state == "pending")).rowcount == 1

    def _forget(self, rid: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(calls_relay_requests).where(calls_relay_requests.c.id == rid))
