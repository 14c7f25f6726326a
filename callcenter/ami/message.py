"""The AMI message codec shared by the client and the PBX simulator.

An AMI message is an *ordered list* of ``Key: Value`` pairs: keys repeat
(``ChanVariable``, ``Variable``, ``Output``) and are compared without regard to
case (Asterisk writes ``CommandId`` and reads ``CommandID``), so a plain dict
would lose data.  :class:`Message` keeps the pairs and builds a case-folded
index only when someone looks a key up.

Bytes are decoded as UTF-8 once per *complete* message (never per TCP read,
which would break multi-byte characters at a segment boundary).  Lines are
split at the first ``": "`` because values may contain it
(``RequestType: Action: Ping``).

Serialising refuses CR or LF anywhere: a caller ID or work-order text must
never be able to add headers or actions to the stream.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from callcenter.ami.errors import AMIInjectionError, AMIParseError

__all__ = [
    "Message",
    "parse_message",
    "serialize_action",
    "serialize_message",
    "AMIInjectionError",
    "AMIParseError",
]

_MISSING = object()


class Message:
    """One immutable AMI message (event, response or action).

    ``pairs`` is a tuple of ``(key, value)`` strings in wire order.  A message
    read off the wire (:meth:`from_frame`) keeps its decoded text: :meth:`get`
    searches it for ``\r\nKey: `` directly (first occurrence wins), and the
    pair list and the case-folded index are built only when something needs
    them (another spelling of a key, iteration, equality).  Reading the few
    headers a subscriber needs then costs a few C-level searches instead of
    splitting twenty lines.
    """

    __slots__ = ("_pairs", "_index", "_text", "_name", "_raw")

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        _set_pairs(self, tuple(pairs))
        _set_index(self, None)
        _set_text(self, None)
        _set_name(self, None)
        _set_raw(self, None)

    @classmethod
    def _trusted(cls, pairs: tuple) -> "Message":
        """Build from an already validated tuple (the parser's fast path)."""
        self = _new(cls)
        _set_pairs(self, pairs)
        _set_index(self, None)
        _set_text(self, None)
        _set_name(self, None)
        _set_raw(self, None)
        return self

    @classmethod
    def from_frame(cls, frame: bytes, name: str | None = None) -> "Message":
        """A lazily parsed message from one frame (no terminator).

        Decodes UTF-8 once for the whole message (undecodable bytes replaced).
        Headers are split on first use; lines without a colon are then
        skipped (the caller checks the first line).  ``name`` may be given
        when the caller has already read it.
        """
        self = _new(cls)
        _set_pairs(self, None)
        _set_index(self, None)
        _set_text(self, None)
        _set_name(self, name)
        _set_raw(self, b"\r\n" + frame)
        return self

    @classmethod
    def from_event_frame(cls, frame: bytes, name: str | None = None) -> "Message":
        """:meth:`from_frame` for a frame known to start with ``Event: ``
        (``name``: the event name, when the caller has read it already)."""
        self = _new(cls)
        raw = b"\r\n" + frame
        if name is None:
            end = raw.find(b"\r\n", 9)
            name = (raw[9:end] if end > 0 else raw[9:]).decode("utf-8", "replace")
        _set_pairs(self, None)
        _set_index(self, None)
        _set_text(self, None)
        _set_name(self, name)
        _set_raw(self, raw)
        return self

    def __setattr__(self, name, value):
        raise AttributeError("Message is immutable")

    def __delattr__(self, name):
        raise AttributeError("Message is immutable")

    def __reduce__(self):
        return (Message, (self.pairs,))

    @property
    def raw(self) -> bytes:
        """The message as UTF-8 wire bytes, every header preceded by CRLF
        (``b"\r\nEvent: Hangup\r\nChannel: …"``), for readers that search
        for ``b"\r\nKey: "`` themselves and decode only the values they keep
        (the call tracker's hot path).  A message built from pairs gets the
        same layout, built once."""
        raw = self._raw
        if raw is None:
            text = self._text
            if text is None:
                text = "".join([f"\r\n{k}: {v}" for k, v in self._pairs])
            raw = text.encode("utf-8")
            _set_raw(self, raw)
        return raw

    def _wire_text(self) -> str | None:
        """The decoded wire text (None for a message built from pairs).

        A frame is decoded once, as a whole, on the first lookup that needs
        text: subscribers that only read the name, or read bytes through
        :attr:`raw`, never pay for decoding twenty headers."""
        text = self._text
        if text is None and self._raw is not None and self._pairs is None:
            text = self._raw.decode("utf-8", "replace")
            _set_text(self, text)
        return text

    # -- parsing on demand ------------------------------------------------
    @property
    def pairs(self) -> tuple:
        pairs = self._pairs
        if pairs is None:
            pairs = _split_lenient(self._wire_text())
            _set_pairs(self, pairs)
        return pairs

    def _lookup(self) -> dict:
        index = self._index
        if index is None:
            index = {}
            for key, value in self.pairs:
                index.setdefault(key.lower(), value)
            _set_index(self, index)
        return index

    def get(self, key: str, default=None):
        """The first value of ``key`` (case-insensitive), or ``default``.

        On a wire message the exact spelling is found by a direct search for
        ``\r\nKey: `` in the text (C speed; a handful of these beat
        splitting twenty headers); other spellings use a case-folded index.
        """
        text = self._text if self._text is not None else self._wire_text()
        if text is not None:
            try:
                needle = _NEEDLES[key]
            except KeyError:
                needle = _needle(key)
            start = text.find(needle)
            if start >= 0:
                start += len(needle)
                end = text.find("\r\n", start)
                return text[start:end] if end >= 0 else text[start:]
            if self._index is None and needle.lower() not in text.lower():
                return default
        return self._lookup().get(key.lower(), default)

    def last(self, key: str, default=None):
        """The *last* value of ``key`` (case-insensitive), or ``default``.

        Same as :meth:`get` for keys that occur once; on a wire message it
        searches backwards, so event-specific fields near the end of a long
        channel event (``Variable``, ``Value``, ``Digit``, ``Cause``,
        ``Uniqueid``…) are found without scanning the whole snapshot.
        """
        text = self._text if self._text is not None else self._wire_text()
        if text is not None:
            try:
                needle = _NEEDLES[key]
            except KeyError:
                needle = _needle(key)
            start = text.rfind(needle)
            if start >= 0:
                start += len(needle)
                end = text.find("\r\n", start)
                return text[start:end] if end >= 0 else text[start:]
            if self._index is None and needle.lower() not in text.lower():
                return default
        folded = key.lower()
        for k, v in reversed(self.pairs):
            if k.lower() == folded:
                return v
        return default

    def scan(self, keys) -> list:
        """The first values of several ``keys`` that usually appear in this
        order (a channel snapshot): each search starts where the previous key
        was found, so the text is read about once.  Missing keys give None;
        a key out of the expected order is still found (via :meth:`get`)."""
        text = self._text if self._text is not None else self._wire_text()
        if text is None:
            return [self.get(k) for k in keys]
        out = []
        append = out.append
        pos = 0
        for key in keys:
            try:
                needle = _NEEDLES[key]
            except KeyError:
                needle = _needle(key)
            start = text.find(needle, pos)
            if start < 0:
                append(self.get(key))
                continue
            start += len(needle)
            end = text.find("\r\n", start)
            if end < 0:
                append(text[start:])
                pos = len(text)
            else:
                append(text[start:end])
                pos = end
        return out

    def search(self, pattern):
        """``pattern.search`` over a wire message's text (each line starts
        with ``\r\n``, so ``\r\nKey: `` anchors a header), or None for a
        message built from pairs.  One compiled regular expression can read a
        whole block of headers Asterisk always writes in the same order (a
        channel snapshot) in one C-level pass; callers fall back to
        :meth:`get`/:meth:`scan` when it does not match."""
        text = self._text if self._text is not None else self._wire_text()
        return pattern.search(text) if text is not None else None

    def __getitem__(self, key: str) -> str:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def getall(self, key: str) -> list[str]:
        """Every value of a repeated key, in wire order.

        On a wire message, occurrences spelled exactly like ``key`` are found
        by direct search (Asterisk spells a key the same way within one
        message); any other spelling falls back to a case-insensitive scan.
        """
        text = self._text if self._text is not None else self._wire_text()
        if text is not None:
            needle = _NEEDLES.get(key) or _needle(key)
            start = text.find(needle)
            if start >= 0:
                out = []
                size = len(needle)
                while start >= 0:
                    start += size
                    end = text.find("\r\n", start)
                    if end < 0:
                        out.append(text[start:])
                        break
                    out.append(text[start:end])
                    start = text.find(needle, end)
                return out
            if self._pairs is None and needle.lower() not in text.lower():
                return []
        folded = key.lower()
        return [v for k, v in self.pairs if k.lower() == folded]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        text = self._text if self._text is not None else self._wire_text()
        if text is not None:
            needle = _NEEDLES.get(key) or _needle(key)
            if needle in text:
                return True
            if self._index is None and needle.lower() not in text.lower():
                return False
        return key.lower() in self._lookup()

    # -- identity -------------------------------------------------------
    @property
    def name(self) -> str | None:
        """The event name, the response status, or the action name."""
        if self._name is not None:
            return self._name
        pairs = self.pairs
        name = None
        if pairs and pairs[0][0].lower() in ("event", "response", "action"):
            name = pairs[0][1]
        else:
            index = self._lookup()
            for key in ("event", "response", "action"):
                if key in index:
                    name = index[key]
                    break
        if name is not None:
            _set_name(self, name)
        return name

    @property
    def kind(self) -> str | None:
        """``"event"``, ``"response"`` or ``"action"`` (None if none of those)."""
        raw = self._raw
        if raw is not None and self._pairs is None:
            if raw.startswith(b"\r\nEvent: "):
                return "event"
            if raw.startswith(b"\r\nResponse: "):
                return "response"
        text = self._text
        if text is not None and self._pairs is None:
            if text.startswith("\r\nEvent: "):
                return "event"
            if text.startswith("\r\nResponse: "):
                return "response"
        pairs = self.pairs
        if pairs:
            key = pairs[0][0].lower()
            if key in ("event", "response", "action"):
                return key
        index = self._lookup()
        for key in ("event", "response", "action"):
            if key in index:
                return key
        return None

    @property
    def is_event(self) -> bool:
        return self.kind == "event"

    @property
    def is_response(self) -> bool:
        return self.kind == "response"

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    # -- container protocol ---------------------------------------------
    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def keys(self) -> list[str]:
        return [k for k, _ in self.pairs]

    def items(self) -> tuple:
        return self.pairs

    def as_dict(self) -> dict[str, str]:
        """First value per key (original spelling); repeated keys collapse."""
        out: dict[str, str] = {}
        for key, value in self.pairs:
            out.setdefault(key, value)
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Message):
            return self.pairs == other.pairs
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.pairs)

    def __repr__(self) -> str:
        return f"Message({list(self.pairs)!r})"

    def to_bytes(self) -> bytes:
        """This message on the wire (validated like any outgoing message)."""
        return serialize_message(self.pairs)


