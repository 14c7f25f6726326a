"""Open311 GeoReport v2 over real HTTP: services, filing with a key, public reads, error arrays."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest_twisted

from tests.web.conftest import staff_for

BASE = "/open311/v2"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _open311_key(web) -> str:
    user = web.add_user("civicapp", "agent")
    return web.deps.auth.issue_token(user, datetime.now(timezone.utc), kind="open311", name="civic app")


def _report(**extra) -> dict:
    form = {"service_code": "illegal-construction", "attribute[district]": "haishu",
            "description": "河边有人违章搭建棚屋\n已经持续一周", "address_string": "海曙区望京路", "lat": "29.87",
            "long": "121.55", "first_name": "Li", "last_name": "Si", "phone": "13900001111"}
    form.update(extra)
    return form


@pytest_twisted.ensureDeferred
async def test_services_come_from_the_taxonomy(web):
    """services.json lists every category; a definition lists districts; unknown codes are a 404 array."""
    client = web.client()
    services = (await client.get(f"{BASE}/services.json")).json
    codes = {s["service_code"] for s in services}
    assert codes == set(web.deps.workorders.taxonomy.categories)
    construction = next(s for s in services if s["service_code"] == "illegal-construction")
    assert construction["service_name"] == "违章建筑" and construction["metadata"] is True
    english = (await client.get(f"{BASE}/services.json?lang=en")).json
    assert any(s["service_name"] == "Illegal construction" for s in english)
    definition = (await client.get(f"{BASE}/services/illegal-construction.json")).json
    district = next(a for a in definition["attributes"] if a["code"] == "district")
    assert district["required"] and {"haishu", "xiangshan"} <= {v["key"] for v in district["values"]}
    missing = await client.get(f"{BASE}/services/no-such.json")
    assert missing.status == 404 and missing.json[0]["code"] == 404
    assert missing.json[0]["error_id"] == "open311.unknown_service"


@pytest_twisted.ensureDeferred
async def test_filing_with_a_key_creates_an_order_readable_publicly_without_pii(web):
    """A keyed POST files an open311-channel order; public reads show status, never name or phone."""
    staff = await staff_for(web)
    key = _open311_key(web)
    client = web.client(origin=False)
    resp = await client.post(f"{BASE}/requests.json", data=dict(_report(), api_key=key), headers=FORM)
    assert resp.status == 201, resp.body
    number = resp.json[0]["service_request_id"]

    order = (await staff.supervisor.get(f"/api/v1/workorders/{number}")).json
    assert order["channel"] == "open311" and order["category"] == "illegal-construction"
    assert order["summary"] == "河边有人违章搭建棚屋" and order["address"] == "海曙区望京路"
    assert order["caller_phone"] == "13900001111"

    public = await client.get(f"{BASE}/requests/{number}.json")
    [view] = public.json
    assert view["service_request_id"] == number and view["status"] == "open"
    assert "13900001111" not in public.text and "Li Si" not in public.text
    assert view["agency_responsible"] and view["service_code"] == "illegal-construction"
    assert (view["lat"], view["long"]) == (29.87, 121.55)  # numbers (the public gets them to ~100 m)

    listed = (await client.get(f"{BASE}/requests.json?status=open&service_code=illegal-construction")).json
    assert [r["service_request_id"] for r in listed] == [number]
    assert (await client.get(f"{BASE}/requests.json?status=closed")).json == []
    by_id = (await client.get(f"{BASE}/requests.json?service_request_id={number},99999")).json
    assert [r["service_request_id"] for r in by_id] == [number]
    ok_jurisdiction = await client.get(f"{BASE}/requests.json?jurisdiction_id=ningbo.gov.cn")
    assert ok_jurisdiction.status == 200


@pytest_twisted.ensureDeferred
async def test_bad_open311_requests_get_error_arrays_and_store_nothing(web):
    """No key, bad key, unknown service/parameter/jurisdiction, bad coordinates, JSON body: the spec's 400/403/404
    with an error array, nothing filed."""
    staff = await staff_for(web)
    key = _open311_key(web)
    client = web.client(origin=False)
    cases = [
        (dict(data=_report(), headers=FORM), 403, "open311.api_key_required"),
        (dict(data=dict(_report(), api_key="o311_forged"), headers=FORM), 403, "auth.invalid_token"),
        (dict(data=dict(_report(service_code="nope"), api_key=key), headers=FORM), 400, "open311.unknown_service"),
        (dict(data=dict(_report(), api_key=key, **{"attribute[colour]": "red"}), headers=FORM), 400,
         "open311.unknown_parameter"),
        (dict(data=dict(_report(), api_key=key, admin="1"), headers=FORM), 400, "open311.unknown_parameter"),
        (dict(data=dict(_report(lat="north"), api_key=key), headers=FORM), 400, "open311.bad_coordinate"),
        (dict(data=dict(_report(lat="95"), api_key=key), headers=FORM), 400, "open311.bad_coordinate"),
        (dict(data=dict(_report(description=""), api_key=key), headers=FORM), 400, "open311.missing_parameter"),
        (dict(data=dict(_report(**{"attribute[district]": "atlantis"}), api_key=key), headers=FORM), 400,
         "workorder.validation_failed"),
        (dict(data=dict(_report(), api_key=key, jurisdiction_id="beijing.gov.cn"), headers=FORM), 404,
         "open311.unknown_jurisdiction"),
        (dict(json=_report(), headers={"Authorization": f"Bearer {key}"}), 400, "open311.form_required"),
    ]
    for kwargs, status, error_id in cases:
        resp = await client.post(f"{BASE}/requests.json", **kwargs)
        assert resp.status == status, (error_id, resp.body)
        assert resp.json[0]["code"] == status and resp.json[0]["error_id"] == error_id
    for query, error_id in (("status=pending", "open311.bad_status"), ("start_date=yesterday", "open311.bad_date"),
                            ("service_code=nope", "open311.unknown_service")):
        resp = await client.get(f"{BASE}/requests.json?{query}")
        assert resp.status == 400 and resp.json[0]["error_id"] == error_id
    assert (await client.get(f"{BASE}/requests/12345.json")).status == 404
    assert (await staff.supervisor.get("/api/v1/workorders")).json["total"] == 0
