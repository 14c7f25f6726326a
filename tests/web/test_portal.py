"""/dept portal over HTTP: the queue with SLA colours, CSRF-protected actions, escaping, scoping."""
from __future__ import annotations

import pytest_twisted

from tests.web.conftest import ORDER, csrf_of, staff_for


async def _dispatched(staff, **changes) -> str:
    resp = await staff.agent.post("/api/v1/workorders", json=dict(ORDER, **changes))
    number = resp.json["number"]
    assert (await staff.dispatcher.post(f"/api/v1/workorders/{number}/dispatch", json={})).status == 200
    return number



@pytest_twisted.ensureDeferred
async def test_queue_shows_own_orders_with_sla_colour_and_masked_phone(web):
    """Department staff see their dispatched order with a green SLA chip and a masked phone, in zh and en."""
    staff = await staff_for(web)
    number = await _dispatched(staff)
    browser = web.client()
    assert (await browser.login("dept1")).header("location") == "/dept"
    page = await browser.get("/dept")
    assert page.status == 200 and f'data-number="{number}"' in page.text
    assert 'data-sla="green"' in page.text and "sla-green" in page.text and "正常" in page.text
    assert "138****1234" in page.text and "13812341234" not in page.text
    english = await browser.get("/dept?lang=en")
    assert "On time" in english.text and "Department work orders" in english.text

    other = web.client()
    await other.login("dept2")
    assert number not in (await other.get("/dept")).text
    assert (await other.get(f"/dept/orders/{number}")).status == 404


@pytest_twisted.ensureDeferred
async def test_actions_need_csrf_and_same_origin_then_change_the_order(web):
    """Acknowledge without the token or from another site is refused; with it the order is acknowledged."""
    staff = await staff_for(web)
    number = await _dispatched(staff)
    browser = web.client()
    await browser.login("dept1")
    detail = await browser.get(f"/dept/orders/{number}")
    token = csrf_of(detail.text)
    assert 'id="form-acknowledge"' in detail.text and 'id="form-return"' in detail.text

    no_token = await browser.post(f"/dept/orders/{number}/acknowledge", data={"note": "x"})
    assert no_token.status == 403
    cross = await browser.post(f"/dept/orders/{number}/acknowledge", data={"csrf_token": token},
                               headers={"Origin": "http://evil.example"})
    assert cross.status == 403
    assert (await staff.dept.get(f"/api/v1/workorders/{number}")).json["status"] == "dispatched"

    done = await browser.post(f"/dept/orders/{number}/acknowledge", data={"csrf_token": token})
    assert done.status == 303 and done.header("location") == f"/dept/orders/{number}?done=acknowledge"
    assert (await staff.dept.get(f"/api/v1/workorders/{number}")).json["status"] == "acknowledged"

    bad_days = await browser.post(f"/dept/orders/{number}/extend", data={"csrf_token": token, "days": "99",
                                                                         "reason": "需要协调"})
    assert bad_days.status == 400 and "portal.bad_days" in bad_days.text
    extend = await browser.post(f"/dept/orders/{number}/extend", data={"csrf_token": token, "days": "3",
                                                                       "reason": "需要协调多个部门"})
    assert extend.status == 303
    assert (await staff.dept.get(f"/api/v1/workorders/{number}")).json["status"] == "extension_requested"
    illegal = await browser.post(f"/dept/orders/{number}/reply", data={"csrf_token": token, "reply": "已处理"})
    assert illegal.status == 409 and "workorder.illegal_transition" in illegal.text


@pytest_twisted.ensureDeferred
async def test_return_with_reason_and_html_is_escaped(web):
    """Returning with a reason works; HTML in an order's text is shown escaped, never as markup."""
    staff = await staff_for(web)
    number = await _dispatched(staff, summary="<script>alert('x')</script>")
    browser = web.client()
    await browser.login("dept1")
    detail = await browser.get(f"/dept/orders/{number}")
    assert "<script>alert" not in detail.text and "&lt;script&gt;alert" in detail.text
    resp = await browser.post(f"/dept/orders/{number}/return",
                              data={"csrf_token": csrf_of(detail.text), "reason_code": "not_our_duty",
                                    "reason": "<b>不属本单位</b>"})
    assert resp.status == 303
    order = (await staff.dept.get(f"/api/v1/workorders/{number}")).json
    assert order["status"] == "return_requested"
    history = (await browser.get(f"/dept/orders/{number}")).text
    assert "&lt;b&gt;不属本单位&lt;/b&gt;" in history


@pytest_twisted.ensureDeferred
async def test_portal_requires_log_in_and_a_portal_role(web):
    """Anonymous visitors are sent to log in; agents are refused the portal."""
    await staff_for(web)
    anonymous = await web.client().get("/dept")
    assert anonymous.status == 303 and anonymous.header("location").startswith("/login?next=")
    agent = web.client()
    await agent.login("agent1")
    assert (await agent.get("/dept")).status == 403
