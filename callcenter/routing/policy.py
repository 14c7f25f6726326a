"""The routing policy: pure, indexed, fast.

:class:`Router` holds who is ready and who is waiting, and answers the two
questions an ACD asks all day:

* a caller arrives: which ready agent?  The best-skilled agents that meet the
  caller's (possibly relaxed) requirement, and among them the one idle longest;
* an agent becomes ready: which waiting caller?  The highest priority, then
  the longest wait, among callers this agent may take.

Everything is indexed so a decision touches only what can matter, not every
caller times every agent: ready agents by (skill, level) and by group, each
bucket in the order agents became ready; waiting callers by line (queue,
skill) and priority band, each band sorted by arrival.  Relaxation only widens
with waiting time, so the oldest caller in a band is the easiest to serve: if
this agent may not take them, no younger caller in the band is possible.
"""
from __future__ import annotations

import heapq
import itertools
from bisect import bisect_left, insort
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Iterator

from callcenter.routing.errors import RoutingError
from callcenter.routing.skills import Agent, Caller, QueueRules

DEFAULT_HANDLE_TIME = 180.0
HANDLE_TIME_SAMPLES = 100


@dataclass(frozen=True)
class Match:
    """Ring ``agent`` for ``caller`` (the router has reserved both)."""

    caller: Caller
    agent: Agent
    at: datetime


@dataclass(frozen=True)
class Overflow:
    """The caller waited ``max_wait`` in ``from_queue`` and now waits in ``to_queue``."""

    caller: Caller
    from_queue: str
    to_queue: str
    at: datetime
    from_skill: str = ""


@dataclass(frozen=True)
class OfferCallback:
    """The caller waited ``max_wait`` and no overflow is set: offer a callback."""

    caller: Caller
    at: datetime


class _Line:
    """Callers of one queue needing one skill, banded by priority."""

    __slots__ = ("queue", "skill", "bands", "priorities", "count")

    def __init__(self, queue: str, skill: str) -> None:
        self.queue = queue
        self.skill = skill
        self.bands: dict[int, list[tuple[float, int]]] = {}
        self.priorities: list[int] = []  # descending
        self.count = 0

    def add(self, priority: int, key: tuple[float, int]) -> None:
        band = self.bands.get(priority)
        if band is None:
            band = self.bands[priority] = []
            self.priorities.append(priority)
            self.priorities.sort(reverse=True)
        insort(band, key)
        self.count += 1

    def remove(self, priority: int, key: tuple[float, int]) -> None:
        band = self.bands[priority]
        i = bisect_left(band, key)
        if i == len(band) or band[i] != key:
            raise KeyError(key)
        del band[i]
        self.count -= 1
        if not band:
            del self.bands[priority]
            self.priorities.remove(priority)

    def position(self, priority: int, key: tuple[float, int]) -> int:
        ahead = sum(len(self.bands[p]) for p in self.priorities if p > priority)
        return ahead + bisect_left(self.bands[priority], key) + 1


