"""AudioSocket, the way Asterisk streams a call's audio to our ASR server.

Asterisk connects *out* over TCP and sends frames of ``kind`` (1 byte),
``length`` (2 bytes, big-endian) and payload: ``0x01`` the call's 16-byte
UUID first, then ``0x10`` 8 kHz signed-linear audio in 320-byte (20 ms)
frames, ``0x03`` a DTMF digit; on hangup it simply closes the socket
[capture 19].  The server may send ``0x00`` to hang up.

Three ways in: the ``AudioSocket(uuid,host:port)`` application,
``Dial(AudioSocket/host:port/uuid)``, and an ``Originate`` of
``AudioSocket/host:port/uuid`` running ``ChanSpy`` on a caller's channel.
"""
from __future__ import annotations

import logging
import struct
import uuid as _uuid

from twisted.internet import defer, protocol

from callcenter.pbxsim.dialplan import split_args
from callcenter.pbxsim.media import read_slin, tone
from callcenter.pbxsim.model import ChannelGone

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
FRAME_BYTES = 320
FRAME_SECONDS = 0.02


def frame(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack(">BH", kind, len(payload)) + payload


class AudioSocketClient(protocol.Protocol):
    """The PBX end of one AudioSocket session."""

    #: a server sending more than this without a complete frame is cut off
    max_buffer = 65536 + 3

    def __init__(self, sim, channel, call_uuid: str) -> None:
        self.sim = sim
        self.channel = channel
        self.call_uuid = call_uuid
        self.on_connected = defer.Deferred()
        self.on_lost = defer.Deferred()
        self._buffer = b""
        self._streaming = None
        self.open = False

    def connectionMade(self) -> None:
        self.open = True
        self.transport.write(frame(KIND_UUID, _uuid.UUID(self.call_uuid).bytes))
        self.on_connected.callback(self)

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 3:
            kind, length = struct.unpack(">BH", self._buffer[:3])
            if len(self._buffer) < 3 + length:
                break
            self._buffer = self._buffer[3 + length:]
            if kind in (KIND_HANGUP, KIND_ERROR):
                self.close()
                return
        if len(self._buffer) > self.max_buffer:
            self.close()

    def connectionLost(self, reason=protocol.connectionDone) -> None:
        self.open = False
        if self._streaming is not None and self._streaming.active():
            self._streaming.cancel()
        if not self.on_lost.called:
            self.on_lost.callback(None)

    def close(self) -> None:
        if self.open:
            self.open = False
            self.transport.loseConnection()

    def send_dtmf(self, digit: str) -> None:
        if self.open:
            self.transport.write(frame(KIND_DTMF, digit.encode("ascii")))

    def send_audio(self, chunk: bytes) -> None:
        if self.open:
            self.transport.write(frame(KIND_AUDIO, chunk))

    def stream(self, audio: bytes) -> None:
        """Send ``audio`` in real-time 20 ms frames (the last may be short)."""
        chunks = [audio[i:i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)]

        def send_next():
            self._streaming = None
            if not self.open or not chunks:
                return
            self.transport.write(frame(KIND_AUDIO, chunks.pop(0)))
            if chunks:
                self._streaming = self.sim.later(FRAME_SECONDS, send_next)

        send_next()


def connect_tcp(sim, host: str, port: int, proto) -> defer.Deferred:
    """Connect ``proto`` to host:port (``sim.tcp_connector`` may replace this in tests)."""
    connector = getattr(sim, "tcp_connector", None)
    if connector is not None:
        return connector(host, port, proto)
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    return connectProtocol(TCP4ClientEndpoint(sim.reactor, host, port, timeout=5), proto)


def _split_service(service: str) -> tuple[str, int]:
    host, _, port = service.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"bad AudioSocket service {service!r}")
    return host, int(port)


def _speech(sim, ch) -> bytes:
    source = sim.speech_source(ch)
    return read_slin(source) if source is not None else b""


