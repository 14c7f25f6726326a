"""The simulator over real TCP on 127.0.0.1 (port 0): our AMI client, a peer
library, a raw socket, and AudioSocket streaming to a server of ours."""
from __future__ import annotations

import struct
import uuid
import wave

import pytest
import pytest_twisted
from twisted.internet import defer, protocol, task
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol

from callcenter.pbxsim import CallerScript, PBXSimulator
from tests.conftest import SHARED

SPEECH = SHARED / "audio" / "real_8k" / "en_cmu_goforward_8k.wav"


def _wait(reactor, predicate, timeout=10.0, what=""):
    @defer.inlineCallbacks
    def loop():
        deadline = reactor.seconds() + timeout
        while not predicate():
            if reactor.seconds() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            yield task.deferLater(reactor, 0.01, lambda: None)
    return loop()


class RawAMI(protocol.Protocol):
    """The smallest AMI peer: bytes in, bytes out."""

    def __init__(self):
        self.data = b""

    def dataReceived(self, data):
        self.data += data


@pytest_twisted.inlineCallbacks
def test_raw_socket_session(tmp_path):
    """Greeting first, then a login and Ping over a plain TCP socket; Logoff closes it."""
    from twisted.internet import reactor

    sim = PBXSimulator(reactor, spool_dir=tmp_path)
    port = yield sim.listen(0)
    try:
        raw = RawAMI()
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), raw)
        yield _wait(reactor, lambda: raw.data, what="greeting")
        assert raw.data == b"Asterisk Call Manager/11.0.0\r\n"
        raw.transport.write(b"Action: Login\r\nActionID: 1\r\nUsername: hotline\r\nSecret: hotline-secret\r\n"
                            b"Events: off\r\n\r\nAction: Ping\r\nActionID: 2\r\n\r\n")
        yield _wait(reactor, lambda: b"Ping: Pong" in raw.data, what="pong")
        assert b"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n" in raw.data
        lost = defer.Deferred()
        raw.connectionLost = lambda reason: lost.callback(None)
        raw.transport.write(b"Action: Logoff\r\nActionID: 3\r\n\r\n")
        yield lost
        assert raw.data.endswith(b"Response: Goodbye\r\nActionID: 3\r\nMessage: Thanks for all the fish.\r\n\r\n")
    finally:
        yield port.stopListening()


@pytest_twisted.inlineCallbacks
def test_our_ami_client_drives_a_call(tmp_path):
    """callcenter.ami's client logs in (MD5), sees the IVR's AsyncAGIStart, runs AGI and a callback Originate."""
    from twisted.internet import reactor

    from callcenter.ami.client import AMIClient

    sim = PBXSimulator(reactor, spool_dir=tmp_path, speed=10.0)
    sim.add_pstn("13800000001", behaviour="answer", answer_after=1)
    port = yield sim.listen(0)
    client = AMIClient(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), "hotline", "hotline-secret",
                       clock=reactor, resync=False)
    starts = []
    client.subscribe(lambda m: starts.append(m), names=("AsyncAGIStart",))
    client.start()
    try:
        yield client.when_connected()
        caller = sim.dial_in("13900000001", caller_name="张三", script=CallerScript(keys=["3"]))
        yield _wait(reactor, lambda: starts, what="AsyncAGIStart")
        assert starts[0].get("CallerIDName") == "张三"
        result = yield client.agi(caller.name, "GET DATA vm-enter-num-to-call 3000 1")
        assert (result.code, result.result) == (200, "3")
        response = yield client.originate("Local/13800000001@hotline-pstn", context="hotline-survey", exten="s",
                                          caller_id='"12345" <12345>', timeout=5, variables={"WORKORDER": "WO-7"})
        assert response.reason == 4 and response.channel.startswith("Local/13800000001@hotline-pstn-")
        yield client.hangup(caller.name)
        yield _wait(reactor, lambda: caller.name not in sim.channels, what="hangup")
    finally:
        yield client.stop()
        yield port.stopListening()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest_twisted.inlineCallbacks
def test_peer_library_asterisk_ami(tmp_path):
    """The third-party ``asterisk-ami`` client (threads, blocking sockets) logs in and pings."""
    from asterisk.ami import AMIClient as PeerClient
    from asterisk.ami import SimpleAction
    from twisted.internet import reactor, threads

    sim = PBXSimulator(reactor, spool_dir=tmp_path)
    port = yield sim.listen(0)

    def talk():
        peer = PeerClient(address="127.0.0.1", port=port.getHost().port, timeout=5)
        try:
            login = peer.login(username="hotline", secret="hotline-secret").response
            pong = peer.send_action(SimpleAction("Ping")).response
            return login, pong
        finally:
            peer.logoff()
            peer.disconnect()

    try:
        login, pong = yield threads.deferToThread(talk)
        assert login.status == "Success" and login.keys["Message"] == "Authentication accepted"
        assert pong.keys["Ping"] == "Pong"
    finally:
        yield port.stopListening()


