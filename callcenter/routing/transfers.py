"""What the desk and supervisors do to a live call: transfer it to a department line, hang it up,
listen, whisper or barge (an Originate of the supervisor's device into ``ChanSpy``).  Part of
:class:`callcenter.routing.acd.QueueController`.
"""
from __future__ import annotations

from twisted.internet import defer

from callcenter.routing.agent import AgentState
from callcenter.routing.errors import RoutingError
from callcenter.routing.skills import check_name

SPY_OPTIONS = {"listen": "q", "whisper": "qw", "barge": "qB"}


class Transfers:
    """Transfer, hang up, listen/whisper/barge (a part of the queue controller)."""

    def supervise(self, supervisor_device: str, agent_id: str, mode: str) -> defer.Deferred:
        """Listen, whisper or barge on the agent's current call (ChanSpy via Originate)."""
        check_name("device", supervisor_device)
        if mode not in SPY_OPTIONS:
            return defer.fail(RoutingError("routing.bad_spy_mode", "mode is listen, whisper or barge / "
                                           "模式须为监听、耳语或强插", mode=mode))
        session = self.session(agent_id)
        qc = self.calls.get(session.call_id) if session.call_id else None
        if session.state is not AgentState.ON_CALL or qc is None or not qc.agent_channel:
            return defer.fail(RoutingError("routing.not_on_call", "agent is not on a call / 坐席当前没有通话",
                                           agent=agent_id))
        return self.ami.originate(supervisor_device, application="ChanSpy",
                                  data=f"{qc.agent_channel},{SPY_OPTIONS[mode]}", timeout=30,
                                  caller_id=self.caller_id)

    def transfer(self, agent_id: str, line: str) -> defer.Deferred:
        """Move the agent's caller to a department line (``hotline-transfer,<line>,1``)."""
        if not line.isdigit() or len(line) > 12:
            return defer.fail(RoutingError("routing.bad_line", "a line is digits / 转接号码须为数字", line=line))
        session = self.session(agent_id)
        qc = self.calls.get(session.call_id) if session.call_id else None
        if session.state is not AgentState.ON_CALL or qc is None or not qc.channel:
            return defer.fail(RoutingError("routing.not_on_call", "agent is not on a call / 坐席当前没有通话",
                                           agent=agent_id))
        return self.ami.redirect(qc.channel, "hotline-transfer", line, 1)

    def hang_up(self, agent_id: str) -> defer.Deferred:
        """End the agent's current call from the desk (the caller's channel is hung up)."""
        session = self.session(agent_id)
        qc = self.calls.get(session.call_id) if session.call_id else None
        if session.state is not AgentState.ON_CALL or qc is None or not qc.channel:
            return defer.fail(RoutingError("routing.not_on_call", "agent is not on a call / 坐席当前没有通话",
                                           agent=agent_id))
        return self.ami.hangup(qc.channel)
