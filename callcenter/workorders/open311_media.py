"""Fetching a GeoReport ``media_url`` into the order's attachments.

A client that hosts its photo elsewhere sends ``media_url``; the hotline keeps a copy, so the
department sees the photo even after the link dies.  A request must not make the service read
its own internal endpoints, so the host is resolved ONCE and judged by every address it gives:
loopback, private, link-local, shared (100.64/10), multicast, reserved and unspecified
addresses are refused, IPv4 and IPv6 alike (an IPv6 address carrying an IPv4 one — mapped
``::ffff:a.b.c.d``, 6to4, NAT64 — is judged by the IPv4 address).  The POST checks the address
before anything is filed: a refused ``media_url`` is a 400 ``open311.media_refused`` and
nothing is stored (a host that does not resolve at all is no refusal: the request is filed with
its ``media_url`` and no copy is made).  The fetch itself happens after the answer, connecting to the address that
was checked (the ``Host`` header and TLS name stay the URL's), so a name that resolves
elsewhere the second time (DNS rebinding) is never asked again.  It has a time limit for the
whole fetch, the attachment store's size and type rules, and follows at most
:attr:`MediaFetcher.max_redirects` redirects, each target resolved and judged again.

``open311.media_fetch_private`` allows every internal address (tests);
``open311.media_fetch_allow`` allows only the networks it lists (an intranet photo host).
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, wrapClientTLS
from twisted.internet.protocol import Protocol
from twisted.internet.threads import deferToThreadPool
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool, ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from callcenter.errors import HotlineError

log = logging.getLogger(__name__)

REDIRECTS = (301, 302, 303, 307, 308)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SHARED = ipaddress.ip_network("100.64.0.0/10")


class MediaRefused(HotlineError):
    """The URL may not or could not be fetched (the reason is logged; at the POST it is the answer)."""

    error_id = "open311.media_refused"
    http_status = 400


class MediaUnresolved(MediaRefused):
    """The host has no address now: nothing to judge or fetch, but no reason to refuse the request."""

    error_id = "open311.media_unresolved"


def internal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``ip`` is inside a network the hotline must not be made to read from."""
    if ip.version == 6:
        carried = ip.ipv4_mapped or ip.sixtofour or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in NAT64 else None)
        if carried is not None:
            return internal(carried)
        if ip.is_site_local:
            return True
    return (not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified or (ip.version == 4 and ip in SHARED))


@dataclass(frozen=True)
class Target:
    """A URL whose host was resolved and judged: fetch it from ``address`` and nowhere else."""

    url: str
    host: str
    port: int
    address: str


class MediaFetcher:
    """Resolve-and-check (:meth:`check`, blocking) and fetch (:meth:`fetch`, on the reactor)."""

    timeout = 10.0          # seconds for the whole fetch, redirects and body included
    connect_timeout = 5.0   # seconds to open each connection
    max_redirects = 3       # each target resolved and checked again

    def __init__(self, reactor, pool, *, max_bytes: int, allow_private: bool = False, allow=()):
        self.reactor = reactor
        self.pool = pool
        self.max_bytes = max_bytes
        self.allow_private = allow_private
        try:
            self.allow = tuple(ipaddress.ip_network(str(n), strict=False) for n in allow)
        except ValueError as exc:
            from callcenter.config import ConfigError

            raise ConfigError(f"open311.media_fetch_allow: {exc}") from None

    @classmethod
    def from_config(cls, config, reactor, pool, *, max_bytes: int) -> "MediaFetcher":
        allow = config.get("open311.media_fetch_allow") or ()
        if isinstance(allow, str):
            allow = (allow,)
        return cls(reactor, pool, max_bytes=max_bytes, allow_private=bool(config.get("open311.media_fetch_private")),
                   allow=allow)

    def _refused(self, ip) -> bool:
        if self.allow_private or any(ip.version == n.version and ip in n for n in self.allow):
            return False
        return internal(ip)

    def check(self, url: str) -> Target:
        """Resolve ``url``'s host once; :class:`MediaRefused` unless every address it has may be read."""
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise MediaRefused("图片地址端口无效 / media_url has a bad port", parameter="media_url") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MediaRefused("图片地址须为 http(s) 地址 / media_url must be an http(s) URL", parameter="media_url")
        try:
            infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise MediaUnresolved(f"图片地址的主机无法解析 / media_url's host cannot be resolved: {exc}",
                                  parameter="media_url") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))
        for ip in addresses:
            if self._refused(ip):
                log.warning("open311 media_url refused: %s resolves to the internal address %s", parts.hostname, ip)
                raise MediaRefused("图片地址指向内部网络，不予获取 / media_url points inside the hotline's network",
                                   parameter="media_url")
        if not addresses:
            raise MediaUnresolved("图片地址的主机无法解析 / media_url's host cannot be resolved", parameter="media_url")
        return Target(url, parts.hostname, port, str(addresses[0]))

    async def fetch(self, target: Target) -> bytes:
        """The body of ``target`` (200 only), read from its checked address."""
        deadline = self.reactor.seconds() + self.timeout
        for _ in range(self.max_redirects + 1):
            response = await self._get(target, deadline)
            if response.code in REDIRECTS:
                location = (response.headers.getRawHeaders(b"location") or [b""])[0].decode("latin-1")
                response.deliverBody(_Discard())
                if not location:
                    raise MediaRefused(f"HTTP {response.code} without a Location")
                target = await deferToThreadPool(self.reactor, self.pool, self.check, urljoin(target.url, location))
                continue
            if response.code != 200:
                response.deliverBody(_Discard())
                raise MediaRefused(f"HTTP {response.code}")
            length = response.length if isinstance(response.length, int) else None
            if length is not None and length > self.max_bytes:
                response.deliverBody(_Discard())
                raise MediaRefused(f"{length} bytes is over the limit")
            body = _Body(self.max_bytes)
            timer = self.reactor.callLater(max(0.0, deadline - self.reactor.seconds()), body.expire)
            response.deliverBody(body)
            try:
                return await body.finished
            finally:
                if timer.active():
                    timer.cancel()
        raise MediaRefused(f"more than {self.max_redirects} redirects")

    async def _get(self, target: Target, deadline: float):
        import treq

        remaining = deadline - self.reactor.seconds()
        if remaining <= 0:
            raise MediaRefused("time limit reached")
        agent = Agent.usingEndpointFactory(self.reactor, _Pinned(self.reactor, target, self.connect_timeout),
                                           pool=HTTPConnectionPool(self.reactor, persistent=False))
        try:
            return await treq.get(target.url, agent=agent, timeout=remaining, allow_redirects=False,
                                  reactor=self.reactor)
        except defer.CancelledError:
            raise MediaRefused("time limit reached") from None


