"""The dispatch console's API and pages: inbox piles with counts, the workspace (intake's proposal,
similar orders with a merge preview), bulk dispatch, recordings with byte ranges; role checks and bad
input (4xx with an error id, nothing changed)."""
from __future__ import annotations

import wave
from datetime import datetime

import pytest_twisted
from sqlalchemy import insert, select

from tests.web.conftest import ORDER, signed_in, staff_for

VAGUE = dict(ORDER, summary="有点事情想反映一下", description="就是那个事情，你们看着办吧。", address=None,
             caller_phone="13900001111")


async def new_order(staff, **fields) -> str:
    resp = await staff.agent.post("/api/v1/workorders", json=dict(ORDER, **fields))
    assert resp.status == 201, resp.body
    return resp.json["number"]


def statuses(web, numbers) -> dict:
    from ticketing.persistence.tables import work_orders

    with web.engine.connect() as conn:
        return dict(conn.execute(select(work_orders.c.number, work_orders.c.status)
                                 .where(work_orders.c.number.in_(numbers))).all())


@pytest_twisted.ensureDeferred
async def test_inbox_sorts_orders_into_piles_with_counts(web):
    staff = await staff_for(web)
    clear = await new_order(staff)
    vague = (await staff.agent.post("/api/v1/workorders", json=VAGUE)).json["number"]
    returned = await new_order(staff)
    await staff.dispatcher.post(f"/api/v1/workorders/{returned}/dispatch", json={})
    await staff.dept.post(f"/api/v1/workorders/{returned}/return",
                          json={"reason_code": "not_our_duty", "reason": "不属本局"})
    extended = await new_order(staff)
    await staff.dispatcher.post(f"/api/v1/workorders/{extended}/dispatch", json={})
    await staff.dept.post(f"/api/v1/workorders/{extended}/acknowledge", json={})
    await staff.dept.post(f"/api/v1/workorders/{extended}/extend", json={"duration": "2 working days", "reason": "需协调"})
    await staff.dispatcher.post(f"/api/v1/workorders/{extended}/supervise",
                                json={"reason": "反复投诉", "respond_within": "1 working day"})

    body = (await staff.dispatcher.get("/api/v1/dispatch/inbox?bucket=new")).json
    assert body["counts"]["new"] == 2 and body["counts"]["returned"] == 1 and body["counts"]["extension"] == 1
    assert body["counts"]["supervised"] == 1 and body["counts"]["reopened"] == 0
    assert [i["number"] for i in body["items"]] == [clear, vague]
    by_number = {i["number"]: i["intake"] for i in body["items"]}
    assert by_number[vague]["needs_dispatcher"] is True and "category_unsure" in by_number[vague]["doubts"]
    needs = (await staff.dispatcher.get("/api/v1/dispatch/inbox?bucket=needs_dispatcher")).json
    assert vague in [i["number"] for i in needs["items"]] and needs["counts"]["needs_dispatcher"] == len(needs["items"])
    assert [i["number"] for i in (await staff.supervisor.get("/api/v1/dispatch/inbox?bucket=returned")).json["items"]] \
        == [returned]

    bad = await staff.dispatcher.get("/api/v1/dispatch/inbox?bucket=everything")
    assert bad.status == 400 and bad.json["error_id"] == "dispatch.unknown_bucket"
    for client in (staff.agent, staff.dept):
        refused = await client.get("/api/v1/dispatch/inbox")
        assert refused.status == 403 and refused.json["error_id"] == "auth.forbidden"


@pytest_twisted.ensureDeferred
async def test_workspace_proposes_finds_the_duplicate_and_previews_the_merge(web):
    staff = await staff_for(web)
    first = await new_order(staff)
    duplicate = await new_order(staff, caller_phone="13700002222", caller_name="李四")
    other = await new_order(staff, category="road-damage", summary="路面塌陷 / road collapsed",
                            description="中山东路路面出现大坑。", address="江北区中山东路")
    ws = (await staff.dispatcher.get(f"/api/v1/dispatch/orders/{duplicate}")).json
    assert ws["order"]["number"] == duplicate and ws["history"][0]["action"] == "create"
    assert ws["intake"]["proposal"]["department"] == "urban-management"
    similar = [s["order"]["number"] for s in ws["similar"]]
    assert similar and similar[0] == first and other not in similar
    preview = ws["similar"][0]["merge_preview"]
    assert preview["possible"] is True and preview["after"]["merged"] == {
        "number": duplicate, "status": "merged", "merged_into": first}
    assert ws["next"] in (first, other)

    got = await staff.dispatcher.get(f"/api/v1/dispatch/orders/{duplicate}/merge-preview?into={first}")
    assert got.status == 200 and got.json["into"] == first
    self_merge = await staff.dispatcher.get(f"/api/v1/dispatch/orders/{duplicate}/merge-preview?into={duplicate}")
    assert self_merge.status == 422 and self_merge.json["error_id"] == "dispatch.merge_self"
    missing = await staff.dispatcher.get(f"/api/v1/dispatch/orders/{duplicate}/merge-preview")
    assert missing.status == 400 and missing.json["error_id"] == "dispatch.merge_target_required"
    assert (await staff.dispatcher.get("/api/v1/dispatch/orders/20990101999")).status == 404
    assert statuses(web, [first, duplicate]) == {first: "registered", duplicate: "registered"}


