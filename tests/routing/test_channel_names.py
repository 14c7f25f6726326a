"""Any Asterisk channel name is a caller's channel: Local (``…;1``/``…;2``), PJSIP, IAX2, AudioSocket;
control characters stay refused (they would inject AMI headers)."""
from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import task

from callcenter.routing.errors import RoutingError
from callcenter.routing.skills import Agent, check_name, is_channel
from tests.routing.sim import acd_floor, hand_over_ivr_callers

REAL_NAMES = [
    "Local/12345@hotline-in-0000001a;2",        # a Local Originate's dialplan half (captures, test phones)
    "Local/1001@hotline-agents-00000003;1",
    "PJSIP/citizens-trunk-00000007",
    "IAX2/citizens-trunk-12345",
    "IAX2/127.0.0.1:4569-3072",
    "AudioSocket/127.0.0.1:9092-0d9cd62e-7f5e-4d3c-9a8b-1c2d3e4f5a6b",
    "Local/1001@hotline-agents-00000003;1<ZOMBIE>",
]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_every_asterisk_channel_name_is_accepted(name):
    assert is_channel(name) and check_name("channel", name) == name


@pytest.mark.parametrize("name", ["Local/1@x;2\r\nAction: Hangup", "PJSIP/a\nb", "PJSIP/a b", "PJSIP/\x00",
                                  "PJSIP/", "trunk-1", "", None, "Local/x\x7f"])
def test_control_characters_spaces_and_non_names_are_refused(name):
    with pytest.raises(RoutingError) as info:
        check_name("channel", name)
    assert info.value.error_id == "routing.bad_name"


def test_other_identifiers_stay_plain():
    with pytest.raises(RoutingError):
        check_name("queue", "hotline;general")


@pytest_twisted.inlineCallbacks
def test_a_caller_on_a_local_channel_is_queued_and_reaches_an_agent():
    """A call that arrives as a Local channel pair (AMI Originate of Local/12345@hotline-in, the
    way test phones and the captures place calls) is handed from the IVR to the ACD and connected."""
    from twisted.internet import reactor

    floor = yield acd_floor(reactor, ring_timeout=6, wrap_up_seconds=2,
                            agents=[Agent("1001", {"general": 80}, device="PJSIP/1001")])
    sim, ami, acd = floor.sim, floor.ami, floor.acd
    sim.add_device("PJSIP/1001", answer_after=1.0, talk_seconds=2.0)
    connected = []
    acd.add_listener(lambda kind, data: connected.append(data["call_id"])
                     if kind == "call" and data.get("state") == "connected" else None)
    hand_over_ivr_callers(ami, acd)
    ami.start()
    try:
        yield ami.when_connected()
        acd.startService()
        acd.agent_login("1001")
        acd.agent_ready("1001")
        response = yield ami.originate("Local/12345@hotline-in", application="Wait", data="30",
                                       caller_id='"张三" <13900000001>', timeout=10)
        assert response.reason == 4
        deadline = reactor.seconds() + 20
        while not connected and reactor.seconds() < deadline:
            yield task.deferLater(reactor, 0.05, lambda: None)
        (call_id,) = connected
        qc = acd.calls[call_id]
        assert qc.channel.startswith("Local/12345@hotline-in-") and qc.channel.endswith(";2")
        assert qc.caller.number == "13900000001"
    finally:
        yield floor.close()


@pytest_twisted.inlineCallbacks
def test_a_caller_over_an_iax2_trunk_is_queued_and_reaches_an_agent():
    """The trunk variation of the real-Asterisk run: IAX2/citizens-trunk-<n> callers are queued too."""
    from twisted.internet import reactor

    floor = yield acd_floor(reactor, ring_timeout=6, wrap_up_seconds=2,
                            agents=[Agent("1001", {"general": 80}, device="PJSIP/1001")])
    sim, ami, acd = floor.sim, floor.ami, floor.acd
    sim.add_device("PJSIP/1001", answer_after=1.0, talk_seconds=2.0)
    connected = []
    acd.add_listener(lambda kind, data: connected.append(data["call_id"])
                     if kind == "call" and data.get("state") == "connected" else None)
    hand_over_ivr_callers(ami, acd)
    ami.start()
    try:
        yield ami.when_connected()
        acd.startService()
        acd.agent_login("1001")
        acd.agent_ready("1001")
        caller = sim.dial_in("13900000001", tech="IAX2")
        assert caller.name.startswith("IAX2/citizens-trunk-")
        deadline = reactor.seconds() + 20
        while not connected and reactor.seconds() < deadline:
            yield task.deferLater(reactor, 0.05, lambda: None)
        assert connected == [caller.uniqueid] and acd.calls[caller.uniqueid].channel == caller.name
    finally:
        yield floor.close()
