"""Photos and PDFs attached to work orders: checked by content, stored by checksum.

The type is what the bytes are (magic numbers, then a full decode for images),
never what the client says; a file is written once under ``root/ab/abcdef…``
(its SHA-256), atomically, and a row in ``attachments`` ties it to an order.
Images get a small PNG thumbnail beside them.  Who may see an order is not
decided here: callers ask the work-order service first (see ``web.py``).

Function-level API (also for the citizen portal and Open311 media):

* :func:`sniff` — the media type of some bytes, or None;
* :meth:`AttachmentStore.add` — validate and store one file for an order;
* :meth:`AttachmentStore.list` / :meth:`AttachmentStore.counts` — what an order has;
* :meth:`AttachmentStore.get` — one attachment's metadata (for serving);
* :meth:`AttachmentStore.path` / :meth:`AttachmentStore.thumbnail` — the files on disk.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, String, Table, func, insert, select

from callcenter.db import metadata
from callcenter.errors import HotlineError
from ticketing.persistence.tables import BigId, UtcDateTime

attachments = Table(
    "attachments", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_number", String(20), nullable=False, index=True),
    Column("sha256", String(64), nullable=False),
    Column("media_type", String(40), nullable=False),
    Column("size", Integer, nullable=False),
    Column("filename", String(200), nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("source", String(16), nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

MEDIA_TYPES = {  # media type → (extension, zh, en)
    "image/jpeg": ("jpg", "照片", "photo"),
    "image/png": ("png", "图片", "image"),
    "image/gif": ("gif", "图片", "image"),
    "image/webp": ("webp", "图片", "image"),
    "application/pdf": ("pdf", "PDF 文档", "PDF document"),
}
SOURCES = ("api", "page", "open311", "citizen")
_SHA = re.compile(r"^[0-9a-f]{64}$")


class AttachmentError(HotlineError):
    """A refused attachment (nothing was stored)."""


def sniff(data: bytes) -> str | None:
    """The media type the bytes start with (JPEG, PNG, GIF, WebP, PDF), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def clean_filename(name: Any, media_type: str) -> str:
    """A display name: no directories, no control characters, at most 120 characters, our extension."""
    ext = MEDIA_TYPES[media_type][0]
    text = name if isinstance(name, str) else ""
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(c for c in unicodedata.normalize("NFC", text) if unicodedata.category(c)[0] != "C").strip(" .")
    stem = text.rsplit(".", 1)[0] if "." in text else text
    stem = stem[:110] or "attachment"
    return f"{stem}.{ext}"


