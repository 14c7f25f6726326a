"""The SMS service: each tick sweeps orders into the outbox, then delivers what is due.

Modelled on the webhook outbox's delivery: rows live in the database, so another
process (or this one after a restart) takes over rows a dead worker left ``sending``
after ``lease``; failures are retried after ``base`` seconds, doubling up to
``max_delay``, and after ``max_attempts`` the row is dead.  Logs name the message id and
its kind, never the number.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Callable

from twisted.internet import defer

from callcenter.clock import now_from
from callcenter.delivery import PollingDelivery
from callcenter.sms import outbox, policy

log = logging.getLogger(__name__)


class SmsDelivery(PollingDelivery):
    label = "sms"
    interval = 2.0          # seconds between ticks
    base = 30.0             # seconds before the 2nd attempt, doubled after each further failure
    max_delay = 1800.0
    max_attempts = 6
    lease = 60.0            # a row sending this long (its worker died mid-request) is claimed again
    batch = 20
    sweep_window = 6 * 3600.0  # orders changed this recently are checked for owed messages

    def __init__(self, engine, client, *, clock, reactor, pool, quiet: policy.QuietHours,
                 link: Callable[[str, str], str], sign: tuple[str, str] = ("12345热线", "12345 Hotline"),
                 now: Callable | None = None, worker_id: str | None = None, sweep: bool = True):
        if self.lease <= client.timeout:
            raise ValueError("sms lease must exceed the sendsms timeout")
        self.engine = engine
        self.client = client
        self.clock = clock
        self.reactor = reactor
        self.pool = pool
        self.quiet = quiet
        self.link = link
        self.sign = sign
        self.sweep = sweep
        self.now = now or (lambda: now_from(clock))
        self.worker_id = worker_id or f"sms-{uuid.uuid4().hex[:8]}"

    def delay(self, attempt: int) -> float:
        return policy.retry_delay(attempt, self.base, self.max_delay)

    def _claim(self, now):
        if self.sweep:
            added = outbox.sweep(self.engine, now, window=timedelta(seconds=self.sweep_window), link=self.link,
                                 quiet=self.quiet, sign=self.sign)
            if added:
                log.info("sms: %d order notification(s) queued", added)
        rows, counts = outbox.claim_due(self.engine, now, self.worker_id, limit=self.batch, lease=self.lease,
                                        max_attempts=self.max_attempts)
        if counts["suppressed"]:
            from callcenter.sms.metrics import SMS_SUPPRESSED

            SMS_SUPPRESSED.inc(counts["suppressed"])
            log.info("sms: %d notification(s) not sent (numbers opted out)", counts["suppressed"])
        return rows

    def _deliver_all(self, rows) -> defer.Deferred:
        return defer.DeferredList([self._deliver(row) for row in rows], consumeErrors=True)

    def _deliver(self, row: dict) -> defer.Deferred:
        d = self.client.send(row)
        d.addCallback(lambda outcome: self.blocking(self._settle, row, outcome, self.now()))
        d.addErrback(lambda f: log.error("sms %s not settled: %s", row["id"], f.getErrorMessage()))
        return d

    def _settle(self, row: dict, outcome, now) -> str | None:
        from callcenter.sms.metrics import SMS_ATTEMPTS

        if outcome.ok:
            SMS_ATTEMPTS.labels(row["kind"], "sent").inc()
            return "sent" if outbox.accepted(self.engine, row, now) else None
        retry_at = None
        if outcome.retry and row["attempts"] < self.max_attempts:
            retry_at = now + timedelta(seconds=self.delay(row["attempts"]))
        state = outbox.failed(self.engine, row, outcome.error, now, retry_at=retry_at)
        SMS_ATTEMPTS.labels(row["kind"], state or "lost").inc()
        level = logging.ERROR if state == "dead" else logging.WARNING
        log.log(level, "sms %s (%s) attempt %d failed (%s): %s", row["id"], row["kind"], row["attempts"],
                state, outcome.error.replace(row["phone"], "***"))
        return state
