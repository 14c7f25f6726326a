"""Who can take which call: agents' skills, queues' rules, callers' needs.

Plain data with validation.  A skill is a name such as ``lang:yue`` (a
language or dialect), ``topic:business`` (a topic desk) or ``urgent`` (urgent
faults); an agent holds it at a level from 0 to 100.  A queue says which skill
its callers need at first and how that requirement relaxes as they wait
(rules as data: "after 60 s accept level >= 50", "after 120 s any agent of
group X"), and where a caller goes after the maximum wait.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Container, Iterable, Mapping

from callcenter.routing.errors import RoutingError

LEVEL_MIN = 0
LEVEL_MAX = 100

# Identifiers end up in AMI headers, SQL parameters and HTML: keep them plain.
_NAME = re.compile(r"[A-Za-z0-9_.:@/+-]{1,64}")
# One endpoint as Dial/Originate/ChanSpy take it: technology/resource (PJSIP/1001,
# Local/9001@hotline-agents).  No ',', '&', '$', spaces or line breaks: those would
# add arguments, targets or expansions in the Asterisk application data.
_DEVICE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9_.@+:-][A-Za-z0-9_.@+:/-]{0,63}")


# A channel name as Asterisk gives it: technology/resource, where the resource may hold
# anything printable -- Local/100@hotline-in-0000001a;2, PJSIP/trunk-00000003,
# IAX2/127.0.0.1:4569-12345, AudioSocket/127.0.0.1:9092-<uuid>, a <ZOMBIE> suffix.
# Control characters (CR, LF: AMI header injection), spaces and DEL are refused.
_CHANNEL = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}/[\x21-\x7e\u00a0-\U0010ffff]{1,200}")


def is_channel(value: Any) -> bool:
    """True for an Asterisk channel name (``Local/…;2``, ``PJSIP/…``, ``IAX2/…``), never with control characters."""
    return isinstance(value, str) and _CHANNEL.fullmatch(value) is not None


def is_device(value: Any) -> bool:
    """True for a channel ``technology/resource`` such as ``PJSIP/9001`` (nothing else)."""
    return isinstance(value, str) and _DEVICE.fullmatch(value) is not None


_DESK_PHONE = re.compile(r"(PJSIP|SIP|IAX2)/[A-Za-z0-9_.+-]{1,64}")


def is_desk_phone(value: Any) -> bool:
    """True for one of the centre's own phones: ``PJSIP/9001`` — an endpoint, never a dial string through a
    context or trunk (``Local/…@hotline-pstn``, ``PJSIP/139…@trunk``, ``IAX2/trunk/…``), which would make
    the PBX call an outside number."""
    return isinstance(value, str) and _DESK_PHONE.fullmatch(value) is not None


def is_agent_id(value: Any) -> bool:
    """True for an identifier the ACD accepts as an agent id."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def check_name(kind: str, value: Any) -> str:
    """``value`` if it is a safe identifier, else a ``routing.bad_name`` error.

    ``kind`` "channel" takes any Asterisk channel name (:func:`is_channel`).
    """
    pattern = _CHANNEL if kind == "channel" else _NAME
    if not isinstance(value, str) or not pattern.fullmatch(value):  # fullmatch: "$" would allow a final "\n"
        raise RoutingError("routing.bad_name", f"invalid {kind} / 无效的{kind}", kind=kind, value=value)
    return value


def check_level(value: Any, what: str = "level") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not LEVEL_MIN <= value <= LEVEL_MAX:
        raise RoutingError(
            "routing.bad_level", f"{what} must be an integer {LEVEL_MIN}-{LEVEL_MAX} / 技能等级须为0-100的整数",
            value=value,
        )
    return value


