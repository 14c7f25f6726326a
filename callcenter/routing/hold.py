"""Holding a caller: position and wait announcements, hold music, and the offer of a callback.

The ACD's callers wait inside their AsyncAGI session; this room plays to them with AGI commands
until the call leaves the queue (an agent is rung, the caller hangs up or takes the callback
offer).  Part of :class:`callcenter.routing.acd.QueueController`.

No caller is left in silence.  On real Asterisk a ``STREAM FILE`` of a sound that does not exist
answers ``200 result=-1 endpos=0`` and *ends the AsyncAGI session* (res_agi); the dialplan then
starts the next ``AGI(agi:async,requeue)``.  So:

- a prompt is played only if its file exists in the controller's view of the prompts
  (``prompts_dir``); one that is missing, or that Asterisk failed to play, is logged at WARNING
  with the call id and not tried again for that call -- hold goes on with the music;
- whenever a waiting caller's AsyncAGI session starts again (``requeue`` for a call already
  waiting), the hold loop starts again in the new session (:meth:`Hold._resume_hold`).
"""
from __future__ import annotations

import logging
from pathlib import Path

from twisted.internet import defer, task

from callcenter.routing.announce import announcement, prompt_file
from callcenter.routing.queued import CallState, QueuedCall

log = logging.getLogger("callcenter.routing.acd")


def _streamed(command: str) -> str | None:
    """The sound of a ``STREAM FILE`` command (None for other commands)."""
    if not command.startswith("STREAM FILE "):
        return None
    return command[len("STREAM FILE "):].rsplit(" ", 1)[0]


