"""The AudioSocket protocol against Asterisk's own bytes (capture 19), with StringTransport and a fake clock."""
from __future__ import annotations

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from callcenter.asr.audiosocket import (
    FRAME_BYTES, KIND_AUDIO, KIND_DTMF, KIND_ERROR, KIND_HANGUP, KIND_UUID,
    AudioSocketClient, AudioSocketFactory, frame,
)
from tests.asr.conftest import capture_sessions


class RecordingStream:
    """Keeps what the protocol hands to a call's stream (a fake for the pure protocol tests)."""

    def __init__(self, uuid):
        self.uuid = uuid
        self.audio = bytearray()
        self.digits = []
        self.closed = 0

    def feed(self, pcm):
        self.audio += pcm

    def dtmf(self, digit):
        self.digits.append(digit)

    def close(self):
        from twisted.internet.defer import succeed

        self.closed += 1
        return succeed(None)


def make_server(clock=None):
    clock = clock or Clock()
    streams = []

    def open_stream(uuid):
        streams.append(RecordingStream(uuid))
        return streams[-1]

    factory = AudioSocketFactory(clock, open_stream)
    proto = factory.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport, streams, clock


@pytest.mark.parametrize("conn, uuid", [(90, "3f2a7c1e-8b4d-4e6f-9a1b-2c3d4e5f6a7b"),
                                        (91, "7d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5")])
@pytest.mark.parametrize("piece", [None, 1, 7, 323])
def test_capture_19_sessions_parse_exactly(conn, uuid, piece):
    """Asterisk's real session bytes, whole or split at any size, give the UUID, every audio byte
    (21 full 20 ms frames plus a short last one) and the DTMF digit; closing ends the stream."""
    data = capture_sessions()[conn]
    proto, transport, streams, _ = make_server()
    chunks = [data] if piece is None else [data[i:i + piece] for i in range(0, len(data), piece)]
    for chunk in chunks:
        proto.dataReceived(chunk)
    assert [s.uuid for s in streams] == [uuid]
    stream = streams[0]
    assert len(stream.audio) == 21 * 320 + 44
    assert stream.digits == ["1"]
    assert transport.value() == b"", "the server sends nothing back"
    assert not transport.disconnecting
    proto.connectionLost(None)
    assert stream.closed == 1


def test_capture_audio_payload_is_passed_through_byte_exact():
    """The PCM handed to the stream is exactly the 0x10 payloads in order."""
    data = capture_sessions()[90]
    proto, _, streams, _ = make_server()
    proto.dataReceived(data)
    expected, i = bytearray(), 0
    while i < len(data):
        kind, length = data[i], int.from_bytes(data[i + 1:i + 3], "big")
        if kind == KIND_AUDIO:
            expected += data[i + 3:i + 3 + length]
        i += 3 + length
    assert bytes(streams[0].audio) == bytes(expected)


def test_audio_before_uuid_is_a_protocol_error():
    """A session that does not start with the UUID frame is dropped without opening a stream."""
    proto, transport, streams, _ = make_server()
    proto.dataReceived(frame(KIND_AUDIO, b"\x00" * 320))
    assert transport.disconnecting and streams == []
    assert proto.error == "no_uuid"


@pytest.mark.parametrize("payload", [b"\x01" * 15, b"\x01" * 17])
def test_wrong_size_uuid_is_refused(payload):
    """A UUID frame that is not 16 bytes drops the session."""
    proto, transport, streams, _ = make_server()
    proto.dataReceived(frame(KIND_UUID, payload))
    assert transport.disconnecting and streams == [] and proto.error == "bad_uuid"


def test_oversized_frame_is_refused_before_buffering_it():
    """A header announcing more than the audio limit drops the session at once (no 64 KB buffering)."""
    proto, transport, streams, _ = make_server()
    proto.dataReceived(frame(KIND_UUID, bytes(16)))
    proto.dataReceived(bytes([KIND_AUDIO]) + (60000).to_bytes(2, "big") + b"\x00" * 10)
    assert transport.disconnecting and proto.error == "frame_too_large"
    proto.connectionLost(None)
    assert streams[0].closed == 1