class Router:
    """Agents, waiting callers and the decisions between them."""

    def __init__(self, queues: Iterable[QueueRules] = (), *, handle_time_default: float = DEFAULT_HANDLE_TIME):
        self.handle_time_default = handle_time_default
        self._queues: dict[str, QueueRules] = {}
        self._agents: dict[str, Agent] = {}
        self._ready_since: dict[str, float] = {}
        self._staffed: set[str] = set()
        self._staffed_by_skill: Counter[str] = Counter()
        self._ready_by_skill: dict[str, dict[int, dict[str, None]]] = {}
        self._levels_by_skill: dict[str, list[int]] = {}  # descending, non-empty buckets only
        self._ready_by_group: dict[str, dict[str, None]] = {}
        self._lines: dict[tuple[str, str], _Line] = {}
        self._lines_by_skill: dict[str, set[_Line]] = {}
        self._lines_by_queue: dict[str, set[_Line]] = {}
        self._queues_by_group: dict[str, set[str]] = {}
        self._waiting: dict[str, tuple[Caller, _Line, tuple[float, int]]] = {}
        self._key_index: dict[tuple[float, int], Caller] = {}
        self._deadlines: list[tuple[float, int, str, float]] = []
        self._callback_numbers: dict[str, str] = {}
        self._handle_times: dict[str, deque[float]] = {}
        self._seq = itertools.count()
        for q in queues:
            self.add_queue(q)

    # -- configuration -------------------------------------------------

    def add_queue(self, rules: QueueRules) -> None:
        self._queues[rules.name] = rules
        for after, req in rules._steps:
            for group in req.groups:
                self._queues_by_group.setdefault(group, set()).add(rules.name)

    def queue(self, name: str) -> QueueRules:
        try:
            return self._queues[name]
        except KeyError:
            raise RoutingError("routing.unknown_queue", "no such queue / 没有这个队列", queue=name) from None

    def check_overflows(self) -> None:
        """Every overflow target must exist (called once queues are loaded)."""
        for q in self._queues.values():
            if q.overflow_to:
                self.queue(q.overflow_to)

    # -- agents ----------------------------------------------------------

    def add_agent(self, agent: Agent) -> None:
        """Register an agent (logged out until :meth:`agent_ready` or :meth:`agent_busy`)."""
        old = self._agents.get(agent.agent_id)
        if old is not None:
            if old.agent_id in self._ready_since or old.agent_id in self._staffed:
                raise RoutingError("routing.agent_active", "change skills while logged out / 请在签出后修改技能",
                                   agent=agent.agent_id)
        self._agents[agent.agent_id] = agent

    def agent(self, agent_id: str) -> Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise RoutingError("routing.unknown_agent", "no such agent / 没有这个坐席", agent=agent_id) from None

    def agents(self) -> list[Agent]:
        return list(self._agents.values())

    def ready_count(self) -> int:
        return len(self._ready_since)

    def agent_ready(self, agent_id: str, now: datetime) -> Match | None:
        """The agent is free: hand them the best waiting caller, or mark them ready."""
        agent = self.agent(agent_id)
        self._set_staffed(agent, True)
        if agent_id in self._ready_since:
            return None
        caller = self._best_caller_for(agent, now.timestamp())
        if caller is not None:
            self._take(caller)
            return Match(caller, agent, now)
        self._add_ready(agent, now.timestamp())
        return None

    def agent_busy(self, agent_id: str) -> None:
        """Ringing, talking or wrapping up: staffed, but not available."""
        agent = self.agent(agent_id)
        self._remove_ready(agent)
        self._set_staffed(agent, True)

    def agent_away(self, agent_id: str) -> None:
        """Paused or logged out: neither available nor counted as staffed."""
        agent = self.agent(agent_id)
        self._remove_ready(agent)
        self._set_staffed(agent, False)

    def _set_staffed(self, agent: Agent, staffed: bool) -> None:
        if staffed == (agent.agent_id in self._staffed):
            return
        if staffed:
            self._staffed.add(agent.agent_id)
            self._staffed_by_skill.update(agent.skills.keys())
        else:
            self._staffed.discard(agent.agent_id)
            self._staffed_by_skill.subtract(agent.skills.keys())

    def _add_ready(self, agent: Agent, ts: float) -> None:
        self._ready_since[agent.agent_id] = ts
        for skill, level in agent.skills.items():
            buckets = self._ready_by_skill.setdefault(skill, {})
            bucket = buckets.get(level)
            if bucket is None:
                bucket = buckets[level] = {}
                levels = self._levels_by_skill.setdefault(skill, [])
                insort(levels, -level)
            bucket[agent.agent_id] = None
        for group in agent.groups:
            self._ready_by_group.setdefault(group, {})[agent.agent_id] = None

    def _remove_ready(self, agent: Agent) -> None:
        if self._ready_since.pop(agent.agent_id, None) is None:
            return
        for skill, level in agent.skills.items():
            buckets = self._ready_by_skill[skill]
            bucket = buckets[level]
            del bucket[agent.agent_id]
            if not bucket:
                del buckets[level]
                self._levels_by_skill[skill].remove(-level)
        for group in agent.groups:
            del self._ready_by_group[group][agent.agent_id]

    # -- callers ---------------------------------------------------------

    def enqueue(self, caller: Caller, now: datetime) -> Match | None:
        """A caller arrives (or comes back keeping their place): an agent now, or wait."""
        rules = self.queue(caller.queue)
        if caller.call_id in self._waiting:
            raise RoutingError("routing.already_waiting", "caller is already waiting / 来电已在排队",
                               call=caller.call_id)
        agent = self._best_agent_for(caller, rules, now.timestamp())
        if agent is not None:
            self._remove_ready(agent)
            return Match(caller, agent, now)
        self._insert(caller, rules)
        return None

    def requeue(self, caller: Caller, now: datetime, declined_by: str | None = None) -> Match | None:
        """Back after an unanswered ring: same place, the agent who missed it is tried last."""
        if declined_by:
            caller.declined_by.add(declined_by)
        return self.enqueue(caller, now)

    def abandon(self, call_id: str) -> Caller | None:
        """The caller hung up (or was served elsewhere): forget them."""
        entry = self._waiting.get(call_id)
        if entry is None:
            return None
        self._take(entry[0])
        return entry[0]

    def waiting(self, call_id: str) -> Caller | None:
        entry = self._waiting.get(call_id)
        return entry[0] if entry else None

    def waiting_calls(self) -> Iterator[str]:
        """Call ids of waiting callers, in the order they were (last) queued."""
        return iter(list(self._waiting))

    def waiting_count(self, queue: str | None = None) -> int:
        if queue is None:
            return len(self._waiting)
        return sum(line.count for line in self._lines_by_queue.get(queue, ()))

    def longest_wait(self, queue: str, now: datetime) -> float:
        """Seconds the longest-waiting caller of ``queue`` has waited (0 when none)."""
        oldest = None
        for line in self._lines_by_queue.get(queue, ()):
            for band in line.bands.values():
                if band and (oldest is None or band[0][0] < oldest):
                    oldest = band[0][0]
        return max(0.0, now.timestamp() - oldest) if oldest is not None else 0.0

    def queue_names(self) -> list[str]:
        return list(self._queues)

    def keep_place_for_callback(self, call_id: str, number: str) -> Caller:
        """The caller hangs up but keeps their place; one callback per number."""
        entry = self._waiting.get(call_id)
        if entry is None:
            raise RoutingError("routing.not_waiting", "caller is not waiting / 该来电不在排队中", call=call_id)
        caller = entry[0]
        other = self._callback_numbers.get(number)
        if other is not None and other != call_id:
            raise RoutingError("routing.duplicate_callback", "a callback to this number is already queued / "
                               "该号码已有排队中的回拨", call=call_id, existing=other)
        if not number:
            raise RoutingError("routing.bad_number", "a callback needs a number / 回拨需要电话号码", call=call_id)
        caller.number = number
        caller.callback = True
        self._callback_numbers[number] = call_id
        return caller

    def release_callback(self, call_id: str) -> None:
        """Undo :meth:`keep_place_for_callback` (the booking failed elsewhere)."""
        entry = self._waiting.get(call_id)
        if entry is None or not entry[0].callback:
            return
        caller = entry[0]
        caller.callback = False
        if self._callback_numbers.get(caller.number) == call_id:
            del self._callback_numbers[caller.number]

    def callback_pending_for(self, number: str) -> str | None:
        return self._callback_numbers.get(number)

    def _insert(self, caller: Caller, rules: QueueRules) -> None:
        key = (caller.enqueued_at.timestamp(), next(self._seq))
        line_key = (caller.queue, caller.skill)
        line = self._lines.get(line_key)
        if line is None:
            line = self._lines[line_key] = _Line(caller.queue, caller.skill)
        if line.count == 0:
            self._lines_by_skill.setdefault(caller.skill, set()).add(line)
            self._lines_by_queue.setdefault(caller.queue, set()).add(line)
        line.add(caller.priority, key)
        self._waiting[caller.call_id] = (caller, line, key)
        self._key_index[key] = caller
        if rules.max_wait is not None:
            joined = caller.joined_at.timestamp()
            heapq.heappush(self._deadlines, (joined + rules.max_wait, key[1], caller.call_id, joined))

    def _take(self, caller: Caller) -> None:
        entry = self._waiting.pop(caller.call_id, None)
        if entry is None:
            return
        _, line, key = entry
        del self._key_index[key]
        line.remove(caller.priority, key)
        if line.count == 0:
            self._lines_by_skill[line.skill].discard(line)
            self._lines_by_queue[line.queue].discard(line)
        if caller.callback and self._callback_numbers.get(caller.number) == caller.call_id:
            del self._callback_numbers[caller.number]

    # -- the decisions ---------------------------------------------------

    def _best_agent_for(self, caller: Caller, rules: QueueRules, ts: float) -> Agent | None:
        req = rules.requirement(ts - caller.enqueued_at.timestamp())
        declined = caller.declined_by
        fallback = None
        buckets = self._ready_by_skill.get(caller.skill)
        if buckets:
            for neg_level in self._levels_by_skill[caller.skill]:
                if -neg_level < req.min_level:
                    break
                for agent_id in buckets[-neg_level]:
                    if agent_id not in declined:
                        return self._agents[agent_id]
                    if fallback is None:
                        fallback = agent_id
        best_id, best_since = None, None
        for group in req.groups:
            for agent_id in self._ready_by_group.get(group, ()):
                if agent_id in declined:
                    if fallback is None:
                        fallback = agent_id
                    continue
                since = self._ready_since[agent_id]
                if best_since is None or since < best_since:
                    best_id, best_since = agent_id, since
                break  # buckets are in ready order: the first is the longest idle
        if best_id is not None:
            return self._agents[best_id]
        # Only agents who already let this caller ring out are left: try them
        # again rather than keep the caller waiting with a free agent.
        return self._agents[fallback] if fallback is not None else None

    def _candidate_lines(self, agent: Agent) -> set[_Line]:
        lines: set[_Line] = set()
        for skill in agent.skills:
            found = self._lines_by_skill.get(skill)
            if found:
                lines |= found
        for group in agent.groups:
            for queue in self._queues_by_group.get(group, ()):
                found = self._lines_by_queue.get(queue)
                if found:
                    lines |= found
        return lines

    def _best_caller_for(self, agent: Agent, ts: float) -> Caller | None:
        best: tuple[int, float, int] | None = None  # (priority, enqueued ts, seq)
        best_caller = None
        fallback = None
        for line in self._candidate_lines(agent):
            rules = self._queues[line.queue]
            level = agent.skills.get(line.skill)
            for priority in line.priorities:
                if best is not None and priority < best[0]:
                    break
                for key in line.bands[priority]:
                    if best is not None and priority == best[0] and key >= best[1:]:
                        break
                    if not rules.accepts(level, agent.groups, ts - key[0]):
                        break  # younger callers in this band are stricter still
                    caller = self._key_index[key]
                    if agent.agent_id in caller.declined_by:
                        if fallback is None:
                            fallback = caller
                        continue
                    best, best_caller = (priority, *key), caller
                    break
        return best_caller if best_caller is not None else fallback

    def tick(self, now: datetime) -> list[Match | Overflow | OfferCallback]:
        """Time passed: act on maximum waits, then on relaxed requirements.

        Call it about once a second; it costs a look at the head of each band.
        """
        ts = now.timestamp()
        out: list[Match | Overflow | OfferCallback] = []
        while self._deadlines and self._deadlines[0][0] <= ts:
            _, _, call_id, joined = heapq.heappop(self._deadlines)
            entry = self._waiting.get(call_id)
            if entry is None or entry[0].joined_at.timestamp() != joined:
                continue  # served, abandoned or moved since
            caller = entry[0]
            rules = self._queues[caller.queue]
            if caller.callback:
                continue  # already has their callback; their place is kept
            if rules.overflow_to:
                self._take(caller)
                source, source_skill = caller.queue, caller.skill
                target = self.queue(rules.overflow_to)
                caller.queue, caller.skill, caller.joined_at = target.name, target.skill, now
                out.append(Overflow(caller, source, target.name, now, source_skill))
                match = self.enqueue(caller, now)
                if match is not None:
                    out.append(match)
            else:
                out.append(OfferCallback(caller, now))
        if self._ready_since:
            for line in list(self._lines.values()):
                if not line.count:
                    continue
                rules = self._queues[line.queue]
                for priority in list(line.priorities):
                    while priority in line.bands and self._ready_since:
                        key = line.bands[priority][0]
                        caller = self._key_index[key]
                        agent = self._best_agent_for(caller, rules, ts)
                        if agent is None:
                            break
                        self._take(caller)
                        self._remove_ready(agent)
                        out.append(Match(caller, agent, now))
        return out

    # -- announcements -------------------------------------------------

    def position(self, call_id: str) -> int | None:
        """1-based place among callers of the same queue and skill."""
        entry = self._waiting.get(call_id)
        if entry is None:
            return None
        caller, line, key = entry
        return line.position(caller.priority, key)

    def record_handle_time(self, skill: str, seconds: float) -> None:
        """Talk plus wrap-up of a finished call, for the estimated wait."""
        if seconds >= 0:
            self._handle_times.setdefault(skill, deque(maxlen=HANDLE_TIME_SAMPLES)).append(float(seconds))

    def average_handle_time(self, skill: str) -> float:
        samples = self._handle_times.get(skill)
        return sum(samples) / len(samples) if samples else self.handle_time_default

    def staffed(self, skill: str) -> int:
        return self._staffed_by_skill.get(skill, 0)

    def estimated_wait(self, call_id: str) -> float | None:
        """Seconds until an agent is likely free: position × AHT / staffed agents.

        None when nobody with the skill is staffed (no honest estimate).
        """
        entry = self._waiting.get(call_id)
        if entry is None:
            return None
        caller, line, key = entry
        staffed = self.staffed(caller.skill)
        if staffed <= 0:
            return None
        return line.position(caller.priority, key) * self.average_handle_time(caller.skill) / staffed
