"""The SMS outbox through real Kannel processes: delivered with a report, failed and retried,
refused for good, opted out by a reply, held over quiet hours."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest_twisted
from sqlalchemy import select

from callcenter.sms import outbox, policy
from callcenter.sms.tables import sms_messages, sms_optouts
from tests.sms.conftest import until

PHONE = "13812341234"
QUIET = policy.QuietHours()


def enqueue(rig, kind="code", phone=PHONE, body=None, key=None):
    body = body or policy.render(kind, "zh", number="202612070001", link="https://12345.example.cn/track/1",
                                 summary="已处理", code="482913", minutes=10)
    with rig.engine.begin() as conn:
        return outbox.enqueue(conn, kind=kind, phone=phone, lang="zh", body=body, now=rig.now[0], quiet=QUIET,
                              order_number="202612070001" if kind != "code" else None, dedupe_key=key)


def row(rig, message_id):
    with rig.engine.connect() as conn:
        return dict(conn.execute(select(sms_messages).where(sms_messages.c.id == message_id)).one()._mapping)


@pytest_twisted.ensureDeferred
async def test_a_message_reaches_the_handset_and_its_delivery_report_marks_it_delivered(rig):
    message_id = enqueue(rig)
    await rig.delivery().tick()
    assert row(rig, message_id)["state"] in ("sent", "delivered")
    found = await rig.wait_for(PHONE, r"验证码(\d{6})")
    assert found.group(1) == "482913"
    await until(lambda: row(rig, message_id)["state"] == "delivered")
    assert row(rig, message_id)["dlr_status"] in (outbox.DLR_DELIVERED, outbox.DLR_SMSC_OK)
    metrics = (await rig.server.client().get("/metrics")).text
    assert 'hotline_sms_attempts_total{kind="code",result="sent"}' in metrics
    assert 'hotline_sms_reports_total{state="delivered"}' in metrics and PHONE not in metrics


@pytest_twisted.ensureDeferred
async def test_a_long_chinese_message_arrives_whole_in_concatenated_parts(rig):
    body = policy.render("replied", "zh", number="202612070001", summary="经现场核实，已安排环卫工人清理" * 3,
                         link="https://12345.example.cn/track/202612070001?rate=1")
    assert len(body) > 70  # more than one UCS-2 part
    enqueue(rig, kind="replied", body=body, key="k-long")
    await rig.delivery().tick()
    found = await rig.wait_for(PHONE, r"请评价办理结果：(\S+)")
    assert found.group(1) == "https://12345.example.cn/track/202612070001?rate=1"


@pytest_twisted.ensureDeferred
async def test_smsbox_down_means_a_retry_with_backoff_and_delivery_once_it_is_back(rig):
    rig.gateway.stop_box("smsbox")
    message_id = enqueue(rig)
    service = rig.delivery()
    await service.tick()
    first = row(rig, message_id)
    assert first["state"] == "pending" and first["attempts"] == 1
    assert first["next_at"] == rig.now[0] + timedelta(seconds=service.base)
    assert "refused" in first["last_error"].lower()
    rig.gateway.start_smsbox()
    await service.tick()  # not due yet: nothing is claimed
    assert row(rig, message_id)["attempts"] == 1
    rig.now[0] += timedelta(seconds=service.base + 1)
    await service.tick()
    await rig.wait_for(PHONE, r"验证码482913")
    await until(lambda: row(rig, message_id)["state"] == "delivered")
    assert row(rig, message_id)["attempts"] == 2


@pytest_twisted.ensureDeferred
async def test_a_number_kannel_refuses_is_dead_at_once_without_retries(rig):
    message_id = enqueue(rig, phone="17000001234")  # on the gateway's black list
    await rig.delivery().tick()
    dead = row(rig, message_id)
    assert dead["state"] == "dead" and dead["attempts"] == 1
    assert "HTTP 4" in dead["last_error"]
    assert "17000001234" not in dead["last_error"]


@pytest_twisted.ensureDeferred
async def test_a_td_reply_opts_the_number_out_of_notifications_but_not_of_codes(rig):
    rig.gateway.phone.reply(PHONE, "TD")

    def opted():
        with rig.engine.connect() as conn:
            return conn.execute(select(sms_optouts.c.word).where(sms_optouts.c.phone == PHONE)).scalar()
    assert await until(opted) == "TD"
    notice = enqueue(rig, kind="closed", key="k-closed")
    code = enqueue(rig)
    await rig.delivery().tick()
    assert row(rig, notice)["state"] == "suppressed"
    await rig.wait_for(PHONE, r"验证码482913")
    assert not any("已办结" in text for text in rig.gateway.phone.to(PHONE))
    assert row(rig, code)["state"] in ("sent", "delivered")


@pytest_twisted.ensureDeferred
async def test_a_stop_reply_then_start_opts_out_and_in_again(rig):
    rig.gateway.phone.reply("13900001111", "STOP")
    await until(lambda: outbox.is_opted_out(rig.engine, "13900001111"))
    rig.gateway.phone.reply("13900001111", "START")
    await until(lambda: not outbox.is_opted_out(rig.engine, "13900001111"))


@pytest_twisted.ensureDeferred
async def test_quiet_hours_hold_a_notification_overnight_while_a_code_goes_at_once(rig):
    rig.now[0] = datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc)  # 23:00 in Shanghai
    notice = enqueue(rig, kind="accepted", key="k-acc")
    code = enqueue(rig)
    service = rig.delivery()
    await service.tick()
    assert row(rig, notice)["state"] == "pending" and row(rig, notice)["attempts"] == 0
    await rig.wait_for(PHONE, r"验证码482913")
    assert row(rig, code)["state"] in ("sent", "delivered")
    rig.now[0] = datetime(2026, 12, 8, 0, 1, tzinfo=timezone.utc)  # 08:01
    await service.tick()
    await rig.wait_for(PHONE, r"已受理，工单号202612070001")


@pytest_twisted.ensureDeferred
async def test_mo_with_a_wrong_token_is_refused_and_changes_nothing(rig):
    client = rig.server.client()
    resp = await client.get(f"/sms/mo?token=wrong&from={PHONE}&text=TD")
    assert resp.status == 403
    assert not outbox.is_opted_out(rig.engine, PHONE)


@pytest_twisted.ensureDeferred
async def test_a_delivery_report_with_a_wrong_token_is_ignored(rig):
    message_id = enqueue(rig)
    resp = await rig.server.client().get(f"/sms/dlr?id={message_id}&token=nottheone&type=2")
    assert resp.status == 404
    assert row(rig, message_id)["state"] == "pending"


@pytest_twisted.ensureDeferred
async def test_staff_see_an_orders_messages_and_their_delivery_with_the_number_masked_for_departments(rig):
    from tests.web.conftest import ORDER, staff_for

    staff = await staff_for(rig.server)
    number = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
    await rig.delivery(sweep=True).tick()
    await until(lambda: [m for m in outbox.messages(rig.engine, order_number=number) if m["state"] == "delivered"])
    seen = (await staff.supervisor.get(f"/api/v1/workorders/{number}/sms")).json["items"]
    assert [(m["kind"], m["state"], m["phone"]) for m in seen] == [("accepted", "delivered", ORDER["caller_phone"])]
    assert number in seen[0]["body"]
    dept = (await staff.dept.get(f"/api/v1/workorders/{number}/sms")).json["items"]
    assert dept[0]["phone"] == "138****1234"
    assert (await staff.other_dept.get(f"/api/v1/workorders/{number}/sms")).status == 404
