"""Asterisk's AudioSocket protocol: the server that receives call audio, and a
client that streams a WAV file the way Asterisk does.

Wire format (capture ``19-audiosocket`` in ``../shared/ami-captures``): every
frame is ``kind`` (1 byte), ``length`` (2 bytes, big-endian), payload.
``0x01`` the call's UUID (16 raw bytes, always first); ``0x10`` 8 kHz signed
16-bit little-endian audio, 320 bytes per 20 ms (the last may be short);
``0x03`` a DTMF digit in ASCII; ``0x00`` hang up; ``0xff`` error (one code
byte).  On hangup Asterisk just closes the socket.
"""
from __future__ import annotations

import logging
import struct
import uuid as uuidlib

from twisted.internet import endpoints
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

from callcenter.asr.audio import convert_pcm, read_pcm

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
HEADER = struct.Struct(">BH")
FRAME_BYTES = 320          # 20 ms of 8 kHz s16le
FRAME_SECONDS = 0.02


def frame(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket frame."""
    if len(payload) > 0xFFFF:
        raise ValueError("AudioSocket payload is limited to 65535 bytes")
    return HEADER.pack(kind, len(payload)) + payload


class AudioSocketProtocol(Protocol):
    """One call's AudioSocket session, handing audio to a stream from the factory.

    The stream (``feed(pcm)``, ``dtmf(digit)``, ``close()``) comes from
    ``factory.open_stream(uuid)``; this class only frames, validates and times out.
    """

    #: Seconds Asterisk may take to send the UUID frame after connecting.
    uuid_timeout = 5.0
    #: Seconds without any frame before the session is considered dead.
    idle_timeout = 30.0
    #: Largest audio payload accepted (kinds 0x10-0x1f; 1 s of 8 kHz audio; Asterisk sends 320 bytes).
    max_audio_payload = 16000
    #: Largest non-audio payload (UUID 16, DTMF 1, error 1; leave headroom).
    max_control_payload = 64

    def __init__(self):
        self._buffer = bytearray()
        self.call_uuid: str | None = None
        self.stream = None
        self._timer = None
        self.frames = 0
        self.audio_bytes = 0
        self.error: str | None = None
        self.closed_by_peer_hangup = False

    # -- connection lifecycle ----------------------------------------------------------

    def connectionMade(self) -> None:
        self._arm(self.uuid_timeout)

    def connectionLost(self, reason: Failure = None) -> None:
        self._disarm()
        if self.stream is not None:
            stream, self.stream = self.stream, None
            stream.close().addErrback(self._close_failed)

    def _close_failed(self, failure: Failure) -> None:
        log.error("speech for a call could not be completed",
                  extra={"fields": {"uuid": self.call_uuid, "error": repr(failure.value)}})

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.factory.reactor.callLater(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        self._abort("timeout", "no UUID frame" if self.call_uuid is None else "no audio")

    def _abort(self, code: str, text: str) -> None:
        self.error = code
        log.warning("AudioSocket session dropped: %s", text,
                    extra={"fields": {"uuid": self.call_uuid, "error_id": f"asr.audiosocket_{code}"}})
        self.transport.loseConnection()

    # -- framing -------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        while self.transport is not None and len(self._buffer) >= HEADER.size and self.error is None:
            kind, length = HEADER.unpack_from(self._buffer)
            limit = self.max_audio_payload if 0x10 <= kind <= 0x1F else self.max_control_payload
            if length > limit:
                self._abort("frame_too_large", f"frame kind 0x{kind:02x} of {length} bytes")
                return
            if len(self._buffer) < HEADER.size + length:
                return
            payload = bytes(self._buffer[HEADER.size:HEADER.size + length])
            del self._buffer[:HEADER.size + length]
            self.frames += 1
            self.frameReceived(kind, payload)

    def frameReceived(self, kind: int, payload: bytes) -> None:
        if self.call_uuid is None:
            if kind != KIND_UUID:
                self._abort("no_uuid", f"first frame is kind 0x{kind:02x}, not the UUID")
                return
            if len(payload) != 16:
                self._abort("bad_uuid", f"UUID payload of {len(payload)} bytes")
                return
            self.call_uuid = str(uuidlib.UUID(bytes=payload))
            self.stream = self.factory.open_stream(self.call_uuid)
            self._arm(self.idle_timeout)
            return
        self._arm(self.idle_timeout)
        if kind == KIND_AUDIO:
            self.audio_bytes += len(payload)
            self.stream.feed(payload)
        elif kind == KIND_DTMF:
            digit = payload.decode("ascii", "replace")[:1]
            if digit:
                self.stream.dtmf(digit)
        elif kind == KIND_HANGUP:
            self.closed_by_peer_hangup = True
            self.transport.loseConnection()
        elif kind == KIND_ERROR:
            code = payload[0] if payload else None
            log.warning("AudioSocket peer reported an error",
                        extra={"fields": {"uuid": self.call_uuid, "code": code}})
            self.transport.loseConnection()
        elif kind == KIND_UUID:
            self._abort("second_uuid", "a second UUID frame in one session")
        else:
            # Newer Asterisk versions add kinds (other sample rates); they are not ours to guess.
            log.debug("ignoring AudioSocket frame kind 0x%02x", kind)


class AudioSocketFactory(Factory):
    """Accepts Asterisk's AudioSocket connections and hands each call to ``open_stream``."""

    protocol = AudioSocketProtocol

    def __init__(self, reactor, open_stream):
        self.reactor = reactor
        self.open_stream = open_stream


def listen(reactor, open_stream, port: int = 9092, interface: str = "127.0.0.1") -> Deferred:
    """Start the AudioSocket server; fires with the listening port.

    ``open_stream`` is usually :meth:`callcenter.asr.live.LiveTranscriber.open`.
    """
    endpoint = endpoints.TCP4ServerEndpoint(reactor, port, interface=interface)
    return endpoint.listen(AudioSocketFactory(reactor, open_stream))


# -- client ------------------------------------------------------------------------

class AudioSocketClient(Protocol):
    """Streams 8 kHz PCM to an AudioSocket server in 20 ms frames, as Asterisk does.

    Frames go out on the reactor's clock at ``speed`` times real time (``speed``
    <= 0 sends everything at once); ``dtmf`` maps seconds → digit.  At the end
    the client closes the socket like Asterisk on hangup, or sends a ``0x00``
    frame first when ``hangup_frame`` is set.
    """

    def __init__(self, reactor, call_uuid: str, pcm: bytes, speed: float = 1.0,
                 dtmf: dict[float, str] | None = None, hangup_frame: bool = False):
        self.reactor = reactor
        self.call_uuid = uuidlib.UUID(str(call_uuid))
        self.pcm = pcm
        self.speed = speed
        self.dtmf = sorted((dtmf or {}).items())
        self.hangup_frame = hangup_frame
        self.offset = 0
        self.frames_sent = 0
        self.received = bytearray()
        self.finished: Deferred = Deferred()
        self._started = 0.0
        self._call = None

    def connectionMade(self) -> None:
        self.transport.write(frame(KIND_UUID, self.call_uuid.bytes))
        self._started = self.reactor.seconds()
        self._send()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def _send(self) -> None:
        self._call = None
        if self.transport is None:
            return
        elapsed = (self.reactor.seconds() - self._started) * self.speed if self.speed > 0 else float("inf")
        if self.speed <= 0:
            due = len(self.pcm)
        else:
            # +1: the first frame goes at once; the epsilon absorbs float error at exact frame times.
            due = max(self.offset + 1, (int(elapsed / FRAME_SECONDS + 1e-6) + 1) * FRAME_BYTES)
            due = min(len(self.pcm), due)
        while self.offset < due:
            position = self.offset / (2 * 8000)
            while self.dtmf and self.dtmf[0][0] <= position:
                self.transport.write(frame(KIND_DTMF, self.dtmf.pop(0)[1].encode("ascii")[:1]))
            chunk = self.pcm[self.offset:self.offset + FRAME_BYTES]
            self.transport.write(frame(KIND_AUDIO, chunk))
            self.offset += len(chunk)
            self.frames_sent += 1
        if self.offset >= len(self.pcm):
            for _, digit in self.dtmf:
                self.transport.write(frame(KIND_DTMF, digit.encode("ascii")[:1]))
            self.dtmf = []
            if self.hangup_frame:
                self.transport.write(frame(KIND_HANGUP))
            self.transport.loseConnection()
            return
        next_at = self._started + (self.frames_sent * FRAME_SECONDS) / self.speed
        self._call = self.reactor.callLater(max(0.0, next_at - self.reactor.seconds()), self._send)

    def connectionLost(self, reason: Failure = None) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self.finished.callback({
            "uuid": str(self.call_uuid),
            "frames": self.frames_sent,
            "bytes": self.offset,
            "seconds": self.offset / (2 * 8000),
            "complete": self.offset >= len(self.pcm),
        })


def stream_wav(reactor, host: str, port: int, uuid: str, wav_path, speed: float = 1.0, *,
               dtmf: dict[float, str] | None = None, hangup_frame: bool = False) -> Deferred:
    """Stream a WAV file (converted to 8 kHz mono) to an AudioSocket server.

    Fires, once the connection has closed, with ``{"uuid", "frames", "bytes",
    "seconds", "complete"}``.  Bad audio fails the Deferred with ``AudioError``
    before any connection is made.
    """
    from twisted.internet.defer import fail

    try:
        info, pcm = read_pcm(wav_path)
    except Exception:
        return fail()
    if info.target_rate != 8000:
        pcm = convert_pcm(pcm, info.target_rate, 8000)
    client = AudioSocketClient(reactor, uuid, pcm, speed=speed, dtmf=dtmf, hangup_frame=hangup_frame)
    endpoint = endpoints.TCP4ClientEndpoint(reactor, host, port)
    connecting = endpoints.connectProtocol(endpoint, client)
    connecting.addCallback(lambda _proto: client.finished)
    return connecting
