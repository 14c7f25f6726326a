"""The personal-data access log over real HTTP on SQLite and PostgreSQL: reading an order with the
full number, playing a recording and exporting a report are each recorded (who, role, kind, order,
address); supervisors read the log on the page, as CSV and through the API; everyone else gets 403."""
from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import select

from callcenter.audit.tables import access_log
from tests.web.conftest import ORDER, signed_in, staff_for


def _rows(web):
    with web.engine.connect() as conn:
        return [r._asdict() for r in conn.execute(select(access_log).order_by(access_log.c.id))]


@pytest_twisted.ensureDeferred
async def test_a_full_number_read_is_recorded_and_a_masked_one_is_not(web):
    """The agent's API read of an order (full number) adds one order.view row naming agent1, its role,
    the order and 127.0.0.1; the department's read (number masked) adds nothing."""
    staff = await staff_for(web)
    number = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
    assert _rows(web) == []
    assert (await staff.agent.get(f"/api/v1/workorders/{number}")).status == 200
    (row,) = _rows(web)
    assert (row["username"], row["role"], row["kind"], row["record"], row["address"]) == (
        "agent1", "agent", "order.view", number, "127.0.0.1")
    await staff.dispatcher.post(f"/api/v1/workorders/{number}/dispatch", json={})
    masked = await staff.dept.get(f"/api/v1/workorders/{number}")
    assert masked.status == 200 and masked.json["caller_phone"] == "138****1234"
    assert len(_rows(web)) == 1
    assert (await staff.dept.get("/api/v1/workorders")).status == 200
    assert len(_rows(web)) == 1


@pytest_twisted.ensureDeferred
async def test_a_list_of_orders_with_full_numbers_is_recorded_with_the_order_numbers(web):
    """The supervisor's order list (numbers whole) adds one orders.list row naming the listed orders."""
    staff = await staff_for(web)
    first = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
    second = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
    assert (await staff.supervisor.get("/api/v1/workorders")).status == 200
    (row,) = _rows(web)
    assert (row["username"], row["kind"]) == ("sup1", "orders.list")
    assert set(row["detail"].split(",")) == {first, second}


@pytest_twisted.ensureDeferred
async def test_the_dispatch_page_a_recording_and_a_report_export_are_recorded(web, tmp_path):
    """Opening the order page, playing its recording, exporting the monthly report and reading the order in
    the dispatch console's API each add their row."""
    from datetime import datetime

    from callcenter.asr.jobs import transcription_jobs

    staff = await staff_for(web)
    number = (await staff.agent.post("/api/v1/workorders", json=dict(ORDER, call_ids=["1700000000.1"]))).json["number"]
    wav = Path(tmp_path) / "call.wav"
    wav.write_bytes(b"RIFF" + b"\0" * 100)
    web.deps.extras["recordings"].roots.append(Path(tmp_path).resolve())
    with web.engine.begin() as conn:
        conn.execute(transcription_jobs.insert().values(recording_path=str(wav), call_id="1700000000.1",
                                                        status="queued", created_at=datetime(2026, 12, 1)))
    sup = await signed_in(web, "sup1")
    assert (await sup.get(f"/dispatch/orders/{number}")).status == 200
    assert (await staff.supervisor.get(f"/api/v1/workorders/{number}/recordings/0")).status == 200
    assert (await sup.get("/reports/export.csv")).status == 200
    kinds = [(r["username"], r["kind"], r["record"]) for r in _rows(web)]
    assert kinds[:2] == [("sup1", "order.view", number), ("sup1", "recording.play", number)]
    assert kinds[2][:2] == ("sup1", "reports.export") and kinds[2][2].startswith("report-")
    assert (await staff.dispatcher.get(f"/api/v1/dispatch/orders/{number}")).status == 200
    last = _rows(web)[-1]
    assert (last["username"], last["kind"], last["record"], last["detail"]) == ("disp1", "order.view", number, "api")


