"""The appraisal page in Debian's chromium as a supervisor: every department's figures, score and rank on the
page are the ones this test computes from the month it played; the agents' FCR too; the CSV link works."""
from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet.threads import deferToThread

from tests.appraisal.scenario import expected_score, play_month
from tests.browser import chromium_page, sign_in


def read_page(base: str) -> dict:
    seen: dict = {}
    with chromium_page(seen) as page:
        sign_in(page, base, "sup1", next_path="/supervisor/appraisal")
        page.wait_for_selector("#appraisal")
        rows = {}
        for tr in page.locator("tr.department").all():
            rows[tr.get_attribute("data-department")] = {
                td.get_attribute("data-col"): td.get_attribute("data-value") for td in tr.locator("td").all()}
        seen["rows"] = rows
        seen["shown_score"] = {d: page.locator(f'tr[data-department="{d}"] td[data-col="score"]').inner_text()
                               for d in rows}
        seen["fcr"] = page.locator('tr.agent[data-agent="agent1"] td[data-col="fcr_rate"]').inner_text()
        with page.expect_download() as download:
            page.click("#csv")
        seen["csv_name"] = download.value.suggested_filename
        page.click("#lang-switch")
        seen["english"] = page.locator("h1").inner_text()
    return seen


@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_supervisor_sees_the_appraisal_this_test_computes(web):
    staff, expected = await play_month(web)
    seen = await deferToThread(read_page, web.base)
    ranking = sorted(expected, key=lambda d: -expected_score(expected[d]))
    assert list(seen["rows"]) == ranking
    for rank, dept in enumerate(ranking, 1):
        counts, row = expected[dept], seen["rows"][dept]
        assert int(row["rank"]) == rank
        assert float(row["score"]) == expected_score(counts)
        assert seen["shown_score"][dept] == f"{expected_score(counts):.1f}"
        assert int(row["assigned"]) == counts["assigned"] and int(row["supervised"]) == counts["supervised"]
        assert int(row["returns_rejected"]) == counts["returns_rejected"]
        if counts["replies"]:
            assert float(row["resolved_on_time_rate"]) == counts["replies_on_time"] / counts["replies"]
            assert float(row["reopen_rate"]) == counts["reopens"] / counts["replies"]
        else:
            assert row["resolved_on_time_rate"] == ""
    assert seen["fcr"] == "20.0%"
    assert seen["csv_name"].startswith("appraisal-") and seen["csv_name"].endswith(".csv")
    assert seen["english"].startswith("Department appraisal")
    assert not seen.get("console"), seen.get("console")
