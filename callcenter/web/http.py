"""The HTTP request and site: body-size limit, security headers, metrics, proxies.

Limits live here, once, rather than in every handler: a body larger than
``Site.max_body`` is discarded while it streams in and answered with a JSON
413 before any resource sees it, so no handler can be handed a huge upload.

Behind a reverse proxy the TCP peer is the proxy.  :func:`apply_forwarding`
(called once per request by the app's root resource) honours
``X-Forwarded-For`` and ``X-Forwarded-Proto`` only when that peer is inside
``web.trusted_proxies``; from anyone else they are ignored, so a client cannot
choose its own address (and escape the log-in throttle) or claim HTTPS.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import time
from typing import Iterable

from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol
from twisted.web.server import Request, Site

from callcenter.config import ConfigError
from callcenter.metrics import HTTP_LATENCY, HTTP_REQUESTS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

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


def parse_networks(values: Iterable[str] | str | None, key: str = "web.trusted_proxies") -> tuple[Network, ...]:
    """CIDRs (or single addresses) from configuration; a bad entry stops start-up with the key named."""
    if not values:
        return ()
    if isinstance(values, str):
        values = [part.strip() for part in values.split(",") if part.strip()]
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise ConfigError(f"{key}: {value!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


def parse_ip(text: str | bytes | None) -> Address | None:
    """An address from a peer or header hop ("1.2.3.4", "1.2.3.4:80", "[::1]:80", "::1"), else None.

    IPv4-mapped IPv6 addresses (a dual-stack socket's view of IPv4 peers) become plain IPv4.
    """
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # IPv4 with a port; bare IPv6 has two or more colons
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: Address | None, networks: tuple[Network, ...]) -> bool:
    return ip is not None and any(ip.version == net.version and ip in net for net in networks)


def forwarded_client(peer: str, forwarded_for: list[bytes] | None, networks: tuple[Network, ...]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy.

    Then ``X-Forwarded-For`` is read from the right (each proxy appends the
    address it was talking to): trusted hops are skipped and the first
    untrusted one is the client.  Anything left of it was written by the
    client and is ignored.  A hop that is not an address ends the walk at the
    last trusted hop, which is then the best we know.
    """
    peer_ip = parse_ip(peer)
    if not _trusted(peer_ip, networks) or not forwarded_for:
        return str(peer_ip) if peer_ip is not None else peer
    hops = [hop for value in forwarded_for for hop in value.split(b",") if hop.strip()]
    client = peer_ip
    for hop in reversed(hops):
        ip = parse_ip(hop)
        if ip is None:
            break
        client = ip
        if not _trusted(ip, networks):
            break
    return str(client)


def forwarded_secure(peer: str, forwarded_proto: list[bytes] | None, networks: tuple[Network, ...]) -> bool:
    """True when a trusted proxy says the client spoke HTTPS to it.

    Only the right-most value counts: it is what the proxy next to us asserted.
    """
    if not forwarded_proto or not _trusted(parse_ip(peer), networks):
        return False
    values = [v.strip().lower() for value in forwarded_proto for v in value.split(b",") if v.strip()]
    return bool(values) and values[-1] == b"https"


def relay_token(secret: bytes | None) -> str:
    """What ``X-Hotline-Relay`` carries: proof that a relayed request comes from a process with our key."""
    return hmac.new(secret or b"", b"hotline-calls-relay", hashlib.sha256).hexdigest()


def accept_relayed(request, secret: bytes | None) -> bool:
    """On the leader: a request relayed by another web process of ours takes the browser's address and
    scheme from the relay's headers (they were weighed against ``web.trusted_proxies`` there)."""
    headers = request.requestHeaders
    token = (headers.getRawHeaders(b"x-hotline-relay") or [b""])[0]
    if not secret or not hmac.compare_digest(token, relay_token(secret).encode("ascii")):
        return False
    client = (headers.getRawHeaders(b"x-hotline-relay-client") or [b""])[0].decode("ascii", "replace")[:64]
    if client:
        request.hotline_client = client
    request.hotline_https = (headers.getRawHeaders(b"x-hotline-relay-https") or [b""])[0] == b"1"
    request.hotline_relayed = True
    return True


def apply_forwarding(request, networks: tuple[Network, ...]) -> None:
    """Record the client address and scheme on ``request`` (``hotline_client``, ``hotline_https``)."""
    peer = getattr(request.getClientAddress(), "host", None) or ""
    headers = request.requestHeaders
    request.hotline_client = forwarded_client(peer, headers.getRawHeaders(b"x-forwarded-for"), networks)
    request.hotline_https = forwarded_secure(peer, headers.getRawHeaders(b"x-forwarded-proto"), networks)


def client_address(request) -> str:
    """The client's address as :func:`apply_forwarding` found it (the TCP peer before that)."""
    found = getattr(request, "hotline_client", None)
    if found:
        return found
    return getattr(request.getClientAddress(), "host", None) or "unknown"


class HotlineRequest(Request):
    """A request that refuses oversized bodies and always carries security headers."""

    body_too_large = False
    _body_seen = 0
    hotline_https = False  # set by apply_forwarding when a trusted proxy terminated TLS

    def isSecure(self):
        """Secure on a TLS transport, or when a trusted proxy says the client used HTTPS.

        Cookies then get ``Secure`` and the same-origin check expects ``https://``.
        """
        return bool(self.hotline_https) or super().isSecure()

    def gotLength(self, length):
        self._body_limit = self.channel.site.body_limit(getattr(self.channel, "_path", b""))
        limit = self._body_limit
        if length is not None and length > limit:
            self.body_too_large = True
            length = 0
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.body_too_large:
            return
        self._body_seen += len(data)
        if self._body_seen > getattr(self, "_body_limit", self.channel.site.max_body):
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
            limit = getattr(self, "_body_limit", self.site.max_body)
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
        route = getattr(self, "hotline_route", None) or UNMATCHED_ROUTE
        started = getattr(self, "_started", None)
        result = super().finish()
        HTTP_REQUESTS.labels(route_area(route), route, metric_method(self.method), str(self.code)).inc()
        if started is not None:
            HTTP_LATENCY.labels(route_area(route)).observe(time.monotonic() - started)
        return result


UNMATCHED_ROUTE = "unmatched"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def metric_method(method: bytes | None) -> str:
    """The request method as a metric label: one of the HTTP methods, else ``other`` (bounded)."""
    text = (method or b"").decode("ascii", "replace").upper()
    return text if text in KNOWN_METHODS else "other"


def route_area(route: str) -> str:
    """The first segment of a route template (``/api/v1/workorders/<id>`` → ``api``), ``root`` for ``/``.

    Templates come from the router, never from the request, so this is as bounded as the routes.
    """
    if route == UNMATCHED_ROUTE:
        return UNMATCHED_ROUTE
    first = route.lstrip("/").split("/", 1)[0]
    return first or "root"


class HotlineChannel(HTTPChannel):
    """An HTTP channel that gives a client ``site.request_read_seconds`` to send a whole request.

    Twisted's own time-out is an *idle* time-out, reset by every byte: a client
    sending a header line every few seconds (or a body byte by byte) would hold
    the connection for hours.  Here the clock starts at the first byte of a
    request and stops when its body is complete; past it the client gets a 408
    and the connection is closed (aborted if it will not close).  Once the
    request is being handled (a long page, a server-sent-event stream) no read
    deadline applies.
    """

    _read_deadline = None

    def connectionMade(self):
        super().connectionMade()
        self.site.connection_opened()

    def dataReceived(self, data):
        if self._read_deadline is None and not self._handlingRequest:
            self._read_deadline = self.callLater(self.site.request_read_seconds, self._read_too_slow)
        super().dataReceived(data)

    def allContentReceived(self):
        self._cancel_read_deadline()
        super().allContentReceived()

    def connectionLost(self, reason):
        self._cancel_read_deadline()
        self.site.connection_closed()
        super().connectionLost(reason)

    def _cancel_read_deadline(self):
        if self._read_deadline is not None:
            if self._read_deadline.active():
                self._read_deadline.cancel()
            self._read_deadline = None

    def _read_too_slow(self):
        self._read_deadline = None
        body = json.dumps({"error_id": "http.request_timeout",
                           "message": "request not received in time / 请求接收超时",
                           "details": {"seconds": self.site.request_read_seconds}}).encode()
        self.transport.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json; charset=utf-8\r\n"
                             b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.timeoutConnection()


class HotlineSite(Site):
    """A Site with the request limits as attributes (set from configuration).

    - ``max_body``: larger request bodies get 413 (see :class:`HotlineRequest`); uploads to
      ``upload_paths`` may send up to ``upload_max_body``;
    - ``request_read_seconds``: a whole request (headers and body) must arrive within this (408 otherwise);
    - ``idle_seconds``: a kept-alive connection with no request in flight is closed after this;
    - ``max_connections``: connections beyond this are closed at once, so slow or idle clients cannot use
      up the process's file descriptors.
    """

    requestFactory = HotlineRequest
    max_body = 256 * 1024
    request_read_seconds = 20.0
    idle_seconds = 60.0
    max_connections = 2000
    displayTracebacks = False

    def __init__(self, resource, *, max_body: int | None = None, reactor=None,
                 request_read_seconds: float | None = None, idle_seconds: float | None = None,
                 max_connections: int | None = None, **kwargs):
        if reactor is not None:
            kwargs["reactor"] = reactor
        super().__init__(resource, **kwargs)
        if max_body is not None:
            self.max_body = max_body
        if request_read_seconds is not None:
            self.request_read_seconds = float(request_read_seconds)
        if idle_seconds is not None:
            self.idle_seconds = float(idle_seconds)
        if max_connections is not None:
            self.max_connections = int(max_connections)
        self.timeOut = self.idle_seconds
        self.upload_paths: list = []  # compiled byte patterns of upload URLs allowed upload_max_body
        self.upload_max_body = self.max_body
        self.open_connections = 0
        self.refused_connections = 0
        self.noisy = False

    def body_limit(self, path: bytes) -> int:
        """The most body bytes a request to ``path`` may send (uploads may send more)."""
        if any(p.match(path or b"") for p in self.upload_paths):
            return max(self.upload_max_body, self.max_body)
        return self.max_body

    def protocol(self):
        return _GenericHTTPChannelProtocol(HotlineChannel())

    def buildProtocol(self, addr):
        if self.open_connections >= self.max_connections:
            self.refused_connections += 1
            return None  # the reactor closes the socket at once
        return super().buildProtocol(addr)

    def connection_opened(self) -> None:
        self.open_connections += 1

    def connection_closed(self) -> None:
        self.open_connections -= 1
