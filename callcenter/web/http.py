"""The HTTP request and site: body-size limit, security headers, metrics.

Limits live here, once, rather than in every handler: a body larger than
``Site.max_body`` is discarded while it streams in and answered with a JSON
413 before any resource sees it, so no handler can be handed a huge upload.
"""
from __future__ import annotations

import json
import time

from twisted.web.server import Request, Site

from callcenter.metrics import HTTP_LATENCY, HTTP_REQUESTS

SECURITY_HEADERS = {
    b"Content-Security-Policy": (
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    b"X-Content-Type-Options": b"nosniff",
    b"X-Frame-Options": b"DENY",
    b"Referrer-Policy": b"same-origin",
    b"Cross-Origin-Opener-Policy": b"same-origin",
}


class HotlineRequest(Request):
    """A request that refuses oversized bodies and always carries security headers."""

    body_too_large = False
    _body_seen = 0

    def gotLength(self, length):
        limit = self.channel.site.max_body
        if length is not None and length > limit:
            self.body_too_large = True
            length = 0
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.body_too_large:
            return
        self._body_seen += len(data)
        if self._body_seen > self.channel.site.max_body:
            self.body_too_large = True
            self.content.seek(0)
            self.content.truncate()
            return
        super().handleContentChunk(data)

    def process(self):
        self._started = time.monotonic()
        for name, value in SECURITY_HEADERS.items():
            self.setHeader(name, value)
        self.setHeader(b"Server", b"hotline")
        if self.body_too_large:
            self.site = self.channel.site
            limit = self.site.max_body
            body = json.dumps({
                "error_id": "http.body_too_large",
                "message": f"request body exceeds {limit} bytes / 请求内容过大",
                "details": {"max_bytes": limit},
            }).encode()
            self.setResponseCode(413)
            self.setHeader(b"Content-Type", b"application/json; charset=utf-8")
            self.setHeader(b"Connection", b"close")
            self.write(body)
            self.finish()
            return
        super().process()

    def finish(self):
        area = _area(self.path)
        started = getattr(self, "_started", None)
        result = super().finish()
        HTTP_REQUESTS.labels(area, self.method.decode("ascii", "replace")[:10], str(self.code)).inc()
        if started is not None:
            HTTP_LATENCY.labels(area).observe(time.monotonic() - started)
        return result


def _area(path: bytes) -> str:
    """The first path segment, bounded to a known shape (keeps label cardinality low)."""
    first = path.split(b"?", 1)[0].lstrip(b"/").split(b"/", 1)[0]
    text = first.decode("ascii", "replace")
    return text if text.isidentifier() and len(text) <= 20 else "other"


class HotlineSite(Site):
    """A Site with the request limits as attributes (set from configuration)."""

    requestFactory = HotlineRequest
    max_body = 256 * 1024
    displayTracebacks = False

    def __init__(self, resource, *, max_body: int | None = None, reactor=None, **kwargs):
        if reactor is not None:
            kwargs["reactor"] = reactor
        super().__init__(resource, **kwargs)
        if max_body is not None:
            self.max_body = max_body
        self.noisy = False
