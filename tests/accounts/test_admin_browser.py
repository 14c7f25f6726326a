"""/admin/users and /supervisor/restricted in Debian's chromium (Playwright): an administrator adds
an agent with the form, the list shows it, restricts a nuisance number, and the new agent signs in
to the desk."""
from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet.threads import deferToThread

from tests.browser import chromium_page, sign_in
from tests.web.conftest import PASSWORD, start_server, stop_server_async


def add_an_agent(base: str) -> dict:
    """Worker thread: root1 opens the accounts page from the header, adds wang.fang, then wang.fang logs in."""
    seen: dict = {}
    with chromium_page(seen) as page:
        sign_in(page, base, "root1")
        page.click('header nav a[href="/admin/users"]')
        page.wait_for_url(base + "/admin/users")
        seen["heading"] = page.locator("h1").inner_text()
        page.fill("#new-username", "wang.fang")
        page.fill("#new-display-name", "王芳")
        page.select_option("#new-role", "agent")
        page.fill("#new-agent-id", "1001")
        page.fill("#new-device", "PJSIP/1001")
        page.fill("#new-password", PASSWORD)
        page.fill("#new-confirm", PASSWORD)
        page.click("#create-account")
        page.wait_for_selector("#done")
        seen["notice"] = page.locator("#done").inner_text()
        seen["row"] = page.locator('tr.account[data-username="wang.fang"]').inner_text()
        page.click('header nav a[href="/supervisor/restricted"]')
        page.fill("#restrict-number", "+86 139 0000 9999")
        page.fill("#restrict-reason", "反复无声来电")
        page.fill("#restrict-days", "7")
        page.click("#restrict-submit")
        page.wait_for_selector("#done")
        seen["restricted"] = page.locator('tr.restriction[data-state="in_force"]').inner_text()
        seen["admin_console"] = list(seen.get("console", ()))  # the desk has no ACD here: its feed is 503
        page.click("#logout")
        sign_in(page, base, "wang.fang")
        page.wait_for_url(base + "/agent")
        seen["landed"] = page.url
    return seen


@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_administrator_adds_an_agent_who_then_signs_in(sqlite_url):
    """The header's 账号管理 link opens the page; the form creates 王芳 (agent 1001, PJSIP/1001), the list
    shows her; the 限制呼入 link's form restricts +86 139 0000 9999 (listed as 13900009999); she signs in
    to /agent; the accounts page's console stays clean (no CSP violation,
    no failed load, no form warning)."""
    server = start_server(sqlite_url)
    try:
        server.add_user("root1", "admin")
        seen = await deferToThread(add_an_agent, server.base)
    finally:
        await stop_server_async(server)
    assert seen["heading"] == "账号管理" and seen["notice"] == "账号已创建", seen
    assert "王芳" in seen["row"] and "坐席" in seen["row"] and "PJSIP/1001" in seen["row"], seen
    assert "13900009999" in seen["restricted"] and "反复无声来电" in seen["restricted"], seen
    assert seen["landed"].endswith("/agent"), seen
    assert seen["admin_console"] == [], seen
