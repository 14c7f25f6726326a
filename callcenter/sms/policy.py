"""What an SMS says and when it may go: pure rules, ``now`` passed in (stdlib only).

- :func:`mobile` accepts a mainland mobile number (the only kind an SMS reaches) in the forms
  citizens type it (spaces, dashes, +86 / 0086) and returns its 11 digits;
- :class:`QuietHours`: no non-urgent message at night in the hotline's zone — it waits for
  the morning; verification codes are urgent (the citizen is waiting for them);
- :func:`render`: the templates, Chinese and English, with the hotline's signature;
- :func:`opt_out_word`: a reply that means "no more messages" (TD, 退订, STOP …);
- :func:`retry_delay`: the spacing of retries, doubling up to a ceiling.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from callcenter.errors import HotlineError

UTC = timezone.utc
KINDS = ("accepted", "replied", "closed", "code")
URGENT_KINDS = frozenset({"code"})
LANGS = ("zh", "en")
_MOBILE = re.compile(r"1[3-9]\d{9}")
OPT_OUT_WORDS = frozenset({"TD", "T", "退订", "STOP", "UNSUBSCRIBE", "QUIT", "CANCEL", "END"})
OPT_IN_WORDS = frozenset({"KT", "开通", "START", "UNSTOP"})
SUMMARY_CHARS = 60

TEMPLATES = {
    ("accepted", "zh"): "【{sign}】您反映的诉求已受理，工单号{number}。查询进度：{link} 回TD退订",
    ("accepted", "en"): "[{sign_en}] Your request is registered as order {number}. Track it: {link} "
                        "Reply STOP to opt out",
    ("replied", "zh"): "【{sign}】工单{number}已答复：{summary} 请评价办理结果：{link} 回TD退订",
    ("replied", "en"): "[{sign_en}] Order {number} has a reply: {summary} Please rate it: {link} "
                       "Reply STOP to opt out",
    ("closed", "zh"): "【{sign}】工单{number}已办结，感谢您对热线工作的支持。回TD退订",
    ("closed", "en"): "[{sign_en}] Order {number} is closed. Thank you for contacting the hotline. "
                      "Reply STOP to opt out",
    ("code", "zh"): "【{sign}】验证码{code}，{minutes}分钟内有效，请勿告诉他人。",
    ("code", "en"): "[{sign_en}] Your code is {code}, valid for {minutes} minutes. Do not share it.",
}


class SmsRuleError(HotlineError, ValueError):
    """A message that cannot be built (unknown kind or language, missing data)."""

    error_id = "sms.bad_message"


def mobile(text: str | None) -> str | None:
    """The 11 digits of a mainland mobile number, or None (landlines and junk get no SMS)."""
    if not isinstance(text, str):
        return None
    digits = re.sub(r"[\s\-()]", "", text)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
            break
    return digits if _MOBILE.fullmatch(digits) else None


def shorten(text: str | None, limit: int = SUMMARY_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def render(kind: str, lang: str, *, sign: str = "12345热线", sign_en: str = "12345 Hotline", **data) -> str:
    """The text of one message; ``data`` fills the template (number, link, summary, code, minutes)."""
    template = TEMPLATES.get((kind, lang))
    if template is None:
        raise SmsRuleError(f"no template for {kind!r} in {lang!r}")
    if "summary" in data:
        data["summary"] = shorten(data["summary"])
    try:
        return template.format(sign=sign, sign_en=sign_en, **data)
    except KeyError as exc:
        raise SmsRuleError(f"template {kind}/{lang} needs {exc.args[0]}") from None


def opt_out_word(text: str | None) -> str | None:
    """The opt-out word a reply consists of (``TD``), else None; so is an opt-in word (``KT``)."""
    word = (text or "").strip().strip("。.!！").upper()
    return word if word in OPT_OUT_WORDS or word in OPT_IN_WORDS else None


def retry_delay(attempt: int, base: float, ceiling: float) -> float:
    """Seconds after failed attempt ``attempt`` (1-based): base, 2·base, 4·base … at most ``ceiling``."""
    return min(base * 2 ** max(attempt - 1, 0), ceiling)


@dataclass(frozen=True)
class QuietHours:
    """Night hours (``start`` to ``end`` local time, across midnight) with no non-urgent SMS."""

    start: time = time(21, 0)
    end: time = time(8, 0)
    zone: str = "Asia/Shanghai"

    @classmethod
    def parse(cls, start: str = "21:00", end: str = "08:00", zone: str = "Asia/Shanghai") -> "QuietHours":
        try:
            ZoneInfo(zone)
            return cls(time.fromisoformat(start), time.fromisoformat(end), zone)
        except (ValueError, KeyError) as exc:
            raise SmsRuleError(f"quiet hours {start}-{end} {zone}: {exc}") from None

    def is_quiet(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.zone)).time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release(self, now: datetime, urgent: bool = False) -> datetime:
        """When a message created at ``now`` may go: now, or the end of tonight's quiet hours."""
        if urgent or not self.is_quiet(now):
            return now
        zone = ZoneInfo(self.zone)
        local = now.astimezone(zone)
        day = local.date() if local.time() < self.end else local.date() + timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=zone).astimezone(UTC)