@implementer(IAgentEndpointFactory)
class _Pinned:
    """Connect to the checked address whatever the URL's name resolves to now."""

    def __init__(self, reactor, target: Target, timeout: float):
        self.reactor = reactor
        self.target = target
        self.timeout = timeout

    def endpointForURI(self, uri):
        endpoint_class = TCP6ClientEndpoint if ":" in self.target.address else TCP4ClientEndpoint
        endpoint = endpoint_class(self.reactor, self.target.address, uri.port, timeout=self.timeout)
        if uri.scheme == b"https":
            endpoint = wrapClientTLS(BrowserLikePolicyForHTTPS().creatorForNetloc(uri.host, uri.port), endpoint)
        return endpoint


class _Body(Protocol):
    """A response body up to ``limit`` bytes; the connection is dropped past it or past the time limit."""

    def __init__(self, limit: int):
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.finished: defer.Deferred = defer.Deferred()

    def _fail(self, reason: str) -> None:
        if not self.finished.called:
            self.finished.errback(MediaRefused(reason))
        if self.transport is not None:
            self.transport.loseConnection()

    def expire(self) -> None:
        self._fail("time limit reached")

    def dataReceived(self, data: bytes) -> None:
        if self.finished.called:
            return
        self.size += len(data)
        if self.size > self.limit:
            self._fail("over the size limit")
            return
        self.chunks.append(data)

    def connectionLost(self, reason=None) -> None:
        if self.finished.called:
            return
        if reason is None or reason.check(ResponseDone, PotentialDataLoss):
            self.finished.callback(b"".join(self.chunks))
        else:
            self.finished.errback(MediaRefused(f"the body was cut off: {reason.getErrorMessage()}"))


class _Discard(Protocol):
    """A body nobody reads: the connection is closed at once."""

    def connectionMade(self) -> None:
        self.transport.loseConnection()

    def connectionLost(self, reason=None) -> None:
        pass


async def keep(deps, number: str, target: Target, fetcher: MediaFetcher, actor) -> int | None:
    """Fetch ``target`` (checked at the POST) and add it to ``number``'s attachments; the attachment
    id, or None (logged: the request stands with its media_url)."""
    from callcenter.attachments.web import store_of
    from callcenter.workorders import open311_store

    store = store_of(deps)
    try:
        data = await fetcher.fetch(target)
        meta = await deps.db(store.add, number, data, target.url.rsplit("/", 1)[-1][:100] or "media",
                             by=actor.user_id, role=actor.role, now=deps.now(), source="open311")
        await deps.db(open311_store.set_attachment, deps.engine, number, meta["id"])
    except Exception as exc:  # noqa: BLE001 - the request stands with its media_url; the copy failed
        log.warning("open311 %s: media_url not kept as an attachment: %s", number, exc)
        return None
    return meta["id"]
