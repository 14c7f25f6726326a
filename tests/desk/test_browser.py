"""The desk in Debian's chromium: an agent takes a call from the PBX simulator end to end.

The simulator listens on TCP; the real ACD (QueueController over the real AMI
client) hands the caller to agent 1001 whose simulated phone answers.  The
browser (Playwright, run in a worker thread so the reactor keeps serving)
logs in, sets ready, sees the call pop up over server-sent events, gets the
draft the test's "speech recogniser" produces, edits and submits it, hangs
up and finishes wrap-up; the test then reads the order from the database.
"""
from __future__ import annotations

import os
import re
import shutil

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.threads import blockingCallFromThread, deferToThread

from tests.browser import CHROMIUM, chromium_page, sign_in
from tests.desk.helpers import SPEECH

SPEED = 5.0

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM),
                                reason="chromium is missing (bin/test installs it)")


def run_browser(base: str, password: str, reactor, dial, speak) -> dict:
    """The agent's part, in a real browser; returns what the page showed."""
    from playwright.sync_api import expect

    seen = {}
    with chromium_page() as page:
        page.set_default_timeout(20000)
        sign_in(page, base, "1001", password, next_path="/agent")
        page.wait_for_url(base + "/agent")
        expect(page.locator("#agent-state")).to_have_attribute("data-state", "logged_out")
        page.click("#btn-login")
        expect(page.locator("#agent-state")).to_have_attribute("data-state", "paused")
        page.click("#btn-ready")
        expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")
        seen["caller_channel"] = blockingCallFromThread(reactor, dial)
        expect(page.locator("#call-state")).to_have_attribute("data-state", "connected")
        expect(page.locator("#agent-state")).to_have_attribute("data-state", "on_call")
        seen["number"] = page.locator("#call-number").text_content()
        seen["call_id"] = page.locator("#call-info").get_attribute("data-call-id")
        blockingCallFromThread(reactor, speak, seen["call_id"])
        expect(page.locator("#transcript p.final")).to_have_text(SPEECH)
        expect(page.locator("#f-category")).to_have_value("illegal-construction")
        page.select_option("#f-type", "complaint")
        page.fill("#f-caller_name", "张先生")
        page.click("#btn-submit")
        expect(page.locator("#order-result")).to_have_attribute("data-number", re.compile(r"^\d+$"))
        seen["order"] = page.locator("#order-result").get_attribute("data-number")
        page.click("#btn-hangup")
        expect(page.locator("#agent-state")).to_have_attribute("data-state", "wrap_up")
        page.click("#btn-wrap-up-done")
        expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")
        page.goto(base + "/agent?lang=en")
        seen["english"] = page.locator("h1").text_content()
    return seen


@pytest_twisted.ensureDeferred
async def test_agent_takes_a_simulated_call_and_submits_a_work_order(sqlite_url):
    """End to end: PBX simulator over TCP → real ACD → the agent's simulated phone answers → the desk
    in chromium shows the call and the speech draft → the submitted order is in the database,
    dispatched, with the call id and the agent's edit."""
    from twisted.internet import reactor

    from callcenter.ami.client import AMIClient
    from callcenter.ami.events import parse_agi_env
    from callcenter.desk.web import desk_of
    from callcenter.pbxsim.participants import CallerScript
    from callcenter.pbxsim.simulator import PBXSimulator
    from callcenter.routing.acd import CallHandle, QueueController
    from callcenter.routing.policy import Router
    from callcenter.routing.skills import Agent, QueueRules
    from callcenter.routing.timewarp import ScaledClock
    from ticketing.intake.corrections import CorrectionStore
    from ticketing.intake.service import IntakeService
    from ticketing.persistence.tables import work_orders
    from tests.desk.conftest import DESK_FEATURES
    from tests.web.conftest import PASSWORD, start_server, stop_server_async

    sim = PBXSimulator(reactor, speed=SPEED)
    port = await sim.listen(0)
    sim.add_device("PJSIP/1001", answer_after=1.0)
    clock = ScaledClock(reactor, SPEED)
    ami = AMIClient(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), "hotline", "hotline-secret",
                    clock=clock, resync=False)
    acd = QueueController(ami, clock, Router([QueueRules("hotline-general", "general")]), ring_timeout=10,
                          wrap_up_seconds=600)
    acd.add_agent(Agent("1001", {"general": 80}, device="PJSIP/1001"))

    def ivr(message):  # the IVR's part: hand the caller to the queue
        if parse_agi_env(message.get("Env")).get("agi_arg_1") == "ivr":
            acd.enqueue(CallHandle(message.get("Uniqueid"), message.get("Channel"),
                                   parse_agi_env(message.get("Env")).get("agi_callerid", "")), "hotline-general")

    ami.subscribe(ivr, names=("AsyncAGIStart",))
    server = start_server(sqlite_url, features=DESK_FEATURES)
    deps = server.deps
    deps.extras["acd"] = acd
    deps.extras["intake"] = IntakeService(reactor, deps.pool, corrections=CorrectionStore(server.engine))
    desk = desk_of(deps)
    server.add_user("1001", "agent")
    ami.start()
    try:
        await ami.when_connected()
        acd.startService()

        def dial():
            return sim.dial_in("13812341234", script=CallerScript()).name

        def speak(call_id):  # the live recogniser's part
            desk.on_final(call_id, SPEECH)

        seen = await deferToThread(run_browser, server.base, PASSWORD, reactor, dial, speak)
    finally:
        desk.close()
        await acd.stopService()
        await ami.stop()
        await port.stopListening()
        await stop_server_async(server)
    assert seen["number"] == "13812341234" and seen["english"].startswith("Agent desk")
    engine = server.engine
    with engine.connect() as conn:
        row = conn.execute(select(work_orders).where(work_orders.c.number == seen["order"])).mappings().one()
    assert (row["status"], row["type"], row["category"], row["caller_name"]) == (
        "dispatched", "complaint", "illegal-construction", "张先生")
    assert seen["call_id"] in row["call_ids"] and row["caller_phone"] == "13812341234"
    assert sim.find_channel(seen["caller_channel"]) is None  # the desk's hang-up ended the call
