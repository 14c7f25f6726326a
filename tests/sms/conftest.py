"""Real Kannel (bearerbox, smsbox, the fake SMSC) beside a real web server that takes its
delivery reports and replies, on each database."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
import pytest_twisted
from twisted.internet.threads import deferToThread

from callcenter.sms.gateway import KannelGateway, installed
from tests.web.conftest import start_server, stop_server

MO_TOKEN = "mo-test-token"


@dataclass
class SmsRig:
    server: object
    gateway: KannelGateway
    now: list

    @property
    def engine(self):
        return self.server.engine

    def delivery(self, **kw):
        from twisted.internet import reactor

        from callcenter.sms.service import build_sms

        service = build_sms(self.server.deps.config, engine=self.engine, clock=reactor, reactor=reactor,
                            pool=self.server.deps.pool, sendsms_url=self.gateway.sendsms_url,
                            username=self.gateway.username, password=self.gateway.password)
        service.now = lambda: self.now[0]
        for key, value in kw.items():
            setattr(service, key, value)
        return service

    def wait_for(self, number: str, pattern: str, timeout: float = 20.0):
        """A Deferred: the fake SMSC's handset ``number`` got a message matching ``pattern``."""
        return deferToThread(self.gateway.phone.wait_for, number, pattern, timeout)


def make_rig(db_url: str, **gateway_kw) -> SmsRig:
    if not installed():
        pytest.fail("Kannel is missing: bin/test installs kannel and kannel-extras")
    server = start_server(db_url)
    server.deps.config = server.deps.config.with_overrides({
        "sms.callback_token": MO_TOKEN, "sms.callback_url": server.base, "sms.public_url": "https://12345.example.cn",
        "sms.enabled": True})
    gateway = KannelGateway(f"{server.base}/sms/mo?token={MO_TOKEN}", **gateway_kw)
    try:
        gateway.start()
    except Exception:
        stop_server(server)
        gateway.stop()
        raise
    return SmsRig(server, gateway, [datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)])  # 11:00 in Shanghai


@pytest.fixture
def rig(db_url):
    made = make_rig(db_url, black_list_regex="^1700000")
    yield made
    made.gateway.stop()
    stop_server(made.server)


async def until(predicate, timeout: float = 20.0, step: float = 0.1):
    """Poll ``predicate`` (run in a thread) until it is true; fail after ``timeout`` seconds."""
    import time

    from twisted.internet import reactor, task

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await deferToThread(predicate)
        if value:
            return value
        await task.deferLater(reactor, step, lambda: None)
    raise AssertionError(f"condition not met within {timeout}s")


__all__ = ["rig", "make_rig", "until", "pytest_twisted"]
