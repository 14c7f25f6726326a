"""The personal-data policy: who sees a citizen's phone number, name and address whole, and where.

One table (:data:`WHOLE`) says, for each kind of personal data and each channel it leaves the
service by, which roles see it whole; everyone else — and every channel not listed — gets it
masked by the one masking rule of its kind:

=========  ==================================================================================
phone      ``138****5678`` (mobiles keep the carrier prefix and the last four digits; other
           numbers keep the last four: ``87654321`` → ``****4321``, ``0574-87654321`` →
           ``0574-****4321``; a ``+86``/``0086`` prefix is dropped; up to four digits → all ``*``)
name       the first character of each word: ``张三丰`` → ``张**``, ``John Smith`` → ``J*** S****``
address    every digit hidden (house, building, unit and flat numbers): ``中山西路138号3幢501室`` →
           ``中山西路***号*幢***室`` — the street stays, the door does not
text       free text (summaries, channel names, dial strings, log lines): every phone-shaped
           number in it masked, nothing else touched (work-order numbers ``2026112300001``, ids
           such as ``1700000000.12``, ``WO-20261123-0001``, ``PJSIP/trunk-00000001`` stay readable)
=========  ==================================================================================

Channels: :data:`PAGE` (staff pages), :data:`API` (the JSON API), :data:`EXPORT` (CSV and
other downloads), :data:`WORKLIST` (lists people dial from: the callbacks page), :data:`LIVE`
(live-call monitors and wallboards, read over a shoulder), :data:`PUBLIC` (the citizen portal
and the public Open311 view), :data:`LOG` and :data:`METRIC` (nobody, ever).

Use :func:`show` (or :func:`phone_for` …) where a value leaves the service, :func:`mask_text` on
free text, and :class:`MaskingFilter` on log handlers (:func:`callcenter.logs.setup_logging`
installs it, so no full citizen number reaches a log line).
"""
from __future__ import annotations

import logging
import re

PHONE, NAME, ADDRESS = "phone", "name", "address"
PAGE, API, EXPORT, WORKLIST, LIVE, PUBLIC, LOG, METRIC = (
    "page", "api", "export", "worklist", "live", "public", "log", "metric")
CHANNELS = (PAGE, API, EXPORT, WORKLIST, LIVE, PUBLIC, LOG, METRIC)

#: staff who call citizens or supervise those who do
CALLING_STAFF = frozenset({"agent", "dispatcher", "supervisor", "admin"})
#: those who dial citizens back by hand from a list
DIALLERS = frozenset({"agent", "dispatcher"})
#: every signed-in staff role (departments handle the orders, so they see names and addresses)
STAFF = CALLING_STAFF | {"department"}

#: (kind, channel) → the roles that see the value whole; anything missing here is masked for all
WHOLE: dict[tuple[str, str], frozenset] = {
    (PHONE, PAGE): CALLING_STAFF,
    (PHONE, API): CALLING_STAFF,
    (PHONE, EXPORT): CALLING_STAFF,
    (PHONE, WORKLIST): DIALLERS,
    (NAME, PAGE): STAFF,
    (NAME, API): STAFF,
    (NAME, EXPORT): STAFF,
    (NAME, WORKLIST): STAFF,
    (ADDRESS, PAGE): STAFF,
    (ADDRESS, API): STAFF,
    (ADDRESS, EXPORT): STAFF,
    (ADDRESS, WORKLIST): STAFF,
}


def sees_whole(kind: str, role: str | None, channel: str = PAGE) -> bool:
    """Whether ``role`` sees ``kind`` whole on ``channel`` (never for an unknown channel or no role)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown personal-data channel {channel!r}")
    return role is not None and role in WHOLE.get((kind, channel), ())


# -- the masking rules ---------------------------------------------------------------------------

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"(0\d{2,3})-(\d{7,8})")


def mask_phone(number: str | None) -> str | None:
    """The one masked form of a phone number (see the module's table); None and "" stay as they are."""
    if not number:
        return number
    text = str(number).strip()
    landline = _LANDLINE.fullmatch(text)
    if landline:
        return f"{landline.group(1)}-{_keep_last(landline.group(2), 4)}"
    digits = re.sub(r"\D", "", text)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and _MOBILE.fullmatch(digits[len(prefix):]):
            digits = digits[len(prefix):]
            break
    if _MOBILE.fullmatch(digits) or len(digits) > 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) <= 4:
        return "*" * len(digits)
    return _keep_last(digits, 4 if len(digits) >= 7 else 2)


def _keep_last(digits: str, keep: int) -> str:
    return "*" * (len(digits) - keep) + digits[-keep:]


def mask_name(name: str | None) -> str | None:
    """The first character of each word, the rest as ``*`` (张** / J*** S****)."""
    if not name:
        return name
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in str(name).split())


