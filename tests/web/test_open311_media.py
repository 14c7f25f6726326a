"""Open311 ``media_url``: the host is resolved once and judged, internal addresses (IPv4, IPv6,
IPv4-mapped) are a 400 with nothing filed, the photo is read from the address that was checked
(DNS rebinding gets nowhere), and redirects, size and time are limited.  Real photo servers on
loopback addresses (127.0.0.2 plays the public host; ``open311.media_fetch_allow`` lets it in)."""
from __future__ import annotations

import socket
from datetime import datetime, timezone

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.web import resource, server

from callcenter.workorders.open311_media import MediaFetcher, MediaRefused
from tests.citizen.helpers import photo_png

BASE = "/open311/v2"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PUBLIC = "127.0.0.2"          # the photo host the tests treat as public
PHOTO, SECRET = photo_png((20, 120, 200)), photo_png((0, 0, 0))


class PhotoHost(resource.Resource):
    """Serves ``photos`` by path; ``redirects`` answer 302 to their target; records each request."""

    isLeaf = True

    def __init__(self, photos: dict[bytes, bytes], redirects: dict[bytes, str] | None = None):
        super().__init__()
        self.photos, self.redirects = photos, redirects or {}
        self.seen: list[tuple[bytes, bytes | None]] = []

    def render_GET(self, request):
        self.seen.append((request.path, request.getHeader(b"host")))
        if request.path in self.redirects:
            request.setResponseCode(302)
            request.setHeader(b"location", self.redirects[request.path].encode())
            return b""
        if request.path == b"/silent.png":
            return server.NOT_DONE_YET     # never answers
        if request.path == b"/slow.png":
            request.setHeader(b"content-type", b"image/png")
            request.write(PHOTO[:16])      # starts the body, never finishes it
            return server.NOT_DONE_YET
        if request.path == b"/big.png":
            request.write(PHOTO)
            request.write(b"\0" * (11 * 1024 * 1024))   # over the store's 10 MiB
            request.finish()
            return server.NOT_DONE_YET
        if request.path not in self.photos:
            request.setResponseCode(404)
            return b""
        request.setHeader(b"content-type", b"image/png")
        return self.photos[request.path]


@pytest.fixture
def hosts():
    """A "public" photo host on 127.0.0.2 and an internal one on 127.0.0.1, each on its own port."""
    from twisted.internet import reactor

    inside = PhotoHost({b"/secret.png": SECRET})
    inside_port = reactor.listenTCP(0, server.Site(inside), interface="127.0.0.1")
    public = PhotoHost({b"/photo.png": PHOTO})
    public_port = reactor.listenTCP(0, server.Site(public), interface=PUBLIC)
    public.base = f"http://{PUBLIC}:{public_port.getHost().port}"
    inside.base = f"http://127.0.0.1:{inside_port.getHost().port}"
    public.redirects = {b"/hop": "/photo.png", b"/inside": inside.base + "/secret.png", b"/loop": "/loop"}
    yield public, inside
    inside_port.stopListening()
    public_port.stopListening()


def _key(web) -> str:
    user = web.add_user("civicapp", "agent")
    return web.deps.auth.issue_token(user, datetime.now(timezone.utc), kind="open311", name="civic app")


async def _post(web, key, media_url):
    client = web.client(origin=False)
    posted = await client.post(f"{BASE}/requests.json", headers=FORM, data={
        "api_key": key, "service_code": "road-damage", "attribute[district]": "haishu", "lat": "29.87",
        "long": "121.55", "description": "路面塌陷", "media_url": media_url})
    await defer.DeferredList(list(web.deps.extras.get("open311_fetches", ())))
    return posted


def _orders(web) -> int:
    from sqlalchemy import func, select

    from ticketing.persistence.tables import work_orders

    with web.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(work_orders)).scalar_one()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/a.png", "http://10.1.2.3/a.png", "http://172.16.0.9/a.png", "http://192.168.1.1/a.png",
    "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/a.png", "http://0.0.0.0/a.png",
    "http://224.0.0.1/a.png", "http://240.0.0.1/a.png", "http://255.255.255.255/a.png",
    "http://[::1]/a.png", "http://[::]/a.png", "http://[fe80::1]/a.png", "http://[fc00::1]/a.png",
    "http://[fd12:3456::1]/a.png", "http://[ff02::1]/a.png", "http://[fec0::1]/a.png",
    "http://[::ffff:127.0.0.1]/a.png", "http://[::ffff:10.0.0.1]/a.png", "http://[::ffff:169.254.169.254]/a.png",
    "http://[2002:7f00:1::]/a.png", "http://[64:ff9b::a00:1]/a.png", "http://localhost/a.png",
])
def test_internal_addresses_are_refused_in_ipv4_ipv6_and_ipv4_mapped_form(url):
    fetcher = MediaFetcher(None, None, max_bytes=1024)
    with pytest.raises(MediaRefused) as refused:
        fetcher.check(url)
    assert refused.value.error_id == "open311.media_refused" and refused.value.http_status == 400


@pytest.mark.parametrize("url", ["http://93.184.216.34/a.png", "https://[2606:4700:4700::1111]/a.png",
                                 "http://[::ffff:93.184.216.34]:8080/a.png"])
