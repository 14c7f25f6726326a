"""Open311 conformance: two independently written client libraries from PyPI, used as they are
(``georeport`` in this environment; ``open311`` 1.1, a Python 2 package, under Python 2.7),
against the served API in JSON and XML; the spec's documents, error arrays, comma lists,
CORS and the redacted public view."""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.threads import deferToThread

from tests.citizen.helpers import multipart, photo_png

BASE = "/open311/v2"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _key(web) -> str:
    user = web.add_user("civicapp", "agent")
    return web.deps.auth.issue_token(user, datetime.now(timezone.utc), kind="open311", name="civic app")


def _python27() -> str:
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/2.7*/bin/python2.7"))) + \
        [p for p in (shutil.which("python2.7"),) if p]
    found = next((c for c in candidates if subprocess.run([c, "-c", "pass"], capture_output=True).returncode == 0),
                 None)
    if not found:
        pytest.fail("Python 2.7 is needed to run the open311 client library as published (a Python 2 package)")
    return found


@pytest.fixture(scope="session")
def open311_lib(tmp_path_factory) -> Path:
    """The ``open311`` 1.1 sdist from PyPI, unpacked (no install step: it is pure Python 2)."""
    where = tmp_path_factory.mktemp("open311-lib")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "open311==1.1",
                    "-d", str(where), "-q"], check=True, timeout=120)
    [archive] = where.glob("open311-1.1.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(where)
    return where / "open311-1.1"


def run_open311(lib: Path, base: str, key: str, script: str) -> dict:
    """Run ``script`` under Python 2.7 with ``o`` an ``open311.Open311`` on our endpoint; its JSON."""
    prelude = textwrap.dedent(f"""
        import json, sys
        from open311 import Open311
        o = Open311(endpoint={base + BASE!r}, api_key={key!r}, jurisdiction='ningbo.gov.cn', format='xml')
        out = {{}}
    """)
    code = prelude + textwrap.dedent(script) + "\nsys.stdout.write(json.dumps(out))\n"
    env = dict(os.environ, PYTHONPATH=str(lib))
    done = subprocess.run([_python27(), "-c", code], capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    return json.loads(done.stdout)


def _georeport(base: str, fmt: str, key: str | None = None):
    from georeport import GeoReport

    return GeoReport(base + BASE, jurisdiction="ningbo.gov.cn", api_key=key, output_format=fmt)


@pytest_twisted.ensureDeferred
async def test_the_open311_library_files_with_coordinates_and_reads_back_in_xml(web, open311_lib):
    key = _key(web)
    posted = await deferToThread(run_open311, open311_lib, web.base, key, """
        r = o.post_service_request(service_code='illegal-construction', lat='29.8683', long='121.5440',
                                   address_string='海曙区望京路', first_name='Li', last_name='Si',
                                   phone='13900001111', email='li@example.cn',
                                   description='河边有人违章搭建棚屋\\n已经持续一周',
                                   media_url='https://photos.example.cn/shed.jpg',
                                   **{'attribute[district]': 'haishu'})
        out['posted'] = r
        number = r['service_requests']['request']['service_request_id']
        out['read'] = o.get_service_request(number)
        out['services'] = len(o.service_list())
        out['definition'] = o.service_definition('illegal-construction')
    """)
    request = posted["posted"]["service_requests"]["request"]
    number = request["service_request_id"]
    assert number.isdigit() and request["service_notice"]
    read = posted["read"]["service_requests"]["request"]
    assert read["service_request_id"] == number and read["service_code"] == "illegal-construction"
    assert read["media_url"] == "https://photos.example.cn/shed.jpg"
    assert (float(read["lat"]), float(read["long"])) == (29.868, 121.544)  # public: ~100 m
    assert posted["services"] == len(web.deps.workorders.taxonomy.categories)
    assert posted["definition"]["service_definition"]["service_code"] == "illegal-construction"
    # with the key (a staff account) the same request reads back whole, coordinates exact
    staff = await deferToThread(lambda: _georeport(web.base, "json").get_service_requests(service_request_id=number))
    assert staff[0]["lat"] == 29.868  # public reader again (no key): still a number, not text
    whole = await web.client(origin=False).get(f"{BASE}/requests/{number}.json?api_key={key}")
    [view] = whole.json
    assert (view["lat"], view["long"]) == (29.8683, 121.544)
    assert view["description"] == "河边有人违章搭建棚屋\n已经持续一周"


@pytest_twisted.ensureDeferred
async def test_the_georeport_library_reads_every_resource_in_json_and_xml(web):
    key = _key(web)
    client = web.client(origin=False)
    body, ctype = multipart({"api_key": key, "service_code": "road-damage", "attribute[district]": "haishu",
                             "lat": "29.87", "long": "121.55", "description": "路面塌陷\n请尽快处理"},
                            [("media", "hole.png", photo_png())])
    posted = await client.post(f"{BASE}/requests.json", body=body, headers={"Content-Type": ctype})
    assert posted.status == 201, posted.body
    number = posted.json[0]["service_request_id"]
    for fmt in ("json", "xml"):
        geo = _georeport(web.base, fmt)
        services = await deferToThread(geo.get_service_list)
        assert {s["service_code"] for s in services} == set(web.deps.workorders.taxonomy.categories)
        assert all(s["type"] == "realtime" for s in services)
        definition = await deferToThread(geo.get_service_definition, "road-damage")
        assert definition["service_code"] == "road-damage"
        listed = await deferToThread(geo.get_service_requests, status="open,closed",
                                     service_code="road-damage,illegal-construction")
        listed = listed if isinstance(listed, list) else [listed]
        assert [r["service_request_id"] for r in listed] == [number]
        one = await deferToThread(geo.get_service_request, number)
        assert one["service_request_id"] == number and one["service_code"] == "road-damage"
        assert float(one["lat"]) == 29.87 and one["media_url"].endswith(f"/open311/v2/media/{number}/"
                                                                          + one["media_url"].rsplit("/", 1)[1])
    photo = await client.get(one["media_url"].split(web.base, 1)[1])
    assert photo.status == 200 and photo.body == photo_png()


@pytest_twisted.ensureDeferred
async def test_xml_documents_have_the_specs_element_names(web):
    client = web.client(origin=False)
    services = ET.fromstring((await client.get(f"{BASE}/services.xml")).body)
    assert services.tag == "services"
    first = services.find("service")
    assert [c.tag for c in first] == ["service_code", "service_name", "description", "metadata", "type", "keywords",
                                      "group"]
    assert first.findtext("metadata") == "true" and first.findtext("type") == "realtime"
    definition = ET.fromstring((await client.get(f"{BASE}/services/road-damage.xml")).body)
    assert definition.tag == "service_definition"
    attribute = definition.find("attributes/attribute")
    assert attribute.findtext("code") == "district" and attribute.find("values/value/key") is not None
    found = await client.get(f"{BASE}/discovery.xml")
    discovery = ET.fromstring(found.body)
    assert discovery.find("endpoints/endpoint/formats/format").text == "text/xml"
    assert found.header("content-type").startswith("text/xml")
    assert (await client.get(f"{BASE}/discovery.json")).json["endpoints"][0]["url"].endswith(BASE)


@pytest_twisted.ensureDeferred
async def test_errors_are_open311_arrays_everywhere_under_v2(web):
    client = web.client(origin=False)
    for path, status, error_id in ((f"{BASE}/nothing.xml", 404, "open311.not_found"),
                                   (f"{BASE}/tokens/abc.xml", 404, "open311.unknown_token"),
                                   (f"{BASE}/requests/99999.xml", 404, "workorder.not_found"),
                                   (f"{BASE}/requests.xml?status=pending", 400, "open311.bad_status")):
        resp = await client.get(path)
        root = ET.fromstring(resp.body)
        assert resp.status == status and root.tag == "errors", (path, resp.body)
        assert root.findtext("error/code") == str(status) and error_id in root.findtext("error/error_id")
    posted = await client.post(f"{BASE}/requests.xml", data={"service_code": "road-damage", "description": "x",
                                                             "lat": "29", "long": "121"}, headers=FORM)
    assert posted.status == 403 and ET.fromstring(posted.body).findtext("error/code") == "403"
    deleted = await client.request("DELETE", f"{BASE}/services.json")
    assert deleted.status == 405 and deleted.json[0]["code"] == 405
    unknown = await client.get(f"{BASE}/whatever")
    assert unknown.status == 404 and unknown.json[0]["error_id"] == "open311.not_found"


@pytest_twisted.ensureDeferred
async def test_cors_for_reads_only_for_configured_origins(web):
    web.deps.config = web.deps.config.with_overrides({"open311.cors_origins": ["https://map.example.cn"]})
    client = web.client(origin=False)
    ok = await client.get(f"{BASE}/services.json", headers={"Origin": "https://map.example.cn"})
    assert ok.header("access-control-allow-origin") == "https://map.example.cn"
    other = await client.get(f"{BASE}/services.json", headers={"Origin": "https://evil.example"})
    assert other.header("access-control-allow-origin") is None
    pre = await client.request("OPTIONS", f"{BASE}/requests.json", headers={"Origin": "https://map.example.cn"})
    assert pre.status == 204 and "GET" in pre.header("access-control-allow-methods")


@pytest_twisted.ensureDeferred
async def test_the_public_view_hides_numbers_names_and_doors_but_staff_read_everything(web):
    key = _key(web)
    client = web.client(origin=False)
    summary = "我叫王小明，电话13912345678，中山西路88号3幢501室楼道堆满杂物"
    posted = await client.post(f"{BASE}/requests.json", headers=FORM, data={
        "api_key": key, "service_code": "property-management", "attribute[district]": "haishu",
        "address_string": "中山西路88号3幢501室", "first_name": "小明", "last_name": "王",
        "description": summary + "\n请物业清理，晚上回电"})
    number = posted.json[0]["service_request_id"]
    public = (await client.get(f"{BASE}/requests/{number}.json")).json[0]
    assert public["description"] == "我叫王**，电话139****5678，中山西路**号*幢***室楼道堆满杂物"
    assert public["address"] == "中山西路**号*幢***室"
    assert "请物业清理" not in json.dumps(public, ensure_ascii=False)
    staff = (await client.get(f"{BASE}/requests/{number}.json?api_key={key}")).json[0]
    assert staff["description"] == summary + "\n请物业清理，晚上回电" and staff["address"] == "中山西路88号3幢501室"


@pytest_twisted.ensureDeferred
async def test_a_request_filed_over_open311_is_stamped_with_the_process_clock(web):
    """The demo runs on a scaled clock: what Open311 files carries that clock's time, not the wall's."""
    from twisted.internet import task

    from callcenter.clock import now_from

    clock = task.Clock()
    clock.advance(datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc).timestamp())  # 09:30 in Shanghai
    web.deps.clock = clock
    key = _key(web)
    posted = await web.client(origin=False).post(f"{BASE}/requests.json", headers=FORM, data={
        "api_key": key, "service_code": "road-damage", "attribute[district]": "haishu", "lat": "29.87",
        "long": "121.55", "description": "路面塌陷"})
    number = posted.json[0]["service_request_id"]
    from ticketing.service import Actor

    order = web.deps.workorders.get(number, Actor("t", "supervisor"))
    assert datetime.fromisoformat(order["created_at"]) == now_from(clock)
    assert number.startswith("20260302")


SPEC_REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                       "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                       "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]


