"""Steps that dialplan applications and AGI commands share: answering a channel,
playing prompts while reading its keys (``Read()``, AGI ``GET DATA``).
"""
from __future__ import annotations

from twisted.internet import defer


def answer(sim, ch) -> None:
    if ch.state != 6:
        sim.report_progress(ch, "answer")


@defer.inlineCallbacks
def collect_digits(sim, ch, prompts, max_digits: int, timeout: float, terminator: str = "#"):
    """Play prompts (interruptible by a key) then read up to ``max_digits``.

    Returns ``(digits, timed_out)``.  Scripted callers answer through
    :meth:`PBXSimulator.prompt_keys`.
    """
    sim.prompt_keys(ch)
    digits = ""
    for prompt in prompts:
        if not prompt:
            continue
        seconds = sim.sound_seconds(ch, prompt)
        got = yield sim.sleep(ch, sim.default_prompt_seconds if seconds is None else seconds, dtmf=True)
        if got is not None:
            if got == terminator:
                return digits, False
            digits += got
            break
    while len(digits) < max_digits:
        got = yield sim.sleep(ch, timeout, dtmf=True)
        if got is None:
            return digits, True
        if got == terminator:
            return digits, False
        digits += got
    return digits, False
