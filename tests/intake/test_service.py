"""IntakeService: proposals, merge suggestions and corrections through a thread pool from the reactor."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import pytest_twisted

from callcenter.db import make_engine
from ticketing.intake.corrections import CorrectionStore
from ticketing.intake.errors import InvalidCorrection, InvalidText
from ticketing.intake.service import IntakeService


@pytest.fixture
def pool():
    from twisted.python.threadpool import ThreadPool

    pool = ThreadPool(1, 2, name="intake-service-test")
    pool.start()
    yield pool
    pool.stop()


@pytest_twisted.inlineCallbacks
def test_propose_similar_and_correct_from_the_reactor(extractor, pool, sqlite_url):
    """The service answers through Deferreds, uses the reactor's clock for `now`, and stores corrections."""
    from twisted.internet import reactor

    engine = make_engine(sqlite_url)
    service = IntakeService(reactor, pool, extractor_factory=lambda: extractor,
                            corrections=CorrectionStore(engine))
    yield service.start()
    proposal = yield service.propose("喂，北仑区新碶街道明州路上有个窨井盖不见了，一个大洞，很危险")
    assert (proposal.department, proposal.district, proposal.urgency) == ("urban-management", "beilun", "urgent")
    now = datetime.fromtimestamp(reactor.seconds(), tz=timezone.utc)
    orders = [{"id": "A", "text": "明州路窨井盖丢了", "department": "urban-management", "district": "beilun",
               "address": {"road": "明州路"}, "created_at": now - timedelta(hours=1), "status": "dispatched"}]
    ranked = yield service.similar(proposal, orders)
    assert [r.order_id for r in ranked] == ["A"]
    new_id = yield service.record_correction(proposal.text, "department", "transport", source="misrouted",
                                             order_id="2026112300042")
    assert isinstance(new_id, int)
    assert [(c.value, c.source) for c in CorrectionStore(engine, categories=()).all()] == [("transport", "misrouted")]
    with pytest.raises(InvalidText):
        yield service.propose("")
    with pytest.raises(InvalidCorrection):
        yield service.record_correction("窨井盖不见了", "department", "sewers")
    engine.dispose()
