"""The pages of this feature set in chromium, as their users: no console error and no serious or critical
axe-core (WCAG 2 A/AA) violation, in Chinese and English; screenshots kept under test-artefacts/screens/."""
from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet.threads import deferToThread

from tests.browser import accessibility_violations, chromium_page, screenshot, sign_in
from tests.web.conftest import ORDER, staff_for


def visit(base: str, user: str, paths: list[str]) -> dict:
    seen: dict = {"problems": []}
    with chromium_page(seen, viewport={"width": 1366, "height": 768}) as page:
        sign_in(page, base, user)
        page.wait_for_load_state()
        for path in paths:
            for lang in ("zh", "en"):
                page.goto(base + path + ("&" if "?" in path else "?") + f"lang={lang}")
                page.wait_for_load_state("networkidle")
                seen["problems"] += [f"{user} {path} {lang}: {v}" for v in accessibility_violations(page)]
                screenshot(page, f"e19-{user}-{path.strip('/').replace('/', '-').split('?')[0] or 'home'}-{lang}")
    return seen


@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_console_appraisal_knowledge_and_analysis_pages_pass_axe(web):
    staff = await staff_for(web)
    number = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
    await staff.dispatcher.post(f"/api/v1/workorders/{number}/dispatch", json={"co_departments": ["transport"]})
    problems, console = [], []
    for user, paths in (("disp1", ["/dispatch", f"/dispatch/orders/{number}"]),
                        ("sup1", ["/supervisor/appraisal", "/supervisor/knowledge", "/analysis"]),
                        ("dept1", [f"/dept/orders/{number}", "/supervisor/appraisal"])):
        seen = await deferToThread(visit, web.base, user, paths)
        problems += seen["problems"]
        console += [m for m in seen.get("console", []) if "error" in m.lower() or "refused" in m.lower()]
    assert problems == [] and console == []