class AttachmentStore:
    """Attachments of work orders on disk (``root``) and in the database (``engine``)."""

    max_bytes = 10 * 1024 * 1024
    max_per_order = 20
    max_pixels = 40_000_000  # beyond this an image is refused (decompression bombs)
    thumb_size = 240

    def __init__(self, engine, root: str | Path, *, max_bytes: int | None = None, max_per_order: int | None = None):
        self.engine = engine
        self.root = Path(root).resolve()
        if max_bytes is not None:
            self.max_bytes = int(max_bytes)
        if max_per_order is not None:
            self.max_per_order = int(max_per_order)

    @classmethod
    def from_config(cls, config, engine) -> "AttachmentStore":
        """``[attachments] dir, max_bytes, max_per_order``."""
        return cls(engine, config.get("attachments.dir") or "var/attachments",
                   max_bytes=int(config.number("attachments.max_bytes", 1024, 100 * 1024 * 1024,
                                               unit="bytes", default=cls.max_bytes)),
                   max_per_order=int(config.number("attachments.max_per_order", 1, 500, default=cls.max_per_order)))

    # -- checking ---------------------------------------------------------------
    def check(self, data: Any) -> tuple[str, int | None, int | None]:
        """(media type, width, height) of acceptable bytes; an :class:`AttachmentError` otherwise."""
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise AttachmentError("attachments.empty", "附件为空 / the file is empty")
        if len(data) > self.max_bytes:
            raise AttachmentError("attachments.too_large", f"附件超过 {self.max_bytes // 1024} KB / the file is larger "
                                  f"than {self.max_bytes} bytes", http_status=413, max_bytes=self.max_bytes,
                                  size=len(data))
        media_type = sniff(bytes(data[:16]))
        if media_type is None:
            raise AttachmentError("attachments.unsupported_type", "只接受照片(JPEG/PNG/GIF/WebP)和 PDF / only photos "
                                  "(JPEG, PNG, GIF, WebP) and PDF documents are accepted", http_status=415,
                                  accepted=sorted(MEDIA_TYPES))
        if media_type == "application/pdf":
            if b"%%EOF" not in bytes(data[-2048:]):
                raise AttachmentError("attachments.corrupt", "PDF 文件不完整 / the PDF is truncated or corrupt",
                                      http_status=422, media_type=media_type)
            return media_type, None, None
        return (media_type, *self._image_size(bytes(data), media_type))

    def _image_size(self, data: bytes, media_type: str) -> tuple[int, int]:
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > self.max_pixels:
                    raise AttachmentError("attachments.too_many_pixels", "图片尺寸过大 / the image has too many "
                                          "pixels", http_status=422, max_pixels=self.max_pixels)
                image.verify()
        except AttachmentError:
            raise
        except Exception:  # noqa: BLE001 - Pillow raises many kinds for broken files
            raise AttachmentError("attachments.corrupt", "图片无法识别或已损坏 / the image is truncated or corrupt",
                                  http_status=422, media_type=media_type) from None
        return width, height

    # -- writing ------------------------------------------------------------------
    def add(self, order_number: str, data: bytes, filename: Any, *, by: str, role: str, now: datetime,
            source: str = "api") -> dict:
        """Store one file for ``order_number`` (the caller checked the order may be written); its metadata."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}")
        media_type, width, height = self.check(data)
        sha = hashlib.sha256(data).hexdigest()
        with self.engine.begin() as conn:
            count = conn.execute(select(func.count()).select_from(attachments)
                                 .where(attachments.c.order_number == order_number)).scalar_one()
            if count >= self.max_per_order:
                raise AttachmentError("attachments.too_many", f"每张工单最多 {self.max_per_order} 个附件 / at most "
                                      f"{self.max_per_order} attachments per order", http_status=409,
                                      max_per_order=self.max_per_order)
            self._write(sha, bytes(data), media_type)
            row = {"order_number": order_number, "sha256": sha, "media_type": media_type, "size": len(data),
                   "filename": clean_filename(filename, media_type), "width": width, "height": height,
                   "source": source, "uploaded_by": str(by)[:64], "role": str(role)[:16], "created_at": now}
            new_id = conn.execute(insert(attachments).values(**row).returning(attachments.c.id)).scalar_one()
        return self._view(dict(row, id=new_id))

    def _write(self, sha: str, data: bytes, media_type: str) -> None:
        target = self._file(sha)
        if target.exists() and target.stat().st_size == len(data):
            return  # the same content is stored once
        target.parent.mkdir(parents=True, exist_ok=True)
        self._atomic(target, data)
        if media_type.startswith("image/"):
            self._atomic(self._thumb(sha), self._make_thumbnail(data))

    @staticmethod
    def _atomic(target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _make_thumbnail(self, data: bytes) -> bytes:
        from PIL import Image, ImageOps

        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)
            image.thumbnail((self.thumb_size, self.thumb_size))
            if image.mode not in ("RGB", "RGBA", "L"):
                image = image.convert("RGBA")
            out = io.BytesIO()
            image.save(out, "PNG", optimize=True)
        return out.getvalue()

    # -- reading --------------------------------------------------------------------
    def _file(self, sha: str) -> Path:
        if not _SHA.match(sha):
            raise ValueError("not a sha256")
        return self.root / sha[:2] / sha

    def _thumb(self, sha: str) -> Path:
        return self.root / sha[:2] / f"{sha}.thumb.png"

    @staticmethod
    def _view(row: dict) -> dict:
        kind = MEDIA_TYPES.get(row["media_type"], ("", "附件", "attachment"))
        return {"id": int(row["id"]), "order_number": row["order_number"], "sha256": row["sha256"],
                "media_type": row["media_type"], "kind": "image" if row["media_type"].startswith("image/") else "pdf",
                "kind_name": {"zh": kind[1], "en": kind[2]}, "size": row["size"], "filename": row["filename"],
                "width": row["width"], "height": row["height"], "source": row["source"],
                "uploaded_by": row["uploaded_by"], "role": row["role"], "created_at": row["created_at"].isoformat()}

    def list(self, order_number: str) -> list[dict]:
        """An order's attachments, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(attachments).where(attachments.c.order_number == order_number)
                                .order_by(attachments.c.id)).mappings().all()
        return [self._view(dict(r)) for r in rows]

    def counts(self, numbers: list[str]) -> dict[str, int]:
        """Attachments per order number (orders without any are left out)."""
        if not numbers:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(attachments.c.order_number, func.count())
                                .where(attachments.c.order_number.in_(list(numbers)))
                                .group_by(attachments.c.order_number)).all()
        return {n: c for n, c in rows}

    def get(self, attachment_id: Any, order_number: str) -> dict:
        """One attachment of ``order_number`` (another order's id is "not found" too)."""
        if isinstance(attachment_id, str):
            attachment_id = int(attachment_id) if attachment_id.isdigit() and len(attachment_id) <= 18 else None
        if not isinstance(attachment_id, int) or isinstance(attachment_id, bool):
            raise AttachmentError("attachments.not_found", "附件不存在 / no such attachment", http_status=404)
        with self.engine.connect() as conn:
            row = conn.execute(select(attachments).where(attachments.c.id == attachment_id,
                                                         attachments.c.order_number == order_number)).mappings().first()
        if row is None:
            raise AttachmentError("attachments.not_found", "附件不存在 / no such attachment", http_status=404,
                                  id=attachment_id)
        return self._view(dict(row))

    def path(self, meta: dict) -> Path:
        """The stored file of an attachment (its checksum re-verified by :meth:`verify`, not on every read)."""
        path = self._file(meta["sha256"])
        if not path.is_file():
            raise AttachmentError("attachments.missing", "附件文件丢失 / the stored file is missing", http_status=500,
                                  id=meta["id"])
        return path

    def thumbnail(self, meta: dict) -> Path | None:
        """The PNG thumbnail of an image attachment (made again if it was lost), else None."""
        if meta["kind"] != "image":
            return None
        thumb = self._thumb(meta["sha256"])
        if not thumb.is_file():
            self._atomic(thumb, self._make_thumbnail(self.path(meta).read_bytes()))
        return thumb

    def verify(self, meta: dict) -> bool:
        """Whether the stored file still has its checksum."""
        digest = hashlib.sha256()
        with self.path(meta).open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest() == meta["sha256"]
