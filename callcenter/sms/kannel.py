"""Kannel's HTTP ``sendsms`` interface (smsbox), as a client that never raises.

A message goes as UCS-2 (``coding=2``, ``charset=UTF-8``) so Chinese survives, with
``dlr-mask`` asking for every delivery report and a ``dlr-url`` back to the hotline
(``/sms/dlr?id=…&token=…&type=%d``; Kannel fills ``%d``).  Kannel answers 202 when it
took the message; a refusal that another try cannot change (bad credentials, a number
on its black list, a malformed request: 400/403) ends the message, anything else
(connection refused, time-out, 5xx: bearerbox down or busy) is retried.
"""
from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlencode, urlsplit

from twisted.internet import defer

from callcenter.sms.outbox import DLR_MASK
from callcenter.errors import HotlineError


class SendOutcome(NamedTuple):
    ok: bool
    retry: bool = False
    error: str = ""


class KannelError(HotlineError, ValueError):
    """Kannel settings that cannot work (bad URL)."""

    error_id = "sms.kannel_config"


class KannelClient:
    timeout = 10.0  # seconds for one sendsms request

    def __init__(self, sendsms_url: str, *, username: str, password: str, sender: str, dlr_base: str,
                 reactor, smsc: str | None = None):
        for name, url in (("sms.sendsms_url", sendsms_url), ("sms.callback_url", dlr_base)):
            parts = urlsplit(url or "")
            if parts.scheme not in ("http", "https") or not parts.netloc or any(c in url for c in "\r\n \0"):
                raise KannelError(f"{name} must be an http(s) URL, got {url!r}")
        self.sendsms_url = sendsms_url
        self.username = username
        self.password = password
        self.sender = sender
        self.dlr_base = dlr_base.rstrip("/")
        self.reactor = reactor
        self.smsc = smsc

    def url_for(self, row: dict) -> str:
        dlr = f"{self.dlr_base}/sms/dlr?" + urlencode({"id": row["id"], "token": row["token"]}) + "&type=%d"
        params = {"username": self.username, "password": self.password, "from": self.sender, "to": row["phone"],
                  "text": row["body"], "charset": "UTF-8", "coding": "2", "dlr-mask": str(DLR_MASK),
                  "dlr-url": dlr}
        if self.smsc:
            params["smsc"] = self.smsc
        return self.sendsms_url + "?" + urlencode(params)

    def send(self, row: dict) -> defer.Deferred:
        """Hand one outbox row to Kannel; fires with a :class:`SendOutcome`."""
        import treq

        d = treq.get(self.url_for(row), timeout=self.timeout, reactor=self.reactor, persistent=False)
        d.addCallback(self._answered)
        d.addErrback(lambda f: SendOutcome(False, True, f"{f.type.__name__}: {f.getErrorMessage()}"[:300]))
        return d

    def _answered(self, response):
        import treq

        def decide(body: bytes) -> SendOutcome:
            text = body.decode("utf-8", "replace").strip()[:200]
            if 200 <= response.code < 300:
                return SendOutcome(True)
            return SendOutcome(False, response.code not in (400, 401, 403, 404), f"HTTP {response.code}: {text}")

        return treq.content(response).addCallback(decide)
