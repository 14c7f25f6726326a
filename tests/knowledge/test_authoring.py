"""Knowledge base authoring: supervisors add, edit and retire entries from the page or the API; the desk's
knowledge search answers from the change at once and the search outbox has it; bad entries change nothing."""
from __future__ import annotations

import pytest_twisted
from sqlalchemy import func, select

from tests.web.conftest import post_form, signed_in, staff_for

NEW = {"level": "public", "title": {"zh": "共享单车乱停放", "en": "Badly parked shared bicycles"},
       "body": {"zh": "请告知具体路段，热线派单至城管与运营企业，一般24小时内清理。",
                "en": "Give the road; the hotline dispatches urban management and the operator, cleared within 24 h."},
       "tags": ["共享单车", "乱停", "bicycle"]}


async def desk_search(client, q):
    resp = await client.get(f"/agent/api/knowledge?q={q}")
    assert resp.status == 200, resp.body
    return [i["id"] for i in resp.json["items"]]


def outbox_rows(web, ref):
    from callcenter.search.outbox import search_outbox

    with web.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(search_outbox).where(search_outbox.c.ref == ref)).scalar_one()


@pytest_twisted.ensureDeferred
async def test_api_adds_edits_and_retires_entries_the_desk_finds_at_once(web):
    staff = await staff_for(web)
    assert "pub-bike-parking" not in await desk_search(staff.agent, "共享单车")
    saved = await staff.supervisor.request("PUT", "/api/v1/knowledge/pub-bike-parking", json=NEW)
    assert saved.status == 200, saved.body
    assert saved.json["shipped"] is False and saved.json["updated_by"] == "sup1"
    assert (await desk_search(staff.agent, "共享单车"))[0] == "pub-bike-parking"
    assert outbox_rows(web, "pub-bike-parking") == 1

    shipped = next(i for i in (await staff.supervisor.get("/api/v1/knowledge")).json["items"]
                   if i["id"] == "pub-water-outage")
    edited = dict(shipped, body={"zh": "计划停水提前48小时公告；突发停水请说明地址。", "en": "Planned outages: 48 h notice."})
    edited = {k: edited[k] for k in ("level", "title", "body", "tags", "line")}
    assert (await staff.supervisor.request("PUT", "/api/v1/knowledge/pub-water-outage", json=edited)).status == 200
    hit = (await staff.agent.get("/agent/api/knowledge?q=停水")).json["items"][0]
    assert hit["id"] == "pub-water-outage" and "48小时" in hit["body"]["zh"]

    retired = await staff.supervisor.request("PUT", "/api/v1/knowledge/pub-bike-parking", json=dict(NEW, retired=True))
    assert retired.json["retired"] is True
    assert "pub-bike-parking" not in await desk_search(staff.agent, "共享单车")


@pytest_twisted.ensureDeferred
async def test_bad_entries_and_other_roles_are_refused_and_change_nothing(web):
    staff = await staff_for(web)
    before = (await staff.supervisor.get("/api/v1/knowledge")).json["items"]
    cases = [
        ("pub-x", dict(NEW, level="secret"), 422, "knowledge.invalid"),
        ("pub-x", dict(NEW, title={"zh": "只有中文"}), 422, "knowledge.invalid"),
        ("pub-x", dict(NEW, line="转123"), 422, "knowledge.invalid"),
        ("pub-x", dict(NEW, colour="red"), 422, "knowledge.invalid"),
        ("Bad Id!", NEW, 422, "knowledge.invalid"),
        ("pub-x", dict(NEW, id="pub-y"), 400, "knowledge.id_mismatch"),
    ]
    for ident, body, status, error_id in cases:
        resp = await staff.supervisor.request("PUT", f"/api/v1/knowledge/{ident.replace(' ', '%20')}", json=body)
        assert (resp.status, resp.json["error_id"]) == (status, error_id), (ident, body, resp.body)
    for client in (staff.agent, staff.dispatcher, staff.dept):
        assert (await client.request("PUT", "/api/v1/knowledge/pub-x", json=NEW)).status == 403
    assert (await staff.supervisor.get("/api/v1/knowledge")).json["items"] == before
    assert "pub-x" not in await desk_search(staff.agent, "共享单车")


@pytest_twisted.ensureDeferred
async def test_supervisor_page_saves_a_new_entry_and_shows_problems(web):
    await staff_for(web)
    web.add_user("sup9", "supervisor")
    client = await signed_in(web, "sup9")
    page = await client.get("/supervisor/knowledge")
    assert page.status == 200 and "知识库维护" in page.text and 'data-id="pub-water-outage"' in page.text
    done = await post_form(client, "/supervisor/knowledge", "/supervisor/knowledge", id="int-night-shift",
                           level="internal", title_zh="夜班交接", title_en="Night shift hand-over",
                           body_zh="22:00 交接未办结回拨。", body_en="Hand over open callbacks at 22:00.",
                           tags="夜班, 交接", line="")
    assert done.status == 303 and done.header("location") == "/supervisor/knowledge?saved=int-night-shift"
    listed = (await client.get("/supervisor/knowledge?lang=en")).text
    assert 'data-id="int-night-shift"' in listed and "Night shift hand-over" in listed
    bad = await post_form(client, "/supervisor/knowledge", "/supervisor/knowledge", id="int-empty", level="internal",
                          title_zh="", title_en="x", body_zh="y", body_en="z")
    assert bad.status == 422 and 'data-error-id="knowledge.invalid"' in bad.text and "title.zh" in bad.text
    assert 'data-id="int-empty"' not in (await client.get("/supervisor/knowledge")).text
