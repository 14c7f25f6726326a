"""Event subscribers with filtering.

The controller subscribes only to what it needs: a set of event names (a
dict lookup per event) or a predicate.  Subscriber lists are copied on
change, so a callback may subscribe or cancel while events are dispatched.
One failing subscriber is logged and never stops the others or the
connection.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)


class Subscription:
    """A handle returned by :meth:`EventDispatcher.subscribe`; ``cancel()`` ends it."""

    __slots__ = ("_dispatcher", "callback", "names", "predicate", "typed", "active", "plain")

    def __init__(self, dispatcher, callback, names, predicate, typed) -> None:
        self._dispatcher = dispatcher
        self.callback = callback
        self.names = names
        self.predicate = predicate
        self.typed = typed
        self.active = True
        self.plain = predicate is None and not typed

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
        if isinstance(names, str):
            names = (names,)
        folded = None if names is None else frozenset(n.lower() for n in names)
        sub = Subscription(self, callback, folded, predicate, typed)
        if folded is None:
            self._everything = self._everything + (sub,)
        else:
            for name in folded:
                self._by_name[name] = self._by_name.get(name, ()) + (sub,)
        self._resolved = {}
        return sub

    def _remove(self, sub: Subscription) -> None:
        self._resolved = {}
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
        if self._by_name:
            if name is None:
                name = message.name or ""
            named = self._resolved.get(name)
            if named is None:
                named = self._by_name.get(name.lower(), ())
                if len(self._resolved) < 1024:
                    self._resolved[name] = named
            for sub in named:
                if sub.plain:
                    try:
                        sub.callback(message)
                    except Exception:
                        self._failed(sub, message)
                else:
                    self._deliver(sub, message)
        for sub in self._everything:
            if sub.plain:
                try:
                    sub.callback(message)
                except Exception:
                    self._failed(sub, message)
            else:
                self._deliver(sub, message)

    def _failed(self, sub: Subscription, message) -> None:
        self.errors += 1
        log.exception(
            "AMI event subscriber failed",
            extra={"fields": {"event": message.name, "subscriber": getattr(sub.callback, "__qualname__", repr(sub.callback))}},
        )

    def _deliver(self, sub: Subscription, message) -> None:
        if not sub.active:
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
            self._failed(sub, message)
