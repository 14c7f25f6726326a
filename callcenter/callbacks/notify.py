"""Notification hooks for callbacks (unreachable citizen, reopened order, 督办).

A hook is any callable ``notify(kind, data)``; the recorder calls it from a
worker thread.  :class:`WebhookNotifier` posts ``{"event": "callback.<kind>",
...data}`` as JSON with treq on the reactor thread; an SMS gateway would be
another callable with the same signature.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from twisted.internet import defer

from ticketing.domain.errors import ValidationFailed

log = logging.getLogger(__name__)


class WebhookNotifier:
    timeout = 10.0  # seconds for one POST; a slow receiver never holds a callback

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
        self.delivered = 0
        self.failed = 0

    def __call__(self, kind: str, data: dict) -> None:
        """Thread-safe: hands the POST to the reactor."""
        self.reactor.callFromThread(self.send, kind, data)

    def send(self, kind: str, data: dict) -> defer.Deferred:
        import treq

        headers = {"Content-Type": ["application/json"]}
        if self.token:
            headers["Authorization"] = [f"Bearer {self.token}"]
        d = treq.post(self.url, json={"event": f"callback.{kind}", **data}, headers=headers,
                      timeout=self.timeout, reactor=self.reactor)
        d.addCallback(self._done, kind)
        d.addErrback(self._failed, kind)
        return d

    def _done(self, response, kind):
        if 200 <= response.code < 300:
            self.delivered += 1
        else:
            self.failed += 1
            log.warning("callback webhook %s: HTTP %s", kind, response.code)
        return treq_drain(response)

    def _failed(self, failure, kind):
        self.failed += 1
        log.warning("callback webhook %s failed: %s", kind, failure.getErrorMessage())


def treq_drain(response):
    import treq

    return treq.content(response).addCallback(lambda _: response.code)
