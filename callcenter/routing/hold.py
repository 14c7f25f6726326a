"""Holding a caller: position and wait announcements, hold music, and the offer of a callback.

The ACD's callers wait inside their AsyncAGI session; this room plays to them with AGI commands
until the call leaves the queue (an agent is rung, the caller hangs up or takes the callback
offer).  Part of :class:`callcenter.routing.acd.QueueController`.
"""
from __future__ import annotations

import logging

from twisted.internet import defer

from callcenter.routing.announce import announcement, prompt_file
from callcenter.routing.queued import CallState, QueuedCall

log = logging.getLogger("callcenter.routing.acd")


class Hold:
    """Hold and announcements (a part of the queue controller; uses its ``ami``, ``router``,
    ``moh_class``, ``sounds_dir`` and the in-queue callbacks' ``_book_callback``)."""

    def _start_hold(self, qc: QueuedCall) -> None:
        if qc.channel is None:
            return
        token = qc.hold_token = object()
        self._hold(qc, token)

    @defer.inlineCallbacks
    def _hold(self, qc: QueuedCall, token):
        """Announcements and hold music until the call leaves the queue."""
        def holding():
            return qc.hold_token is token and qc.state is CallState.WAITING

        rules = self.router.queue(qc.caller.queue)
        try:
            while holding():
                commands = announcement(self.router.position(qc.call_id), self.router.estimated_wait(qc.call_id),
                                        first=not qc.announced, lang=qc.language, sounds_dir=self.sounds_dir)
                qc.announced = True
                for command in commands:
                    if not holding():
                        return
                    yield self.ami.agi(qc.channel, command)
                if holding() and qc.offer_callback and qc.caller.number:
                    qc.offer_callback = False
                    result = yield self.ami.agi(qc.channel, f"GET DATA {self._prompt('queue_callback_offer', qc)} 5000 1")
                    if holding() and (result.result or "").strip() == "1":
                        booked = yield self._book_callback(qc)
                        prompt = "queue_callback_booked" if booked else "queue_callback_exists"
                        yield self.ami.agi(qc.channel, f'STREAM FILE {self._prompt(prompt, qc)} ""')
                        if booked:
                            channel, qc.channel = qc.channel, None
                            self._by_channel.pop(channel, None)
                            yield self.ami.agi(channel, "HANGUP")
                            return
                if not holding():
                    return
                rules = self.router.queue(qc.caller.queue)
                yield self.ami.agi(qc.channel, f"EXEC MusicOnHold {self.moh_class},{int(rules.announce_every)}")
        except Exception as exc:
            # The channel left AsyncAGI (redirected to an agent) or hung up.
            log.debug("hold ended", extra={"fields": {"call": qc.call_id, "reason": str(exc)}})

    def _prompt(self, name: str, qc: QueuedCall) -> str:
        return prompt_file(name, qc.language, self.sounds_dir)
