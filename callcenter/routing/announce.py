"""What a waiting caller hears: position and estimated wait, Chinese first.

Prompts are sound files ``<sounds_dir>/queue/<lang>/<name>`` — the IVR's
layout (``ivr.prompts.prompt_sound_name`` with flow ``queue``), rendered from
:data:`QUEUE_PROMPTS` by :func:`build_queue_prompts` (espeak-ng + sox, via the
IVR's renderer).  Numbers are spoken by Asterisk's ``SAY NUMBER`` in the
channel's language.  :func:`announcement` is pure: it returns AGI commands.
"""
from __future__ import annotations

import math

QUEUE_PROMPTS: dict[str, dict[str, str]] = {
    "queue_all_busy": {
        "zh": "坐席正忙，请稍候，我们将尽快为您接通。",
        "en": "All our agents are busy. Please hold; we will connect you as soon as possible.",
    },
    "queue_position": {"zh": "您前面还有", "en": "Callers ahead of you:"},
    "queue_position_unit": {"zh": "位来电，请耐心等候。", "en": "Please continue to hold."},
    "queue_wait": {"zh": "预计等待时间约", "en": "Your estimated wait is about"},
    "queue_wait_minutes": {"zh": "分钟。", "en": "minutes."},
    "queue_callback_offer": {
        "zh": "如需挂机等待回拨并保留您的排队位置，请按1；继续等待请按其他键。",
        "en": "To hang up and keep your place for a call back, press 1. To keep holding, press any other key.",
    },
    "queue_callback_booked": {
        "zh": "已为您保留排队位置，轮到您时我们将回拨，谢谢。",
        "en": "Your place is kept. We will call you back when it is your turn. Thank you.",
    },
    "queue_callback_exists": {
        "zh": "该号码已有待回拨记录，请继续等待。",
        "en": "A call back to this number is already booked. Please keep holding.",
    },
}


LANGUAGES = ("zh", "en")


def prompt_file(name: str, lang: str = "zh", sounds_dir: str | None = None) -> str:
    """The sound (no extension) for a prompt in the caller's language."""
    if name not in QUEUE_PROMPTS:
        raise KeyError(name)
    base = f"queue/{lang if lang in LANGUAGES else 'zh'}/{name}"
    return f"{str(sounds_dir).rstrip('/')}/{base}" if sounds_dir else base


def announcement(position: int | None, estimated_wait: float | None, *, first: bool = False,
                 lang: str = "zh", sounds_dir: str | None = None) -> list[str]:
    """AGI commands announcing the caller's place and, when known, the wait in minutes."""
    def play(name):
        return f'STREAM FILE {prompt_file(name, lang, sounds_dir)} ""'

    commands = []
    if first:
        commands.append(play("queue_all_busy"))
    if position is not None and position > 1:
        commands += [play("queue_position"), f'SAY NUMBER {position - 1} ""', play("queue_position_unit")]
    if estimated_wait is not None and estimated_wait >= 60:
        minutes = max(1, math.ceil(estimated_wait / 60))
        commands += [play("queue_wait"), f'SAY NUMBER {minutes} ""', play("queue_wait_minutes")]
    return commands


def prompt_entries():
    """The queue prompts as the IVR prompt builder's entries (flow ``queue``)."""
    from ivr.prompts import PromptEntry

    return [PromptEntry("queue", name, lang, text)
            for name, texts in QUEUE_PROMPTS.items() for lang, text in texts.items()]


def build_queue_prompts(sounds_dir, tts=None, force: bool = False):
    """Render the queue prompts into ``sounds_dir`` (blocking: run it in a thread)."""
    from ivr.tts import build_prompts

    return build_prompts(prompt_entries(), sounds_dir, tts=tts, force=force)
