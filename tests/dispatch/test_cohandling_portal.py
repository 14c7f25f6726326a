"""The department portal for a co-handling department: it acknowledges and answers its own part from
/dept; the lead's reply form is refused (with the error id on the page) until every part is answered."""
from __future__ import annotations

import pytest_twisted

from tests.web.conftest import ORDER, post_form, staff_for


@pytest_twisted.ensureDeferred
async def test_co_handler_answers_its_part_on_the_portal_and_the_lead_reply_carries_it(web):
    staff = await staff_for(web)
    number = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
    co = staff.other_department
    assert (await staff.dispatcher.post(f"/api/v1/workorders/{number}/dispatch",
                                        json={"co_departments": [co]})).status == 200
    web.add_user("lead1", "department", department=staff.department)
    web.add_user("co1", "department", department=co)
    from tests.web.conftest import signed_in

    lead, helper = await signed_in(web, "lead1"), await signed_in(web, "co1")
    page = f"/dept/orders/{number}"
    assert (await post_form(lead, page, page + "/acknowledge")).status == 303
    refused = await post_form(lead, page, page + "/reply", reply="已拆除")
    assert refused.status == 409 and "co_handling.pending" in refused.text
    assert (await staff.dispatcher.get(f"/api/v1/workorders/{number}")).json["status"] == "acknowledged"

    co_page = (await helper.get(page)).text
    assert 'id="form-co-acknowledge"' in co_page and 'id="form-reply"' not in co_page
    assert (await post_form(helper, page, page + "/co-acknowledge")).status == 303
    assert (await post_form(helper, page, page + "/co-reply", reply="已配合查处")).status == 303
    assert (await post_form(lead, page, page + "/reply", reply="已拆除")).status == 303
    order = (await staff.dispatcher.get(f"/api/v1/workorders/{number}")).json
    assert order["status"] == "replied" and order["reply"].startswith("已拆除\n【协办·") and order["reply"].endswith(
        "】已配合查处")
    shown = (await lead.get(page)).text
    assert 'data-state="answered"' in shown and "已配合查处" in shown


@pytest_twisted.ensureDeferred
async def test_lead_answers_a_supervision_on_the_portal_only_while_one_awaits(web):
    staff = await staff_for(web)
    number = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
    await staff.dispatcher.post(f"/api/v1/workorders/{number}/dispatch", json={})
    web.add_user("lead1", "department", department=staff.department)
    from tests.web.conftest import signed_in

    lead = await signed_in(web, "lead1")
    page = f"/dept/orders/{number}"
    assert 'id="form-respond-supervision"' not in (await lead.get(page)).text
    await staff.dispatcher.post(f"/api/v1/workorders/{number}/supervise",
                                json={"reason": "群众反映强烈", "respond_within": "1 working day"})
    shown = (await lead.get(page)).text
    assert 'id="supervision" data-answered="no"' in shown and 'id="form-respond-supervision"' in shown
    empty = await post_form(lead, page, page + "/respond-supervision", response="  ")
    assert empty.status == 422 and (await staff.dispatcher.get(f"/api/v1/workorders/{number}")).json[
        "pending"]["supervision"].get("response") is None
    assert (await post_form(lead, page, page + "/respond-supervision", response="已增派执法队员")).status == 303
    order = (await staff.dispatcher.get(f"/api/v1/workorders/{number}")).json
    assert order["pending"]["supervision"]["response"] == "已增派执法队员"
    after = (await lead.get(page)).text
    assert 'data-answered="yes"' in after and 'id="form-respond-supervision"' not in after