def mask_address(address: str | None) -> str | None:
    """The address with every digit (full-width too) hidden: the street stays, the door does not."""
    if not address:
        return address
    return re.sub(r"\d", "*", str(address))


# Phone-shaped numbers only: a mobile (1[3-9] and nine digits, maybe after 86/0086), a number with an
# area code (0574-87654321, 057487654321), a local number (seven or eight digits not starting with 0
# or 1), or anything after "+" — standing alone or after "/", ":", "@" or a CJK character.  Not a
# work-order number (2026112300001), a Uniqueid (1700000000.12), a channel sequence
# (trunk-00000001) or WO-20261123-0001, whose digits neighbour "." or "-" or have another shape.
_IN_TEXT = re.compile(r"(?<![0-9A-Za-z_.+\-])(?:0\d{2,3}-\d{7,8}|\+\d{7,15}|(?:0086|86)?1[3-9]\d{9}|0\d{9,11}"
                      r"|[2-9]\d{6,7})(?![0-9A-Za-z_.\-])")


def mask_text(text: str | None) -> str | None:
    """``text`` with every phone number in it masked (``Local/138****0001@hotline-pstn``)."""
    if not text:
        return text
    return _IN_TEXT.sub(lambda m: mask_phone(m.group(0)) or "", text)


_MASKERS = {PHONE: mask_phone, NAME: mask_name, ADDRESS: mask_address}


def show(kind: str, value, *, role: str | None, channel: str = PAGE):
    """``value`` as ``role`` may see it on ``channel``: whole, or masked by the rule of its kind."""
    if sees_whole(kind, role, channel):
        return value
    return _MASKERS[kind](value)


def phone_for(number, role: str | None, channel: str = PAGE):
    return show(PHONE, number, role=role, channel=channel)


def name_for(name, role: str | None, channel: str = PAGE):
    return show(NAME, name, role=role, channel=channel)


def address_for(address, role: str | None, channel: str = PAGE):
    return show(ADDRESS, address, role=role, channel=channel)


# -- logs ------------------------------------------------------------------------------------------

def _masked(value):
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_masked(v) for v in value)
    return value


class MaskingFilter(logging.Filter):
    """A handler filter: the message, its ``fields`` and any traceback with phone numbers masked.

    Installed on the service's log handler by :func:`callcenter.logs.setup_logging`, so a module
    logging a channel (``Local/13800000001@hotline-pstn``) or a dial string writes
    ``Local/138****0001@hotline-pstn``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:            # a broken format string: keep what there is, masked
            message = str(record.msg)
        record.msg, record.args = mask_text(message), None
        fields = getattr(record, "fields", None)
        if fields:
            record.fields = _masked(dict(fields))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


# -- public text (the public Open311 view) ----------------------------------------------------------

# a number before a door marker: 88号, 3幢, 2单元, 501室, 12弄, 7楼, 5栋, 甲3号; "No. 12", "Room 501", "Flat 3B", "#12"
_DOOR = re.compile(r"[0-9０-９]+(?:[-－][0-9０-９]+)*(?=\s*(?:号|號|幢|栋|棟|单元|單元|室|弄|楼|樓|层|層|户|戶))"
                   r"|(?i:\b(?:no\.?|room|rm\.?|flat|apt\.?|unit|house|#)\s*)[0-9][0-9A-Za-z\-]*")
# a name introduced as one: 我叫张三 / 我是李四 / 联系人王五 / 姓名：赵六 / my name is John Smith
_INTRODUCED = re.compile(r"(?:我叫|我是|本人|联系人|姓名|名字叫|户主)[:：\s]*([\u4e00-\u9fff]{2,3})"
                         r"|(?i:my name is|name:|contact:?)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)")


def redact_public(text: str | None, names=()) -> str | None:
    """Free text fit for anyone to read (the public Open311 view): phone numbers masked, the
    given ``names`` (the caller's) and names introduced as such masked, house, building and flat
    numbers hidden.  The street and the matter stay readable."""
    if not text:
        return text
    out = mask_text(str(text))
    for name in sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True):
        out = out.replace(name, mask_name(name))
    out = _INTRODUCED.sub(lambda m: m.group(0).replace(m.group(1) or m.group(2), mask_name(m.group(1) or m.group(2))),
                          out)
    return _DOOR.sub(lambda m: re.sub(r"[0-9０-９A-Za-z]", "*", m.group(0)) if m.group(0)[:1].isdigit()
                     else re.sub(r"(?<=\s)[0-9][0-9A-Za-z\-]*$|(?<=#)[0-9][0-9A-Za-z\-]*$",
                                 lambda d: "*" * len(d.group(0)), m.group(0)), out)