@dataclass(frozen=True)
class Agent:
    """A person at a desk: skills with levels, the groups they belong to, their phone."""

    agent_id: str
    skills: Mapping[str, int]
    groups: frozenset[str] = frozenset()
    device: str = ""

    def __post_init__(self) -> None:
        check_name("agent", self.agent_id)
        if not isinstance(self.skills, Mapping) or not self.skills:
            raise RoutingError("routing.no_skills", "an agent needs at least one skill / 坐席至少需要一项技能",
                               agent=self.agent_id)
        for name, level in self.skills.items():
            check_name("skill", name)
            check_level(level)
        object.__setattr__(self, "skills", dict(self.skills))
        groups = frozenset(self.groups)
        for g in groups:
            check_name("group", g)
        object.__setattr__(self, "groups", groups)
        if self.device:
            check_name("device", self.device)


@dataclass(frozen=True)
class Relax:
    """After ``after`` seconds of waiting, also accept agents at ``min_level``
    or above in the queue's skill, or any agent of ``group``."""

    after: float
    min_level: int | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.after, bool) or not isinstance(self.after, (int, float)) or self.after < 0:
            raise RoutingError("routing.bad_rule", "relax.after must be seconds >= 0 / 放宽时间须为非负秒数",
                               after=self.after)
        if (self.min_level is None) == (self.group is None):
            raise RoutingError("routing.bad_rule", "a relax rule sets exactly one of min_level or group / "
                               "放宽规则须且只能设置 min_level 或 group 之一", rule=repr(self))
        if self.min_level is not None:
            check_level(self.min_level, "relax.min_level")
        if self.group is not None:
            check_name("group", self.group)


@dataclass(frozen=True)
class Requirement:
    """What a caller accepts right now."""

    min_level: int
    groups: frozenset[str]


@dataclass(frozen=True)
class QueueRules:
    """One queue: its default skill, the starting level, the relax rules,
    the maximum wait and what happens after it (overflow to another queue,
    or a callback offer when ``overflow_to`` is empty), and how often waiting
    callers hear their position and estimated wait."""

    name: str
    skill: str
    min_level: int = 0
    relax: tuple[Relax, ...] = ()
    max_wait: float | None = None
    overflow_to: str | None = None
    announce_every: float = 30.0
    _steps: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_name("queue", self.name)
        check_name("skill", self.skill)
        check_level(self.min_level, "min_level")
        relax = tuple(sorted(self.relax, key=lambda r: r.after))
        object.__setattr__(self, "relax", relax)
        if self.max_wait is not None and (isinstance(self.max_wait, bool) or not self.max_wait > 0):
            raise RoutingError("routing.bad_rule", "max_wait must be > 0 seconds / 最长等待须大于0秒",
                               queue=self.name, max_wait=self.max_wait)
        if self.overflow_to is not None:
            check_name("queue", self.overflow_to)
            if self.overflow_to == self.name:
                raise RoutingError("routing.bad_rule", "a queue cannot overflow to itself / 队列不能溢出到自身",
                                   queue=self.name)
        if not self.announce_every > 0:
            raise RoutingError("routing.bad_rule", "announce_every must be > 0 / 播报间隔须大于0",
                               queue=self.name)
        # Precomputed (after, requirement) steps: relaxing only ever widens.
        steps = []
        level, groups = self.min_level, frozenset()
        steps.append((0.0, Requirement(level, groups)))
        for rule in relax:
            if rule.min_level is not None:
                level = min(level, rule.min_level)
            else:
                groups = groups | {rule.group}
            steps.append((float(rule.after), Requirement(level, groups)))
        object.__setattr__(self, "_steps", tuple(steps))

    @property
    def relax_times(self) -> tuple[float, ...]:
        return tuple(after for after, _ in self._steps[1:])

    def requirement(self, waited: float) -> Requirement:
        """The (relaxed) requirement after ``waited`` seconds."""
        current = self._steps[0][1]
        for after, req in self._steps:
            if after <= waited:
                current = req
            else:
                break
        return current

    def accepts(self, level: int | None, groups: frozenset[str], waited: float) -> bool:
        """Whether an agent with ``level`` in this queue's line skill (None if
        they lack it) and ``groups`` may take a caller who waited ``waited`` s."""
        req = self.requirement(waited)
        if level is not None and level >= req.min_level:
            return True
        return bool(req.groups and not req.groups.isdisjoint(groups))

    @classmethod
    def from_config(cls, name: str, data: Mapping[str, Any]) -> "QueueRules":
        """Build from a TOML table; unknown keys are an error, not ignored."""
        allowed = {"skill", "min_level", "relax", "max_wait", "overflow_to", "announce_every"}
        unknown = set(data) - allowed
        if unknown:
            raise RoutingError("routing.bad_rule", "unknown queue settings / 未知的队列设置",
                               queue=name, keys=sorted(unknown))
        relax = []
        for item in data.get("relax", ()):
            if not isinstance(item, Mapping) or set(item) - {"after", "min_level", "group"}:
                raise RoutingError("routing.bad_rule", "a relax rule has after and min_level or group / "
                                   "放宽规则应包含 after 与 min_level 或 group", queue=name, rule=item)
            relax.append(Relax(**item))
        return cls(
            name=name,
            skill=data.get("skill", name),
            min_level=data.get("min_level", 0),
            relax=tuple(relax),
            max_wait=data.get("max_wait") or None,
            overflow_to=data.get("overflow_to") or None,
            announce_every=data.get("announce_every", 30.0),
        )


