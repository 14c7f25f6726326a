"""Each role lands on its own page after log-in and sees links to the pages it may use."""
from __future__ import annotations

import pytest
import pytest_twisted


@pytest.mark.parametrize("role, home, shown, hidden", [
    ("agent", "/agent", ["/agent", "/callbacks", "/wallboard"], ["/supervisor", "/reports", "/dept", "/admin/users"]),
    ("supervisor", "/supervisor", ["/supervisor", "/reports", "/wallboard", "/dept", "/supervisor/restricted",
                    "/supervisor/audit"],
     ["/agent\"", "/admin/users"]),
    ("admin", "/supervisor", ["/supervisor", "/reports", "/admin/users"], ["/agent\""]),
    ("dispatcher", "/dispatch", ["/dispatch", "/dept", "/callbacks", "/wallboard"],
     ["/agent\"", "/supervisor", "/reports", "/admin/users"]),
])
@pytest_twisted.ensureDeferred
async def test_home_page_and_navigation_follow_the_role(web, role, home, shown, hidden):
    """Log-in redirects to the role's home; the header links only to pages the role is allowed."""
    web.add_user("u1", role)
    client = web.client()
    resp = await client.login("u1")
    assert resp.status == 303 and resp.header("location") == home
    page = (await client.get("/wallboard")).text
    for href in shown:
        assert f'href="{href}' in page, href
    for href in hidden:
        assert f'href="{href}' not in page, href
