"""Figures for decisions (数据分析), read from ``work_orders`` (blocking; run in the thread pool).

Months are Beijing months.  Rows are selected with a day's margin and bucketed in Python after
normalising instants, as the reports do, so SQLite and PostgreSQL give the same answer.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import and_, select

from callcenter.reports.queries import CST, Period

_SPACE = re.compile(r"\s+")


def months_back(last: date, count: int) -> list[Period]:
    """``count`` month periods ending with the month of ``last``, oldest first."""
    out, year, month = [], last.year, last.month
    for _ in range(count):
        out.append(Period("month", date(year, month, 1)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def _rows(engine, start: datetime, end: datetime, *columns):
    from ticketing.persistence.tables import work_orders as w

    margin = timedelta(days=1)
    with engine.connect() as conn:
        for row in conn.execute(select(*columns, w.c.created_at).where(
                and_(w.c.created_at >= start - margin, w.c.created_at < end + margin))):
            if start <= row[-1] < end:  # UtcDateTime: always aware
                yield row


def district_counts(engine, period: Period) -> dict[str, int]:
    from ticketing.persistence.tables import work_orders as w

    return dict(Counter(r[0] for r in _rows(engine, period.start, period.end, w.c.district)))


def trends(engine, last: Period, months: int = 12, top: int = 8) -> dict:
    """Orders per month for the ``top`` categories and every district, over ``months`` months to ``last``."""
    from ticketing.persistence.tables import work_orders as w

    periods = months_back(last.first, months)
    index = {p.label: i for i, p in enumerate(periods)}
    by_category: dict[str, list[int]] = defaultdict(lambda: [0] * months)
    by_district: dict[str, list[int]] = defaultdict(lambda: [0] * months)
    for category, district, at in _rows(engine, periods[0].start, periods[-1].end, w.c.category, w.c.district):
        i = index[at.astimezone(CST).strftime("%Y-%m")]
        by_category[category][i] += 1
        by_district[district][i] += 1
    ranked = sorted(by_category, key=lambda c: (-sum(by_category[c]), c))[:top]
    return {"months": [p.label for p in periods], "categories": {c: by_category[c] for c in ranked},
            "districts": {d: by_district[d] for d in sorted(by_district)}}


def normalise_address(text: str | None) -> str:
    """An address as a key: full-width to half-width, no spaces, lower case (``3 号楼`` = ``3号楼``)."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text or "")).lower()


def hot_spots(engine, period: Period, *, at_least: int = 3, limit: int = 30) -> list[dict]:
    """Addresses that keep coming back (重复来电地址): at least ``at_least`` orders in the period, most first."""
    from ticketing.domain.lifecycle import OPEN
    from ticketing.persistence.tables import work_orders as w

    groups: dict[tuple[str, str], dict] = {}
    for number, district, address, category, status, at in _rows(
            engine, period.start, period.end, w.c.number, w.c.district, w.c.address, w.c.category, w.c.status):
        key = normalise_address(address)
        if not key:
            continue
        g = groups.setdefault((district, key), {"district": district, "address": address.strip(), "orders": 0,
                                                 "open": 0, "categories": Counter(), "numbers": [], "last": at})
        g["orders"] += 1
        g["open"] += status in OPEN
        g["categories"][category] += 1
        g["numbers"].append(number)
        g["last"] = max(g["last"], at)
    spots = [g for g in groups.values() if g["orders"] >= at_least]
    spots.sort(key=lambda g: (-g["orders"], -g["open"], g["district"], g["address"]))
    return [{"district": g["district"], "address": g["address"], "orders": g["orders"], "open": g["open"],
             "categories": [c for c, _ in g["categories"].most_common(3)], "numbers": sorted(g["numbers"])[-10:],
             "last": g["last"].isoformat()} for g in spots[:limit]]
