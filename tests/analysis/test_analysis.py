"""数据分析: the month by district on the ten-district map, 12-month trends, recurring addresses, CSV exports;
supervisors only, bad months and exports refused with an error id."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest_twisted

from callcenter.analysis.boundaries import ADCODES, projected
from callcenter.analysis.queries import months_back, normalise_address
from ticketing.service import Actor
from tests.web.conftest import ORDER, signed_in, staff_for

CST = timezone(timedelta(hours=8))
AGENT = Actor("agent-1", "agent")


def test_every_district_has_a_boundary_inside_the_picture():
    height, rings, labels = projected(640)
    assert set(rings) == set(ADCODES) and all(rings[c] for c in ADCODES)
    for code, drawn in rings.items():
        xs = [x for ring in drawn for x, _ in ring]
        ys = [y for ring in drawn for _, y in ring]
        assert 0 <= min(xs) and max(xs) <= 640 and 0 <= min(ys) and max(ys) <= height, code
    # Cixi lies north of Xiangshan and Ninghai; Beilun east of Haishu
    assert labels["cixi"][1] < labels["xiangshan"][1] and labels["cixi"][1] < labels["ninghai"][1]
    assert labels["beilun"][0] > labels["haishu"][0]


def test_months_back_and_address_keys():
    assert [p.label for p in months_back(datetime(2026, 2, 10).date(), 3)] == ["2025-12", "2026-01", "2026-02"]
    assert normalise_address(" 海曙区 中山西路１号 ") == normalise_address("海曙区中山西路1号")


def seed(web, month_start: datetime) -> None:
    svc = web.deps.workorders
    at = month_start + timedelta(days=2, hours=3)
    batch = [dict(ORDER, district="haishu", address="中山西路 1 号")] * 3 + \
        [dict(ORDER, district="haishu", address="中山西路１号", category="cooking-fumes")] + \
        [dict(ORDER, district="cixi", address=f"浒山街道 {i} 号") for i in range(2)] + \
        [dict(ORDER, district="yinzhou", address="鄞州大道 9 号", subdistrict=None)]
    for fields in batch:
        fields = {k: v for k, v in fields.items() if v is not None}
        svc.create(fields, AGENT, at)
    svc.create(dict(ORDER, district="beilun"), AGENT, month_start - timedelta(days=40))  # two months earlier


@pytest_twisted.ensureDeferred
async def test_api_page_and_exports(web):
    staff = await staff_for(web)
    now = web.deps.now().astimezone(CST)
    month_start = datetime(now.year, now.month, 1, tzinfo=CST)
    seed(web, month_start)
    body = (await staff.supervisor.get("/api/v1/analysis")).json
    assert body["districts"] == {"haishu": 4, "cixi": 2, "yinzhou": 1}
    assert len(body["trends"]["months"]) == 12 and body["trends"]["months"][-1] == month_start.strftime("%Y-%m")
    assert sum(body["trends"]["districts"]["beilun"]) == 1 and body["trends"]["districts"]["beilun"][-1] == 0
    assert body["trends"]["categories"]["illegal-construction"][-1] == 6
    [spot] = body["hotspots"]
    assert (spot["district"], spot["orders"], spot["open"]) == ("haishu", 4, 4)
    assert spot["categories"] == ["illegal-construction", "cooking-fumes"]

    web.add_user("sup9", "supervisor")
    client = await signed_in(web, "sup9")
    page = await client.get("/analysis")
    assert page.status == 200 and "数据分析" in page.text
    assert re.search(r'data-district="haishu" data-count="4" fill="#08519c"', page.text)
    assert re.search(r'data-district="fenghua" data-count="0" fill="#eef3fa"', page.text)
    assert page.text.count('class="district"') == 10 and 'id="trend-categories"' in page.text
    english = await client.get("/analysis?lang=en")
    assert "Recurring addresses" in english.text and "Haishu District" in english.text
    csv = await client.get("/analysis/export.csv?what=hotspots&lang=zh")
    lines = csv.body.decode("utf-8-sig").splitlines()
    assert csv.status == 200 and len(lines) == 2 and lines[1].startswith("海曙区,中山西路 1 号,4,4,")
    trend_csv = (await client.get("/analysis/export.csv?what=district-trends&lang=en")).body.decode("utf-8-sig")
    assert trend_csv.splitlines()[0].startswith("District,") and len(trend_csv.splitlines()[0].split(",")) == 13

    assert (await client.get("/analysis/export.csv?what=everything")).status == 400
    assert (await client.get("/analysis?month=2026-13")).status == 400
    bad = await staff.supervisor.get("/api/v1/analysis?month=13-2026")
    assert bad.status == 400 and bad.json["error_id"] == "appraisal.bad_month"
    for other in (staff.agent, staff.dispatcher, staff.dept):
        assert (await other.get("/api/v1/analysis")).status == 403