@defer.inlineCallbacks
def run_audiosocket_app(sim, ch, data: str):
    """``AudioSocket(uuid,host:port)``: stream this channel's caller until either side ends."""
    args = split_args(data) + [""]
    call_uuid, service = args[0], args[1]
    try:
        _uuid.UUID(call_uuid)
        host, port = _split_service(service)
    except ValueError:
        log.warning("AudioSocket: bad arguments %r", data)
        return None
    if ch.state != 6:
        sim.report_progress(ch, "answer")
    client = AudioSocketClient(sim, ch, call_uuid)
    try:
        yield connect_tcp(sim, host, port, client)
    except Exception as exc:  # connection refused: the application fails
        log.warning("AudioSocket: cannot connect to %s: %s", service, exc)
        sim.hangup(ch, 16)
        raise ChannelGone(ch.name)
    client.stream(_speech(sim, ch))
    ch.audio_sink = client
    client.on_lost.addCallback(lambda _: sim.wake(ch, "closed"))
    try:
        while True:
            got = yield sim.sleep(ch, None, dtmf=True)
            if got == "closed" or not client.open:
                break
            if got:
                client.send_dtmf(got)
    finally:
        ch.audio_sink = None
        client.close()
    return None


def audiosocket_leg(sim, caller, rest: str):
    """``Dial``/``Originate`` of ``AudioSocket/host:port/uuid``: a channel that answers on connect."""
    service, _, call_uuid = rest.partition("/")
    try:
        _uuid.UUID(call_uuid)
        host, port = _split_service(service)
    except ValueError:
        return None
    ch = sim.new_channel(f"AudioSocket/{service}-{call_uuid}", "default", caller.exten if caller.exten else "s",
                         tech="AudioSocket", caller=(caller.caller_num, caller.caller_name),
                         linkedid=caller.linkedid or None)
    sim.set_var(ch, "AUDIOSOCKET_UUID", call_uuid)
    sim.set_var(ch, "AUDIOSOCKET_SERVICE", service)
    client = AudioSocketClient(sim, ch, call_uuid)
    ch.participant = client

    def answered():
        if ch.hungup:
            client.close()
            return
        sim.report_progress(ch, "answer")
        if caller.name:  # Dial: stream the caller once bridged
            sim.later(0, lambda: client.stream(_speech(sim, caller)) if not ch.hungup else None)

    def failed(f):
        log.warning("AudioSocket: cannot connect to %s: %s", service, f.getErrorMessage())
        sim.later(0, sim.report_progress, ch, "congestion")

    d = connect_tcp(sim, host, port, client)
    # progress is reported on the next turn: the dialler listens only after create_leg returns
    d.addCallbacks(lambda _: sim.later(0, answered), failed)
    ch.on_hangup.append(lambda _c: client.close())
    client.on_lost.addCallback(lambda _: None if ch.hungup else sim.hangup(ch, 16))
    return ch


def _listeners(ch) -> list:
    hearers = []
    if ch.peer is not None:                     # a Local pair carries media to its other half
        hearers.append(ch.peer)
    for c in (ch, *hearers):
        if c.bridge is not None:
            hearers += [b for b in c.bridge.channels if b is not c and b is not ch]
    out = []
    for c in hearers:
        client = c.audio_sink if c.audio_sink is not None else c.participant
        if isinstance(client, AudioSocketClient) and client.open and client not in out:
            out.append(client)
    return out


def play_to_listeners(sim, ch, seconds: float) -> None:
    """``ch`` plays a prompt: whoever hears it over AudioSocket gets the audio, frame by
    frame in real time, so a bridge formed at the same instant still hears it [capture 19]."""
    audio = tone(seconds)
    chunks = [audio[i:i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)]

    def pump():
        if not chunks or ch.hungup:
            return
        chunk = chunks.pop(0)
        for client in _listeners(ch):
            client.send_audio(chunk)
        if chunks:
            sim.later(FRAME_SECONDS, pump)

    sim.later(FRAME_SECONDS, pump)


def stream_channel_audio(sim, spy, target) -> None:
    """ChanSpy over AudioSocket: send what ``target``'s caller says."""
    client = spy.participant
    if isinstance(client, AudioSocketClient):
        client.stream(_speech(sim, target))
        target.on_hangup.append(lambda _c: client.close())