@pytest_twisted.ensureDeferred
async def test_supervisors_read_the_log_on_the_page_csv_and_api_filtered(web):
    """The page lists the read in Asia/Shanghai time (zh and en); the user/kind filters narrow it; the CSV
    carries it (and is itself recorded); the API returns it; a bad date is a 400 with audit.bad_date."""
    from zoneinfo import ZoneInfo

    staff = await staff_for(web)
    number = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
    await staff.agent.get(f"/api/v1/workorders/{number}")
    (row,) = _rows(web)
    sup = await signed_in(web, "sup1")
    page = (await sup.get("/supervisor/audit")).text
    shanghai = row["at"].astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert f"<td>{shanghai}</td>" in page and "查看工单完整号码" in page and number in page
    assert "Personal-data access log" in (await sup.get("/supervisor/audit?lang=en")).text
    assert 'data-user="agent1"' not in (await sup.get("/supervisor/audit?user=sup1")).text
    assert 'data-user="agent1"' not in (await sup.get("/supervisor/audit?kind=recording.play")).text
    assert 'data-user="agent1"' in (await sup.get("/supervisor/audit?kind=order.view&user=agent1")).text
    csv = await sup.get("/supervisor/audit.csv?user=agent1")
    assert csv.status == 200 and number in csv.text and "agent1" in csv.text
    assert _rows(web)[-1]["kind"] == "audit.export"
    api = await staff.supervisor.get("/api/v1/audit?kind=order.view")
    assert api.status == 200 and api.json["total"] == 1 and api.json["items"][0]["record"] == number
    bad = await staff.supervisor.get("/api/v1/audit?from=2026-13-01")
    assert bad.status == 400 and bad.json["error_id"] == "audit.bad_date"
    assert (await sup.get("/supervisor/audit?from=yesterday")).status == 400
    backwards = await staff.supervisor.get("/api/v1/audit?from=2026-12-07&to=2026-12-01")
    assert backwards.status == 422 and backwards.json["error_id"] == "audit.bad_range"
    ancient = await staff.supervisor.get("/api/v1/audit?from=0001-01-01&to=9999-12-31")
    assert ancient.status == 200 and ancient.json["total"] == 2


@pytest_twisted.ensureDeferred
async def test_agents_dispatchers_and_departments_get_403(web):
    """The page, the CSV and the API refuse every role but supervisor and admin."""
    staff = await staff_for(web)
    for client in (staff.agent, staff.dispatcher, staff.dept):
        assert (await client.get("/api/v1/audit")).status == 403
    agent = await signed_in(web, "agent1")
    assert (await agent.get("/supervisor/audit")).status == 403
    assert (await agent.get("/supervisor/audit.csv")).status == 403



@pytest.fixture
def search_server(db_url, tmp_path):
    from callcenter.search.embedded import EmbeddedIndex
    from callcenter.search.service import SearchService
    from tests.web.conftest import start_server, stop_server

    server = start_server(db_url, features=["callcenter.auth.web", "callcenter.workorders.api",
                                            "callcenter.search.web"])
    index = EmbeddedIndex(tmp_path / "search.sqlite3")
    server.deps.extras["search"] = SearchService(server.engine, index, refresh_seconds=0)
    yield server
    stop_server(server)
    index.close()


@pytest_twisted.ensureDeferred
async def test_a_search_that_shows_transcripts_is_recorded_with_their_ids(search_server):
    """An agent's search whose hits include a transcript adds a transcript.view row naming it; a search
    of orders only adds nothing."""
    from datetime import datetime

    from callcenter.asr.jobs import transcripts

    server = search_server
    with server.engine.begin() as conn:
        tid = conn.execute(transcripts.insert().values(
            call_id="1700000000.9", text="我家楼下违章搭建，我叫李四", words=[], model="test", language="zh",
            duration=2.0, rtf=0.1, created_at=datetime(2026, 12, 1))).inserted_primary_key[0]
    server.add_user("agent1", "agent")
    agent = server.client()
    auth = {"Authorization": f"Bearer {await agent.token('agent1')}"}
    orders_only = await agent.get("/api/v1/search?q=%E8%BF%9D%E7%AB%A0&kind=workorder", headers=auth)
    assert orders_only.status == 200 and _rows(server) == []
    found = await agent.get("/api/v1/search?q=%E8%BF%9D%E7%AB%A0&kind=transcript", headers=auth)  # 违章
    assert found.status == 200 and [h["ref"] for h in found.json["items"]] == [str(tid)]
    (row,) = _rows(server)
    assert (row["username"], row["kind"], row["detail"]) == ("agent1", "transcript.view", f"search: {tid}")
