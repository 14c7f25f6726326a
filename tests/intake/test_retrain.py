"""Learning from the floor: accepted returns and agents' edits become corrections; a retrained
model replaces the current one only if no worse on the gate set; the job runs on a schedule."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from twisted.internet.task import Clock

from callcenter.db import make_engine
from ticketing.intake.retrain import RetrainJob, corrections_from_returns, no_worse, retrain
from ticketing.intake.training import Correction, train_model

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)


def test_an_accepted_return_becomes_a_department_correction(db_url):
    """A department returns an order as not theirs; the dispatcher approves and re-dispatches it: the
    caller's words and the final department are a correction (source misrouted).  A refused return is not."""
    from ticketing.service import Actor, WorkOrderService
    from tests.ticketing.helpers import CALENDAR, TAXONOMY, fields

    engine = make_engine(db_url)
    try:
        service = WorkOrderService(engine, TAXONOMY, CALENDAR)
        agent, dispatcher = Actor("agent-1", "agent"), Actor("disp-1", "dispatcher")
        urban = Actor("um-1", "department", "urban-management")
        moved = service.create(fields(description="小区门口的共享单车堆成山了，人行道都走不了"), agent, NOW)["number"]
        kept = service.create(fields(description="每天傍晚有人占用人行道摆摊"), agent, NOW)["number"]
        for number in (moved, kept):
            service.perform(number, "dispatch", {"department": "urban-management"}, dispatcher, NOW)
            service.perform(number, "return", {"reason_code": "not_our_duty", "reason": "非本局职责"}, urban, NOW)
        service.perform(moved, "review-return", {"approve": True, "department": "transport"}, dispatcher, NOW)
        service.perform(kept, "review-return", {"approve": False}, dispatcher, NOW)
        corrections = corrections_from_returns(engine, departments=list(TAXONOMY.departments))
    finally:
        engine.dispose()
    from ticketing.intake.normalize import clean

    assert corrections == [Correction(clean("小区门口的共享单车堆成山了，人行道都走不了"), "department", "transport",
                                      "misrouted")]


def test_no_worse_compares_every_gated_figure():
    """A candidate must match the current model on department, type and urgent recall."""
    current = {"department": 0.80, "type": 0.74, "urgent_recall": 0.88}
    assert no_worse({"department": 0.80, "type": 0.75, "urgent_recall": 0.88}, current)
    assert not no_worse({"department": 0.83, "type": 0.73, "urgent_recall": 0.90}, current)
    assert not no_worse({"department": 0.83, "type": 0.80, "urgent_recall": 0.80}, current)


@pytest.fixture(scope="module")
def baseline(extractor, labeled):
    """The training split and a model trained on it the quick way (no out-of-fold calibration)."""
    train, _held = labeled
    return train, extractor.with_model(train_model(extractor.with_model(None), train, calibrate=False))


def test_a_worse_candidate_is_not_promoted(baseline, tmp_path):
    """Corrections that send hundreds of calls to the tax office make a worse model: it is refused and
    nothing is written."""
    from ticketing.intake.resources import held_back_sets

    train, current = baseline
    bad = [Correction(e.text, "department", "tax", "agent") for e in train[:600]]
    path = tmp_path / "model.json"
    result = retrain(current, bad, model_path=path, gate=("held-back", held_back_sets()["hand-written"]),
                     train_examples=train, calibrate=False)
    assert not result.promoted and not path.exists()
    assert result.candidate["department"] < result.current["department"]


def test_a_candidate_no_worse_is_promoted_and_written(baseline, tmp_path):
    """A candidate scoring the same as the current model on the gate is no worse: it is written, with the
    gate's figures recorded in its meta."""
    from ticketing.intake.resources import held_back_sets, load_model

    train, current = baseline
    path = tmp_path / "model.json"
    result = retrain(current, [], model_path=path, gate=("held-back", held_back_sets()["hand-written"]),
                     train_examples=train, calibrate=False)
    assert result.promoted, result
    assert load_model(path)["meta"]["promoted_by"]["gate"] == "held-back"


def test_the_job_runs_on_its_schedule():
    """Nothing runs before the interval; one run per interval after that (task.Clock)."""
    from twisted.internet import reactor

    clock = Clock()
    job = RetrainJob(reactor, engine=None, model_path="unused.json", interval_seconds=3600, clock=clock)
    runs = []
    job.run_once = lambda: runs.append(clock.seconds())  # what LoopingCall calls, on the hotline clock
    job.start()
    clock.advance(3599)
    assert runs == []
    clock.advance(1)
    clock.advance(3600)
    assert runs == [3600.0, 7200.0]
    job.stop()


def test_cli_retrain_refuses_an_unmigrated_database(tmp_path, capsys):
    """`intake retrain` against a database without the corrections table says how to fix it (exit 2) and
    writes no model."""
    import json

    from callcenter.cli import build_parser
    from callcenter.config import load_config

    out = tmp_path / "model.json"
    args = build_parser().parse_args(["intake", "retrain", "--json", "--db-url",
                                      f"sqlite:///{tmp_path / 'none.sqlite3'}", "--output", str(out)])
    args.cfg = load_config(None, environ={})
    assert args.func(args) == 2
    assert "db upgrade" in json.loads(capsys.readouterr().out)["message"] and not out.exists()
