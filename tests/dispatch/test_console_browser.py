"""The dispatch console in Debian's chromium (Playwright), as a dispatcher and as a co-handling department.

The dispatcher takes a low-confidence order and dispatches it to a lead and a co-handler, watches a new
order arrive live, merges a duplicate from its similar-orders preview (keyboard), reviews a return,
approves an extension and plays a call recording (served in byte ranges); the co-handling department
then answers its part on /dept.  The database is checked after each."""
from __future__ import annotations

import json
import urllib.request
import wave
from datetime import datetime

import pytest
import pytest_twisted
from sqlalchemy import insert, select
from twisted.internet.threads import deferToThread

from tests.browser import chromium_page, sign_in
from tests.web.conftest import ORDER, staff_for

VAGUE = dict(ORDER, summary="有点事情想反映一下", description="就是那个事情，你们看着办吧。", address=None)
ROAD = dict(ORDER, category="road-damage", summary="路面塌陷 / road collapsed", description="中山东路路面出现大坑。",
            address="江北区中山东路")


def api_create(base: str, token: str, fields: dict) -> str:
    req = urllib.request.Request(base + "/api/v1/workorders", data=json.dumps(fields).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())["number"]


def drive_dispatcher(base: str, seed: dict, agent_token: str, co: str) -> dict:
    seen: dict = {}
    with chromium_page(seen) as page:
        page.on("response", lambda r: seen.setdefault("responses", []).append((r.url, r.status)))
        sign_in(page, base, "disp1", next_path="/dispatch?bucket=needs_dispatcher")
        page.wait_for_url("**/dispatch?bucket=needs_dispatcher")
        page.wait_for_selector('#live[data-state="live"]')
        seen["needs_count"] = page.locator('[data-count="needs_dispatcher"]').inner_text()
        seen["vague_flagged"] = page.locator(f'tr.order[data-number="{seed["vague"]}"]').get_attribute(
            "data-needs-dispatcher")
        # a new order arrives while the console is open: the pile's count and rows follow without a reload
        page.goto(base + "/dispatch?bucket=new")
        page.wait_for_selector('#live[data-state="live"]')
        fresh = api_create(base, agent_token, ROAD)
        page.wait_for_selector(f'tr.order[data-number="{fresh}"]', timeout=10_000)
        seen["fresh"] = fresh
        # take the low-confidence order: j/k to it, o to open, dispatch to a lead + a co-handler
        rows = page.locator("#inbox-rows tr.order")
        numbers = [rows.nth(i).get_attribute("data-number") for i in range(rows.count())]
        for _ in range(numbers.index(seed["vague"])):
            page.keyboard.press("j")
        page.keyboard.press("o")
        page.wait_for_selector("#order-number")
        seen["opened"] = page.locator("#order-number").inner_text()
        seen["doubts"] = page.locator("#doubts").count()
        page.select_option("#dispatch-department", "urban-management")
        page.select_option("#dispatch-co", [co])
        page.click("#do-dispatch")
        page.wait_for_selector('#order-status[data-status="dispatched"]')
        seen["co_state"] = page.locator(f'tr.co-part[data-department="{co}"]').get_attribute("data-state")
        # merge the duplicate: s opens the first similar order's preview, the button merges
        page.goto(base + f"/dispatch/orders/{seed['duplicate']}")
        page.keyboard.press("s")
        seen["preview_open"] = page.locator(f"#preview-{seed['original']}").get_attribute("open") is not None
        page.click(f"#merge-into-{seed['original']}")
        page.wait_for_selector('#order-status[data-status="merged"]')
        # review a return: approve and re-dispatch to another department
        page.goto(base + f"/dispatch/orders/{seed['returned']}")
        seen["return_shown"] = page.locator("#pending-return").inner_text()
        page.select_option("#review-return-department", seed["redispatch_to"])
        page.click("#do-review-return")
        page.wait_for_selector('#order-status[data-status="dispatched"]')
        # a bad action is refused on the page with its error id, nothing changes
        page.goto(base + f"/dispatch/orders/{seed['extended']}")
        page.click("#do-review-extension")
        page.wait_for_selector('#order-status[data-status="in_progress"]')
        page.fill("#form-merge input[name=into]", seed["extended"])
        page.click("#do-merge")
        page.wait_for_selector("#action-error:not([hidden])")
        seen["merge_self_error"] = page.locator("#action-error").get_attribute("data-error-id")
        # play the call recording beside its transcript
        page.goto(base + f"/dispatch/orders/{seed['recorded']}")
        seen["transcript"] = page.locator("#transcript-0").inner_text()
        audio = page.locator("#recording-0")
        seen["duration"] = audio.evaluate(
            "a => new Promise(ok => a.readyState >= 1 ? ok(a.duration) : a.addEventListener('loadedmetadata', () => ok(a.duration)))")
        seen["played"] = audio.evaluate("""a => a.play().then(() => new Promise(ok => {
            const done = () => { if (a.currentTime > 0) ok(a.currentTime); };
            a.addEventListener('timeupdate', done);
            setTimeout(() => ok(a.currentTime), 8000);
        }), e => 'refused: ' + e.name)""")
        page.click("#lang-switch")
        seen["english_title"] = page.locator("h2").first.inner_text()
    return seen