@dataclass(eq=False)
class Caller:
    """A caller waiting for an agent (or for their callback).

    ``enqueued_at`` is when they first joined and fixes their place; a
    requeue after an unanswered ring keeps it.  ``declined_by`` remembers
    agents who let them ring out, so they are tried elsewhere first.
    """

    call_id: str
    queue: str
    skill: str
    priority: int
    enqueued_at: datetime
    number: str = ""
    joined_at: datetime | None = None
    declined_by: set[str] = field(default_factory=set)
    callback: bool = False

    def __post_init__(self) -> None:
        check_name("call", self.call_id)
        check_name("queue", self.queue)
        check_name("skill", self.skill)
        if isinstance(self.priority, bool) or not isinstance(self.priority, int) or not -100 <= self.priority <= 100:
            raise RoutingError("routing.bad_priority", "priority must be an integer -100..100 / 优先级须为-100到100的整数",
                               call=self.call_id, priority=self.priority)
        if not isinstance(self.enqueued_at, datetime) or self.enqueued_at.tzinfo is None:
            raise RoutingError("routing.bad_time", "enqueued_at must be an aware datetime", call=self.call_id)
        if self.number and not re.fullmatch(r"\+?[0-9]{3,20}", self.number):
            raise RoutingError("routing.bad_number", "invalid phone number / 无效的电话号码", call=self.call_id)
        if self.joined_at is None:
            self.joined_at = self.enqueued_at


@dataclass(frozen=True)
class PriorityRules:
    """Who goes first: urgent faults, repeat callers within a window, elderly callers.

    Points add up, so an elderly repeat caller outranks either alone.
    """

    urgent: int = 10
    elderly: int = 3
    repeat: int = 2
    repeat_window: timedelta = timedelta(hours=24)

    def priority(self, now: datetime, *, urgent: bool = False, elderly: bool = False,
                 previous_calls: Iterable[datetime] = ()) -> int:
        points = 0
        if urgent:
            points += self.urgent
        if elderly:
            points += self.elderly
        if is_repeat_caller(previous_calls, now, self.repeat_window):
            points += self.repeat
        return points


def is_repeat_caller(previous_calls: Iterable[datetime], now: datetime,
                     window: timedelta = timedelta(hours=24)) -> bool:
    """Whether any earlier call falls within ``window`` before ``now``."""
    return any(now - window <= t <= now for t in previous_calls)


def is_elderly(number: str, flagged_numbers: Container[str]) -> bool:
    """Elderly callers are flagged by number (a register kept by the hotline)."""
    return bool(number) and number in flagged_numbers
