"""Event subscribers with filtering.

The controller subscribes only to what it needs: a set of event names (a
dict lookup per event) or a predicate.  Subscriber lists are copied on
change, so a callback may subscribe or cancel while events are dispatched.
One failing subscriber is logged and never stops the others or the
connection.

A hot reader that searches an event's bytes itself (the call tracker, fed
most of a busy PBX's events) subscribes to *frames*: it gets the event's
name and wire bytes, and no :class:`~callcenter.ami.message.Message` is
built for an event that only such readers want.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from callcenter.ami.message import Message

log = logging.getLogger(__name__)
_from_event_frame = Message.from_event_frame


class Subscription:
    """A handle returned by :meth:`EventDispatcher.subscribe`; ``cancel()`` ends it."""

    __slots__ = ("_dispatcher", "callback", "names", "predicate", "typed", "active", "plain", "frames")

    def __init__(self, dispatcher, callback, names, predicate, typed, frames=False) -> None:
        self._dispatcher = dispatcher
        self.callback = callback
        self.names = names
        self.predicate = predicate
        self.typed = typed
        self.active = True
        self.frames = frames
        self.plain = predicate is None and not typed and not frames

    def cancel(self) -> None:
        if self.active:
            self.active = False
            self.plain = False
            self._dispatcher._remove(self)


class EventDispatcher:
    """Deliver event :class:`~callcenter.ami.message.Message` objects to subscribers."""

    def __init__(self) -> None:
        self._by_name: dict[str, tuple[Subscription, ...]] = {}
        self._resolved: dict[str, tuple[Subscription, ...]] = {}
        self._everything: tuple[Subscription, ...] = ()
        # wire name -> (name, frame subscribers, message subscribers)
        self._routes: dict[bytes, tuple] = {}
        self.errors = 0

    def subscribe(
        self,
        callback: Callable,
        names: Iterable[str] | str | None = None,
        predicate: Callable | None = None,
        typed: bool = False,
    ) -> Subscription:
        """Call ``callback(message)`` for matching events.

        ``names``: event names (case-insensitive) or None for all events.
        ``predicate(message) -> bool``: a further filter.
        ``typed``: pass the typed event (:func:`callcenter.ami.events.from_message`)
        instead of the raw message.
        """
        return self._add(Subscription(self, callback, self._fold(names), predicate, typed))

    def subscribe_frames(self, callback: Callable, names: Iterable[str] | str | None = None) -> Subscription:
        """Call ``callback(name, frame)`` with each matching event's name and
        wire bytes (``b"Event: Hangup\r\nChannel: …"``; a message that was
        built first gives its :attr:`~callcenter.ami.message.Message.raw`,
        which starts with CRLF).  Search headers as ``b"\r\nKey: "``."""
        return self._add(Subscription(self, callback, self._fold(names), None, False, frames=True))

    @staticmethod
    def _fold(names) -> frozenset | None:
        if isinstance(names, str):
            names = (names,)
        return None if names is None else frozenset(n.lower() for n in names)

    def _add(self, sub: Subscription) -> Subscription:
        if sub.names is None:
            self._everything = self._everything + (sub,)
        else:
            for name in sub.names:
                self._by_name[name] = self._by_name.get(name, ()) + (sub,)
        self._resolved = {}
        self._routes = {}
        return sub

    def _remove(self, sub: Subscription) -> None:
        self._resolved = {}
        self._routes = {}
        if sub.names is None:
            self._everything = tuple(s for s in self._everything if s is not sub)
            return
        for name in sub.names:
            left = tuple(s for s in self._by_name.get(name, ()) if s is not sub)
            if left:
                self._by_name[name] = left
            else:
                self._by_name.pop(name, None)

    def __len__(self) -> int:
        seen = set(map(id, self._everything))
        for subs in self._by_name.values():
            seen.update(map(id, subs))
        return len(seen)

    def dispatch(self, message, name: str | None = None) -> None:
        """Deliver one event; ``name`` may be passed when already known."""
        if name is None:
            name = message.name or ""
        subs = self._resolved.get(name)
        if subs is None:
            # named subscribers first, then those of every event
            subs = self._by_name.get(name.lower(), ()) + self._everything
            if len(self._resolved) < 1024:
                self._resolved[name] = subs
        self._to_subscribers(subs, message, name)

    def dispatch_frame(self, frame: bytes, head: bytes) -> bool:
        """Deliver one event given as its frame and its first line ``head``
        (``b"Event: Hangup"``); a message is built only if a message
        subscriber wants it.  False (nothing done) when ``head`` is not an
        event's first line."""
        route = self._routes.get(head)
        if route is None:
            if not head.startswith(b"Event: "):
                return False
            route = self._route(head)
        name, framed, rest = route
        for sub in framed:
            if sub.active:
                try:
                    sub.callback(name, frame)
                except Exception:
                    self._failed(sub, name)
        if rest:
            self._to_subscribers(rest, _from_event_frame(frame, name), name)
        return True

    def _to_subscribers(self, subs: tuple, message, name: str) -> None:
        for sub in subs:
            if sub.plain:
                try:
                    sub.callback(message)
                except Exception:
                    self._failed(sub, name)
            else:
                self._deliver(sub, message)

    def _route(self, head: bytes) -> tuple:
        name = head[7:].decode("utf-8", "replace")
        subs = self._by_name.get(name.lower(), ()) + self._everything
        route = (name, tuple(s for s in subs if s.frames), tuple(s for s in subs if not s.frames))
        if len(self._routes) < 1024:
            self._routes[head] = route
        return route

    def _failed(self, sub: Subscription, name) -> None:
        self.errors += 1
        log.exception(
            "AMI event subscriber failed",
            extra={"fields": {"event": name, "subscriber": getattr(sub.callback, "__qualname__", repr(sub.callback))}},
        )

    def _deliver(self, sub: Subscription, message) -> None:
        if not sub.active:
            return
        if sub.frames:
            try:
                sub.callback(message.name, message.raw)
            except Exception:
                self._failed(sub, message.name)
            return
        try:
            if sub.predicate is not None and not sub.predicate(message):
                return
            if sub.typed:
                from callcenter.ami.events import from_message

                sub.callback(from_message(message))
            else:
                sub.callback(message)
        except Exception:
            self._failed(sub, message.name)
