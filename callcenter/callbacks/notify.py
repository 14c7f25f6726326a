"""Webhook notifications for callbacks (unreachable citizen, reopened order, 督办), never dropped.

The recorder writes each notification to the ``callback_webhooks`` outbox in
the transaction of the change (:mod:`callcenter.callbacks.outbox`);
:class:`WebhookDelivery`, a Twisted service, claims due rows and posts them
with :class:`WebhookNotifier`: ``{"event": "callback.<kind>", "event_id": …,
...data}`` as JSON with an ``Idempotency-Key: <event_id>`` header (the same on
every retry, so a receiver counts an event once).  A failure (connection
refused, timeout, 408/429/5xx) is retried after ``base`` seconds, doubling up
to ``max_delay``; after ``max_attempts`` — or at once for an answer that a
retry cannot change (other 3xx/4xx) — the row is dead: counted in
``hotline_webhook_dead_total`` and listed on ``/callbacks`` where a supervisor
can send it again.
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from typing import Callable, NamedTuple
from urllib.parse import urlsplit

from twisted.internet import defer

from callcenter.callbacks import outbox
from callcenter.clock import now_from
from callcenter.delivery import PollingDelivery
from ticketing.domain.errors import ValidationFailed

log = logging.getLogger(__name__)


class Outcome(NamedTuple):
    """One POST: ``ok``; else whether a retry may help, and why it failed."""

    ok: bool
    retry: bool = False
    error: str = ""


class WebhookNotifier:
    """Posts one notification; never raises — the :class:`Outcome` says what happened."""

    timeout = 10.0  # seconds for one POST; a slow receiver never holds the outbox

    def __init__(self, url: str, *, reactor, token: str | None = None):
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c in url for c in "\r\n \0"):
            raise ValidationFailed("回访通知地址无效 / callbacks.webhook_url must be an http(s) URL",
                                   {"webhook_url": (url or "")[:200]})
        if token is not None and any(c in token for c in "\r\n\0"):
            raise ValidationFailed("回访通知令牌无效 / invalid webhook token", {"token": "no control characters"})
        self.url = url
        self.reactor = reactor
        self.token = token

    def post(self, payload: dict, event_id: str) -> defer.Deferred:
        """POST ``payload`` with ``Idempotency-Key: event_id``; fires with an :class:`Outcome`."""
        import treq

        if not event_id.isalnum():  # our own uuid hex; never let anything else into a header
            return defer.succeed(Outcome(False, False, "invalid event id"))
        headers = {"Content-Type": ["application/json"], "Idempotency-Key": [event_id]}
        if self.token:
            headers["Authorization"] = [f"Bearer {self.token}"]
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        d = treq.post(self.url, data=body, headers=headers, timeout=self.timeout, reactor=self.reactor,
                      persistent=False)
        d.addCallback(self._answered)
        d.addErrback(lambda f: Outcome(False, True, f"{f.type.__name__}: {f.getErrorMessage()}"[:300]))
        return d

    def _answered(self, response):
        import treq

        code = response.code
        if 200 <= code < 300:
            outcome = Outcome(True)
        else:
            # the receiver is overloaded or broken right now: worth another try; any other answer
            # (redirect, 4xx) would come back the same
            outcome = Outcome(False, code in (408, 429) or code >= 500, f"HTTP {code}")
        return treq.content(response).addBoth(lambda _: outcome)


class WebhookDelivery(PollingDelivery):
    """Delivers the webhook outbox: claims due rows, posts them, settles them (retry or dead).

    ``clock`` schedules the ticks and gives ``now`` (``task.Clock`` in tests); ``reactor`` runs
    the HTTP client and the thread pool calls.  Rows live in the database, so a fresh delivery
    service (or another process) takes over rows a dead one left ``sending`` after ``lease``."""

    label = "webhook"
    interval = 5.0         # seconds between ticks
    base = 30.0            # seconds before the 2nd attempt; doubled after each further failure
    max_delay = 3600.0     # the spacing never grows beyond an hour
    max_attempts = 8       # then the row is dead (30 s … 1 h: about 2 h of trying)
    lease = 120.0          # a row sending this long (its worker died mid-POST) is claimed again
    batch = 20
    keep_delivered = 7 * 86400.0   # seconds a delivered row is kept (for looking up an event id)
    prune_every = 720      # ticks between prunes (an hour at the default interval)

    def __init__(self, engine, notifier: WebhookNotifier, *, clock, reactor, pool, now: Callable | None = None,
                 worker_id: str | None = None):
        if self.lease <= notifier.timeout:
            raise ValidationFailed("通知租期必须长于超时 / lease must exceed the POST timeout",
                                   {"lease": self.lease, "timeout": notifier.timeout})
        self.engine = engine
        self.notifier = notifier
        self.clock = clock
        self.reactor = reactor
        self.pool = pool
        self.now = now or (lambda: now_from(clock))
        self.worker_id = worker_id or f"webhooks-{uuid.uuid4().hex[:8]}"
        self._ticks = 0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.base * 2 ** (attempt - 1), self.max_delay)

    def _claim(self, now):
        """Blocking: now and then forget old delivered rows, then claim a batch."""
        if self._ticks % self.prune_every == 0:
            outbox.prune(self.engine, now - timedelta(seconds=self.keep_delivered))
        self._ticks += 1
        return outbox.claim_due(self.engine, now, self.worker_id, limit=self.batch, lease=self.lease,
                                max_attempts=self.max_attempts)

    def _deliver_all(self, claimed) -> defer.Deferred:
        rows, dead = claimed
        if dead:
            from callcenter.callbacks.metrics import WEBHOOK_DEAD

            WEBHOOK_DEAD.inc(dead)
        return defer.DeferredList([self._deliver(row) for row in rows], consumeErrors=True)

    def _deliver(self, row: dict) -> defer.Deferred:
        d = self.notifier.post(row["payload"], row["event_id"])
        d.addCallback(lambda outcome: self.blocking(self._settle, row, outcome, self.now()))
        d.addErrback(lambda f: log.error("webhook %s not settled: %s", row["event_id"], f.getErrorMessage()))
        return d

    def _settle(self, row: dict, outcome: Outcome, now) -> str | None:
        if outcome.ok:
            return "delivered" if outbox.delivered(self.engine, row, now) else None
        retry_at = None
        if outcome.retry and row["attempts"] < self.max_attempts:
            retry_at = now + timedelta(seconds=self.delay(row["attempts"]))
        state = outbox.failed(self.engine, row, outcome.error, now, retry_at=retry_at)
        if state == "dead":
            from callcenter.callbacks.metrics import WEBHOOK_DEAD

            WEBHOOK_DEAD.inc()
            log.error("webhook %s (%s) dead after %d attempts: %s", row["event_id"], row["kind"], row["attempts"],
                      outcome.error)
        else:
            log.warning("webhook %s (%s) attempt %d failed: %s", row["event_id"], row["kind"], row["attempts"],
                        outcome.error)
        return state
