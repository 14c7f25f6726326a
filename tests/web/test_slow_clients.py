"""Slow and idle clients: a whole request must arrive within ``web.request_read_seconds`` (else 408 and the
connection closes), and connections beyond ``web.max_connections`` are refused — on a fake clock over
StringTransport, as Twisted tests its own protocols."""
from __future__ import annotations

from twisted.internet import task
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource

from callcenter.web.http import HotlineSite


class Hello(Resource):
    isLeaf = True

    def render_GET(self, request):
        return b"hello"


def site(**kwargs):
    clock = task.Clock()
    return HotlineSite(Hello(), reactor=clock, **kwargs), clock


def connect(s):
    proto = s.buildProtocol(IPv4Address("TCP", "192.0.2.9", 40000))
    if proto is None:
        return None, None
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport


def test_a_request_dribbled_in_slower_than_the_read_limit_gets_408_and_the_connection_closes():
    """Header lines sent every 5 s keep Twisted's idle timer alive; the read limit (20 s) still ends it."""
    s, clock = site(request_read_seconds=20, idle_seconds=60)
    proto, transport = connect(s)
    proto.dataReceived(b"GET / HTTP/1.1\r\n")
    for i in range(3):
        clock.advance(5)
        proto.dataReceived(b"X-Slow-%d: 1\r\n" % i)
    assert not transport.disconnecting
    clock.advance(5.5)
    assert transport.value().startswith(b"HTTP/1.1 408 Request Timeout")
    assert b'"error_id": "http.request_timeout"' in transport.value()
    assert transport.disconnecting


def test_a_body_sent_byte_by_byte_is_cut_off_at_the_read_limit():
    s, clock = site(request_read_seconds=10)
    proto, transport = connect(s)
    proto.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    for _ in range(9):
        clock.advance(1)
        proto.dataReceived(b"a")
    assert not transport.disconnecting
    clock.advance(1.5)
    assert b"408" in transport.value() and transport.disconnecting


def test_a_request_that_arrives_in_time_is_answered_and_the_deadline_does_not_fire_later():
    """The deadline stops when the request is complete; a kept-alive connection then idles under idle_seconds."""
    s, clock = site(request_read_seconds=20, idle_seconds=60)
    proto, transport = connect(s)
    proto.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in transport.value() and transport.value().endswith(b"hello")
    clock.advance(30)
    assert b"408" not in transport.value() and not transport.disconnecting
    clock.advance(31)
    assert transport.disconnecting and b"408" not in transport.value()  # the idle time-out, silently


def test_connections_beyond_the_limit_are_refused_until_one_closes():
    """With max_connections = 3, the fourth connection is refused at once; when one closes, a new one is accepted."""
    s, clock = site(max_connections=3)
    held = [connect(s) for _ in range(3)]
    assert all(p is not None for p, _ in held) and s.open_connections == 3
    refused, _ = connect(s)
    assert refused is None and s.refused_connections == 1
    held[0][0].connectionLost(None)
    assert s.open_connections == 2
    again, _ = connect(s)
    assert again is not None and s.open_connections == 3


def test_limits_come_from_configuration():
    from callcenter.bootstrap import make_site
    from callcenter.config import load_config

    config = load_config(None, environ={}).with_overrides({
        "web.request_read_seconds": 7, "web.idle_seconds": 30, "web.max_connections": 300})
    s = make_site(Hello(), config, reactor=task.Clock())
    assert (s.request_read_seconds, s.idle_seconds, s.timeOut, s.max_connections) == (7.0, 30.0, 30.0, 300)