class AudioSocketServer(protocol.Protocol):
    """Our end of AudioSocket: collects the frames Asterisk (the simulator) sends."""

    def __init__(self, sessions):
        self.buffer = b""
        self.sessions = sessions
        self.closed = False

    def connectionMade(self):
        self.sessions.append(self)

    def dataReceived(self, data):
        self.buffer += data

    def connectionLost(self, reason):
        self.closed = True

    def frames(self):
        out, data = [], self.buffer
        while len(data) >= 3:
            kind, length = struct.unpack(">BH", data[:3])
            out.append((kind, data[3:3 + length]))
            data = data[3 + length:]
        return out


@pytest_twisted.inlineCallbacks
def test_chanspy_over_audiosocket_streams_the_callers_speech(tmp_path):
    """Originate AudioSocket/…/uuid + ChanSpy: the caller's WAV arrives as 0x01 uuid then 320-byte 0x10 frames; hangup closes."""
    from twisted.internet import reactor

    sessions = []
    factory = protocol.Factory.forProtocol(lambda: AudioSocketServer(sessions))
    server = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
    sim = PBXSimulator(reactor, spool_dir=tmp_path, speed=20.0)
    ami_port = yield sim.listen(0)
    try:
        caller = sim.dial_in("13900000001", script=CallerScript(speech_wav=SPEECH))
        yield _wait(reactor, lambda: caller.agi is not None, what="caller in AGI")
        call_uuid = str(uuid.uuid4())
        raw = RawAMI()
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", ami_port.getHost().port), raw)
        raw.transport.write(
            ("Action: Login\r\nUsername: hotline\r\nSecret: hotline-secret\r\nEvents: on\r\n\r\n"
             f"Action: Originate\r\nActionID: spy-1\r\nChannel: AudioSocket/127.0.0.1:{server.getHost().port}/{call_uuid}\r\n"
             f"Application: ChanSpy\r\nData: {caller.name},qE\r\nAsync: true\r\n\r\n").encode())
        yield _wait(reactor, lambda: b"Event: OriginateResponse" in raw.data, what="OriginateResponse")
        assert b"Reason: 4" in raw.data
        with wave.open(str(SPEECH)) as w:
            expected = w.readframes(w.getnframes())
        yield _wait(reactor, lambda: sessions and sum(len(p) for k, p in sessions[0].frames() if k == 0x10)
                    >= len(expected), timeout=15, what="the whole speech")
        frames = sessions[0].frames()
        assert frames[0] == (0x01, uuid.UUID(call_uuid).bytes)
        audio = [p for k, p in frames[1:] if k == 0x10]
        assert all(len(p) == 320 for p in audio[:-1]) and 0 < len(audio[-1]) <= 320
        assert b"".join(audio) == expected
        sim.hangup(caller)
        yield _wait(reactor, lambda: sessions[0].closed, what="socket closed on hangup")
        yield _wait(reactor, lambda: not sim.channels, what="spy channel gone")
        raw.transport.loseConnection()
    finally:
        yield ami_port.stopListening()
        yield server.stopListening()


@pytest_twisted.inlineCallbacks
def test_reconnect_in_the_middle_of_50_live_simulated_calls(tmp_path):
    """The AMI connection drops during 50 live calls (half talking to agents); while it is down 10 end
    and 5 start.  After reconnect + resync the client's call tracking equals the simulator's calls."""
    from twisted.internet import reactor

    from callcenter.ami.client import AMIClient
    from callcenter.calls import CallTracker

    sim = PBXSimulator(reactor, spool_dir=tmp_path, speed=5.0)
    for n in range(25):
        sim.add_device(f"PJSIP/1{n:03d}", answer_after=0.5)
    port = yield sim.listen(0)
    tracker = CallTracker()
    client = AMIClient(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), "hotline", "hotline-secret",
                       clock=reactor, tracker=tracker, retry_policy=lambda attempt: 0.05)
    client.start()
    try:
        yield client.when_connected()
        callers = [sim.dial_in(f"139{n:08d}", caller_name=f"市民{n}") for n in range(50)]
        yield _wait(reactor, lambda: all(c.agi is not None for c in callers), what="50 callers in the IVR")
        for n, caller in enumerate(callers[:25]):
            yield client.setvar("AGENT_DEVICE", f"PJSIP/1{n:03d}", channel=caller.name)
            yield client.redirect(caller.name, "hotline-connect", "s", 1)
        yield _wait(reactor, lambda: sum(1 for c in sim.channels.values() if c.bridge) == 50, what="25 bridges")
        yield _wait(reactor, lambda: len(tracker.live_calls()) == 50, what="tracking 50 calls")
        for session in list(sim.sessions):          # the network drops
            session.transport.abortConnection()
        for caller in callers[20:30]:               # 10 calls end while we are away (5 talking, 5 waiting)
            sim.hangup(caller)
        newcomers = [sim.dial_in(f"138{n:08d}") for n in range(5)]
        yield _wait(reactor, lambda: all(c.agi is not None for c in newcomers), what="newcomers in the IVR")
        yield _wait(reactor, lambda: client.connections >= 2 and client.ready, what="reconnect")
        yield client.when_connected()
        truth = {c.linkedid for c in sim.channels.values()}
        assert len(truth) == 45
        tracked = {call.linkedid for call in tracker.live_calls()}
        assert tracked == truth
    finally:
        yield client.stop()
        yield port.stopListening()
