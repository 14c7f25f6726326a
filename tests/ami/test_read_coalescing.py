"""Read coalescing: a trickle of events gathers in the socket between reads,
answers are never held back (StringTransport producer state + task.Clock)."""
from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from callcenter.ami.protocol import AMIProtocol
from tests.ami.peer import WirePeer

EVENT = b"Event: Newstate\r\nPrivilege: call,all\r\nUniqueid: 1.1\r\nChannelState: 6\r\n\r\n"


@pytest.fixture
def conn():
    clock = Clock()
    proto = AMIProtocol(clock=clock)
    proto.ping_interval = None
    peer = WirePeer.greeted(proto)
    clock.advance(proto.read_coalesce)  # the greeting's own pause
    return proto, peer, clock, peer.transport


def test_small_event_read_pauses_reading_for_the_coalescing_window(conn):
    """After a read of a few events the transport is paused, and resumed read_coalesce later."""
    proto, peer, clock, transport = conn
    got = []
    proto.dispatcher.subscribe(got.append)
    peer.raw(EVENT)
    assert len(got) == 1 and transport.producerState == "paused" and proto.reading_paused
    clock.advance(proto.read_coalesce / 2)
    assert transport.producerState == "paused"
    clock.advance(proto.read_coalesce / 2)
    assert transport.producerState == "producing" and not proto.reading_paused


def test_large_read_and_disabled_coalescing_keep_reading(conn):
    """A read at least coalesce_below bytes long (events are not trickling) or read_coalesce 0 never pauses."""
    proto, peer, clock, transport = conn
    peer.raw(EVENT * (proto.coalesce_below // len(EVENT) + 1))
    assert transport.producerState == "producing"
    proto.read_coalesce = 0
    peer.raw(EVENT)
    assert transport.producerState == "producing" and clock.getDelayedCalls() == []


def test_awaited_answer_is_read_at_once(conn):
    """Sending an action ends a pause on the reactor's next turn (after the write), and reads are
    not paused while an answer is awaited; once answered, coalescing resumes."""
    proto, peer, clock, transport = conn
    peer.raw(EVENT)
    assert transport.producerState == "paused"
    d = proto.send_action("Ping", timeout=None)
    assert transport.producerState == "paused"  # the Ping leaves first
    clock.advance(0)
    assert transport.producerState == "producing"
    peer.raw(EVENT)
    assert transport.producerState == "producing", "an answer is awaited"
    peer.ok(peer.last(), ("Ping", "Pong"))
    assert d.called and transport.producerState == "paused"


def test_connection_lost_while_paused_cancels_the_resume(conn):
    """No timer is left behind by a connection that closes during a pause."""
    proto, peer, clock, transport = conn
    peer.raw(EVENT)
    assert clock.getDelayedCalls()
    proto.connectionLost(None)
    assert clock.getDelayedCalls() == [] and not proto.reading_paused
