"""The loop shared by the database outboxes that deliver something outward (webhooks, SMS).

Every ``interval`` seconds on ``clock`` one tick runs: :meth:`_claim` (blocking,
in the thread pool: sweep and claim a batch of due rows) and then
:meth:`_deliver_all` (on the reactor: send them and settle each one).  Only one
tick runs at a time; stopping the service waits for the tick in progress.  Rows
live in the database, so another process (or this one after a restart) takes
over a row a dead worker left half-sent once its lease has passed — that part
belongs to each outbox.
"""
from __future__ import annotations

import logging

from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.internet.threads import deferToThreadPool

log = logging.getLogger(__name__)


class PollingDelivery(Service):
    """Subclasses set ``clock``, ``reactor``, ``pool`` and ``interval`` and implement ``_claim(now)`` and
    ``_deliver_all(rows)``; ``label`` names the loop in logs."""

    interval = 5.0
    label = "delivery"
    _loop: task.LoopingCall | None = None
    _tick_d: defer.Deferred | None = None

    def blocking(self, fn, *args, **kw) -> defer.Deferred:
        return deferToThreadPool(self.reactor, self.pool, fn, *args, **kw)

    def startService(self):
        super().startService()
        self._loop = task.LoopingCall(self.tick)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=True).addErrback(
            lambda f: log.error("%s loop died: %s", self.label, f))

    def stopService(self):
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        # an unfinished send is left in flight: its lease hands it to the next worker
        return self._tick_d if self._tick_d is not None else defer.succeed(None)

    def tick(self) -> defer.Deferred | None:
        """Claim and deliver one batch; the Deferred fires when every claimed row is settled (None while a
        tick is still running)."""
        if self._tick_d is not None:
            return None
        d = self.blocking(self._claim, self.now())
        d.addCallback(self._deliver_all)
        d.addErrback(lambda f: log.error("%s tick failed: %s", self.label, f.getTraceback()))

        def done(result):
            self._tick_d = None
            return result
        self._tick_d = d
        return d.addBoth(done)

    def _claim(self, now):  # pragma: no cover - abstract
        raise NotImplementedError

    def _deliver_all(self, rows):  # pragma: no cover - abstract
        raise NotImplementedError
