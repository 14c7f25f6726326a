"""The wallboard in Debian's chromium (Playwright): numbers change, without a reload, as calls placed
through the PBX simulator over TCP are queued, answered and abandoned by the real ACD."""
from __future__ import annotations

import threading

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.threads import deferToThread

from callcenter.ami.client import AMIClient
from callcenter.ami.events import parse_agi_env
from callcenter.pbxsim.participants import CallerScript
from callcenter.pbxsim.simulator import PBXSimulator
from callcenter.routing.acd import CallHandle, QueueController
from callcenter.routing.policy import Router
from callcenter.routing.skills import Agent, QueueRules
from callcenter.routing.timewarp import ScaledClock
from tests.browser import chromium_page, sign_in
from tests.routing.test_acd_sim import wait_until
from tests.web.conftest import WebServer, _release, _ticketing_parts
from tests.web.conftest import test_config as web_config

SPEED = 5.0


def watch_wallboard(base: str, page_ready: threading.Event, seen: dict) -> None:
    """Worker thread: log in as a supervisor, open /wallboard, wait for the live numbers to move."""
    with chromium_page(seen) as page:
        sign_in(page, base, "sup1", next_path="/wallboard")
        page.goto(base + "/wallboard")
        page.locator('#wb-status:text-is("实时")').wait_for(timeout=15000)
        seen["status"] = page.locator("#wb-status").inner_text()
        seen["before"] = page.locator("#v-totals-offered").inner_text()
        seen["tile_bg"] = page.locator(".tile").first.evaluate("e => getComputedStyle(e).backgroundColor")
        page.evaluate("window.__not_reloaded = true")
        page_ready.set()
        # selectors, not wait_for_function: the page's CSP (script-src 'self') forbids eval
        page.locator('#v-totals-answered:text-is("1")').wait_for(timeout=45000)
        page.locator('#v-totals-abandoned:text-is("1")').wait_for(timeout=45000)
        seen["offered"] = page.locator("#v-totals-offered").inner_text()
        seen["connection"] = page.locator("#v-totals-connection_rate").inner_text()
        seen["connection_class"] = page.locator('[data-tile="totals.connection_rate"]').get_attribute("class")
        seen["queue_row"] = page.locator('#queues tr[data-queue="hotline-general"]').inner_text()
        seen["not_reloaded"] = page.evaluate("window.__not_reloaded === true")
        page.goto(base + "/wallboard?lang=en")
        seen["english"] = page.locator("h1").first.inner_text()


@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_wallboard_numbers_change_as_simulated_calls_arrive(sqlite_url):
    """Two callers dial the simulator: one is answered by agent 1001, one gives up; the open wallboard
    shows offered 2, answered 1, abandoned 1 and a red 50 % connection rate — without reloading."""
    from twisted.internet import reactor

    from callcenter.bootstrap import build_web, make_site
    from callcenter.db import make_engine
    from ticketing.service import WorkOrderService

    sim = PBXSimulator(reactor, speed=SPEED)
    sim_port = await sim.listen(0)
    sim.add_device("PJSIP/1001", answer_after=1.0)
    clock = ScaledClock(reactor, SPEED)
    ami = AMIClient(TCP4ClientEndpoint(reactor, "127.0.0.1", sim_port.getHost().port), "hotline", "hotline-secret",
                    clock=clock, resync=False)
    acd = QueueController(ami, clock, Router([QueueRules("hotline-general", "general")]), ring_timeout=6,
                          wrap_up_seconds=2)
    acd.add_agent(Agent("1001", {"general": 60}, device="PJSIP/1001"))

    def ivr(message):
        env = parse_agi_env(message.get("Env"))
        if env.get("agi_arg_1") == "ivr":
            acd.enqueue(CallHandle(message.get("Uniqueid"), message.get("Channel"), env.get("agi_callerid", "")),
                        "hotline-general")

    ami.subscribe(ivr, names=("AsyncAGIStart",))
    config = web_config(sqlite_url)
    engine = make_engine(sqlite_url)
    taxonomy, calendar = _ticketing_parts(config)
    root = build_web(config, reactor, engine=engine, workorders=WorkOrderService(engine, taxonomy, calendar), acd=acd)
    web_port = reactor.listenTCP(0, make_site(root, config), interface="127.0.0.1")
    server = WebServer(f"http://127.0.0.1:{web_port.getHost().port}", root, engine, config)
    server.add_user("sup1", "supervisor")
    ami.start()
    page_ready, seen = threading.Event(), {}
    try:
        await ami.when_connected()
        acd.startService()
        acd.agent_login("1001")
        acd.agent_ready("1001")
        watching = deferToThread(watch_wallboard, server.base, page_ready, seen)
        await wait_until(reactor, lambda: page_ready.is_set() or watching.called, timeout=60, what="page open")
        sim.dial_in("13800000001", script=CallerScript(talk_seconds=3))
        await wait_until(reactor, lambda: acd.stats["answered"] == 1, what="answered")
        sim.dial_in("13800000002", script=CallerScript(patience=2))
        await watching
    finally:
        await acd.stopService()
        await ami.stop()
        await sim_port.stopListening()
        await web_port.stopListening()
        _release(server)
    assert seen["status"] == "实时" and seen["before"] == "0", seen
    assert seen["tile_bg"] == "rgb(22, 38, 58)", seen  # the stylesheet loaded under the CSP
    assert seen["offered"] == "2" and seen["connection"] == "50.0%", seen
    assert "red" in seen["connection_class"].split(), seen
    assert seen["queue_row"].split()[:1] == ["综合服务"] and seen["not_reloaded"] is True, seen
    assert seen["english"] == "Hotline live wallboard", seen
    await defer.succeed(None)