_new = object.__new__
# The slots' own setters: several times cheaper than object.__setattr__ (which
# looks the name up through the type on every call) for the one message built
# per event.
_set_pairs = Message._pairs.__set__
_set_index = Message._index.__set__
_set_text = Message._text.__set__
_set_name = Message._name.__set__
_set_raw = Message._raw.__set__
_NEEDLES: dict[str, str] = {}


def _needle(key: str) -> str:
    needle = "\r\n" + key + ": "
    if len(_NEEDLES) < 4096:
        _NEEDLES[key] = needle
    return needle


def _split_lenient(text: str) -> tuple:
    """Pairs of a wire message's text (leading CRLF); colon-less lines skipped."""
    pairs = []
    append = pairs.append
    for line in text[2:].split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep or not key or ":" in key:
            key, sep, value = line.partition(":")
            if not sep or not key.strip():
                continue
            key = key.strip()
            value = value[1:] if value.startswith(" ") else value
        append((key, value))
    return tuple(pairs)


def parse_message(data: bytes | str) -> Message:
    """Parse one whole message (without its blank-line terminator).

    Accepts bytes (decoded here, as UTF-8, undecodable bytes replaced so one
    odd caller name never costs a Hangup event) or an already decoded str.
    Raises :class:`AMIParseError` for an empty frame or a line with no colon.
    """
    text = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray, memoryview)) else data
    if text.endswith("\r\n"):
        text = text.rstrip("\r\n")
    if not text:
        raise AMIParseError("empty AMI message")
    pairs = []
    append = pairs.append
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep or not key or ":" in key:
            key, sep, value = line.partition(":")
            if not sep or not key.strip():
                raise AMIParseError("AMI line without 'Key: Value'", line=line[:200])
            key = key.strip()
            value = value[1:] if value.startswith(" ") else value
        append((key, value))
    return Message._trusted(tuple(pairs))