def drive_co_handler(base: str, number: str) -> dict:
    seen: dict = {}
    with chromium_page(seen) as page:
        sign_in(page, base, "co1", next_path=f"/dept/orders/{number}")
        page.wait_for_selector("#form-co-acknowledge")
        page.click("#do-co-acknowledge")
        page.wait_for_selector("#done")
        page.fill("#co-reply-text", "已安排交通协管员配合现场处置")
        page.click("#do-co-reply")
        page.wait_for_selector("#done")
        seen["state"] = page.locator("tr.co-part").first.get_attribute("data-state")
        seen["lead_forms"] = page.locator("#form-reply").count()
    return seen


def write_wav(path, seconds=2.0, rate=8000) -> None:
    import math

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(int(8000 * math.sin(i / 8)).to_bytes(2, "little", signed=True)
                               for i in range(int(seconds * rate))))


@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_dispatcher_and_co_handler_work_orders_in_chromium(web, tmp_path):
    from callcenter.asr.jobs import transcription_jobs, transcripts
    from ticketing.persistence.tables import work_orders

    staff = await staff_for(web)
    co = "transport"
    web.add_user("co1", "department", department=co)

    async def create(fields):
        resp = await staff.agent.post("/api/v1/workorders", json=fields)
        assert resp.status == 201, resp.body
        return resp.json["number"]

    seed = {"original": await create(ORDER)}
    seed["duplicate"] = await create(dict(ORDER, caller_phone="13700002222"))
    seed["vague"] = await create(VAGUE)
    seed["returned"] = await create(ROAD)
    await staff.dispatcher.post(f"/api/v1/workorders/{seed['returned']}/dispatch", json={})
    road_dept = web.deps.workorders.taxonomy.route("road-damage", "haishu")
    seed["redispatch_to"] = "housing" if road_dept != "housing" else "water"
    from datetime import timezone

    from tests.web.conftest import BearerClient

    road_user = web.add_user("road1", "department", department=road_dept)
    road = BearerClient(web.base, token=web.deps.auth.issue_token(road_user, datetime.now(timezone.utc)))
    ret = await road.post(f"/api/v1/workorders/{seed['returned']}/return",
                          json={"reason_code": "not_our_duty", "reason": "属交通局管养道路"})
    assert ret.status == 200, ret.body
    seed["extended"] = await create(ORDER)
    await staff.dispatcher.post(f"/api/v1/workorders/{seed['extended']}/dispatch", json={})
    await staff.dept.post(f"/api/v1/workorders/{seed['extended']}/acknowledge", json={})
    await staff.dept.post(f"/api/v1/workorders/{seed['extended']}/extend",
                          json={"duration": "3 working days", "reason": "需协调产权单位"})
    spool = tmp_path / "monitor"
    spool.mkdir()
    web.deps.extras["recordings"].roots.append(spool.resolve())
    write_wav(spool / "call-7.wav")
    seed["recorded"] = await create(dict(ORDER, call_ids=["1702.7"]))
    with web.engine.begin() as conn:
        stamp = datetime(2026, 12, 7, 1, 0)
        job = conn.execute(insert(transcription_jobs).values(
            recording_path=str(spool / "call-7.wav"), call_id="1702.7", status="done", attempts=1, max_attempts=3,
            created_at=stamp).returning(transcription_jobs.c.id)).scalar_one()
        conn.execute(insert(transcripts).values(call_id="1702.7", job_id=job, recording_path=str(spool / "call-7.wav"),
                                                text="楼顶有人在搭彩钢板房", words=[], model="vosk", language="zh",
                                                duration=2.0, rtf=0.1, created_at=stamp))

    seen = await deferToThread(drive_dispatcher, web.base, seed, staff.agent.token, co)

    assert seen["vague_flagged"] == "yes" and int(seen["needs_count"]) >= 1, seen
    assert seen["opened"] == seed["vague"] and seen["doubts"] == 1
    assert seen["co_state"] == "assigned" and seen["preview_open"] is True
    assert "属交通局管养道路" in seen["return_shown"]
    assert seen["merge_self_error"] in ("workorder.validation_failed", "workorder.illegal_transition"), seen
    assert seen["transcript"].endswith("楼顶有人在搭彩钢板房")
    assert abs(seen["duration"] - 2.0) < 0.05, seen
    assert isinstance(seen["played"], (int, float)) and seen["played"] > 0, seen
    assert any("/recordings/0" in url and status == 206 for url, status in seen["responses"]), seen["responses"]
    assert seen["english_title"] == "What the caller said"
    assert not [m for m in seen.get("console", []) if "Refused" in m or "error" in m.lower()], seen["console"]
    with web.engine.connect() as conn:
        rows = dict(conn.execute(select(work_orders.c.number, work_orders.c.status)).all())
        vague = conn.execute(select(work_orders.c.department, work_orders.c.co_departments)
                             .where(work_orders.c.number == seed["vague"])).one()
        returned_to = conn.execute(select(work_orders.c.department)
                                   .where(work_orders.c.number == seed["returned"])).scalar_one()
    assert rows[seed["vague"]] == "dispatched" and vague == ("urban-management", [co])
    assert rows[seed["duplicate"]] == "merged" and rows[seed["original"]] == "registered"
    assert rows[seed["returned"]] == "dispatched" and returned_to == seed["redispatch_to"]
    assert rows[seed["extended"]] == "in_progress" and rows[seen["fresh"]] == "registered"

    helped = await deferToThread(drive_co_handler, web.base, seed["vague"])
    assert helped == {"state": "answered", "lead_forms": 0}
    order = (await staff.dispatcher.get(f"/api/v1/workorders/{seed['vague']}")).json
    assert order["co_parts"][0]["reply"] == "已安排交通协管员配合现场处置" and order["co_pending"] == []
