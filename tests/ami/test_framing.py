"""The incremental frame splitter: arbitrary read boundaries, bounds, oversize skipping."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from callcenter.ami.framing import FrameSplitter
from tests.ami.captures import ami_connections, capture_paths, load, server_frames, wire_bytes


def _split(data: bytes, cuts) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points + [len(data)]:
        out.append(data[last:p])
        last = p
    return out


def _run(chunks, **kw):
    frames, greetings, dropped = [], [], []
    s = FrameSplitter(frames.append, greetings.append, dropped.append, **kw)
    for c in chunks:
        s.feed(c)
    return s, frames, greetings, dropped


def test_every_capture_splits_into_its_recorded_frames_bytewise():
    """Fed one byte at a time, every capture's server stream gives back exactly the recorded frames."""
    checked = 0
    for path in capture_paths():
        meta, records = load(path)
        for conn in ami_connections(meta, records):
            data = wire_bytes(records, conn, "S")
            expected = server_frames(records, conn)
            _, frames, greetings, dropped = _run([data[i:i + 1] for i in range(len(data))])
            assert greetings == [expected[0].decode().rstrip("\r\n")]
            assert frames == [f[:-4] for f in expected[1:]], path.name
            assert dropped == []
            checked += 1
    assert checked >= 20


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**6), max_size=40))
def test_arbitrary_boundaries_property(cuts):
    """Any segmentation of capture 13 (UTF-8 names included) yields the same frames."""
    meta, records = load(next(p for p in capture_paths() if p.name.startswith("13-")))
    data = wire_bytes(records, 1, "S")
    _, frames, _, _ = _run(_split(data, cuts))
    assert frames == [f[:-4] for f in server_frames(records, 1)[1:]]


def test_oversized_frame_skipped_and_stream_resynchronises():
    """A frame over the limit is reported and dropped; the next frame arrives intact."""
    data = b"Asterisk Call Manager/11.0.0\r\n" + b"A: 1\r\n\r\n" + b"X: " + b"y" * 5000 + b"\r\n\r\nB: 2\r\n\r\n"
    for step in (1, 7, 4096, len(data)):
        s, frames, _, dropped = _run([data[i:i + step] for i in range(0, len(data), step)], max_frame=1000)
        assert frames == [b"A: 1", b"B: 2"], step
        assert len(dropped) == 1 and dropped[0] >= 5000


def test_buffer_bounded_during_endless_frame():
    """A peer that never ends a frame cannot make the splitter hold more than max_frame bytes."""
    s = FrameSplitter(lambda f: None, expect_greeting=False, max_frame=2048)
    for _ in range(1000):
        s.feed(b"z" * 1000)
        assert s.buffered <= 2048 + 3


def test_server_side_no_greeting_and_empty_frames_ignored():
    """Simulator side: no greeting expected; stray blank lines are not frames."""
    s, frames, greetings, _ = _run([b"\r\n\r\nAction: Ping\r\n\r\n"], expect_greeting=False)
    assert frames == [b"Action: Ping"] and greetings == []
