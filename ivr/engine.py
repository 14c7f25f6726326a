"""Stepping a call through a flow: ``step(state, event, now) -> (state, commands)``.

No I/O: events (what happened on the call) come in, commands (what to do on
the call) go out, both plain data.  The runner turns commands into AGI and
AGI results into events.  Each step returns a fresh state; the caller's path
through the flow (nodes, keys, timings) is kept on the state for reports.

A batch of commands ends with at most one that produces input (digits, a
recording, a lookup result, …); the next event answers that one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable

from callcenter.errors import HotlineError
from ivr.flow import Flow
from ivr.prompts import OrderStatus, match_grammar, render_lookup

MAX_AUTO_NODES = 64  # nodes entered without input in one step; the validator makes loops impossible


class IvrError(HotlineError):
    """A programming error between runner and engine (not caller input)."""

    def __init__(self, error_id: str, message: str):
        super().__init__(error_id, message)

    def __str__(self) -> str:
        return f"{self.error_id}: {self.message}"


# ------------------------------------------------------------------ commands


@dataclass(frozen=True)
class Play:
    prompt: str
    lang: str
    text: str | None = None  # set for text rendered at call time (status read-back)


@dataclass(frozen=True)
class CollectDigits:
    """Play ``prompt`` (interruptible) and collect up to ``max_digits`` keys; ``#`` ends early."""

    prompt: str
    lang: str
    max_digits: int
    timeout: float
    terminator: str = "#"


#: the channel variable that carries the caller's language from the main flow to the later ones
LANGUAGE_VAR = "HOTLINE_LANG"


@dataclass(frozen=True)
class SetVar:
    name: str
    value: str


@dataclass(frozen=True)
class Transfer:
    queue: str
    skill: str | None
    priority: int


@dataclass(frozen=True)
class Record:
    name: str
    max_seconds: int
    silence: int = 0  # seconds of quiet that end the recording (0: the runner's default)


@dataclass(frozen=True)
class SubmitMessage:
    """The caller left a message: hand the recording on (draft work order)."""

    recording: str
    seconds: float


@dataclass(frozen=True)
class RequestCallback:
    number: str
    queue: str
    skill: str | None
    priority: int


@dataclass(frozen=True)
class Lookup:
    """Find an order: by the number keyed in, or (``caller``) the caller's latest open one."""

    order_number: str = ""
    caller: str = ""


@dataclass(frozen=True)
class Speech:
    prompt: str
    lang: str
    words: tuple[str, ...]
    timeout: float


@dataclass(frozen=True)
class Understand:
    """Transcribe what the caller said and propose a work order; the answer is a ``Result`` whose
    value is a dict (``understood``, ``urgency``, ``department`` …) or None (no recogniser)."""

    recording: str
    lang: str


@dataclass(frozen=True)
class Outcome:
    name: str
    value: str


@dataclass(frozen=True)
class Hangup:
    """End the IVR; the dialplan hangs up (``IVR_ACTION=hangup``)."""


# -------------------------------------------------------------------- events


@dataclass(frozen=True)
class Digits:
    keys: str


@dataclass(frozen=True)
class Timeout:
    pass


@dataclass(frozen=True)
class Result:
    value: Any


@dataclass(frozen=True)
class Recorded:
    path: str
    seconds: float
    hung_up: bool = False


@dataclass(frozen=True)
class HangupSeen:
    pass


@dataclass(frozen=True)
class Failure:
    code: int
    message: str = ""


# --------------------------------------------------------------------- state


@dataclass(frozen=True)
class PathStep:
    node: str
    kind: str
    at: datetime
    keys: str = ""
    result: str = ""


@dataclass(frozen=True)
class CallState:
    flow: str
    caller: str
    lang: str
    node: str | None = None
    vars: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    failures: int = 0
    path: tuple[PathStep, ...] = ()
    done: bool = False
    outcome: str | None = None  # transfer | hangup | caller_hangup | error
    record_seq: int = 0

    def path_summary(self) -> str:
        """Compact form for a channel variable / CDR: ``welcome>language:1>main_menu:2``."""
        parts = [f"{s.node}:{s.keys}" if s.keys else s.node for s in self.path]
        return ">".join(parts)[-240:]

    def path_report(self) -> list[dict[str, Any]]:
        return [{"node": s.node, "kind": s.kind, "at": s.at.isoformat(), "keys": s.keys, "result": s.result}
                for s in self.path]


