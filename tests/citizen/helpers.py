"""Portal test helpers: multipart bodies, a small real photo, the code from the outbox."""
from __future__ import annotations

import io
import re
import uuid

from sqlalchemy import select

from callcenter.sms.tables import sms_messages


def photo_png(color=(200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "PNG")
    return buf.getvalue()


def multipart(fields: dict, files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(str(value).encode("utf-8") + b"\r\n")
    for name, filename, data in files:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                  f'Content-Type: application/octet-stream\r\n\r\n'.encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def last_code(engine, phone: str) -> str:
    """The code last queued for ``phone`` (what the SMS says)."""
    with engine.connect() as conn:
        body = conn.execute(select(sms_messages.c.body).where(sms_messages.c.phone == phone,
                                                              sms_messages.c.kind == "code")
                            .order_by(sms_messages.c.id.desc())).scalars().first()
    return re.search(r"(\d{6})", body).group(1)


def ticket_of(html: str) -> str:
    return re.search(r'name="ticket" value="([^"]+)"', html).group(1)
