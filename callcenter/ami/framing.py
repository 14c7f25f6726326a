"""Incremental AMI framing over whole TCP reads (client and simulator).

Splitting each read at ``\\r\\n\\r\\n`` with ``bytes.split`` is several times
cheaper than a per-line receiver.  The splitter keeps at most one partial
frame; a frame beyond ``max_frame`` bytes is reported and skipped (the
splitter resynchronises at the next blank line) so a misbehaving peer can
neither exhaust memory nor kill the connection.

Frames are handed out as *bytes*: decoding happens per complete message (see
:func:`callcenter.ami.message.parse_message`), so a multi-byte UTF-8 character
split across reads is never damaged.
"""
from __future__ import annotations

from collections.abc import Callable

DELIMITER = b"\r\n\r\n"
EOL = b"\r\n"


class FrameSplitter:
    """Turn a byte stream into AMI frames.

    ``frame_received(frame: bytes)`` gets each frame without its terminator;
    ``greeting_received(line: str)`` (client side) gets the first line, which
    Asterisk sends without a blank line after it; ``oversized(size: int)``
    is told whenever a frame was dropped for being too large.  The simulator
    side passes ``expect_greeting=False``.
    """

    max_frame = 64 * 1024

    def __init__(
        self,
        frame_received: Callable[[bytes], None],
        greeting_received: Callable[[str], None] | None = None,
        oversized: Callable[[int], None] | None = None,
        *,
        expect_greeting: bool = True,
        max_frame: int | None = None,
    ) -> None:
        self.frame_received = frame_received
        self.greeting_received = greeting_received
        self.oversized = oversized
        self._expect_greeting = expect_greeting
        if max_frame is not None:
            self.max_frame = max_frame
        self._buffer = b""
        self._skipping = False
        self._skipped = 0
        self.greeting: str | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame (bounded by ``max_frame`` + 3)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        """Consume one read's bytes, delivering every completed frame."""
        buffer = self._buffer + data if self._buffer else data
        if self._expect_greeting:
            end = buffer.find(EOL)
            if end < 0:
                if len(buffer) > self.max_frame:
                    self._buffer = b""
                    self._expect_greeting = False
                    self._report(len(buffer))
                    self._skipping = True
                else:
                    self._buffer = buffer
                return
            self._expect_greeting = False
            self.greeting = buffer[:end].decode("utf-8", "replace")
            buffer = buffer[end + 2:]
            if self.greeting_received is not None:
                self.greeting_received(self.greeting)
        if self._skipping:
            end = buffer.find(DELIMITER)
            if end < 0:
                self._skipped += len(buffer) - 3 if len(buffer) > 3 else 0
                self._buffer = buffer[-3:]
                return
            self._skipping = False
            self._report(self._skipped + end)
            self._skipped = 0
            buffer = buffer[end + 4:]
        if DELIMITER not in buffer:
            self._hold(buffer)
            return
        frames = buffer.split(DELIMITER)
        rest = frames.pop()
        limit = self.max_frame
        deliver = self.frame_received
        for frame in frames:
            if len(frame) > limit:
                self._report(len(frame))
            elif frame:
                deliver(frame)
            else:
                continue
        self._hold(rest)

    def _hold(self, rest: bytes) -> None:
        if len(rest) > self.max_frame:
            self._skipping = True
            self._skipped = len(rest) - 3
            self._buffer = rest[-3:]
        else:
            self._buffer = rest

    def _report(self, size: int) -> None:
        if self.oversized is not None:
            self.oversized(size)

    def reset(self) -> None:
        """Forget any partial frame (for a new connection)."""
        self._buffer = b""
        self._skipping = False
        self._skipped = 0
