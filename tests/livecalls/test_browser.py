"""/supervisor/calls in Debian's chromium (Playwright): a call queued through the PBX simulator shows as a
row with a masked number and the queued colour, turns to talking without a reload when the agent answers
(SSE), and its page shows the timeline."""
from __future__ import annotations

import threading

import pytest
import pytest_twisted
from twisted.internet.threads import deferToThread

from callcenter.pbxsim.participants import CallerScript
from tests.browser import chromium_page, sign_in
from tests.livecalls.floor import AGENT_IFACE, MASKED, NUMBER, start_floor, stop_floor
from tests.routing.test_acd_sim import wait_until

# Every `calls` event rebuilds the table, so a row found by one call may be detached by the next (its
# computed style is then ""). The row is read in one script, between two renders.
READ_ROW = """id => {
  const tr = [...document.querySelectorAll("#calls tr")].find(r => r.dataset.linkedid === id);
  return tr && {phase: tr.dataset.phase, text: tr.innerText,
                bg: getComputedStyle(tr.querySelector(".phase")).backgroundColor};
}"""


def watch_calls(base: str, linkedid: str, page_ready: threading.Event, seen: dict) -> None:
    """Worker thread: log in as a supervisor, open /supervisor/calls, follow the row, open the call."""
    with chromium_page(seen) as page:
        sign_in(page, base, "sup1", next_path="/supervisor/calls")
        page.goto(base + "/supervisor/calls")
        page.locator('#calls-status:text-is("实时")').wait_for(timeout=15000)
        row = page.locator(f'#calls tr[data-linkedid="{linkedid}"]')
        row.wait_for(timeout=15000)
        queued = page.evaluate(READ_ROW, linkedid)
        seen.update(queued_phase=queued["phase"], queued_row=queued["text"], queued_bg=queued["bg"])
        seen["nav"] = page.locator('header nav a[href="/supervisor/calls"]').inner_text()
        page.evaluate("window.__not_reloaded = true")
        page_ready.set()
        page.locator(f'#calls tr[data-linkedid="{linkedid}"][data-phase="talking"]').wait_for(timeout=30000)
        talking = page.evaluate(READ_ROW, linkedid)
        seen.update(talking_row=talking["text"], talking_bg=talking["bg"])
        seen["not_reloaded"] = page.evaluate("window.__not_reloaded === true")
        row.locator("a").click()
        page.locator("#timeline").wait_for(timeout=15000)
        seen["detail_phase"] = page.locator("#call-phase").get_attribute("data-phase")
        seen["kinds"] = page.locator("#timeline tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)")
        seen["detail_text"] = page.locator("main").inner_text()
        page.goto(base + "/supervisor/calls?lang=en")
        seen["english"] = page.locator("h1").first.inner_text()


@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_live_calls_page_follows_a_simulated_call(sqlite_url):
    """The row appears queued (amber) with 138****5678, becomes talking (green) in place when agent1
    answers, and the details link opens the call's timeline (queue join, agent connect)."""
    from twisted.internet import reactor

    floor = await start_floor(sqlite_url)
    page_ready, seen = threading.Event(), {}
    try:
        floor.server.add_user("sup1", "supervisor")
        caller = floor.sim.dial_in(NUMBER, exten="101", script=CallerScript())
        await wait_until(reactor, lambda: [c.phase for c in floor.tracker.live_calls()] == ["queued"],
                         what="the call queued")
        watching = deferToThread(watch_calls, floor.server.base, caller.uniqueid, page_ready, seen)
        await wait_until(reactor, lambda: page_ready.is_set() or watching.called, timeout=60, what="page open")
        floor.sim.add_device("PJSIP/1001", answer_after=1.0)
        floor.sim.queues.add("hotline-general", AGENT_IFACE, "agent1")
        await watching
    finally:
        await stop_floor(floor)
    assert seen["queued_phase"] == "queued" and MASKED in seen["queued_row"], seen
    assert NUMBER not in seen["queued_row"] and "综合服务" in seen["queued_row"], seen
    assert seen["queued_bg"] == "rgb(249, 168, 37)" and seen["nav"] == "实时通话", seen  # CSS loaded under the CSP
    assert "agent1" in seen["talking_row"] and seen["talking_bg"] == "rgb(27, 94, 32)", seen
    assert seen["not_reloaded"] is True, seen
    assert seen["detail_phase"] == "talking" and {"queue_join", "agent_connect"} <= set(seen["kinds"]), seen
    assert NUMBER not in seen["detail_text"] and MASKED in seen["detail_text"], seen
    assert seen["english"] == "Live calls", seen
    assert "console" not in seen, seen  # no failed load, no CSP violation, no script error
