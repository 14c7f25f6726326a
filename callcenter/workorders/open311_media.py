"""Fetching a GeoReport ``media_url`` into the order's attachments.

A client that hosts its photo elsewhere sends ``media_url``; the hotline keeps a copy, so the
department sees the photo even after the link dies.  The fetch happens after the POST is
answered (the URL is stored either way), with a time-out and the attachment store's size and
type rules.  Addresses inside the hotline's network (loopback, private, link-local, reserved)
are refused unless ``open311.media_fetch_private`` is on — a request must not make the service
read its own internal endpoints.  Redirects are not followed.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from urllib.parse import urlsplit

from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool

from callcenter.errors import HotlineError

log = logging.getLogger(__name__)


class MediaRefused(HotlineError):
    """The URL may not or could not be fetched (the reason is logged; the request stands)."""

    error_id = "open311.media_refused"


def check_host(url: str, *, allow_private: bool) -> None:
    """Refuse URLs whose host resolves to an internal address (blocking: it resolves the name)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MediaRefused("not an http(s) URL")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except OSError as exc:
        raise MediaRefused(f"cannot resolve the host: {exc}") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if not allow_private and (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
                                  or ip.is_multicast or ip.is_unspecified):
            raise MediaRefused(f"internal address {ip}")


async def fetch(url: str, *, reactor, pool, max_bytes: int, allow_private: bool, timeout: float = 10.0) -> bytes:
    import treq

    await deferToThreadPool(reactor, pool, check_host, url, allow_private=allow_private)
    response = await treq.get(url, timeout=timeout, reactor=reactor, allow_redirects=False, persistent=False)
    if response.code != 200:
        await treq.content(response)
        raise MediaRefused(f"HTTP {response.code}")
    length = response.length if isinstance(response.length, int) else None
    if length is not None and length > max_bytes:
        response.deliverBody(_Discard())
        raise MediaRefused(f"{length} bytes is over the limit")
    chunks: list[bytes] = []
    size = 0
    done = defer.Deferred()

    def collect(data: bytes):
        nonlocal size
        size += len(data)
        if size > max_bytes:
            raise MediaRefused("over the size limit")
        chunks.append(data)

    d = treq.collect(response, collect)
    d.chainDeferred(done)
    await done
    return b"".join(chunks)


class _Discard:
    def __getattr__(self, name):
        return lambda *a, **k: None


async def keep(deps, number: str, url: str, actor) -> int | None:
    """Fetch ``url`` and add it to ``number``'s attachments; the attachment id, or None (logged)."""
    from callcenter.attachments.web import store_of
    from callcenter.workorders import open311_store

    store = store_of(deps)
    try:
        data = await fetch(url, reactor=deps.reactor, pool=deps.pool, max_bytes=store.max_bytes,
                           allow_private=bool(deps.config.get("open311.media_fetch_private", False)))
        meta = await deps.db(store.add, number, data, url.rsplit("/", 1)[-1][:100] or "media", by=actor.user_id,
                             role=actor.role, now=deps.now(), source="open311")
        await deps.db(open311_store.set_attachment, deps.engine, number, meta["id"])
    except Exception as exc:  # noqa: BLE001 - the request stands with its media_url; the copy failed
        log.warning("open311 %s: media_url not kept as an attachment: %s", number, exc)
        return None
    return meta["id"]
