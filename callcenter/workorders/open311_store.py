"""What a GeoReport request carries beyond a work order (migration ``open311_0001_requests``):
coordinates as numbers, the media URL or uploaded photo, and the reporter's email, device and
account ids (never shown publicly)."""
from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table, insert, select, update

from callcenter.db import metadata

open311_requests = Table(
    "open311_requests", metadata,
    Column("order_number", String(20), primary_key=True),
    Column("lat", Float),
    Column("long", Float),
    Column("media_url", String(500)),
    Column("attachment_id", Integer),
    Column("email", String(200)),
    Column("device_id", String(100)),
    Column("account_id", String(100)),
)
FIELDS = ("lat", "long", "media_url", "attachment_id", "email", "device_id", "account_id")


def save(engine, number: str, extra: dict) -> None:
    with engine.begin() as conn:
        conn.execute(insert(open311_requests).values(order_number=number, **{k: extra.get(k) for k in FIELDS}))


def extras(engine, numbers: list[str]) -> dict[str, dict]:
    if not numbers:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(select(open311_requests).where(open311_requests.c.order_number.in_(numbers)))
        return {r.order_number: dict(r._mapping) for r in rows}


def set_attachment(engine, number: str, attachment_id: int) -> None:
    """The photo of ``media_url`` was kept as this attachment."""
    with engine.begin() as conn:
        conn.execute(update(open311_requests).where(open311_requests.c.order_number == number)
                     .values(attachment_id=attachment_id))
