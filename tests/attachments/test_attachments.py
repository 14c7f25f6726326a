"""Attachments: the store checks content and keeps files by checksum; the API serves them only to
whoever may see the order, with byte ranges; bad uploads are refused with an error id and store nothing."""
from __future__ import annotations

import hashlib
import io
from datetime import datetime, timezone

import pytest
import pytest_twisted

from tests.web.conftest import ORDER, staff_for

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)


def png_bytes(size=(640, 480), colour=(200, 30, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 200), (10, 120, 10)).save(out, "JPEG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_sniff_names_each_accepted_type_by_its_magic_bytes_and_nothing_else():
    from callcenter.attachments.store import sniff

    assert sniff(png_bytes()) == "image/png"
    assert sniff(jpeg_bytes()) == "image/jpeg"
    assert sniff(b"GIF89a....") == "image/gif"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(PDF) == "application/pdf"
    assert sniff(b"<html><script>alert(1)</script>") is None
    assert sniff(b"MZ\x90\x00") is None


def test_store_keeps_one_file_per_checksum_with_a_thumbnail_and_refuses_bad_content(db_url, tmp_path):
    from callcenter.attachments.store import AttachmentError, AttachmentStore
    from callcenter.db import make_engine

    engine = make_engine(db_url)
    store = AttachmentStore(engine, tmp_path / "files", max_bytes=200_000, max_per_order=3)
    data = png_bytes()
    first = store.add("2026120700001", data, "../../etc/现场照片.exe", by="disp1", role="dispatcher", now=NOW)
    second = store.add("2026120700001", data, "again.png", by="dept1", role="department", now=NOW)
    assert first["filename"] == "现场照片.png" and first["media_type"] == "image/png"
    assert (first["width"], first["height"]) == (640, 480)
    assert first["sha256"] == hashlib.sha256(data).hexdigest()
    stored = [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
    assert sorted(p.name for p in stored) == sorted([first["sha256"], first["sha256"] + ".thumb.png"])
    from PIL import Image

    with Image.open(store.thumbnail(first)) as thumb:
        assert max(thumb.size) == store.thumb_size
    assert store.verify(second)
    for bad, error_id in ((b"", "attachments.empty"), (b"<svg onload=alert(1)>", "attachments.unsupported_type"),
                          (png_bytes()[:200], "attachments.corrupt"), (b"%PDF-1.4 truncated", "attachments.corrupt"),
                          (b"\x89PNG\r\n\x1a\n" + b"0" * 300_000, "attachments.too_large")):
        with pytest.raises(AttachmentError) as caught:
            store.add("2026120700001", bad, "x", by="disp1", role="dispatcher", now=NOW)
        assert caught.value.error_id == error_id
    store.add("2026120700001", PDF, "report.pdf", by="disp1", role="dispatcher", now=NOW)
    with pytest.raises(AttachmentError) as caught:
        store.add("2026120700001", PDF, "fourth.pdf", by="disp1", role="dispatcher", now=NOW)
    assert caught.value.error_id == "attachments.too_many"
    assert [a["filename"] for a in store.list("2026120700001")] == ["现场照片.png", "again.png", "report.pdf"]
    assert store.counts(["2026120700001", "2026120700002"]) == {"2026120700001": 3}
    engine.dispose()


@pytest_twisted.ensureDeferred
async def test_api_upload_read_range_and_thumbnail_for_those_who_see_the_order_only(web):
    staff = await staff_for(web)
    number = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
    data = png_bytes((1200, 900))
    path = f"/api/v1/workorders/{number}/attachments"

    created = await staff.agent.post(path + "?filename=%E7%8E%B0%E5%9C%BA.png", body=data,
                                     headers={"Content-Type": "image/png"})
    assert created.status == 201, created.body
    item = created.json
    assert item["filename"] == "现场.png" and item["kind"] == "image"
    assert (await staff.dispatcher.get(path)).json["items"][0]["id"] == item["id"]

    whole = await staff.supervisor.get(f"{path}/{item['id']}")
    assert whole.status == 200 and whole.body == data and whole.header("content-type") == "image/png"
    assert whole.header("accept-ranges") == "bytes"
    part = await staff.supervisor.get(f"{path}/{item['id']}", headers={"Range": "bytes=8-15"})
    assert part.status == 206 and part.body == data[8:16]
    assert part.header("content-range") == f"bytes 8-15/{len(data)}"
    beyond = await staff.supervisor.get(f"{path}/{item['id']}", headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status == 416
    thumb = await staff.supervisor.get(f"{path}/{item['id']}/thumbnail")
    assert thumb.status == 200 and thumb.body.startswith(b"\x89PNG") and len(thumb.body) < len(data) * 2

    # another department sees nothing of it, not even that it exists; the routed one sees it
    assert (await staff.other_dept.get(path)).status == 404
    refused = await staff.other_dept.get(f"{path}/{item['id']}")
    assert refused.status == 404 and refused.json["error_id"] == "workorder.not_found"
    assert (await staff.dept.get(f"{path}/{item['id']}")).body == data
    assert (await staff.other_dept.post(path, body=PDF)).status == 404
    assert (await staff.supervisor.get(f"{path}/999999")).json["error_id"] == "attachments.not_found"
    assert (await staff.supervisor.get(f"/api/v1/workorders/20991231999/attachments/{item['id']}")).status == 404


@pytest_twisted.ensureDeferred
async def test_api_refuses_fake_and_oversized_files_with_error_ids_and_stores_nothing(web):
    staff = await staff_for(web)
    number = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
    path = f"/api/v1/workorders/{number}/attachments"
    fake = await staff.agent.post(path + "?filename=a.jpg", body=b"<html>not a photo</html>",
                                  headers={"Content-Type": "image/jpeg"})
    assert fake.status == 415 and fake.json["error_id"] == "attachments.unsupported_type"
    empty = await staff.agent.post(path, body=b"")
    assert empty.status == 400 and empty.json["error_id"] == "attachments.empty"
    store = web.deps.extras["attachments"]
    big = b"%PDF-1.4\n" + b"0" * (store.max_bytes + 10)
    huge = await staff.agent.post(path, body=big)
    assert huge.status == 413
    beyond_site = await staff.agent.post(path, body=b"%PDF-" + b"0" * (store.max_bytes + 10_000))
    assert beyond_site.status == 413 and beyond_site.json["error_id"] == "http.body_too_large"
    assert (await staff.agent.get(path)).json["items"] == []
    assert not [p for p in store.root.rglob("*") if p.is_file()]