def _check(key: str, value: str) -> None:
    if not key:
        raise AMIInjectionError("empty AMI header name")
    if "\r" in key or "\n" in key or ":" in key:
        raise AMIInjectionError("AMI header name contains CR, LF or ':'", key=key[:80])
    if "\r" in value or "\n" in value:
        raise AMIInjectionError("AMI header value contains CR or LF", key=key)


def _pairs_of(headers) -> Iterator[tuple[str, str]]:
    if headers is None:
        return
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            for one in value:
                if one is not None:
                    yield str(key), _text(one)
        else:
            yield str(key), _text(value)


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def serialize_message(pairs) -> bytes:
    """Encode ordered pairs (or a mapping) as one AMI frame, ``\\r\\n\\r\\n``-ended.

    Values that are lists are written once per element (repeated keys); None
    values are left out.  Raises :class:`AMIInjectionError` for CR/LF.
    """
    lines = []
    for key, value in _pairs_of(pairs):
        _check(key, value)
        lines.append(f"{key}: {value}\r\n")
    if not lines:
        raise AMIParseError("an AMI message needs at least one header")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8")


def serialize_action(name: str, headers=None) -> bytes:
    """Encode ``Action: name`` followed by ``headers`` (pairs or mapping).

    Repeated keys such as ``Variable`` are given as repeated pairs or as a list
    value.  ``Action`` must not appear in ``headers``.
    """
    if not isinstance(name, str) or not name:
        raise AMIParseError("an action needs a name")
    pairs = [("Action", name)]
    for key, value in _pairs_of(headers):
        if key.lower() == "action":
            raise AMIInjectionError("'Action' given twice", key=key)
        pairs.append((key, value))
    return serialize_message(pairs)
