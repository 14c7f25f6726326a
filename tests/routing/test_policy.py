"""The routing policy: skills, levels, relaxation, priorities, fairness, overflow, announcements."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from callcenter.routing.errors import RoutingError
from callcenter.routing.policy import Match, OfferCallback, Overflow, Router
from callcenter.routing.skills import (
    Agent, Caller, PriorityRules, QueueRules, Relax, is_elderly, is_repeat_caller,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def caller(call_id, queue="general", skill="general", priority=0, t=0.0, number=""):
    return Caller(call_id, queue, skill, priority, at(t), number=number)


def router(*queues):
    return Router(queues or [QueueRules("general", "general")])


def test_arriving_caller_gets_best_skilled_then_longest_idle_agent():
    """Among ready agents the highest level wins; among equals, the one idle longest."""
    r = router()
    for aid, level in [("a1", 60), ("a2", 90), ("a3", 90), ("a4", 30)]:
        r.add_agent(Agent(aid, {"general": level}))
    r.agent_ready("a3", at(0))
    r.agent_ready("a1", at(1))
    r.agent_ready("a2", at(2))
    r.agent_ready("a4", at(3))
    first = r.enqueue(caller("c1", t=10), at(10))
    assert first.agent.agent_id == "a3"  # level 90, idle since t=0
    second = r.enqueue(caller("c2", t=11), at(11))
    assert second.agent.agent_id == "a2"
    third = r.enqueue(caller("c3", t=12), at(12))
    assert third.agent.agent_id == "a1"
    assert r.ready_count() == 1


def test_caller_without_matching_skill_waits_for_the_right_agent():
    """A Cantonese caller does not go to a Mandarin-only agent; they wait for a Cantonese speaker."""
    r = router(QueueRules("general", "general"), QueueRules("yue", "lang:yue"))
    r.add_agent(Agent("mandarin", {"general": 80}))
    r.add_agent(Agent("cantonese", {"lang:yue": 70, "general": 50}))
    r.agent_ready("mandarin", at(0))
    assert r.enqueue(caller("c1", "yue", "lang:yue"), at(1)) is None
    assert r.waiting_count("yue") == 1
    m = r.agent_ready("cantonese", at(2))
    assert isinstance(m, Match) and m.caller.call_id == "c1" and m.agent.agent_id == "cantonese"
    assert r.waiting_count() == 0


def test_freed_agent_takes_highest_priority_then_longest_waiting():
    """Priority beats waiting time; within a priority the longest wait goes first."""
    r = router()
    r.add_agent(Agent("a", {"general": 50}))
    r.agent_busy("a")
    for cid, prio, t in [("old", 0, 0), ("urgent-late", 10, 30), ("urgent-early", 10, 20), ("mid", 3, 5)]:
        assert r.enqueue(caller(cid, priority=prio, t=t), at(t)) is None
    order = []
    for step in range(4):
        m = r.agent_ready("a", at(100 + step))
        order.append(m.caller.call_id)
        r.agent_busy("a")
    assert order == ["urgent-early", "urgent-late", "mid", "old"]


def test_freed_agent_serves_across_queues_by_priority_and_wait():
    """An agent with two skills takes the longest-waiting caller of either line."""
    r = router(QueueRules("general", "general"), QueueRules("biz", "topic:business"))
    r.add_agent(Agent("a", {"general": 50, "topic:business": 50}))
    r.enqueue(caller("g", t=5), at(5))
    r.enqueue(caller("b", "biz", "topic:business", t=3), at(3))
    assert r.agent_ready("a", at(10)).caller.call_id == "b"


def test_relaxation_after_waiting_accepts_lower_levels():
    """'After 60 s accept level >= 50': a level-55 agent may not take a fresh
    caller needing 80, but may after 60 s (tick) — and a freed agent uses the rule too."""
    q = QueueRules("general", "general", min_level=80, relax=(Relax(60, min_level=50),))
    r = router(q)
    r.add_agent(Agent("junior", {"general": 55}))
    r.agent_ready("junior", at(0))
    assert r.enqueue(caller("c1", t=0), at(0)) is None
    assert r.tick(at(59)) == []
    decisions = r.tick(at(60))
    assert [type(d) for d in decisions] == [Match]
    assert decisions[0].agent.agent_id == "junior"
    # The freed-agent path: fresh caller too strict, relaxed one fine.
    r.agent_busy("junior")
    r.enqueue(caller("fresh", t=100), at(100))
    assert r.agent_ready("junior", at(130)) is None
    r.agent_busy("junior")
    assert r.agent_ready("junior", at(161)).caller.call_id == "fresh"


def test_relaxation_to_any_agent_of_a_group():
    """'After 120 s any agent of group backup': an agent without the skill takes the caller."""
    q = QueueRules("yue", "lang:yue", relax=(Relax(120, group="backup"),))
    r = router(q)
    r.add_agent(Agent("b1", {"general": 40}, groups=frozenset({"backup"})))
    r.add_agent(Agent("other", {"general": 90}, groups=frozenset({"front"})))
    r.agent_ready("other", at(0))
    r.enqueue(caller("c1", "yue", "lang:yue"), at(0))
    assert r.agent_ready("b1", at(100)) is None
    assert r.tick(at(119)) == []
    [m] = r.tick(at(120))
    assert m.agent.agent_id == "b1" and m.caller.call_id == "c1"


def test_overflow_to_another_queue_after_max_wait():
    """After max_wait the caller moves to the overflow queue, where its agents can take them."""
    yue = QueueRules("yue", "lang:yue", max_wait=90, overflow_to="general")
    r = router(yue, QueueRules("general", "general"))
    r.add_agent(Agent("g", {"general": 50}))
    r.agent_ready("g", at(0))
    r.enqueue(caller("c1", "yue", "lang:yue"), at(0))
    assert r.tick(at(89)) == []
    decisions = r.tick(at(90))
    assert isinstance(decisions[0], Overflow) and decisions[0].to_queue == "general"
    assert isinstance(decisions[1], Match) and decisions[1].agent.agent_id == "g"


def test_callback_offer_after_max_wait_without_overflow():
    """With no overflow queue, the maximum wait brings a callback offer, once."""
    r = router(QueueRules("general", "general", max_wait=120))
    r.enqueue(caller("c1", number="13800000001"), at(0))
    [d] = r.tick(at(121))
    assert isinstance(d, OfferCallback) and d.caller.call_id == "c1"
    assert r.tick(at(300)) == []
    assert r.waiting("c1") is not None


def test_requeue_keeps_place_and_tries_another_agent_first():
    """After a ring-out the caller keeps their place ahead of later callers and goes to a different agent."""
    r = router()
    for aid in ("a1", "a2"):
        r.add_agent(Agent(aid, {"general": 50}))
    r.agent_ready("a1", at(0))
    first = r.enqueue(caller("early", t=1), at(1))
    assert first.agent.agent_id == "a1"
    r.agent_busy("a1")
    r.enqueue(caller("late", t=5), at(5))
    r.agent_ready("a1", at(9))  # a1's ring timed out: back to ready (takes "late")
    r.agent_busy("a1")
    assert r.requeue(first.caller, at(9), declined_by="a1") is None
    assert r.position("early") == 1
    m = r.agent_ready("a2", at(10))
    assert m.caller.call_id == "early"


def test_agent_who_missed_is_used_when_no_one_else_is_ready():
    """A free agent who once missed the caller is tried again rather than leaving the caller waiting."""
    r = router()
    r.add_agent(Agent("a1", {"general": 50}))
    c = caller("c1")
    r.agent_busy("a1")
    r.requeue(c, at(3), declined_by="a1")
    assert r.agent_ready("a1", at(4)).caller is c


def test_paused_agent_gets_nothing_and_is_not_staffed():
    """Away agents are neither matched nor counted for the estimated wait."""
    r = router()
    r.add_agent(Agent("a", {"general": 50}))
    r.agent_ready("a", at(0))
    assert r.staffed("general") == 1
    r.agent_away("a")
    assert r.staffed("general") == 0
    assert r.enqueue(caller("c1"), at(1)) is None


def test_position_and_estimated_wait():
    """Position counts higher priorities first; EWT = position × recent AHT / staffed agents."""
    r = router()
    for aid in ("a1", "a2"):
        r.add_agent(Agent(aid, {"general": 50}))
        r.agent_busy(aid)
    r.enqueue(caller("c1", t=0), at(0))
    r.enqueue(caller("c2", t=1), at(1))
    r.enqueue(caller("vip", priority=5, t=2), at(2))
    assert [r.position(c) for c in ("vip", "c1", "c2")] == [1, 2, 3]
    assert r.estimated_wait("c2") == pytest.approx(3 * 180 / 2)
    for secs in (100, 200):
        r.record_handle_time("general", secs)
    assert r.estimated_wait("c2") == pytest.approx(3 * 150 / 2)
    r.agent_away("a1")
    r.agent_away("a2")
    assert r.estimated_wait("c2") is None
    assert r.position("gone") is None


def test_abandon_removes_the_caller_and_callbacks_are_unique_per_number():
    """Abandoned callers leave the line; a second callback to the same number is refused."""
    r = router()
    r.enqueue(caller("c1", t=0), at(0))
    r.enqueue(caller("c2", t=1), at(1))
    r.keep_place_for_callback("c1", "13800000001")
    with pytest.raises(RoutingError) as err:
        r.keep_place_for_callback("c2", "13800000001")
    assert err.value.error_id == "routing.duplicate_callback"
    assert r.waiting("c2").callback is False
    assert r.abandon("c2").call_id == "c2"
    assert r.position("c1") == 1
    r.add_agent(Agent("a", {"general": 10}))
    m = r.agent_ready("a", at(5))
    assert m.caller.callback and m.caller.number == "13800000001"
    assert r.callback_pending_for("13800000001") is None


def test_bad_input_is_refused_and_changes_nothing():
    """Unknown queues, duplicate callers, bad levels and bad rules raise stable error ids."""
    r = router()
    with pytest.raises(RoutingError) as e1:
        r.enqueue(caller("c1", queue="nope"), at(0))
    assert e1.value.error_id == "routing.unknown_queue"
    r.enqueue(caller("c1"), at(0))
    with pytest.raises(RoutingError) as e2:
        r.enqueue(caller("c1"), at(1))
    assert e2.value.error_id == "routing.already_waiting"
    assert r.waiting_count() == 1
    with pytest.raises(RoutingError) as e3:
        Agent("a", {"general": 101})
    assert e3.value.error_id == "routing.bad_level"
    with pytest.raises(RoutingError):
        Agent("bad\r\nAction: Hangup", {"general": 1})
    with pytest.raises(RoutingError):
        Relax(60)
    with pytest.raises(RoutingError):
        QueueRules.from_config("q", {"skill": "x", "relax": [{"after": 60, "min_level": 50}], "bogus": 1})
    with pytest.raises(RoutingError):
        Caller("c9", "general", "general", 0, datetime(2026, 1, 1))  # naive time


def test_queue_rules_from_config_builds_relax_steps():
    """TOML-shaped rules become ordered relaxation steps."""
    q = QueueRules.from_config("general", {
        "skill": "general", "min_level": 80,
        "relax": [{"after": 120, "group": "backup"}, {"after": 60, "min_level": 50}],
        "max_wait": 300, "overflow_to": "other",
    })
    assert q.relax_times == (60.0, 120.0)
    assert q.requirement(0).min_level == 80
    assert q.requirement(61).min_level == 50 and not q.requirement(61).groups
    assert q.requirement(120).groups == {"backup"}


def test_priority_rules_urgent_elderly_repeat():
    """Urgent faults, elderly numbers and repeat callers within 24 h add priority points."""
    rules = PriorityRules()
    now = at(0)
    assert rules.priority(now) == 0
    assert rules.priority(now, urgent=True) == 10
    assert rules.priority(now, elderly=True, previous_calls=[now - timedelta(hours=3)]) == 5
    assert not is_repeat_caller([now - timedelta(hours=25)], now)
    assert is_elderly("13900000001", {"13900000001"}) and not is_elderly("", {""})


def test_indexes_stay_consistent_under_random_operations():
    """A randomised run keeps the router's indexes consistent with a brute-force model."""
    import random

    rnd = random.Random(7)
    skills = [f"s{i}" for i in range(4)]
    queues = [QueueRules(f"q{i}", s, min_level=40, relax=(Relax(30, min_level=0),)) for i, s in enumerate(skills)]
    r = Router(queues)
    agents = [Agent(f"a{i}", {s: rnd.randint(0, 100) for s in rnd.sample(skills, 2)}) for i in range(12)]
    for a in agents:
        r.add_agent(a)
    busy = {a.agent_id for a in agents}
    for a in agents:
        r.agent_busy(a.agent_id)
    waiting = {}
    t = 0.0
    for n in range(600):
        t += rnd.random() * 3
        op = rnd.random()
        if op < 0.4:
            q = rnd.choice(queues)
            c = Caller(f"c{n}", q.name, q.skill, rnd.choice([0, 0, 5]), at(t))
            m = r.enqueue(c, at(t))
            if m:
                busy.add(m.agent.agent_id)
                level = m.agent.skills.get(c.skill, -1)
                assert q.accepts(level if level >= 0 else None, m.agent.groups, 0)
            else:
                waiting[c.call_id] = c
        elif op < 0.75 and busy:
            aid = rnd.choice(sorted(busy))
            m = r.agent_ready(aid, at(t))
            busy.discard(aid)
            if m:
                busy.add(aid)
                c = waiting.pop(m.caller.call_id)
                # nobody eligible was better placed
                for other in waiting.values():
                    q = r.queue(other.queue)
                    lvl = m.agent.skills.get(other.skill)
                    if q.accepts(lvl, m.agent.groups, t - other.enqueued_at.timestamp() + T0.timestamp()):
                        assert (other.priority, -other.enqueued_at.timestamp()) <= (
                            c.priority, -c.enqueued_at.timestamp())
        elif op < 0.85 and waiting:
            cid = rnd.choice(sorted(waiting))
            assert r.abandon(cid).call_id == cid
            del waiting[cid]
        else:
            for d in r.tick(at(t)):
                busy.add(d.agent.agent_id)
                waiting.pop(d.caller.call_id)
        assert r.waiting_count() == len(waiting)
        assert r.ready_count() == len(agents) - len(busy)
