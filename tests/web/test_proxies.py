"""web.trusted_proxies: X-Forwarded-For / X-Forwarded-Proto believed from configured proxies only."""
from __future__ import annotations

import ipaddress
import logging
import re

import pytest
import pytest_twisted

import tests.web.conftest as web_conftest
from callcenter.config import ConfigError
from callcenter.web.http import forwarded_client, forwarded_secure, parse_ip, parse_networks
from tests.web.conftest import PASSWORD

CORE = ("callcenter.web.health", "callcenter.auth.web")
NETS = parse_networks(["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"])


# -- the rules, as pure functions ------------------------------------------------------------------

def test_untrusted_peer_headers_are_ignored():
    """From a peer outside the networks the TCP address is the client, whatever the headers claim."""
    assert forwarded_client("198.51.100.7", [b"203.0.113.9"], NETS) == "198.51.100.7"
    assert forwarded_client("198.51.100.7", [b"10.0.0.1, 127.0.0.1"], NETS) == "198.51.100.7"
    assert not forwarded_secure("198.51.100.7", [b"https"], NETS)
    assert forwarded_client("198.51.100.7", [b"203.0.113.9"], ()) == "198.51.100.7"  # nothing trusted


def test_trusted_peer_gives_the_right_most_untrusted_hop():
    """Trusted hops are skipped from the right; what the client wrote further left does not count."""
    assert forwarded_client("127.0.0.1", [b"203.0.113.9"], NETS) == "203.0.113.9"
    assert forwarded_client("127.0.0.1", [b"6.6.6.6, 203.0.113.9, 10.1.2.3"], NETS) == "203.0.113.9"
    assert forwarded_client("127.0.0.1", [b"6.6.6.6", b"203.0.113.9, 10.1.2.3"], NETS) == "203.0.113.9"
    assert forwarded_client("127.0.0.1", [b"10.9.9.9, 10.1.2.3"], NETS) == "10.9.9.9"  # all proxies: left-most
    assert forwarded_client("127.0.0.1", [b"garbage, 10.1.2.3"], NETS) == "10.1.2.3"  # unparsable ends the walk
    assert forwarded_client("127.0.0.1", [b"not-an-ip"], NETS) == "127.0.0.1"
    assert forwarded_client("127.0.0.1", None, NETS) == "127.0.0.1"
    assert forwarded_client("127.0.0.1", [b"[2001:db8::1]:4711"], NETS) == "2001:db8::1"
    assert forwarded_client("::ffff:127.0.0.1", [b"203.0.113.9:5555"], NETS) == "203.0.113.9"
    assert forwarded_client("fd00::5", [b"2001:db8::2"], NETS) == "2001:db8::2"


def test_forwarded_proto_is_the_trusted_proxys_own_word():
    """Only the right-most X-Forwarded-Proto value, from a trusted peer, makes a request secure."""
    assert forwarded_secure("127.0.0.1", [b"https"], NETS)
    assert forwarded_secure("127.0.0.1", [b"HTTPS"], NETS)
    assert not forwarded_secure("127.0.0.1", [b"https, http"], NETS)  # the client claimed https, the proxy says http
    assert forwarded_secure("127.0.0.1", [b"http", b"https"], NETS)
    assert not forwarded_secure("127.0.0.1", [b"http"], NETS)
    assert not forwarded_secure("127.0.0.1", None, NETS)


def test_networks_and_addresses_parse_strictly():
    """CIDRs, single addresses and comma lists parse; a bad entry names the key; IPv4 never matches IPv6 nets."""
    assert parse_networks("10.0.0.0/8, 192.0.2.1") == (ipaddress.ip_network("10.0.0.0/8"),
                                                       ipaddress.ip_network("192.0.2.1/32"))
    assert parse_networks([]) == () and parse_networks(None) == ()
    with pytest.raises(ConfigError, match="web.trusted_proxies.*'proxy.example'"):
        parse_networks(["proxy.example"])
    assert parse_ip("::ffff:10.0.0.1") == ipaddress.ip_address("10.0.0.1")
    assert parse_ip(b"1.2.3.4:80") == ipaddress.ip_address("1.2.3.4") and parse_ip("1.2.3") is None
    assert forwarded_client("1.2.3.4", [b"203.0.113.9"], parse_networks(["::/0"])) == "1.2.3.4"


# -- through the real app --------------------------------------------------------------------------

@pytest.fixture
def start(db_url, monkeypatch):
    """Start the core app on db_url with extra configuration (the address limit lowered to 3)."""
    servers = []

    def _start(**overrides):
        base = web_conftest.test_config
        overrides = {"auth.login_max_failures_per_address": 3, "auth.login_max_failures_per_username": 100,
                     **overrides}
        monkeypatch.setattr(web_conftest, "test_config", lambda url: base(url).with_overrides(overrides))
        server = web_conftest.start_server(db_url, features=CORE)
        monkeypatch.setattr(web_conftest, "test_config", base)
        servers.append(server)
        return server

    yield _start
    for server in servers:
        web_conftest.stop_server(server)


async def _login(client, username, password, *, headers=None, origin=None):
    page = await client.get("/login", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    post_headers = dict(headers or {})
    if origin:
        post_headers["Origin"] = origin
    resp = await client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                             "next": ""}, headers=post_headers)
    return page, resp