class _Step:
    """Mutable scratch for one step; frozen state goes in and out."""

    def __init__(self, state: CallState, now: datetime):
        self.now = now
        self.node = state.node
        self.lang = state.lang
        self.vars = dict(state.vars)
        self.attempts = state.attempts
        self.failures = state.failures
        self.path = list(state.path)
        self.done = state.done
        self.outcome = state.outcome
        self.record_seq = state.record_seq
        self.caller = state.caller
        self.commands: list[Any] = []

    def note(self, keys: str = "", result: str = "") -> None:
        """Add keys/result to the current node's latest path entry."""
        if self.path:
            last = self.path[-1]
            self.path[-1] = replace(last, keys=last.keys + keys, result=result or last.result)

    def freeze(self, base: CallState) -> CallState:
        return replace(base, node=self.node, lang=self.lang, vars=self.vars, attempts=self.attempts,
                       failures=self.failures, path=tuple(self.path), done=self.done, outcome=self.outcome,
                       record_seq=self.record_seq)


class Engine:
    """Steps calls through one validated :class:`Flow`.

    ``is_open(now)`` answers the business-hours branch (backed by the
    ticketing working calendar when wired) and ``is_restricted(caller, now)``
    the screening branch (backed by the supervisors' list of restricted
    callers); they are the only outside knowledge, and both answer from memory.
    """

    def __init__(self, flow: Flow, is_open: Callable[[datetime], bool] = lambda now: True,
                 is_restricted: Callable[[str, datetime], bool] = lambda caller, now: False,
                 can_understand: Callable[[], bool] = lambda: True):
        self.flow = flow
        self.is_open = is_open
        self.is_restricted = is_restricted
        # False when no speech model is installed: a describe node sends callers straight to its
        # fallback instead of asking them to speak for nothing
        self.can_understand = can_understand

    def start(self, caller: str, now: datetime, vars: dict[str, str] | None = None) -> tuple[CallState, list]:
        # a caller who chose a language earlier in the call (the rating after an agent) or whose
        # request was made in one (the satisfaction callback) hears this flow in it: HOTLINE_LANG
        chosen = (vars or {}).get(LANGUAGE_VAR)
        lang = chosen if chosen in self.flow.languages else self.flow.default_language
        state = CallState(flow=self.flow.name, caller=caller, lang=lang, vars=dict(vars or {}))
        s = _Step(state, now)
        self._enter(s, self.flow.start)
        return s.freeze(state), s.commands

    #: nodes a caller can be put back at when a controller lost them: those waiting for the caller
    RESUMABLE = frozenset({"menu", "language", "collect", "speech"})

    def resume(self, state: CallState | None, caller: str, now: datetime, vars: dict[str, str] | None = None,
               node_id: str | None = None, lang: str | None = None) -> tuple[CallState, list]:
        """Put a caller back in the flow after the controller lost them (a dropped AMI link, a
        controller that died): at ``node_id`` if it waits for input — its prompt is played again,
        "repeat the current menu" — else at the flow's start.  ``state`` (the visit so far, when
        this process still has it) keeps the path; otherwise a fresh state in ``lang``."""
        if state is None:
            state = CallState(flow=self.flow.name, caller=caller, lang=lang or self.flow.default_language,
                              vars=dict(vars or {}))
        else:
            state = replace(state, done=False, outcome=None, vars={**state.vars, **(vars or {})})
        node = self.flow.nodes.get(node_id) if node_id else None
        target = node_id if node is not None and node.kind in self.RESUMABLE else self.flow.start
        s = _Step(state, now)
        self._enter(s, target)
        return s.freeze(state), s.commands

    def step(self, state: CallState, event: Any, now: datetime) -> tuple[CallState, list]:
        if state.done:
            return state, []
        s = _Step(state, now)
        if isinstance(event, HangupSeen):
            s.note(result="caller_hangup")
            s.done, s.outcome = True, "caller_hangup"
            return s.freeze(state), []
        if isinstance(event, Failure):
            self._failure(s, event)
            return s.freeze(state), s.commands
        node = self.flow.node(state.node)
        handler = getattr(self, f"_on_{node.kind}", None)
        if handler is None:
            raise IvrError("ivr.engine.unexpected_input", f"node {node.id} ({node.kind}) awaits no input")
        handler(s, node, event)
        return s.freeze(state), s.commands

    # ---------------------------------------------------------------- entering

    def _enter(self, s: _Step, node_id: str) -> None:
        for _ in range(MAX_AUTO_NODES):
            node = self.flow.node(node_id)
            s.node, s.attempts = node_id, 0
            s.path.append(PathStep(node_id, node.kind, s.now))
            nxt = getattr(self, f"_enter_{node.kind}")(s, node)
            if nxt is None:
                return
            node_id = nxt
        raise IvrError("ivr.engine.runaway", f"more than {MAX_AUTO_NODES} nodes without input")

    def _enter_play(self, s, node):
        s.commands.append(Play(node.get("prompt"), s.lang))
        return node.get("next")

    def _enter_hours(self, s, node):
        is_open = bool(self.is_open(s.now))
        s.note(result="open" if is_open else "closed")
        return node.get("open") if is_open else node.get("closed")

    def _enter_screen(self, s, node):
        restricted = bool(s.caller) and bool(self.is_restricted(s.caller, s.now))
        s.note(result="restricted" if restricted else "allowed")
        return node.get("restricted") if restricted else node.get("allowed")

    def _enter_outcome(self, s, node):
        s.commands.append(Outcome(node.get("name"), node.get("value")))
        s.vars[node.get("name")] = node.get("value")
        return node.get("next")

    def _enter_menu(self, s, node, reprompt: str | None = None):
        if reprompt:
            s.commands.append(Play(reprompt, s.lang))
        s.commands.append(CollectDigits(node.get("prompt"), s.lang, 1, node.get("timeout"), "#"))

    _enter_language = _enter_menu

    def _enter_collect(self, s, node, reprompt: str | None = None):
        if reprompt:
            s.commands.append(Play(reprompt, s.lang))
        s.commands.append(CollectDigits(node.get("prompt"), s.lang, node.get("max_digits"), node.get("timeout"),
                                        "#"))

    def _enter_speech(self, s, node, reprompt: str | None = None):
        if reprompt:
            s.commands.append(Play(reprompt, s.lang))
        words = tuple(w for ws in node.get("grammar").values() for w in ws)
        s.commands.append(Speech(node.get("prompt"), s.lang, words, node.get("timeout")))

    def _enter_describe(self, s, node):
        if not self.can_understand():
            s.note(result="no_recognizer")
            return node.get("fallback")
        s.commands.append(Play(node.get("prompt"), s.lang))
        s.record_seq += 1
        s.commands.append(Record(f"{node.id}-{s.record_seq}", node.get("max_seconds"), node.get("silence")))

    def _enter_message(self, s, node):
        s.commands.append(Play(node.get("prompt"), s.lang))
        s.record_seq += 1
        s.commands.append(Record(f"{node.id}-{s.record_seq}", node.get("max_seconds")))

    def _enter_callback(self, s, node):
        s.commands.append(RequestCallback(s.vars.get("callback_number") or s.caller, node.get("queue"),
                                          node.get("skill"), node.get("priority")))

    def _enter_lookup(self, s, node):
        if node.get("by") == "caller":
            if not s.caller:
                s.note(result="no_caller_id")
                return node.get("not_found")
            s.commands.append(Lookup(caller=s.caller))
            return None
        number = s.vars.get(node.get("var"), "")
        if not number:
            s.note(result="no_number")
            return node.get("not_found")
        s.commands.append(Lookup(number))

    def _enter_transfer(self, s, node):
        if node.get("prompt"):
            s.commands.append(Play(node.get("prompt"), s.lang))
        s.note(result=f"queue:{node.get('queue')}")
        self._finish(s, "transfer")
        # a department skill chosen from what the caller said (``describe``) wins over the node's
        skill = s.vars.pop("speech_skill", None) or node.get("skill")
        s.commands.append(Transfer(node.get("queue"), skill, node.get("priority")))

    def _enter_hangup(self, s, node):
        if node.get("prompt"):
            s.commands.append(Play(node.get("prompt"), s.lang))
        self._finish(s, "hangup")
        s.commands.append(Hangup())

    def _finish(self, s: _Step, outcome: str) -> None:
        s.done, s.outcome = True, outcome
        path = ">".join(f"{p.node}:{p.keys}" if p.keys else p.node for p in s.path)[-240:]
        s.commands.append(SetVar("IVR_PATH", path))

    # ------------------------------------------------------------------ input

    def _retry(self, s, node, reprompt_field: str, fallback: str | None) -> None:
        """Invalid input or silence: prompt again, or give up to ``fallback``."""
        s.attempts += 1
        if s.attempts > node.get("retries"):
            s.note(result="retries_exhausted")
            if fallback is None:
                return
            self._enter(s, fallback)
            return
        attempts = s.attempts
        getattr(self, f"_enter_{node.kind}")(s, node, node.get(reprompt_field) or node.get("invalid_prompt"))
        s.attempts = attempts

    def _on_menu(self, s, node, event):
        keys = event.keys if isinstance(event, Digits) else ""
        self._expect(event, (Digits, Timeout))
        if not keys:
            s.note(result="timeout")
            return self._retry(s, node, "timeout_prompt", node.get("fallback"))
        key = keys[0]
        s.note(keys=key)
        if key in node.options:
            return self._enter(s, node.options[key])
        s.note(result="invalid")
        return self._retry(s, node, "invalid_prompt", node.get("fallback"))

    def _on_language(self, s, node, event):
        self._expect(event, (Digits, Timeout))
        keys = event.keys if isinstance(event, Digits) else ""
        if keys:
            s.note(keys=keys[0])
        if keys and keys[0] in node.options:
            s.lang = node.options[keys[0]]
            s.note(result=s.lang)
            if s.lang != self.flow.default_language:  # the rating flow later on this channel reads it
                s.commands.append(SetVar(LANGUAGE_VAR, s.lang))
            return self._enter(s, node.get("next"))
        s.note(result="timeout" if not keys else "invalid")
        s.attempts += 1
        if s.attempts > node.get("retries"):
            s.lang = self.flow.default_language
            return self._enter(s, node.get("next"))
        attempts = s.attempts
        self._enter_language(s, node)
        s.attempts = attempts

    def _on_collect(self, s, node, event):
        self._expect(event, (Digits, Timeout))
        keys = (event.keys if isinstance(event, Digits) else "").rstrip("#")
        if keys and re.fullmatch(node.get("pattern"), keys):
            s.vars[node.get("var")] = keys
            s.note(keys=keys, result="valid")
            return self._enter(s, node.get("next"))
        s.note(keys=keys, result="invalid" if keys else "timeout")
        return self._retry(s, node, "invalid_prompt", node.get("fallback"))

    def _on_speech(self, s, node, event):
        self._expect(event, (Result, Timeout))
        text = event.value if isinstance(event, Result) else None
        target = match_grammar(text or "", node.get("grammar"))
        if target is not None:
            s.note(result=f"said:{target}")
            return self._enter(s, target)
        s.note(result="no_match" if text else "no_speech")
        if text is None:  # no recogniser, or silence: go straight to keys
            return self._enter(s, node.get("fallback"))
        return self._retry(s, node, "invalid_prompt", node.get("fallback"))

    def _on_describe(self, s, node, event):
        self._expect(event, (Recorded, Result))
        if isinstance(event, Recorded):
            if event.hung_up:
                s.note(result="caller_hangup")
                s.done, s.outcome = True, "caller_hangup"
                return None
            if event.seconds <= 0:
                s.note(result="no_speech")
                return self._enter(s, node.get("fallback"))
            s.commands.append(Understand(event.path, s.lang))
            return None  # stays here until the understanding comes back
        heard = event.value if isinstance(event.value, dict) else None
        if not heard or not heard.get("understood"):
            s.note(result="not_understood" if heard else "no_recognizer")
            return self._enter(s, node.get("fallback"))
        urgent = heard.get("urgency") == "urgent"
        skill = node.get("skills", {}).get(heard.get("department") or "")
        if skill:
            s.vars["speech_skill"] = skill
        s.note(result="heard:" + ("urgent" if urgent else heard.get("department") or "general"))
        return self._enter(s, node.get("urgent") or node.get("next") if urgent else node.get("next"))

    def _on_message(self, s, node, event):
        self._expect(event, (Recorded,))
        if event.seconds <= 0:
            s.note(result="empty")
            if event.hung_up:
                s.done, s.outcome = True, "caller_hangup"
                return
            return self._enter(s, node.get("fallback") or node.get("next"))
        if node.get("outcome"):
            s.commands.append(Outcome(node.get("outcome"), event.path))
        else:
            s.commands.append(SubmitMessage(event.path, event.seconds))
        s.note(result=f"recorded:{event.seconds:.1f}s")
        if event.hung_up:
            s.done, s.outcome = True, "caller_hangup"
            return
        return self._enter(s, node.get("next"))

    def _on_callback(self, s, node, event):
        self._expect(event, (Result,))
        s.note(result="callback_booked" if event.value else "callback_failed")
        return self._enter(s, node.get("next") if event.value else node.get("fallback"))

    def _on_lookup(self, s, node, event):
        self._expect(event, (Result,))
        status = event.value
        if not isinstance(status, OrderStatus):
            s.note(result="not_found")
            return self._enter(s, node.get("not_found"))
        prompt = self.flow.prompts[node.get("prompt")]
        text = render_lookup(prompt.text(s.lang) or "", status, s.lang, self.flow.timezone)
        s.note(result=f"found:{status.status}")
        s.commands.append(Play(prompt.id, s.lang, text))
        return self._enter(s, node.get("next"))

    def _failure(self, s: _Step, event: Failure) -> None:
        """An AGI command failed (510/520): one recovery via ``on_error``, then hang up."""
        s.failures += 1
        s.note(result=f"agi_failure:{event.code}")
        if s.failures == 1 and self.flow.on_error:
            self._enter(s, self.flow.on_error)
            return
        s.done, s.outcome = True, "error"
        s.commands.append(Hangup())

    @staticmethod
    def _expect(event, kinds) -> None:
        if not isinstance(event, kinds):
            raise IvrError("ivr.engine.unexpected_input",
                           f"got {type(event).__name__}, expected {' or '.join(k.__name__ for k in kinds)}")
