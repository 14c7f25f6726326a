"""A PBX simulator that speaks AMI like Asterisk 22 (模拟交换机).

It stands in for Asterisk in tests and in ``callcenter demo``: an AMI server
on loopback whose greeting, login, responses, lists and event sequences
follow the byte-exact recordings in ``../shared/ami-captures`` (see
``tests/pbxsim/test_fidelity.py`` for what is compared, and the asserted
list of deliberate differences).

Public API::

    from callcenter.pbxsim import PBXSimulator, CallerScript

    sim = PBXSimulator(reactor, users={"hotline": "hotline-secret"},
                       spool_dir="/var/spool/hotline", speed=1.0,
                       dialplan="hotline")       # or "lab" (the capture PBX)
    port = yield sim.listen(port=0, interface="127.0.0.1")   # IListeningPort

    sim.add_device("PJSIP/1001", answer_after=2.0, talk_seconds=30)
    sim.add_device("PJSIP/1002", answer_after=None)          # never answers
    sim.add_device("PJSIP/1003", answer_after="busy")
    sim.add_pstn("13800000001", behaviour="answer", answer_after=2, digits="1")
    sim.add_pstn("13800000002", behaviour="noanswer")        # also busy, congestion
    ch = sim.dial_in("13900000001", exten="12345", caller_name="张三",
                     script=CallerScript(dtmf=[(3.0, "1")], keys=["2", "12#"],
                                         patience=60, speech_wav="q.wav",
                                         hangup_after=None, talk_seconds=None))

    sim.channels      # {name: Channel} of live channels (read-only copy)
    sim.calls_log     # one dict per ended channel (uniqueid, linkedid, cause, …)

Everything is timed by the injected reactor (``task.Clock`` in tests), scaled
by ``speed``; nothing sleeps.  The dialplan is the hotline contract of
``docker/asterisk/extensions.conf`` run by a small interpreter
(:mod:`callcenter.pbxsim.dialplan`); AsyncAGI commands are in
:mod:`callcenter.pbxsim.agi`.

The rooms, top floor first; each imports only rooms below it::

    simulator     PBXSimulator: channels, their life cycle and events; runs the dialplan
    server        one AMISession per AMI connection
    actions       what each AMI action answers
    apps          the dialplan applications, each registered by name (Dial, Read, ChanSpy …)
    queues        app_queue: members, callers, Queue()
    legs          the channel a dial string makes (phones, Local pairs, AudioSocket)
    audiosocket   a call's audio streamed to the ASR server
    agi           AsyncAGI: AGI() and its commands
    media         8 kHz signed-linear audio: callers' speech, prompt tones
    steps         answering, prompts that read keys (Read(), GET DATA)
    registry      the application registry (filled by apps; the simulator, Originate and
                  AGI's EXEC look names up in it)
    wire          AMI frames and timevals as written on the wire
    model, dialplan, participants, cli    channels, extensions.conf, scripts, CLI commands
    captures      the byte-exact recordings, read by the tests
"""
from callcenter.pbxsim.dialplan import Dialplan, DialplanError
from callcenter.pbxsim.model import Channel
from callcenter.pbxsim.participants import CallerScript, Device, PSTNNumber, ScriptError
from callcenter.pbxsim.simulator import PBXSimulator

__all__ = [
    "PBXSimulator",
    "CallerScript",
    "Device",
    "PSTNNumber",
    "ScriptError",
    "Channel",
    "Dialplan",
    "DialplanError",
]
