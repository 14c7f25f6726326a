"""Byte-exact replays of every capture in ../shared/ami-captures through AMIProtocol.

For each recorded AMI connection the client's actions are sent through
``send_action`` (reusing the recorded ActionIDs, so the bytes we write must
equal the recorded client bytes), then Asterisk's recorded byte stream is fed
back split at arbitrary boundaries (byte by byte, and random cuts that land
inside UTF-8 sequences).  Every action must resolve as Asterisk answered it,
and every other event must reach subscribers unchanged and in order.
"""
from __future__ import annotations

import random

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from callcenter.ami.errors import AMIActionError
from callcenter.ami.message import parse_message
from callcenter.ami.protocol import ActionResult, AMIProtocol
from tests.ami.captures import ami_connections, capture_paths, load, record_bytes, server_frames, wire_bytes

CASES = [
    (path, conn)
    for path in capture_paths()
    for conn in ami_connections(*load(path))
]


def _chunkings(data: bytes):
    yield "whole", [data]
    yield "bytewise", [data[i:i + 1] for i in range(len(data))]
    rng = random.Random(len(data))
    for n in range(3):
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, 40 + 60 * n)))
        parts, last = [], 0
        for c in cuts + [len(data)]:
            parts.append(data[last:c])
            last = c
        yield f"random{n}", parts


def _expected(records, conn):
    """What Asterisk said: responses by ActionID, list items, and plain events."""
    frames = [parse_message(f[:-4]) for f in server_frames(records, conn)[1:]]
    responses, items, events = {}, {}, []
    lists = set()
    for m in frames:
        aid = m.get("ActionID")
        if m.kind == "response":
            responses.setdefault(aid, m)
            if (m.get("EventList") or "").lower() == "start":
                lists.add(aid)
                items[aid] = []
        elif aid in lists:
            items[aid].append(m)
            if (m.get("EventList") or "").lower() == "complete":
                lists.discard(aid)
        else:
            events.append(m)
    return responses, items, events


@pytest.mark.parametrize("path,conn", CASES, ids=[f"{p.stem}-c{c}" for p, c in CASES])
def test_replay_capture(path, conn):
    """Our writes equal the recorded client bytes, and every recorded answer resolves its action."""
    meta, records = load(path)
    client_frames = [record_bytes(r) for r in records if r["type"] == "data" and r["conn"] == conn and r["dir"] == "C"]
    responses, items, expected_events = _expected(records, conn)
    stream = wire_bytes(records, conn, "S")
    for label, chunks in _chunkings(stream):
        clock = Clock()
        proto = AMIProtocol(clock=clock)
        proto.ping_interval = None
        transport = StringTransport()
        proto.makeConnection(transport)
        got_events = []
        proto.dispatcher.subscribe(got_events.append)
        outcomes = {}
        sent = 0
        for frame in client_frames:
            msg = parse_message(frame[:-4])
            pairs = msg.pairs
            if pairs[0][0] == "Action" and len(pairs) > 1 and pairs[1][0] == "ActionID":
                aid = pairs[1][1]
                d = proto.send_action(pairs[0][1], pairs[1:], timeout=None)
                d.addBoth(lambda r, aid=aid: outcomes.__setitem__(aid, r))
                sent += 1
            else:
                transport.write(frame)  # deliberately odd frames (no ActionID, lower case, no Action)
        assert transport.value() == b"".join(client_frames), f"{label}: written bytes differ from the capture"
        for chunk in chunks:
            proto.dataReceived(chunk)
        assert proto.greeting == "Asterisk Call Manager/11.0.0"
        for aid, result in outcomes.items():
            answer = responses[aid]
            if answer.name == "Error":
                assert result.check(AMIActionError), (label, aid)
                assert result.value.response == answer
                assert result.value.message == answer.get("Message")
                result.trap(AMIActionError)
            elif aid in items:
                assert isinstance(result, ActionResult), (label, aid, result)
                assert result.response == answer
                assert result.events == items[aid][:-1]
                assert result.complete == items[aid][-1]
                assert result.list_items == len(result.events)
            elif answer.get("Message") == "Command output follows":
                assert isinstance(result, ActionResult) and result.output == "\n".join(answer.getall("Output"))
            else:
                assert result == answer, (label, aid)
        assert len(outcomes) == sent > 0
        assert got_events == expected_events, label
        assert proto.stats["malformed"] == 0 and proto.stats["oversized"] == 0
        assert proto.pending_count == 0
        proto.connectionLost(None)