class Hold:
    """Hold and announcements (a part of the queue controller; uses its ``ami``, ``router``, ``clock``,
    ``moh_class``, ``sounds_dir`` (Asterisk's name of the prompts), ``prompts_dir`` (this process's
    view of them) and the in-queue callbacks' ``_book_callback``)."""

    #: hold music that returns sooner than this (seconds) did not play (no such class, no files):
    #: the loop waits ``announce_every`` before announcing again instead of spinning
    moh_min_seconds = 1.0

    def _start_hold(self, qc: QueuedCall) -> None:
        if qc.channel is None:
            return
        token = qc.hold_token = object()
        self._hold(qc, token)

    def _resume_hold(self, qc: QueuedCall, channel: str) -> None:
        """A waiting caller's AsyncAGI session started again (a prompt failed, or the dialplan came
        back to ``requeue``): the old loop's session is gone, so hold starts over in the new one."""
        if qc.channel != channel:
            self._by_channel.pop(qc.channel, None)
            qc.channel = channel
            self._by_channel[channel] = qc
        log.info("hold resumed in a new AGI session", extra={"fields": {"call": qc.call_id}})
        self._start_hold(qc)

    def _playable(self, sound: str, qc: QueuedCall) -> bool:
        """Whether Asterisk can play ``sound`` (``<sounds_dir>/queue/<lang>/<name>``), judged from
        this process's view of the prompts; a missing one is reported once per call."""
        if sound in qc.failed_sounds:
            return False
        prompts_dir = getattr(self, "prompts_dir", None)
        if prompts_dir is None:
            return True
        prefix = f"{self.sounds_dir.rstrip('/')}/" if self.sounds_dir else ""
        relative = sound[len(prefix):] if prefix and sound.startswith(prefix) else sound
        if (Path(prompts_dir) / f"{relative}.wav").is_file():
            return True
        self._playback_failed(qc, sound, "sound file missing (callcenter ivr prompts build)")
        return False

    def _playback_failed(self, qc: QueuedCall, sound: str, why: str) -> None:
        qc.failed_sounds.add(sound)
        log.warning("hold prompt not played; hold continues with music",
                    extra={"fields": {"call": qc.call_id, "sound": sound, "reason": why}})

    @defer.inlineCallbacks
    def _hold(self, qc: QueuedCall, token):
        """Announcements and hold music until the call leaves the queue."""
        def holding():
            return qc.hold_token is token and qc.state is CallState.WAITING

        rules = self.router.queue(qc.caller.queue)
        try:
            asked = self.__dict__.get("_ask_language", set())
            if qc.call_id in asked and holding():
                # taken over from the dialplan (restart, a broken IVR session): the caller's language
                # is HOTLINE_LANG on the channel, not agi_language (Asterisk's default "en")
                asked.discard(qc.call_id)
                chosen = yield self.ami.agi(qc.channel, "GET FULL VARIABLE ${HOTLINE_LANG}")
                if (chosen.data or "") in ("zh", "en"):
                    qc.language = chosen.data
            while holding():
                commands = announcement(self.router.position(qc.call_id), self.router.estimated_wait(qc.call_id),
                                        first=not qc.announced, lang=qc.language, sounds_dir=self.sounds_dir)
                qc.announced = True
                for command in commands:
                    sound = _streamed(command)
                    if sound is not None and not self._playable(sound, qc):
                        continue
                    if not holding():
                        return
                    result = yield self.ami.agi(qc.channel, command)
                    if sound is not None and (result.result or "").strip() == "-1":
                        # res_agi ends this AsyncAGI session now.  endpos=0: the file did not open (the
                        # next session resumes the hold, without it); endpos>0: the caller hung up mid-way.
                        if not result.endpos:
                            self._playback_failed(qc, sound, "Asterisk could not play it (STREAM FILE result=-1)")
                        return
                offer = self._prompt("queue_callback_offer", qc)
                if holding() and qc.offer_callback and qc.caller.number and self._playable(offer, qc):
                    qc.offer_callback = False
                    result = yield self.ami.agi(qc.channel, f"GET DATA {offer} 5000 1")
                    if (result.result or "").strip() == "-1":
                        self._playback_failed(qc, offer, "Asterisk could not play it (GET DATA result=-1)")
                    elif holding() and (result.result or "").strip() == "1":
                        booked = yield self._book_callback(qc)
                        prompt = self._prompt("queue_callback_booked" if booked else "queue_callback_exists", qc)
                        if self._playable(prompt, qc):
                            yield self.ami.agi(qc.channel, f'STREAM FILE {prompt} ""')
                        if booked:
                            channel, qc.channel = qc.channel, None
                            self._by_channel.pop(channel, None)
                            yield self.ami.agi(channel, "HANGUP")
                            return
                if not holding():
                    return
                rules = self.router.queue(qc.caller.queue)
                started = self.clock.seconds()
                yield self.ami.agi(qc.channel, f"EXEC MusicOnHold {self.moh_class},{self._music_seconds(qc, rules)}")
                if holding() and self.clock.seconds() - started < self.moh_min_seconds:
                    log.warning("hold music did not play (music class %s)", self.moh_class,
                                extra={"fields": {"call": qc.call_id}})
                    yield task.deferLater(self.clock, float(rules.announce_every), lambda: None)
        except Exception as exc:
            # The channel left AsyncAGI (redirected to an agent, or its session ended) or hung up.
            log.debug("hold ended", extra={"fields": {"call": qc.call_id, "reason": str(exc)}})

    def _music_seconds(self, qc: QueuedCall, rules) -> int:
        """Music until the next announcement -- or, when the callback offer falls due sooner
        (``max_wait`` of a queue without overflow), just past it: a key pressed during the
        music is not heard, so the offer must not wait a whole announcement cycle."""
        seconds = int(rules.announce_every)
        joined = qc.caller.joined_at or qc.caller.enqueued_at
        if rules.max_wait and not rules.overflow_to and qc.caller.number and not qc.caller.callback and joined:
            left = rules.max_wait - (self._now() - joined).total_seconds()
            if left > -1.0:
                seconds = min(seconds, max(2, int(left) + 2))   # the router's tick marks the offer within 1 s
        return seconds

    def _prompt(self, name: str, qc: QueuedCall) -> str:
        return prompt_file(name, qc.language, self.sounds_dir)
