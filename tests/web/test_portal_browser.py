"""The department portal in Debian's chromium (Playwright): log in, acknowledge, reply, check the DB."""
from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import text
from twisted.internet.threads import deferToThread

from tests.browser import chromium_page
from tests.web.conftest import ORDER, PASSWORD, staff_for


def drive_browser(base: str, number: str) -> dict:
    """Runs in a worker thread (the reactor keeps serving): a department clerk's session."""
    seen = {}
    with chromium_page(seen) as page:
        page.on("response", lambda r: seen.setdefault("responses", []).append((r.url, r.status)))
        page.goto(base + "/login")
        seen["login_zh"] = page.locator("h1").inner_text()
        page.fill("#username", "dept1")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(base + "/dept")
        row = page.locator(f'tr.order[data-number="{number}"]')
        seen["sla"] = row.get_attribute("data-sla")
        seen["chip_colour"] = row.locator(".sla").evaluate("e => getComputedStyle(e).backgroundColor")
        row.locator("a").click()
        page.wait_for_selector("#form-acknowledge")
        page.click("#do-acknowledge")
        page.wait_for_selector("#done")
        seen["after_ack"] = page.locator("#order-status").get_attribute("data-status")
        page.fill("#reply-text", "已现场核查并责令拆除 <b>违建</b>")
        page.click("#do-reply")
        page.wait_for_selector("#done")
        seen["after_reply"] = page.locator("#order-status").get_attribute("data-status")
        seen["reply_text"] = page.locator("#order-reply").inner_text()
        page.click("#lang-switch")
        seen["english_headings"] = page.locator("h2").all_inner_texts()
    return seen


@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_department_clerk_acknowledges_and_replies_in_chromium(web):
    """A real browser logs in, sees the green SLA chip, acknowledges and replies; the DB shows 'replied'."""
    staff = await staff_for(web)
    number = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
    assert (await staff.dispatcher.post(f"/api/v1/workorders/{number}/dispatch", json={})).status == 200

    seen = await deferToThread(drive_browser, web.base, number)

    assert seen["login_zh"] == "登录", seen
    assert seen["sla"] == "green", seen
    assert seen["chip_colour"] == "rgb(27, 94, 32)", seen  # CSS loaded under the CSP (#1b5e20: AA contrast)
    assert seen["after_ack"] == "acknowledged" and seen["after_reply"] == "replied"
    assert seen["reply_text"] == "已现场核查并责令拆除 <b>违建</b>"
    assert "Actions" in seen["english_headings"] and "操作" not in seen["english_headings"]
    with web.engine.connect() as conn:
        status, reply = conn.execute(text("SELECT status, reply FROM work_orders WHERE number = :n"),
                                     {"n": number}).one()
    assert status == "replied" and reply == "已现场核查并责令拆除 <b>违建</b>"
