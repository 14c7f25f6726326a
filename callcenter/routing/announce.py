"""What a waiting caller hears: position and estimated wait, Chinese first.

Prompts are sound files named ``hotline/<name>`` (rendered per language by
``callcenter ivr prompts build`` from :data:`QUEUE_PROMPTS`); numbers are
spoken by Asterisk's ``SAY NUMBER`` in the channel's language.  Pure: returns
the AGI commands to send.
"""
from __future__ import annotations

import math

QUEUE_PROMPTS: dict[str, dict[str, str]] = {
    "queue_all_busy": {
        "zh": "坐席正忙，请稍候，我们将尽快为您接通。",
        "en": "All our agents are busy. Please hold; we will connect you as soon as possible.",
    },
    "queue_position": {"zh": "您前面还有", "en": "Callers ahead of you:"},
    "queue_position_unit": {"zh": "位来电。", "en": "."},
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


def prompt_file(name: str) -> str:
    """The sound file for a prompt (the channel's language picks the rendering)."""
    if name not in QUEUE_PROMPTS:
        raise KeyError(name)
    return f"hotline/{name}"


def announcement(position: int | None, estimated_wait: float | None, *, first: bool = False) -> list[str]:
    """AGI commands announcing the caller's place and, when known, the wait in minutes."""
    commands = []
    if first:
        commands.append(f'STREAM FILE {prompt_file("queue_all_busy")} ""')
    if position is not None and position > 1:
        commands += [f'STREAM FILE {prompt_file("queue_position")} ""',
                     f'SAY NUMBER {position - 1} ""',
                     f'STREAM FILE {prompt_file("queue_position_unit")} ""']
    if estimated_wait is not None and estimated_wait >= 60:
        minutes = max(1, math.ceil(estimated_wait / 60))
        commands += [f'STREAM FILE {prompt_file("queue_wait")} ""',
                     f'SAY NUMBER {minutes} ""',
                     f'STREAM FILE {prompt_file("queue_wait_minutes")} ""']
    return commands