def test_uuid_and_idle_timeouts_use_the_reactor_clock():
    """No UUID within uuid_timeout, or silence for idle_timeout, closes the session (fake clock)."""
    proto, transport, _, clock = make_server()
    clock.advance(proto.uuid_timeout - 0.1)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.disconnecting and proto.error == "timeout"

    proto, transport, streams, clock = make_server()
    proto.dataReceived(frame(KIND_UUID, bytes(16)))
    clock.advance(proto.idle_timeout - 1)
    proto.dataReceived(frame(KIND_AUDIO, b"\x00" * 320))
    clock.advance(proto.idle_timeout - 1)
    assert not transport.disconnecting, "audio re-arms the idle timer"
    clock.advance(2)
    assert transport.disconnecting


def test_hangup_and_error_frames_close_the_session():
    """0x00 (hang up) and 0xff (error) from the peer close the connection; the stream ends once."""
    for kind, payload in ((KIND_HANGUP, b""), (KIND_ERROR, b"\x02")):
        proto, transport, streams, _ = make_server()
        proto.dataReceived(frame(KIND_UUID, bytes(16)) + frame(kind, payload))
        assert transport.disconnecting
        proto.connectionLost(None)
        proto.connectionLost(None)
        assert streams[0].closed == 1


def test_unknown_frame_kinds_are_ignored():
    """Frame kinds this server does not know (newer Asterisk rates) are skipped, not fatal."""
    proto, transport, streams, _ = make_server()
    proto.dataReceived(frame(KIND_UUID, bytes(16)) + frame(0x12, b"\x00" * 640) + frame(KIND_AUDIO, b"\x01\x00"))
    assert not transport.disconnecting
    assert bytes(streams[0].audio) == b"\x01\x00"


def test_client_paces_20ms_frames_on_the_clock_and_round_trips_through_the_server():
    """The client sends the UUID and one 320-byte frame per 20 ms of clock time, then closes like
    Asterisk; the server protocol reassembles exactly the audio and the DTMF digit."""
    clock = Clock()
    pcm = bytes(range(256)) * 10  # 2560 bytes = 8 frames = 160 ms
    client = AudioSocketClient(clock, "3f2a7c1e-8b4d-4e6f-9a1b-2c3d4e5f6a7b", pcm, speed=1.0, dtmf={0.05: "7"})
    transport = StringTransport()
    client.makeConnection(transport)
    first = transport.value()
    assert first[:3] == bytes([KIND_UUID, 0, 16]) and len(first) == 19 + 3 + FRAME_BYTES
    sent = [len(transport.value())]
    for _ in range(7):
        clock.advance(0.02)
        sent.append(len(transport.value()))
    assert all(b > a for a, b in zip(sent, sent[1:])), "one more frame every 20 ms"
    assert transport.disconnecting, "closes after the last frame, as Asterisk does on hangup"
    result = []
    client.finished.addCallback(result.append)
    client.connectionLost(None)
    assert result[0]["frames"] == 8 and result[0]["complete"]

    proto, _, streams, _ = make_server()
    proto.dataReceived(transport.value())
    assert bytes(streams[0].audio) == pcm and streams[0].digits == ["7"]
    assert streams[0].uuid == "3f2a7c1e-8b4d-4e6f-9a1b-2c3d4e5f6a7b"


def test_client_speed_zero_sends_everything_at_once_with_optional_hangup_frame():
    """speed=0 streams the whole clip immediately; hangup_frame adds a 0x00 frame before closing."""
    clock = Clock()
    client = AudioSocketClient(clock, "00000000-0000-0000-0000-000000000001", b"\x00\x01" * 500, speed=0,
                               hangup_frame=True)
    transport = StringTransport()
    client.makeConnection(transport)
    data = transport.value()
    assert data.endswith(frame(KIND_HANGUP)) and transport.disconnecting
    assert data.count(bytes([KIND_AUDIO, 0x01, 0x40])) == 3  # three full 320-byte frames + one of 40
    assert KIND_DTMF not in data[:1]
