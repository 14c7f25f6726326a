"""The appraisal API, page and CSV: figures per department match the month played through the API,
supervisors see all and the agents, departments only their own row; bad months are a 400 with an id."""
from __future__ import annotations

import pytest_twisted

from tests.appraisal.scenario import expected_score, play_month
from tests.web.conftest import signed_in


@pytest_twisted.ensureDeferred
async def test_api_figures_scores_and_ranks_match_the_month(web):
    staff, expected = await play_month(web)
    body = (await staff.supervisor.get("/api/v1/appraisal")).json
    rows = {d["department"]: d for d in body["departments"]}
    for dept, counts in expected.items():
        got = rows[dept]
        assert {k: got[k] for k in counts} == counts, dept
        assert got["score"] == expected_score(counts), dept
    ranking = sorted(expected, key=lambda d: -expected_score(expected[d]))
    assert [d["department"] for d in body["departments"]] == ranking
    assert [d["rank"] for d in body["departments"]] == [1, 2]
    agent = {a["username"]: a for a in body["agents"]}["agent1"]
    assert (agent["orders"], agent["resolved_on_call"], agent["fcr_rate"]) == (5, 1, 0.2)

    mine = (await staff.dept.get("/api/v1/appraisal")).json
    assert [d["department"] for d in mine["departments"]] == [staff.department] and mine["agents"] == []
    assert mine["departments"][0]["rank"] == rows[staff.department]["rank"]
    for client in (staff.agent, staff.dispatcher):
        assert (await client.get("/api/v1/appraisal")).status == 403
    for bad in ("2026-13", "26-11", "november", "2026-11-01"):
        resp = await staff.supervisor.get(f"/api/v1/appraisal?month={bad}")
        assert resp.status == 400 and resp.json["error_id"] == "appraisal.bad_month", bad
    empty = (await staff.supervisor.get("/api/v1/appraisal?month=2020-01")).json
    assert empty["departments"] == []


@pytest_twisted.ensureDeferred
async def test_page_and_csv_show_names_in_both_languages(web):
    staff, expected = await play_month(web)
    web.add_user("sup9", "supervisor")
    client = await signed_in(web, "sup9")
    page = await client.get("/supervisor/appraisal")
    assert page.status == 200 and "部门考核" in page.text and "综合行政执法局(城管)" in page.text
    english = await client.get("/supervisor/appraisal?lang=en")
    assert "Department appraisal" in english.text and "First-contact resolution" in english.text
    csv = await client.get("/supervisor/appraisal.csv?lang=zh")
    assert csv.status == 200 and csv.header("content-type").startswith("text/csv")
    lines = csv.body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("排名,承办单位,综合得分") and len(lines) == 1 + len(expected)
    assert (await client.get("/supervisor/appraisal?month=2026-1")).status == 400
