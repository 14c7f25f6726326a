"""The pages' one way of answering a refusal (``callcenter.web.templates.refusals_as_pages`` /
``Templates.error_page``): the refusal's status, what it means in the page's language, the error's own
message and a link back to the page — the same on the analysis, appraisal, reports and department pages."""
from __future__ import annotations

import re

import pytest_twisted

from tests.web.conftest import signed_in


def _page(response) -> dict:
    text = response.text
    return {"status": response.status, "said": re.search(r'id="error-message">([^<]*)<', text).group(1),
            "detail": re.search(r'class="detail">([^<]*)<', text).group(1),
            "back": re.search(r'<p><a href="([^"]*)">', text).group(1)}


@pytest_twisted.ensureDeferred
async def test_bad_input_on_staff_pages_is_a_400_page_saying_so_with_the_message_and_a_way_back(web):
    web.add_user("sup1", "supervisor")
    supervisor = await signed_in(web, "sup1")
    for path, back, message in (
            ("/analysis?month=2026-13", "/analysis", "month must look like 2026-11"),
            ("/analysis/export.csv?what=everything", "/analysis", "unknown export"),
            ("/supervisor/appraisal?month=13-2026", "/supervisor/appraisal", "month must look like 2026-11"),
            ("/supervisor/appraisal.csv?month=x", "/supervisor/appraisal", "month must look like 2026-11"),
            ("/reports?by=weather", "/reports", "unknown report dimension"),
            ("/reports/export.csv?by=weather", "/reports", "unknown report dimension"),
            ("/reports/hot?date=yesterday", "/reports", ""),
            ("/reports/ivr?period=week", "/reports", "")):
        page = _page(await supervisor.get(path))
        assert page["status"] == 400 and page["said"] == "请求有误" and page["back"] == back, (path, page)
        assert message in page["detail"], (path, page)
    english = _page(await supervisor.get("/analysis?month=2026-13&lang=en"))
    assert english["said"] == "The request is not valid"


@pytest_twisted.ensureDeferred
async def test_the_department_portal_says_not_found_for_an_unknown_order_or_action(web):
    web.add_user("dept1", "department", department="urban-management")
    dept = await signed_in(web, "dept1")
    missing = _page(await dept.get("/dept/orders/2099010100001"))
    assert missing["status"] == 404 and missing["said"] == "页面不存在" and missing["back"] == "/dept"
