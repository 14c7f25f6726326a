"""A caller the ACD takes over from the dialplan (``requeue`` for a call it does not know: after a
controller restart, or an IVR session that broke) hears the announcements in the language they
chose (``HOTLINE_LANG``), not in ``agi_language`` -- Asterisk's channel default, "en" for every
call on a real Asterisk."""
from __future__ import annotations

import pytest_twisted
from twisted.internet import task

from callcenter.pbxsim.participants import CallerScript
from tests.routing.sim import SPEED, acd_floor


@pytest_twisted.inlineCallbacks
def test_taken_over_callers_hear_their_chosen_language_not_asterisks_default():
    from twisted.internet import reactor

    floor = yield acd_floor(reactor)
    sim, ami, acd = floor.sim, floor.ami, floor.acd
    heard = []
    ami.subscribe(lambda m: heard.append((m.get("Channel"), m.get("Command"))) if (m.get("Command") or "").startswith(
        "STREAM FILE") else None, names=("AGIExecStart",))
    ami.start()
    try:
        yield ami.when_connected()
        acd.startService()
        english = sim.dial_in("13900000001", script=CallerScript())
        chinese = sim.dial_in("13900000002", script=CallerScript())
        yield task.deferLater(reactor, 1.0 / SPEED, lambda: None)
        assert english.language == "en" and chinese.language == "en"  # Asterisk's default on both
        # nobody drives their IVR sessions: the English caller had chosen English, then both sessions end
        yield ami.agi(english.name, "SET VARIABLE HOTLINE_LANG en")
        yield ami.agi(english.name, "ASYNCAGI BREAK")
        yield ami.agi(chinese.name, "ASYNCAGI BREAK")
        yield task.deferLater(reactor, 4.0 / SPEED, lambda: None)
        first = {ch: cmd for ch, cmd in reversed(heard)}
        assert first[english.name] == 'STREAM FILE hotline/queue/en/queue_all_busy ""'
        assert first[chinese.name] == 'STREAM FILE hotline/queue/zh/queue_all_busy ""'
        assert {english.uniqueid, chinese.uniqueid} <= set(acd.calls)
    finally:
        yield floor.close()
