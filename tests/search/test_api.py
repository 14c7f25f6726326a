"""``/api/v1/search`` over HTTP: agents find orders; bad input is a clear 400; other roles are refused."""
from __future__ import annotations

import pytest
import pytest_twisted

from callcenter.search.embedded import EmbeddedIndex
from callcenter.search.service import SearchService
from tests.web.conftest import ORDER, start_server, stop_server


@pytest.fixture
def server(db_url, tmp_path):
    srv = start_server(db_url, features=["callcenter.auth.web", "callcenter.workorders.api",
                                         "callcenter.search.web"])
    index = EmbeddedIndex(tmp_path / "search.sqlite3")
    srv.deps.extras["search"] = SearchService(srv.engine, index, refresh_seconds=0)
    yield srv
    stop_server(srv)
    index.close()


@pytest_twisted.ensureDeferred
async def test_agent_searches_a_new_order_and_bad_input_is_refused(server):
    """A freshly created order is found by a word of its summary; kind/limit errors are 400 with error ids."""
    server.add_user("agent1", "agent")
    server.add_user("dept1", "department", department=sorted(server.deps.workorders.taxonomy.departments)[0])
    agent = server.client()
    auth = {"Authorization": f"Bearer {await agent.token('agent1')}"}
    created = await agent.post("/api/v1/workorders", json=ORDER, headers=auth)
    assert created.status == 201, created.body
    resp = await agent.get("/api/v1/search?q=%E8%BF%9D%E7%AB%A0&kind=workorder", headers=auth)  # 违章
    assert resp.status == 200, resp.body
    assert [h["ref"] for h in resp.json["items"]] == [created.json["number"]]
    assert resp.json["engine"] == "embedded"
    assert "13812341234" not in resp.text
    for query, error_id in (("q=x&kind=people", "search.bad_kind"), ("q=x&limit=abc", "search.bad_limit"),
                            ("q=", "search.empty_query"), ("q=x&limit=999", "search.bad_limit")):
        bad = await agent.get("/api/v1/search?" + query, headers=auth)
        assert (bad.status, bad.json["error_id"]) == (400, error_id)
    dept = server.client()
    refused = await dept.get("/api/v1/search?q=x", headers={"Authorization": f"Bearer {await dept.token('dept1')}"})
    assert refused.status == 403
    assert (await server.client().get("/api/v1/search?q=x")).status == 401
