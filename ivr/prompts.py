"""Prompt text: what the IVR says, in Chinese and English.

Pure helpers shared by the engine and the prompt builder: status words and
deadlines spoken in the caller's language, phone numbers masked before any
text is read aloud (the caller of a status lookup is not authenticated, so
nothing personal is ever spoken), digit strings spaced so TTS reads them one
by one, the speech grammar matcher, and the catalogue of every prompt to
render (flow prompts plus the engine's own).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from callcenter.personal_data import mask_text

# Work-order status words (the ticketing lifecycle's codes); unknown codes are
# read as a neutral "being handled" rather than leaking an internal code.
STATUS_WORDS: dict[str, dict[str, str]] = {
    "registered": {"zh": "已受理", "en": "registered"},
    "resolved_on_call": {"zh": "已直接办结", "en": "resolved on the call"},
    "dispatched": {"zh": "已派单至承办部门", "en": "sent to the responsible department"},
    "acknowledged": {"zh": "承办部门已签收", "en": "accepted by the department"},
    "return_requested": {"zh": "正在重新派单", "en": "being re-assigned"},
    "in_progress": {"zh": "正在办理", "en": "in progress"},
    "extension_requested": {"zh": "正在办理，已申请延期", "en": "in progress, an extension was requested"},
    "awaiting_caller": {"zh": "等待您补充信息", "en": "waiting for more information from you"},
    "replied": {"zh": "部门已答复", "en": "answered by the department"},
    "callback_pending": {"zh": "已答复，等待回访", "en": "answered, a follow-up call is pending"},
    "closed": {"zh": "已办结", "en": "closed"},
    "reopened": {"zh": "已重新办理", "en": "reopened"},
    "merged": {"zh": "已与同一事件合并办理", "en": "merged with a report of the same event"},
    "cancelled": {"zh": "已撤销", "en": "cancelled"},
}
_UNKNOWN_STATUS = {"zh": "正在处理", "en": "being handled"}
_NO_DEADLINE = {"zh": "暂无", "en": "not set"}


MAX_READ_CHARS = 200  # a read-back longer than this is cut: the caller needs the gist, not an essay


@dataclass(frozen=True)
class OrderStatus:
    """What the IVR may read back about a work order (nothing personal)."""

    number: str
    status: str
    deadline: datetime | None = None
    summary: str = ""
    reply: str = ""
    category: str = ""



def spaced_digits(number: str) -> str:
    """"2026 1123" → "2 0 2 6 1 1 2 3": TTS reads digits one by one."""
    return " ".join(ch for ch in number if not ch.isspace())


def status_words(status: str, lang: str) -> str:
    return STATUS_WORDS.get(status, _UNKNOWN_STATUS)[lang]


def format_deadline(deadline: datetime | None, lang: str, tz: str) -> str:
    if deadline is None:
        return _NO_DEADLINE[lang]
    local = deadline.astimezone(ZoneInfo(tz))
    if lang == "zh":
        return f"{local.year}年{local.month}月{local.day}日{local.hour}点{local.minute:02d}分"
    return local.strftime("%B %d, %Y at %H:%M").replace(" 0", " ")


def _clip(text: str) -> str:
    text = " ".join(mask_text(text or "").split())
    return text if len(text) <= MAX_READ_CHARS else text[:MAX_READ_CHARS] + "…"


def render_lookup(template: str, order: OrderStatus, lang: str, tz: str) -> str:
    """Fill a read-back template; every free-text field is masked and clipped."""
    fields = {
        "number": spaced_digits(order.number),
        "status": status_words(order.status, lang),
        "deadline": format_deadline(order.deadline, lang, tz),
        "summary": _clip(order.summary),
        "reply": _clip(order.reply) or _NO_DEADLINE[lang],
        "category": _clip(order.category),
    }
    return re.sub(r"\{([a-z_]+)\}", lambda m: fields.get(m.group(1), m.group(0)), template)


def match_grammar(text: str, grammar: dict[str, Iterable[str]]) -> str | None:
    """The target whose words appear in ``text``; ``None`` when no or several match.

    A limited grammar of menu words: recognisers return the whole utterance
    ("我要查询工单"), so a word counts when it occurs in it.  Ambiguity is no
    match, so the caller is asked again rather than misrouted.
    """
    said = " ".join(text.lower().split())
    if not said:
        return None
    hits = {target for target, words in grammar.items() for w in words if w and w.lower() in said}
    return hits.pop() if len(hits) == 1 else None


# ----------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class PromptEntry:
    """One prompt to render: where its audio lives relative to the sounds dir."""

    flow: str
    prompt: str
    lang: str
    text: str

    @property
    def name(self) -> str:
        return prompt_sound_name(self.flow, self.prompt, self.lang)


def prompt_sound_name(flow: str, prompt: str, lang: str) -> str:
    """Path (no extension) of a flow prompt under the sounds directory."""
    return f"{flow}/{lang}/{prompt}"


def dynamic_sound_name(text: str, lang: str) -> str:
    """Path (no extension) for text rendered at call time; the same text is rendered once."""
    digest = hashlib.sha256(f"{lang}\0{text}".encode("utf-8")).hexdigest()[:24]
    return f"tts/{lang}/{digest}"


def catalogue(flows) -> Iterator[PromptEntry]:
    """Every fixed text prompt of ``flows`` in every language it has.

    Sound-name prompts need no rendering, and read-back templates
    (``{status}`` …) are rendered per call from their filled-in text.
    """
    for flow in flows:
        for prompt in flow.prompts.values():
            for lang, text in sorted(prompt.texts.items()):
                if not is_template(text):
                    yield PromptEntry(flow.name, prompt.id, lang, text)


def is_template(text: str) -> bool:
    return bool(re.search(r"\{[a-z_]+\}", text))