@pytest_twisted.ensureDeferred
async def test_trusted_proxy_forwarded_address_feeds_the_throttle_and_the_log(start, caplog):
    """Behind a trusted proxy the client in X-Forwarded-For is throttled and logged, not the proxy:
    one client's lock leaves another client behind the same proxy free."""
    server = start(**{"web.trusted_proxies": ["127.0.0.1/32"]})
    caplog.set_level(logging.WARNING, logger="callcenter.auth.web")
    client = server.client()
    for i in range(3):
        _, resp = await _login(client, f"guess{i}", "wrong-password", headers={"X-Forwarded-For": "203.0.113.9"})
        assert resp.status == 401
    lock = [r.fields for r in caplog.records if getattr(r, "fields", {}).get("event") == "auth.lockout"]
    assert [(f["scope"], f["client"]) for f in lock] == [("address", "203.0.113.9")]
    _, refused = await _login(client, "guess9", "wrong-password",
                              headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})  # left-most hop is the client's
    assert refused.status == 429
    _, other = await _login(client, "guess9", "wrong-password", headers={"X-Forwarded-For": "203.0.113.10"})
    assert other.status == 401


@pytest_twisted.ensureDeferred
async def test_guessing_at_an_agents_name_does_not_lock_the_agent_out_at_their_desk(start, caplog):
    """Five wrong passwords for agent1 from one address lock agent1 there only (429 with the right password
    too), while agent1 at their own desk, behind the same proxy, logs in at once."""
    server = start(**{"web.trusted_proxies": ["127.0.0.1/32"], "auth.login_max_failures_per_address": 20,
                      "auth.login_max_failures_per_username": 50})
    server.add_user("agent1", "agent")
    caplog.set_level(logging.WARNING, logger="callcenter.auth.web")
    guesser, desk = {"X-Forwarded-For": "203.0.113.66"}, {"X-Forwarded-For": "10.20.0.31"}
    for _ in range(5):
        _, resp = await _login(server.client(), "agent1", "wrong-password", headers=guesser)
        assert resp.status == 401
    lock = [r.fields for r in caplog.records if getattr(r, "fields", {}).get("event") == "auth.lockout"]
    assert [(f["scope"], f["username"], f["client"]) for f in lock] == [("pair", "agent1", "203.0.113.66")]
    _, refused = await _login(server.client(), "agent1", PASSWORD, headers=guesser)
    assert refused.status == 429
    at_desk = server.client()
    _, ok = await _login(at_desk, "agent1", PASSWORD, headers=desk)
    assert ok.status == 303 and "hotline_session" in at_desk.cookies


@pytest_twisted.ensureDeferred
async def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(start):
    """When the peer is not a configured proxy, a new X-Forwarded-For per attempt does not escape the
    address limit: the peer's own address is counted."""
    server = start(**{"web.trusted_proxies": ["10.0.0.0/8"]})
    client = server.client()
    for i in range(3):
        _, resp = await _login(client, f"guess{i}", "wrong-password", headers={"X-Forwarded-For": f"203.0.113.{i}"})
        assert resp.status == 401
    _, refused = await _login(client, "guess9", "wrong-password", headers={"X-Forwarded-For": "203.0.113.99"})
    assert refused.status == 429


@pytest_twisted.ensureDeferred
async def test_cookies_are_secure_behind_a_trusted_https_proxy(start):
    """With X-Forwarded-Proto: https from a trusted proxy the session and log-in cookies get Secure and
    the same-origin check expects https://; log-in works only with the https Origin."""
    server = start(**{"web.trusted_proxies": ["127.0.0.1"]})
    server.add_user("agent1", "agent")
    https = server.base.replace("http://", "https://")
    client = server.client()
    proto = {"X-Forwarded-Proto": "https"}
    _, cross = await _login(client, "agent1", PASSWORD, headers=proto, origin=server.base)
    assert cross.status == 403  # an http:// Origin is not this https site
    page, resp = await _login(client, "agent1", PASSWORD, headers=proto, origin=https)
    assert resp.status == 303
    login_csrf = [c for c in page.headers["set-cookie-all"] if c.startswith("hotline_login_csrf=")]
    assert login_csrf and "Secure" in login_csrf[0]
    session = [c for c in resp.headers["set-cookie-all"] if c.startswith("hotline_session=")]
    assert session and "Secure" in session[0] and "HttpOnly" in session[0]


@pytest_twisted.ensureDeferred
async def test_forwarded_proto_from_an_untrusted_peer_does_not_make_cookies_secure(start):
    """Without the peer in web.trusted_proxies, X-Forwarded-Proto: https changes nothing: cookies stay
    plain and an https:// Origin is cross-site."""
    server = start(**{"web.trusted_proxies": ["10.0.0.0/8"]})
    server.add_user("agent1", "agent")
    client = server.client()
    proto = {"X-Forwarded-Proto": "https"}
    _, spoofed = await _login(client, "agent1", PASSWORD, headers=proto,
                              origin=server.base.replace("http://", "https://"))
    assert spoofed.status == 403
    page, resp = await _login(client, "agent1", PASSWORD, headers=proto, origin=server.base)
    assert resp.status == 303
    cookies = page.headers["set-cookie-all"] + resp.headers["set-cookie-all"]
    assert cookies and not any("Secure" in c for c in cookies)


def test_a_bad_trusted_proxy_entry_stops_start_up():
    """A trusted_proxies entry that is not a network refuses to build the app's root, naming the key."""
    from callcenter.config import load_config
    from callcenter.web.app import WebApp, WebDeps

    config = load_config(None, environ={}).with_overrides({"web.trusted_proxies": ["proxy.internal"]})
    app = WebApp(WebDeps(reactor=None, config=config, engine=None, pool=None, auth=None, templates=None))
    with pytest.raises(ConfigError, match="web.trusted_proxies.*proxy.internal"):
        app.resource()
