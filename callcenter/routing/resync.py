"""After a reconnect or a lost event: ask Asterisk which channels exist and settle the calls whose
end (or bridge) the ACD missed.  Part of :class:`callcenter.routing.acd.QueueController`.
"""
from __future__ import annotations

import logging

from twisted.internet import defer

from callcenter.routing.queued import CallState

log = logging.getLogger("callcenter.routing.acd")


class Resync:
    """CoreShowChannels → settled calls (a part of the queue controller)."""

    @defer.inlineCallbacks
    def resync(self):
        """Ask Asterisk which channels exist and settle calls whose end we missed."""
        try:
            result = yield self.ami.send("CoreShowChannels")
        except Exception as exc:
            log.warning("ACD resync failed", extra={"fields": {"error": str(exc)}})
            return None
        live = {m.get("Channel"): m.get("BridgeId") or "" for m in result.events}
        return self.reconcile(live)

    def reconcile(self, live) -> int:
        """Treat calls and agent legs missing from ``live`` (channel names, or channel → BridgeId
        as CoreShowChannels reports) as hung up; an answered call whose two legs share a bridge is
        connected.  Returns how many calls were settled."""
        settled = 0
        now = self._now()
        bridges = live if isinstance(live, dict) else {}
        for qc in list(self.calls.values()):
            if qc.state is CallState.ANSWERED:
                if qc.channel not in live:
                    self._by_channel.pop(qc.channel, None)
                    self._caller_gone(qc)
                elif qc.agent_channel not in live:
                    self._bridge_failed(qc)
                elif bridges.get(qc.channel) and bridges.get(qc.channel) == bridges.get(qc.agent_channel):
                    qc.caller_bridge = qc.agent_bridge = bridges[qc.channel]
                    self._connected(qc)
                else:
                    continue
                settled += 1
                continue
            if qc.agent_channel and qc.agent_channel not in live and qc.state is CallState.CONNECTED:
                self._by_agent_channel.pop(qc.agent_channel, None)
                self._agent_leg_ended(qc, now)
                settled += 1
            if qc.channel is None or qc.channel in live:
                continue
            if qc.state in (CallState.WAITING, CallState.RINGING, CallState.RETURNING):
                self._by_channel.pop(qc.channel, None)
                self._caller_gone(qc)
                settled += 1
            elif qc.state in (CallState.CONNECTED, CallState.ENDED):
                self._by_channel.pop(qc.channel, None)
                self._agent_leg_ended(qc, now)
                self.calls.pop(qc.call_id, None)
                settled += 1
        if settled:
            log.info("ACD resynchronised", extra={"fields": {"settled": settled}})
        return settled