@pytest_twisted.ensureDeferred
async def test_the_specs_post_example_files_and_reads_back_in_the_specs_shape(web):
    """GeoReport v2's own POST example (with this jurisdiction's service code and required district)."""
    key = _key(web)
    client = web.client(origin=False)
    example = {"api_key": key, "service_code": "road-damage", "lat": "37.76524078", "long": "-122.4212043",
               "address_string": "1234 5th street", "email": "smit222@sfgov.edu", "device_id": "tt222111",
               "account_id": "123456", "first_name": "john", "last_name": "smith", "phone": "111111111",
               "description": "A large sinkhole is destroying the street", "media_url": "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg",
               "attribute[district]": "haishu"}
    posted = await client.post(f"{BASE}/requests.xml", data=example, headers=FORM)
    assert posted.status == 201, posted.body
    created = ET.fromstring(posted.body)
    assert created.tag == "service_requests" and [c.tag for c in created.find("request")] == [
        "service_request_id", "service_notice", "account_id"]
    assert created.findtext("request/account_id") == "123456"
    number = created.findtext("request/service_request_id")
    read = ET.fromstring((await client.get(f"{BASE}/requests/{number}.xml?api_key={key}")).body)
    request = read.find("request")
    assert [c.tag for c in request] == SPEC_REQUEST_FIELDS
    assert request.findtext("lat") == "37.76524078" and request.findtext("long") == "-122.4212043"
    assert request.findtext("description") == "A large sinkhole is destroying the street"
    assert request.findtext("media_url") == example["media_url"]
    assert request.findtext("address") == "1234 5th street"
    public = (await client.get(f"{BASE}/requests/{number}.json")).json[0]
    assert public["address"] == "**** *th street" and "smith" not in json.dumps(public)
    assert "smit222" not in json.dumps(public) and "111111111" not in json.dumps(public)


