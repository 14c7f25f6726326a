"""Scripted participants: callers, agent phones and citizens' phones.

They are plain descriptions; the simulator consults them when a call reaches
the endpoint.  All times are in (simulated) seconds, scaled by the
simulator's ``speed``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class ScriptError(ValueError):
    """A participant script that cannot be acted out."""

    error_id = "pbxsim.script_invalid"

    def __init__(self, message: str, **details) -> None:
        super().__init__(message)
        self.details = details


_DTMF = set("0123456789*#ABCD")


def _check_digits(digits: str, what: str) -> None:
    if not isinstance(digits, str) or any(d not in _DTMF for d in digits):
        raise ScriptError(f"{what} must be DTMF digits (0-9 * # A-D)", value=repr(digits))


@dataclass
class CallerScript:
    """What a citizen calling the hotline does.

    ``dtmf``: ``[(after_seconds, digits), …]`` pressed at those times after the
    call is answered; ``keys``: one entry per prompt that reads digits
    (``GET DATA``, ``WAIT FOR DIGIT``, ``Read``), answered ``key_delay`` seconds
    after the prompt starts (``""`` = say nothing, let it time out);
    ``patience``: seconds after answer the caller waits for an agent before
    hanging up (None = forever); ``hangup_after``: seconds after answer the
    caller hangs up whatever happens; ``speech_wav``: an 8 kHz mono 16-bit WAV
    the caller "speaks" (streamed to AudioSocket when spied, written by
    ``RECORD FILE``); ``talk_seconds``: once connected to an agent, the caller
    hangs up after this long (None = the agent ends the call).
    """

    dtmf: list = field(default_factory=list)
    keys: list = field(default_factory=list)
    key_delay: float = 0.5
    patience: float | None = None
    hangup_after: float | None = None
    speech_wav: str | Path | None = None
    talk_seconds: float | None = None

    def __post_init__(self) -> None:
        for item in self.dtmf:
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise ScriptError("dtmf entries are (after_seconds, digits)", value=repr(item))
            if float(item[0]) < 0:
                raise ScriptError("dtmf time must not be negative", value=item[0])
            _check_digits(item[1], "dtmf")
        for k in self.keys:
            _check_digits(k, "keys")
        for name in ("patience", "hangup_after", "talk_seconds"):
            value = getattr(self, name)
            if value is not None and float(value) < 0:
                raise ScriptError(f"{name} must not be negative", value=value)
        if self.speech_wav is not None and not Path(self.speech_wav).is_file():
            raise ScriptError("speech_wav does not exist", path=str(self.speech_wav))


@dataclass
class Device:
    """An agent's phone (``PJSIP/1001``): answers after a delay, never, or is busy.

    ``drop_on_answer``: the phone answers and its leg is gone before Dial
    bridges it with the caller (DialEnd ANSWER, Hangup, no BridgeEnter).
    """

    name: str
    answer_after: float | str | None = 1.0
    talk_seconds: float | None = None
    drop_on_answer: bool = False

    def __post_init__(self) -> None:
        if not self.name.startswith("PJSIP/") or len(self.name) <= 6 or any(c in self.name for c in "\r\n,&"):
            raise ScriptError("a device is named PJSIP/<extension>", device=self.name)
        if isinstance(self.answer_after, str) and self.answer_after != "busy":
            raise ScriptError("answer_after is seconds, None (never) or 'busy'", value=self.answer_after)
        if isinstance(self.answer_after, (int, float)) and self.answer_after < 0:
            raise ScriptError("answer_after must not be negative", value=self.answer_after)

    @property
    def busy(self) -> bool:
        return self.answer_after == "busy"


PSTN_BEHAVIOURS = ("answer", "noanswer", "busy", "congestion")


@dataclass
class PSTNNumber:
    """A citizen's phone reached by an outbound callback (``Local/<n>@hotline-pstn``).

    ``digits`` are pressed ``digit_after`` seconds into the first menu that asks the citizen for
    keys (a person listens to the menu, whatever came before it: intro and read-back lengths
    depend on the rendered prompts); the phone hangs up ``hangup_after`` seconds later.
    """

    number: str
    behaviour: str = "answer"
    answer_after: float = 2.0
    digits: str = ""
    digit_after: float = 2.0
    hangup_after: float = 10.0

    def __post_init__(self) -> None:
        if not self.number.isdigit():
            raise ScriptError("a PSTN number is digits only", number=self.number)
        if self.behaviour not in PSTN_BEHAVIOURS:
            raise ScriptError("behaviour is answer, noanswer, busy or congestion", behaviour=self.behaviour)
        _check_digits(self.digits, "digits")


@dataclass(eq=False)
class ListeningPhone:
    """The party on the far end of a channel that presses ``digits`` once, ``delay`` seconds after
    a menu starts asking for keys (set on the channel running the menu by ``SimPSTN``)."""

    phone: object            # the citizen's channel: the DTMF comes from it
    digits: str
    delay: float
    hangup_after: float