def test_public_addresses_pass_the_check_and_are_pinned(url):
    target = MediaFetcher(None, None, max_bytes=1024).check(url)
    assert target.url == url
    assert target.address in ("93.184.216.34", "::ffff:5db8:d822", "2606:4700:4700::1111")


@pytest_twisted.ensureDeferred
async def test_an_internal_media_url_is_a_400_and_nothing_is_filed(web, hosts):
    _, inside = hosts
    key = _key(web)
    before = _orders(web)
    for url in (inside.base + "/secret.png", "http://[::ffff:127.0.0.1]/a.png", "http://169.254.169.254/x.png"):
        posted = await _post(web, key, url)
        assert posted.status == 400, url
        [error] = posted.json
        assert error["error_id"] == "open311.media_refused" and error["code"] == 400
        assert "127.0.0.1" not in error["description"]   # the answer names no internal address
    assert _orders(web) == before and inside.seen == []
    unresolved = await _post(web, key, "http://no-such-host.invalid/a.png")   # nothing to judge: no refusal
    assert unresolved.status == 201 and _orders(web) == before + 1


@pytest_twisted.ensureDeferred
async def test_the_photo_comes_from_the_checked_address_when_the_name_resolves_elsewhere_later(web, hosts,
                                                                                            monkeypatch):
    """DNS rebinding: ``photos.rebind.test`` first resolves to the photo host, then (as an attacker's DNS
    would answer the second time) to the internal one.  The hotline resolves once, connects to the address
    it checked and sends the URL's name as Host; the internal host never hears of it."""
    from twisted.internet import reactor
    from twisted.internet._resolver import GAIResolver

    public, _ = hosts
    port = int(public.base.rsplit(":", 1)[1])
    # the internal host listens on the photo host's port number: a second resolution would reach it
    inside = PhotoHost({b"/photo.png": SECRET})
    inside_port = reactor.listenTCP(port, server.Site(inside), interface="127.0.0.1")
    name = "photos.rebind.test"
    asked = []
    real = socket.getaddrinfo

    def rebinding(host, *args, **kw):
        if host != name:
            return real(host, *args, **kw)
        asked.append(host)
        address = PUBLIC if len(asked) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    previous = reactor.installNameResolver(GAIResolver(reactor, getaddrinfo=rebinding))
    try:
        web.deps.config = web.deps.config.with_overrides({"open311.media_fetch_private": True})
        posted = await _post(web, _key(web), f"http://{name}:{port}/photo.png")
    finally:
        reactor.installNameResolver(previous)
        await inside_port.stopListening()
    assert posted.status == 201
    number = posted.json[0]["service_request_id"]
    from callcenter.attachments.web import store_of

    [copy] = store_of(web.deps).list(number)
    import hashlib

    assert copy["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    assert asked == [name]
    assert public.seen == [(b"/photo.png", f"{name}:{port}".encode())] and inside.seen == []


@pytest_twisted.ensureDeferred
async def test_redirects_are_followed_a_few_times_each_target_checked_again(web, hosts):
    """With only the photo host's network allowed: a redirect within it is followed and the photo kept;
    a redirect into the internal network is not followed; a redirect loop stops after the limit."""
    import hashlib

    from callcenter.attachments.web import store_of

    public, inside = hosts
    web.deps.config = web.deps.config.with_overrides({"open311.media_fetch_allow": [f"{PUBLIC}/32"]})
    key = _key(web)
    kept = await _post(web, key, public.base + "/hop")
    assert kept.status == 201
    [copy] = store_of(web.deps).list(kept.json[0]["service_request_id"])
    assert copy["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    for path in ("/inside", "/loop"):
        posted = await _post(web, key, public.base + path)
        assert posted.status == 201   # the request stands; only the copy is refused
        assert store_of(web.deps).list(posted.json[0]["service_request_id"]) == []
    assert inside.seen == []
    assert [p for p, _ in public.seen].count(b"/loop") == MediaFetcher.max_redirects + 1


@pytest_twisted.ensureDeferred
async def test_a_body_over_the_size_limit_or_too_slow_is_not_kept(web, hosts, monkeypatch):
    from callcenter.attachments.web import store_of

    public, _ = hosts
    web.deps.config = web.deps.config.with_overrides({"open311.media_fetch_allow": [f"{PUBLIC}/32"]})
    monkeypatch.setattr(MediaFetcher, "timeout", 1.0)
    key = _key(web)
    for path in ("/big.png", "/silent.png", "/slow.png"):
        posted = await _post(web, key, public.base + path)
        assert posted.status == 201
        assert store_of(web.deps).list(posted.json[0]["service_request_id"]) == [], path


def test_a_bad_allowed_network_stops_the_configuration_check():
    from callcenter.config import load_config
    from callcenter.preflight import check_config

    bad = check_config(load_config(None, environ={}).with_overrides({"open311.media_fetch_allow": ["10.0.0.0/33"]}))
    assert bad.failed and "open311.media_fetch_allow" in bad.detail
    good = check_config(load_config(None, environ={}).with_overrides({"open311.media_fetch_allow": ["10.8.0.0/24"]}))
    assert not good.failed, good.detail
