"""A real web server with the desk, over each database, and the ACD driven by AMI bytes."""
from __future__ import annotations

import pytest

DESK_FEATURES = ("callcenter.web.health", "callcenter.auth.web", "callcenter.workorders.api", "callcenter.desk.web")


@pytest.fixture
def desk_web(db_url):
    """(server, pbx, acd, desk): the web service with the desk, the ACD on a FakeAsterisk."""
    from twisted.internet import reactor

    from callcenter.desk.web import desk_of
    from ticketing.intake.corrections import CorrectionStore
    from ticketing.intake.service import IntakeService
    from tests.desk.helpers import make_acd
    from tests.web.conftest import start_server, stop_server

    server = start_server(db_url, features=DESK_FEATURES)
    pbx, acd = make_acd()
    deps = server.deps
    deps.extras["acd"] = acd
    deps.extras["intake"] = IntakeService(reactor, deps.pool, corrections=CorrectionStore(server.engine))
    desk = desk_of(deps)
    yield server, pbx, acd, desk
    desk.close()
    acd.stopService()
    stop_server(server)