@pytest_twisted.ensureDeferred
async def test_bulk_dispatch_sends_each_order_to_its_department_and_refuses_bad_lists_whole(web):
    staff = await staff_for(web)
    a, b = await new_order(staff), await new_order(staff, category="road-damage", summary="路面塌陷")
    done = await staff.dispatcher.post("/api/v1/dispatch/bulk-dispatch", json={"numbers": [a, b]})
    assert done.status == 200, done.body
    routed = {d["number"]: d["department"] for d in done.json["dispatched"]}
    assert routed[a] == staff.department and routed[b] != staff.department
    assert statuses(web, [a, b]) == {a: "dispatched", b: "dispatched"}

    c = await new_order(staff)
    for body, status, error_id in (
            ({"numbers": [c, a]}, 409, "dispatch.not_dispatchable"),  # a is no longer new: c stays new too
            ({"numbers": []}, 422, "dispatch.bad_bulk"),
            ({"numbers": [c, c]}, 422, "dispatch.bad_bulk"),
            ({"numbers": [c], "department": "ministry-of-magic"}, 422, "dispatch.bad_bulk"),
            ({"numbers": [c], "priority": 1}, 422, "dispatch.bad_bulk"),
            ({"numbers": ["20990101999"]}, 404, "workorder.not_found")):
        resp = await staff.dispatcher.post("/api/v1/dispatch/bulk-dispatch", json=body)
        assert (resp.status, resp.json["error_id"]) == (status, error_id), body
    assert statuses(web, [c]) == {c: "registered"}
    refused = await staff.agent.post("/api/v1/dispatch/bulk-dispatch", json={"numbers": [c]})
    assert refused.status == 403 and statuses(web, [c]) == {c: "registered"}


def write_wav(path, seconds=1.0, rate=8000) -> bytes:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00" * int(seconds * rate))
    return path.read_bytes()


@pytest_twisted.ensureDeferred
async def test_recordings_play_with_byte_ranges_for_desk_roles_with_the_transcript(web, tmp_path):
    from callcenter.asr.jobs import transcription_jobs, transcripts

    root = web.deps.extras["recordings"].roots
    spool = tmp_path / "spool"
    spool.mkdir()
    root.append(spool.resolve())
    audio = write_wav(spool / "call-1.wav")
    staff = await staff_for(web)
    number = await new_order(staff, call_ids=["1701.1"])
    stamp = datetime(2026, 12, 7, 1, 0)
    with web.engine.begin() as conn:
        job = conn.execute(insert(transcription_jobs).values(
            recording_path=str(spool / "call-1.wav"), call_id="1701.1", status="done", attempts=1, max_attempts=3,
            created_at=stamp).returning(transcription_jobs.c.id)).scalar_one()
        conn.execute(insert(transcripts).values(call_id="1701.1", job_id=job, recording_path=str(spool / "call-1.wav"),
                                                text="我要投诉楼顶违章搭建", words=[], model="vosk", language="zh",
                                                duration=1.0, rtf=0.1, created_at=stamp))
        conn.execute(insert(transcription_jobs).values(
            recording_path="/etc/passwd", call_id="1701.1", status="queued", attempts=0, max_attempts=3,
            created_at=stamp))
    listing = (await staff.dispatcher.get(f"/api/v1/workorders/{number}/recordings")).json["items"]
    assert [(r["playable"], r["transcript"]) for r in listing] == [(True, "我要投诉楼顶违章搭建"), (False, None)]
    whole = await staff.dispatcher.get(listing[0]["url"])
    assert whole.status == 200 and whole.body == audio and whole.header("content-type") == "audio/wav"
    part = await staff.supervisor.get(listing[0]["url"], headers={"Range": "bytes=-100"})
    assert part.status == 206 and part.body == audio[-100:]
    assert part.header("content-range") == f"bytes {len(audio) - 100}-{len(audio) - 1}/{len(audio)}"
    outside = await staff.dispatcher.get(f"/api/v1/workorders/{number}/recordings/1")
    assert outside.status == 404 and outside.json["error_id"] == "recordings.not_found"
    dept = await staff.dept.get(listing[0]["url"])
    assert dept.status == 403
    assert (await staff.other_dept.get(f"/api/v1/workorders/{number}/recordings")).status == 403
    ws = (await staff.dispatcher.get(f"/api/v1/dispatch/orders/{number}")).json
    assert "我要投诉楼顶违章搭建" in ws["intake"]["text"] and ws["recordings"][0]["url"] == listing[0]["url"]


