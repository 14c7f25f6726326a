"""Similar open orders, suggested for merging (合并) duplicate reports of one event.

Pure: the caller passes the candidate orders (open ones, from the work-order
store) and ``now``.  A candidate is a mapping or an object with some of:
``id``, ``text``/``description``/``summary``, ``category``, ``department``,
``district``, ``address`` (str or mapping with road/house_number/landmark/
community/subdistrict), ``subdistrict``, ``created_at`` (aware datetime),
``status``, ``merged_into`` — so ``ticketing``'s ``WorkOrder`` works as is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from ticketing.intake.errors import InvalidText

CLOSED = frozenset({"closed", "cancelled", "canceled", "merged", "resolved_on_call"})
WEIGHTS = {"text": 0.5, "category": 0.2, "address": 0.2, "time": 0.1}
#: Below this text similarity the orders are about different things, however close the addresses.
UNRELATED_TEXT = 0.15
_HAN = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class SimilarOrder:
    order_id: Any
    score: float
    reasons: dict[str, float] = field(default_factory=dict)
    order: Any = None


def _get(obj, *names, default=None):
    for name in names:
        value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        if value not in (None, ""):
            return value
    return default


def _grams(text: str) -> set[str]:
    text = text.lower()
    han = "".join(_HAN.findall(text))
    grams = {han[i:i + 2] for i in range(len(han) - 1)}
    grams |= set(_WORD.findall(text))
    return grams


def _without(text: str, places: list[str]) -> str:
    """The text minus place names, so two reports are not alike merely for naming one street."""
    for place in sorted(places, key=len, reverse=True):
        text = text.replace(place, " ")
    return text


def text_similarity(a: str, b: str) -> float:
    """Dice coefficient over Han bigrams and Latin words: cheap and tolerant of word order."""
    ga, gb = _grams(a), _grams(b)
    if not ga or not gb:
        return 0.0
    return 2 * len(ga & gb) / (len(ga) + len(gb))


def _address_parts(addr) -> dict[str, str]:
    if addr is None:
        return {}
    if isinstance(addr, str):
        return {"text": addr}
    if hasattr(addr, "as_dict"):
        addr = addr.as_dict()
    return {k: v for k, v in dict(addr).items() if isinstance(v, str) and v}


def address_proximity(a: dict, b: dict, district_a, district_b, text_b: str = "") -> float:
    """1.0 same house, 0.9 same landmark/community, 0.7 same road, 0.4 same subdistrict, 0.2 same district."""
    def same(key):
        return a.get(key) and (a.get(key) == b.get(key) or (not b.get(key) and a[key] in (b.get("text", "") + text_b)))
    if same("road") and a.get("house_number") and a.get("house_number") == b.get("house_number"):
        return 1.0
    if same("landmark") or same("community"):
        return 0.9
    if same("road"):
        return 0.7
    if same("subdistrict"):
        return 0.4
    if district_a and district_a == district_b:
        return 0.2
    return 0.0


def similar_orders(proposal_or_text, candidates: Iterable, now: datetime, *, window: timedelta = timedelta(days=7),
                   limit: int = 5, min_score: float = 0.35, extractor=None) -> list[SimilarOrder]:
    """Open ``candidates`` that may report the same event, best first.

    ``proposal_or_text`` is a :class:`~ticketing.intake.extractor.Proposal` or
    raw text (proposed with ``extractor`` or the shipped one).  Orders closed,
    merged or older than ``window`` are never suggested.
    """
    if now.tzinfo is None:
        raise InvalidText("now 必须带时区 / now must be timezone-aware", {})
    if isinstance(proposal_or_text, str):
        if extractor is None:
            from ticketing.intake.resources import default_extractor
            extractor = default_extractor()
        proposal = extractor.propose(proposal_or_text)
    else:
        proposal = proposal_or_text
    mine = _address_parts(proposal.address)
    ranked = []
    for order in candidates:
        status = str(_get(order, "status", default="")).lower()
        if status in CLOSED or _get(order, "merged_into"):
            continue
        created = _get(order, "created_at", "registered_at")
        age = None
        if isinstance(created, datetime) and created.tzinfo is not None:
            age = now - created
            if age > window or age < -timedelta(minutes=5):
                continue
        text = str(_get(order, "text", "description", "summary", default=""))
        theirs = _address_parts(_get(order, "address"))
        if _get(order, "subdistrict") and "subdistrict" not in theirs:
            theirs["subdistrict"] = str(_get(order, "subdistrict"))
        places = [v for k, v in (*mine.items(), *theirs.items()) if k != "text" and len(v) >= 2]
        reasons = {"text": round(text_similarity(_without(proposal.text, places), _without(text, places)), 3)}
        category, department = _get(order, "category"), _get(order, "department")
        if proposal.category and category == proposal.category:
            reasons["category"] = 1.0
        elif proposal.category and category:
            reasons["category"] = 0.0  # both categorised, differently: another matter
        elif proposal.department and department == proposal.department:
            reasons["category"] = 0.5
        else:
            reasons["category"] = 0.0
        reasons["address"] = address_proximity(mine, theirs, proposal.district, _get(order, "district"), text)
        reasons["time"] = round(max(0.0, 1.0 - age / window), 3) if age is not None else 0.0
        score = sum(WEIGHTS[k] * v for k, v in reasons.items())
        if reasons["text"] < UNRELATED_TEXT:
            score /= 2
        score = round(score, 4)
        if score >= min_score:
            ranked.append(SimilarOrder(_get(order, "id", "number"), score, reasons, order))
    ranked.sort(key=lambda s: (-s.score, str(s.order_id)))
    return ranked[:limit]