@pytest_twisted.ensureDeferred
async def test_a_media_url_is_kept_as_an_attachment_but_internal_addresses_are_refused(web):
    from twisted.internet import defer

    from callcenter.attachments.web import store_of

    key = _key(web)
    client = web.client(origin=False)
    body, ctype = multipart({"api_key": key, "service_code": "road-damage", "attribute[district]": "haishu",
                             "lat": "29.87", "long": "121.55", "description": "路面塌陷"},
                            [("media", "hole.png", photo_png())])
    first = (await client.post(f"{BASE}/requests.json", body=body, headers={"Content-Type": ctype})).json[0]
    media_url = (await client.get(f"{BASE}/requests/{first['service_request_id']}.json")).json[0]["media_url"]

    async def file_with(url):
        posted = await client.post(f"{BASE}/requests.json", headers=FORM, data={
            "api_key": key, "service_code": "road-damage", "attribute[district]": "haishu", "lat": "29.87",
            "long": "121.55", "description": "同一处塌陷", "media_url": url})
        await defer.DeferredList(list(web.deps.extras.get("open311_fetches", ())))
        return posted.json[0]["service_request_id"]

    before = (await client.get(f"{BASE}/requests.json?api_key={key}")).json
    refused = await client.post(f"{BASE}/requests.json", headers=FORM, data={   # 127.0.0.1: an internal address
        "api_key": key, "service_code": "road-damage", "attribute[district]": "haishu", "lat": "29.87",
        "long": "121.55", "description": "同一处塌陷", "media_url": media_url})
    assert refused.status == 400 and refused.json[0]["error_id"] == "open311.media_refused"
    assert (await client.get(f"{BASE}/requests.json?api_key={key}")).json == before   # nothing filed
    web.deps.config = web.deps.config.with_overrides({"open311.media_fetch_private": True})
    kept = await file_with(media_url)
    [copy] = store_of(web.deps).list(kept)
    [original] = store_of(web.deps).list(first["service_request_id"])
    assert copy["sha256"] == original["sha256"] and copy["source"] == "open311"
    assert (await client.get(f"{BASE}/requests/{kept}.json")).json[0]["media_url"] == media_url