@pytest_twisted.ensureDeferred
async def test_console_pages_are_for_dispatchers_in_both_languages(web):
    staff = await staff_for(web)
    number = await new_order(staff)
    web.add_user("disp9", "dispatcher")
    web.add_user("agent9", "agent")
    client = await signed_in(web, "disp9")
    page = await client.get("/dispatch")
    assert page.status == 200 and "派单台" in page.text and f'data-number="{number}"' in page.text
    english = await client.get(f"/dispatch/orders/{number}?lang=en")
    assert "Dispatch console" in english.text and 'id="form-dispatch"' in english.text
    rows = await client.get("/dispatch?bucket=new&fragment=rows")
    assert rows.text.lstrip().startswith("<tr") and number in rows.text
    agent = await signed_in(web, "agent9")
    assert (await agent.get("/dispatch")).status == 403
    assert (await client.get("/dispatch?bucket=nope")).status == 400


@pytest_twisted.ensureDeferred
async def test_console_pages_show_names_not_codes_and_local_times(web):
    """Every pile and a full workspace (with pending return, co-handling and history), in zh and en: no raw
    code and no ISO time in the visible text (tests/web/human.py's rules)."""
    from tests.web.human import code_words, raw_findings, visible_text

    staff = await staff_for(web)
    number = await new_order(staff)
    await staff.dispatcher.post(f"/api/v1/workorders/{number}/dispatch",
                                json={"co_departments": [staff.other_department]})
    await staff.dept.post(f"/api/v1/workorders/{number}/return", json={"reason_code": "not_our_duty", "reason": "不属本局"})
    await new_order(staff)
    web.add_user("disp9", "dispatcher")
    client = await signed_in(web, "disp9")
    codes = code_words(web.deps.templates.names)
    problems = []
    paths = [f"/dispatch?bucket={b}" for b in ("new", "needs_dispatcher", "returned", "due")]
    for path in paths + [f"/dispatch/orders/{number}?x=1"]:
        for lang in ("zh", "en"):
            page = await client.get(f"{path}&lang={lang}")
            assert page.status == 200, path
            problems += [f"{path} {lang}: {p}" for p in raw_findings(visible_text(page.text), lang, codes)]
    assert problems == []


@pytest_twisted.ensureDeferred
async def test_playing_a_recording_is_audited_once_per_playback(web, tmp_path, caplog):
    import logging

    from callcenter.asr.jobs import transcription_jobs

    spool = tmp_path / "spool"
    spool.mkdir()
    web.deps.extras["recordings"].roots.append(spool.resolve())
    write_wav(spool / "call-2.wav")
    staff = await staff_for(web)
    number = await new_order(staff, call_ids=["1703.2"])
    with web.engine.begin() as conn:
        conn.execute(insert(transcription_jobs).values(recording_path=str(spool / "call-2.wav"), call_id="1703.2",
                                                       status="queued", attempts=0, max_attempts=3,
                                                       created_at=datetime(2026, 12, 7, 1, 0)))
    url = f"/api/v1/workorders/{number}/recordings/0"
    with caplog.at_level(logging.INFO, logger="callcenter.recordings.web"):
        await staff.dispatcher.get(url, headers={"Range": "bytes=0-"})
        await staff.dispatcher.get(url, headers={"Range": "bytes=4000-"})  # a seek
    events = [r.fields for r in caplog.records if getattr(r, "fields", {}).get("event") == "recording.play"]
    assert events == [{"event": "recording.play", "by": "disp1", "role": "dispatcher", "order": number,
                       "recording": 0}]


@pytest_twisted.ensureDeferred
async def test_inbox_filters_a_pile_by_district_category_and_department(web):
    staff = await staff_for(web)
    haishu = await new_order(staff)
    road = await new_order(staff, category="road-damage", district="jiangbei", summary="路面塌陷", address="中山东路")
    everything = (await staff.dispatcher.get("/api/v1/dispatch/inbox?bucket=new")).json
    assert {i["number"] for i in everything["items"]} == {haishu, road}
    only = (await staff.dispatcher.get("/api/v1/dispatch/inbox?bucket=new&district=jiangbei")).json
    assert [i["number"] for i in only["items"]] == [road] and only["counts"]["new"] == 2
    assert [i["number"] for i in (await staff.dispatcher.get(
        f"/api/v1/dispatch/inbox?bucket=new&department={staff.department}")).json["items"]] == [haishu]
    assert (await staff.dispatcher.get("/api/v1/dispatch/inbox?bucket=new&category=road-damage&district=haishu")
            ).json["items"] == []
    bad = await staff.dispatcher.get("/api/v1/dispatch/inbox?district=atlantis")
    assert bad.status == 400 and bad.json["error_id"] == "dispatch.bad_filter"
    web.add_user("disp9", "dispatcher")
    client = await signed_in(web, "disp9")
    page = (await client.get("/dispatch?bucket=new&district=jiangbei")).text
    assert f'data-number="{road}"' in page and f'data-number="{haishu}"' not in page
    assert '<option value="jiangbei" selected>' in page
